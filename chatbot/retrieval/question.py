"""The question: its language, content terms, the kind of answer it wants, what it asks about
(a relation, an office, a measure, a numbered variant); follow-ups made standalone."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from chatbot.text.loaders import detect_lang
from chatbot.text.terms import content_terms
from chatbot.text.words import WORDS, alternation

_NUMBER_Q = re.compile(
    r"\bhow (many|much|large|big|long)\b|\bwhat (percentage|proportion|share|number|amount|scale|score|value)\b"
    r"|\bwhat is the (total|number|amount|value|scale|score)\b|多少|几|百分之|比例|规模|金额|产值|数量"
    # a question about a measured quantity wants a figure ("What was Tesla's revenue ...?")
    r"|^(what|how)\b.*\b(revenue|revenues|profit|income|sales|turnover|population|gdp|price|cost|budget"
    r"|capacity|output|growth rate|rate)\b"
    r"|\bwhere\b.*\b(rank|ranks|ranked|place|placed|stand|stands)\b"  # a rank, not a place
    r"|哪一?集|第几集|哪一?期|第几期|哪一?届|第几届"  # which episode / issue / edition: a number
    r"|增长率|增速|增幅|涨幅|销量|交付量|销售额|营收|收入|产量|人数|人次|奖金|震级|多长|多高|多大|多重|多远|多深", re.I)


_DATE_Q = re.compile(
    r"\bwhen\b|\bwhat (year|date|month|day|time)\b|\bwhich (year|date|month|day)\b|\bon what (date|day)\b"
    r"|\b(release|premiere|launch|opening|closing|start|end|publication|expiry|due) date\b|\bthe date (of|for|when)\b"
    r"|何时|什么时候|哪年|哪一年|哪天|哪一天|几月|几号|日期|时间", re.I)


# A bare question ending in a title or a role asks for who holds it (2021赛季中超冠军, 2023年中国男足主教练)
_ROLE_END = rf"({alternation(WORDS['roles']['zh'])})[？?]?\s*$"


_WHO_Q = re.compile(
    r"\bwho\b|\bwhom\b|\bwhose\b"
    r"|\bwhich (company|companies|enterprise|enterprises|firm|firms|organi[sz]ation|person|people|official|team|country|city)\b"
    r"|\bwhich (countries|cities|places|regions|provinces|states|towns|counties|areas|teams|officials|persons)\b"
    r"|谁|哪家|哪些企业|哪些公司|哪位|哪个公司|哪个企业|哪个国家|哪个城市|哪支|哪个队"
    r"|哪些(?:国家|城市|地方|地区|省份|省)|哪个(?:地区|省份|省)|" + _ROLE_END, re.I)


_OFTEN_Q = re.compile(r"\bhow often\b|\bhow frequently\b|多久一次|多长时间一次|频率|多久举办|多久召开", re.I)


_WHERE_Q = re.compile(r"\bwhere\b|\bin which (city|country|place)\b|在哪|哪里|何地|什么地方|举办地|地点", re.I)


# Follow-ups lean on the conversation: pronouns, elliptical openings, very short questions.
_FOLLOW_EN = re.compile(
    r"^(and|also|what about|how about|and what about|what else|then)\b"
    r"|\b(it|its|they|their|them|this|that|these|those|he|she|his|her|there)\b",
    re.I)


_FOLLOW_ZH = re.compile(r"^(那|那么|还有|另外|并且|而且)|它|他们|她|他|其|该|这个|那个|这些|那些|此")


@dataclass(frozen=True)
class Question:
    text: str
    lang: str
    terms: tuple[str, ...]
    wants: str  # "date", "number", "who", "where", "often" or ""

    @classmethod
    def parse(cls, text: str) -> Question:
        wants = ""
        if _DATE_Q.search(text):
            wants = "date"
        elif _NUMBER_Q.search(text):
            wants = "number"
        elif _WHO_Q.search(text):
            wants = "who"
        elif _WHERE_Q.search(text):
            wants = "where"
        elif _OFTEN_Q.search(text):
            wants = "often"
        return cls(text=text, lang=detect_lang(text), terms=tuple(content_terms(text)), wants=wants)

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if t[:1].isdigit())


def needs_context(question: str) -> bool:
    """Whether a question probably refers back to the conversation."""
    q = question.strip()
    if len(content_terms(q)) <= 1:
        return True
    return bool(_FOLLOW_ZH.search(q) if detect_lang(q) == "zh" else _FOLLOW_EN.search(q))


def condense(question: str, history: Sequence[str]) -> str:
    """Offline rewrite of a follow-up into a standalone question.

    The previous user question carries the topic; we append its content terms that the
    follow-up lacks, so that both retrieval and answer selection see them. ("Where is the
    CATL base?" then "and its investment?" becomes "and its investment? CATL base")
    """
    if not history or not needs_context(question):
        return question
    own = set(content_terms(question))
    previous = next((h for h in reversed(history) if h.strip()), "")
    carry = [t for t in content_terms(previous) if t not in own]
    if not carry:
        return question
    sep = " " if detect_lang(question) == "en" else "，"
    return f"{question.rstrip()}{sep}{' '.join(carry)}"


_PUBLISHED_Q = re.compile(
    r"\b(published|posted|publication date|date of publication)\b|发表于|发布时间|发布日期|刊发|刊登|何时发布|什么时候发布|哪天发布", re.I)


def asks_publication(q: Question) -> bool:
    """Whether the question asks when the document itself was published."""
    return q.wants == "date" and bool(_PUBLISHED_Q.search(q.text))


# A figure of what kind answers a question about money, a rate, people or a length: "What was
# Luoyang's GDP?" is not answered by "17", "how many employees" by "10 award-winning
# enterprises", nor "how long is the bridge" by "7 hours".
_MEASURES = {
    "money": (
        re.compile(r"\b(revenues?|profits?|income|turnover|gdp|prices?|costs?|budgets?|investments?|output value"
                   r"|market value|funding)\b|营收|收入|产值|票房|金额|奖金|生产总值|营业额|利润|价格|成本|预算|市值|资金"
                   r"|总投资|投资额|投资金额|投资总额|投资规模|投资了?多少(?![家个项所座])", re.I),  # not "投资了多少家企业"
        re.compile(r"\d[\d,.]*\s*(?:[亿万千]\s*)?(?:元|美元|欧元|英镑|日元|港元)|[$¥€£]\s*\d"
                   r"|\d[\d,.]*\s*(?:billion|million|trillion|bn|亿|万亿)|\b(?:yuan|dollars?|usd|rmb|euros?|pounds?)\b", re.I)),
    "rate": (
        # not an exchange, frame, bit or heart rate, a power (功率), frequency, speed or resolution:
        # those are no percentages
        re.compile(r"(?<!exchange )(?<!frame )(?<!heart )(?<!bit )\b(rate|percentage|proportion|share)\b"
                   r"|\bby how much\b|\bhow (?:much|fast) did\b.*\b(?:grow|rise|increase|fall|drop|decline)\b"
                   r"|(?<![汇功频速辨帧])率|增速|增幅|涨幅|比例|占比|百分之|(?:增长|增加|上涨|提高|下降|减少)了?多少", re.I),
        re.compile(r"\d\s*[%％]|百分之|百分点|\bper ?cent\b|\bpercentage points?\b|\d\s*(?:倍|成)|\b(?:times|fold)\b"
                   r"|[一二三四五六七八九十两]+(?:倍|成)", re.I)),
    "people": (
        re.compile(r"\b(population|employees|workers|staff|residents|students|visitors)\b|人数|人次|人口|员工", re.I),
        re.compile(r"\d[\d,.]*\s*(?:[万亿]|人|名|位)|[一二三四五六七八九十百千万两]+(?:人|名)"
                   r"|\b(?:people|persons|employees|workers|residents|students|visitors|staff|members|inhabitants|tourists"
                   r"|passengers|jobs|graduates|undergraduates|pupils|teachers|patients|citizens)\b", re.I)),
    "length": (
        re.compile(r"多长(?!时间)|多高|多远|多深|\bhow (tall|high|far|deep)\b|\b(length|height|distance|depth)\b|长度|高度|距离|深度|全长",
                   re.I),
        re.compile(r"\d[\d,.]*\s*(?:[万千百]\s*)?(?:米|公里|千米|厘米|毫米|英里|英尺)|[一二三四五六七八九十百千万两]+(?:米|公里|千米)"
                   r"|\d[\d,.]*\s*(?:km|m|cm|mm|meters?|metres?|miles?|feet|ft|kilomet(?:er|re)s?)(?![A-Za-z])", re.I)),
}


@lru_cache(maxsize=1024)
def measures_asked(q: Question) -> tuple[re.Pattern[str], ...]:
    """The figure patterns of the kinds a "how many" question names (per question, not per sentence)."""
    return tuple(unit for asked, unit in _MEASURES.values() if asked.search(q.text)) if q.wants == "number" else ()


_TITLE_END = re.compile(_ROLE_END)


_HAN_WORD = re.compile(r"[\u4e00-\u9fff]")


def _han_words(text: str) -> list[str]:
    return [t for t in content_terms(text) if _HAN_WORD.search(t) and not t[:1].isdigit()]


@lru_cache(maxsize=1024)
def relation_terms(q: Question) -> tuple[str, ...]:
    """For a Chinese "who" question, the words that state what the person did or is: the word
    after 谁 (谁创立的 -> 创立), or the role it asks about (谁是X火炬手, X的导演是谁, X冠军, X主教练 ->
    火炬手, 导演, 冠军, 主教练). A sentence that answers names the relation too; names themselves have no
    pattern in Chinese text. () for other questions and for "which company / place" (哪家, 哪个),
    whose answers name an instance, not the category. Cached: the answerer asks per sentence."""
    if q.lang != "zh" or q.wants != "who":
        return ()
    at = q.text.find("谁")
    if at >= 0:
        after, before = _han_words(q.text[at + 1 :]), _han_words(q.text[:at])
        if q.text[at + 1 : at + 2] == "是":  # 谁是北京冬奥会第一棒火炬手: the role is last
            return tuple(after[-1:])
        return tuple(after[:1] if after else before[-1:])
    agent = _BY_WHICH.search(q.text)  # 由哪家企业投资建设的: the verb after the agent, as after 谁
    if agent:
        return tuple(_han_words(q.text[agent.end() :])[:1])
    return tuple(_han_words(q.text)[-1:]) if _TITLE_END.search(q.text) else ()


_BY_WHICH = re.compile(r"[由被]哪(?:家|个|位|些)(?:企业|公司|机构|单位|部门|集团|银行|媒体|团队|国家|城市|人)?")


# An English "who" names what the person did ("who won", "who was awarded") or the office asked
# about ("who is the CEO of", "the lead actress in"); a sentence that answers states it too.
# Results ("the runner-up") are left out: "France ... defeating Croatia" names the runner-up
# without the word.
_WHO_VERB = re.compile(r"^\W*who\s+(?:(?:has|have|had)\s+been\s+|will\s+be\s+|(?:was|were|is|are|has|have|had|did)\s+)?"
                       r"(?:(?:first|last|originally|actually|officially)\s+)?([a-z]+(?:ed|ing|s)|won|wrote|led|"
                       r"bought|made|built|sang|took|ran|beat|founded|owns|wins)\b", re.I)


_ROLE_WORDS = alternation(WORDS["roles"]["en"])


_WHO_ROLE = re.compile(
    rf"\bwho\s+(?:is|was|are|were|will be|has been)\s+(?:the\s+)?(?:(?:new|current|former|first|lead|leading|main|head)\s+)*"
    rf"({_ROLE_WORDS})\b|'s\s+(?:(?:new|current|former|lead|head)\s+)*({_ROLE_WORDS})\b(?=[^?]*\?*\s*$)", re.I)


# How a sentence states a verb or a role that its plain stem would miss
_STATED = {
    "won": r"won|wins?|winn\w*|victor\w*|champion\w*|crowned|defeat\w*|beat\w*|title",
    "wrote": r"wr[io]t\w*|author\w*", "led": r"le[ad]\w*", "bought": r"b[ou][uy]\w*|acqui\w*|purchas\w*",
    "acquir": r"acqui\w*|b[ou][uy]\w*|purchas\w*|takeover", "made": r"ma[dk]\w*", "built": r"buil\w*",
    "sang": r"s[aiu]ng\w*", "took": r"t[ao][ok]\w*", "ran": r"r[au]n\w*", "found": r"found\w*|co-found\w*|establish\w*",
    "ceo": r"ceo|chief executive", "chief executive": r"ceo|chief executive", "director": r"direct\w*",
    "actress": r"actress\w*|actor\w*|star\w*|play\w*|cast|role", "actor": r"actor\w*|actress\w*|star\w*|play\w*|cast|role",
    "author": r"author\w*|wr[io]t\w*", "writer": r"wr[io]t\w*|author\w*", "screenwriter": r"screenwr\w*|wr[io]t\w*|script\w*",
    "founder": r"found\w*|co-found\w*", "co-founder": r"found\w*|co-found\w*", "producer": r"produc\w*", "owner": r"own\w*",
    "composer": r"compos\w*", "singer": r"s[aiu]ng\w*", "host": r"host\w*", "coach": r"coach\w*",
    "chair": r"chair\w*", "chairman": r"chair\w*", "chairwoman": r"chair\w*", "chairperson": r"chair\w*",
}


_NOT_VERBS = frozenset("is was are were has have had does did will would can could should its this these those".split())


@lru_cache(maxsize=1024)
def stated_relation(q: Question) -> re.Pattern[str] | None:
    """For an English "who" question, what a sentence must say to answer it: the verb asked ("who
    won" -> won, winner, champion, defeated ...; "who directed" -> direct...) or the office ("who is
    the CEO of" -> CEO, chief executive). None for other questions."""
    if q.lang != "en" or q.wants != "who":
        return None
    role = _WHO_ROLE.search(q.text)
    if role:
        word = (role.group(1) or role.group(2)).lower()
        return re.compile(rf"\b(?:{_STATED.get(word, re.escape(word))})\b", re.I)
    verb = _WHO_VERB.match(q.text)
    if not verb or verb.group(1).lower() in _NOT_VERBS:
        return None
    word = verb.group(1).lower()
    stem = re.sub(r"(?:ing|ed|es|s)$", "", word) if word not in _STATED else word
    stem = stem[:-1] if stem.endswith("e") and len(stem) > 4 else stem
    forms = _STATED.get(stem) or _STATED.get(word) or rf"{re.escape(stem)}\w*"
    return re.compile(rf"\b(?:{forms})\b", re.I)


