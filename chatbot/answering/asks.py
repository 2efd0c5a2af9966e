"""What a question asks the answerer for, read once per question (`Ctx`): a name, a list, an office
holder, a count; and the passage-side readings tied to each (the names a passage gives, a
sentence that enumerates, a figure followed by the thing counted, an office holder's name)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from chatbot.answering.steps import Steps
from chatbot.retrieval.question import Question
from chatbot.retrieval.spans import answer_spans
from chatbot.text.terms import tokenize, with_parts
from chatbot.text.words import WORDS, alternation
from chatbot.types import ScoredChunk

_OFFICE = alternation(WORDS["offices"]["en"])
_ZH_OFFICE = alternation(WORDS["offices"]["zh"])
_OFFICE_Q = re.compile(rf"\b(?:{_OFFICE})s?\b|{_ZH_OFFICE}|官员", re.I)
# A question that asks what something is called ("北京冬奥会吉祥物叫什么", "What is the name of
# Microsoft's AR headset?") and no other kind of answer
_ASKS_NAME = re.compile(rf"{alternation(WORDS['asks_name']['zh'])}|\bname of\b|\bwhat(?:'s|\s+is|\s+was|\s+are|\s+were)\s+"
                        r"(?:[\w'’-]+\s+){1,6}?(?:called|named)\b", re.I)
# A name as a passage gives one: in quotation marks, or after 叫作 / 名为 ("名字叫作拉伊卜"); a title in
# 《》 names a work or a rule (《海军舰艇命名规定》), not what a thing is called
_GIVEN_NAME = re.compile(r"(?<=[“「『\"])[^“”「」『』\"]{1,30}(?=[”」』\"])"
                         rf"|(?<={alternation(WORDS['name_given']['zh'])})[\u4e00-\u9fff·]{{2,8}}|(?<=命名为)[\u4e00-\u9fff·]{{2,8}}")
# A question that asks for several ("Which companies won ...?", "洛阳前瞻谋划了哪些未来产业?")
_ASKS_LIST = re.compile(r"\b(?:which|what)\s+(?:(?!(?:is|was|has|does)\b)[a-z-]+\s+)?(?!(?:is|was|has|does|kinds?|types?)\b)"
                        r"[a-z]+(?<!ss)s\b|哪些", re.I)
_LIST_GAP = re.compile(r"\s*(?:[,，、;；]\s*(?:and\s+|or\s+)?|\s(?:and|or)\s+|和|及|与)\s*")
_HOW_MANY = re.compile(r"\bhow (many|much)\b|多少|几", re.I)  # a count, not a rank or a rate
_COUNTED_WITHIN = {"zh": 6, "en": 24}  # characters after a figure where the counted thing is named


class Limits(Protocol):
    """The answerer's thresholds, read by the steps (`ExtractiveAnswerer` holds them)."""

    min_coverage: float
    min_similarity: float
    min_cross_coverage: float
    min_cross_words: int
    cross_lang_chunks: int
    wanted_bonus: float
    context_weight: float
    full_date_bonus: float
    support_bonus: float
    wanted_window: float
    counted_bonus: float
    form_weight: float
    look_at: int


@dataclass
class Ctx:
    """One question as the steps read it: what it asks for, the steps on, the answerer's limits,
    and the passages read so far (a question's year must appear in what was read of a file)."""

    q: Question
    steps: Steps
    limits: Limits
    ranked: Sequence[ScoredChunk] = ()
    naming: bool = field(init=False)  # asks what a thing is called
    listing: bool = field(init=False)  # asks for several ("which companies", 哪些)
    office: bool = field(init=False)  # asks who holds an office
    counting: bool = field(init=False)  # asks how many of something
    # set while scoring: each question term's weight (its IDF), their sum, its pairs of characters
    weights: dict[str, float] = field(default_factory=dict)
    total: float = 1.0
    q_bigrams: set[str] = field(default_factory=set)
    # set once the first quote is chosen: it, and whether another file already vouches for it
    best: Any = None
    settled: bool = False
    refusal: str = ""  # why the answerer refuses, when it does
    skipped: int = 0  # sentences read that a read step rejected

    def __post_init__(self) -> None:
        q = self.q
        self.naming = asks_name(q)
        self.listing = asks_list(q)
        self.office = asks_office_holder(q)
        self.counting = q.wants == "number" and bool(_HOW_MANY.search(q.text))


def asks_name(q: Question) -> bool:
    """Whether a question asks what something is called, and for no other kind of answer."""
    return not q.wants and bool(_ASKS_NAME.search(q.text))


def asks_office_holder(q: Question) -> bool:
    """Whether a question asks who holds an office ("which official", "who is the CEO")."""
    return q.wants == "who" and bool(_OFFICE_Q.search(q.text))


def asks_list(q: Question) -> bool:
    return bool(_ASKS_LIST.search(q.text))


def naming_words(q: Question) -> list[str]:
    """The question's words that can be part of a name or a title: neither numbers nor single
    characters."""
    return [t for t in q.terms if len(t) > 1 and not t.isdigit()]


def given_names(q: Question, text: str) -> list[tuple[int, int]]:
    """For a question that asks what something is called, the names text gives that are not the
    question's own words: quoted, or after 叫作 / 名为, and in English a run of capitalised words
    (the topic's own name, "2022北京冬奥会和冬残奥会" for 北京冬奥会吉祥物叫什么, is no answer)."""
    found = [(m.start(), m.end()) for m in _GIVEN_NAME.finditer(text)]
    if text.isascii():
        found += answer_spans(replace(q, wants="who"), text)
    asked = naming_words(q)
    return sorted((a, b) for a, b in set(found) if not any(t in text[a:b].lower() for t in asked))


def lists(text: str, found: list[tuple[int, int]]) -> bool:
    """Whether a sentence enumerates: four names in a row with only commas or "and" between
    them ("CITIC Heavy Industry, China Yituo, ... and China Che"; three may be a name, its
    office and its bureau), or items between 、."""
    if text.count("、") >= 2:
        return True
    run = 1
    for (_, end), (start, _) in zip(found, found[1:]):
        run = run + 1 if _LIST_GAP.fullmatch(text, end, start) else 1
        if run >= 4:
            return True
    return False


def counts_asked(q: Question, text: str, found: list[tuple[int, int]]) -> bool:
    """Whether one of the figures is followed closely by a word of the question (its unit or the
    thing counted: "7436名本科生" for "录取了多少名本科生")."""
    width = _COUNTED_WITHIN.get(q.lang, 24)
    asked = set(q.terms)
    for _, end in found:
        after = text[end : end + width]
        if q.lang == "zh":
            if any(t in after for t in asked if not t[:1].isdigit()):
                return True
        elif asked & with_parts(tokenize(after)[:3]):
            return True
    return False
