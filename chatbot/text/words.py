"""The word lists that question and passage readers use, per language: data, not code.

Each entry is a list of regular-expression alternatives (most are plain words), joined by
`alternation` where a pattern is built; the code around each pattern says what it matches and
why. Lists of offices and roles look alike but answer different questions; each says how it
differs from the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

WORDS: dict[str, dict[str, Any]] = {
    # a sentence that opens with one of these is about what the sentence before it names
    "refers_back": {
        "en": ["it", "its", "this", "these", "they", "their", "he", "she", "his", "her"],
        "zh": ["该", "其", "它", "他", "她", "此"],
    },
    # the English verb forms lexicon.norm cannot undo; a noun of the doer ("winner") is not one
    "irregular_verbs": {"en": {
        "won": "win", "wins": "win", "winning": "win", "bought": "buy", "sold": "sell", "made": "make",
        "held": "hold", "began": "begin", "begun": "begin", "led": "lead", "took": "take",
        "taken": "take", "became": "become",
    }},
    # roles whose holder a question asks for: an English "who is the CEO of / the lead actress in"
    # (chatbot.retrieval.question: a sentence that answers must name the role), and a bare
    # Chinese question ending in a title or role (2021赛季中超冠军, 2023年中国男足主教练)
    "roles": {
        "en": ["ceo", "chief executive", "chair(?:man|woman|person)?", "president", "director", "actress", "actor",
               "coach", "founder", "co-founder", "mayor", "governor", "minister", "prime minister", "secretary",
               "chancellor", "author", "writer", "producer", "owner", "captain", "manager", "composer", "singer",
               "host", "screenwriter"],
        "zh": ["冠军", "亚军", "季军", "得主", "导演", "主教练", "董事长", "总裁", "创始人", "主席", "主演"],
    },
    # offices whose holder a question may ask for ("which official", "who is the CEO"), and in a
    # passage the name in apposition with one ("Zhao Zhanwei, secretary and director of ...").
    # Wider than chatbot.retrieval's role words: an office holder is asked "which official", a
    # role ("director" of a film) "who directed"
    "offices": {
        "en": ["official", "officer", "secretary", "director(?:-general)?", "mayor", "governor", "minister",
               "chairman", "chairwoman", "chair", "president", "ceo", "head", "chief", "commissioner",
               "manager", "founder", "leader"],
        "zh": ["市长", "书记", "局长", "主任", "主席", "总裁", "董事长", "部长", "省长"],
    },
    # a choice still to come ("one of the finalists will be named ..."): who it was, it does not say yet
    "not_yet": {"en": ["named", "announced", "awarded", "chosen", "selected", "revealed", "crowned", "elected",
                       "decided"]},
    # the start and the end of an event, as a question asks for it and a sentence dates it;
    # 公开赛 is "an open" (tournament), not 开赛, and only a lower-case "open" is the verb
    "starts": {
        "zh": ["开始", "开幕", "(?<!公)开赛", "开播", "首播", "开启"],
        "en": ["start", "starts", "started", "begin", "begins", "began", "(?-i:open)", "opens", "opened",
               "premiered?", "kick(?:s|ed)? off"],
    },
    "ends": {
        "zh": ["结束", "闭幕", "落幕", "收官", "截止"],
        "en": ["end", "ends", "ended", "closes", "closed", "concluded?", "concludes"],
    },
    # what a sentence that asks what a thing is called says ("北京冬奥会吉祥物叫什么", "the name of")
    "asks_name": {"zh": ["叫什么", "叫做什么", "叫作什么", "名字", "名称", "什么名"]},
    # what comes before a name a passage gives ("名字叫作拉伊卜")
    "name_given": {"zh": ["叫作", "叫做", "名为", "名叫", "称为", "取名"]},
}


def alternation(words: Iterable[str]) -> str:
    """The alternatives of a list, in its order, for a regular expression."""
    return "|".join(words)
