"""Question analysis: language, content terms, the kind of answer wanted; follow-up rewriting."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from chatbot.loaders import detect_lang
from chatbot.terms import content_terms

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
_ROLE_END = r"(冠军|亚军|季军|得主|导演|主教练|董事长|总裁|创始人|主席|主演)[？?]?\s*$"
_WHO_Q = re.compile(
    r"\bwho\b|\bwhom\b|\bwhose\b"
    r"|\bwhich (company|companies|enterprise|enterprises|firm|firms|organi[sz]ation|person|people|official|team|country|city)\b"
    r"|\bwhich (countries|cities|places|regions|provinces|states|towns|counties|areas|teams|officials|persons)\b"
    r"|谁|哪家|哪些企业|哪些公司|哪位|哪个公司|哪个企业|哪个国家|哪个城市|哪支|哪个队"
    r"|哪些(?:国家|城市|地方|地区|省份|省)|哪个(?:地区|省份|省)|" + _ROLE_END, re.I)

_OFTEN_Q = re.compile(r"\bhow often\b|\bhow frequently\b|多久一次|多长时间一次|频率|多久举办|多久召开", re.I)
_WHERE_Q = re.compile(r"\bwhere\b|\bin which (city|country|place)\b|在哪|哪里|何地|什么地方|举办地|地点", re.I)

# What an answer of each kind looks like in a passage (the spans themselves: answer_spans below).
_MEASURE = "个家项亿万倍名位次届座台辆架艘条套吨元"  # what a Chinese numeral counts ("四千二百台", "两倍")
_NUMBER = re.compile(rf"\d|[一二三四五六七八九十百千万亿两]+(?:[{_MEASURE}%]|年)")
_DATE = re.compile(
    r"\b(1[89]|20)\d{2}\b|\d{1,2}月\d{1,2}日|\d{1,2}月|\d{4}年"
    r"|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b"
    r"|\b\d{1,2}\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
    # a month alone, as 5月 is: "at the beginning of May", "in early March" (not the verb "may")
    r"|\b(?:in|since|until|by|early|mid-?|late|(?:beginning|start|end|middle) of)\s+(?:early\s+|late\s+)?"
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)\b", re.I)

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


_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen \
seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
            "twelve": "twelfth"}
_HAN = "零一二三四五六七八九"


def _english(n: int) -> str:
    return _ONES[n] if n < 20 else _TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else "")


def _ordinal(words: str) -> str:
    head, _, last = words.rpartition("-")
    last = _ORDINAL.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return f"{head}-{last}" if head else last


def _han(n: int) -> str:
    tens, ones = divmod(n, 10)
    return (_HAN[tens] if tens > 1 else "") + ("十" if tens else "") + (_HAN[ones] if ones or not tens else "")


@lru_cache(maxsize=1024)
def number_forms(number: str) -> re.Pattern[str]:
    """How a text may write a question's number: "17" also as "seventeenth", "seventeen", "第十七";
    a small count (2 to 10) only as an ordinal, since "two" or "三" alone say little."""
    forms = [re.escape(number.replace(",", ""))]
    if number.isdigit() and 1 < int(number) < 100:
        n = int(number)
        words = _english(n)
        forms += [rf"\b{_ordinal(words)}\b", f"第{_han(n)}"]
        if n > 10:
            forms += [rf"\b{words}\b", _han(n)]
    return re.compile("|".join(forms), re.I)


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


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_YEAR = r"(?:1[89]|20)\d{2}"
# A publication stamp opening a snippet ("Mar 2, 2022 ... ", "3 days ago ... "): when the
# text was published, not a date it reports.
_DATELINE = re.compile(
    rf"^\s*(?:{_MONTH}\s+\d{{1,2}},\s+\d{{4}}|\d+\s+(?:hours?|days?|weeks?)\s+ago|\d{{4}}年\d{{1,2}}月\d{{1,2}}日)"
    r"\s*(?:\.\.\.|…|—|-)\s*", re.I)
_NUMBER_SPAN = re.compile(rf"\d[\d,.]*%?|[一二三四五六七八九十两][一二三四五六七八九十百千万亿两]*(?=[{_MEASURE}])")
_DAY_MONTH_YEAR = rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR}\b|\b\d{{1,2}}\s+{_MONTH}\s+{_YEAR}\b"
_DATE_SPAN = re.compile(  # the fullest form first: "July 21, 2017" is one date, not two
    rf"{_DAY_MONTH_YEAR}|\b{_MONTH}\s+{_YEAR}\b"
    r"|\d{4}年\d{1,2}月(?:\d{1,2}日)?|\d{4}-\d{1,2}-\d{1,2}|" + _DATE.pattern, re.I)
_FULL_DATE = re.compile(  # day, month and year: the most precise answer to "when"
    rf"{_DAY_MONTH_YEAR}|\d{{4}}年\d{{1,2}}月\d{{1,2}}日|\b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b", re.I)
_NAME_SPAN = re.compile(  # runs of capitalised words ("Bank of America Plaza"), or a Chinese organisation or official
    r"\b[A-Z][\w'’.-]*[A-Za-z](?:\s+(?:of\s+|de\s+|van\s+|von\s+)?[A-Z][\w'’.-]*[A-Za-z])*\b"
    r"|[\u4e00-\u9fff]{2,}(?:公司|集团|研究院|大学|实验室|基地)"
    r"|[\u4e00-\u9fff]{2,3}(?=[，,、]?(?:市长|书记|主任|局长|总理|主席|介绍|表示|说))")
# Where something takes place: "in Athens", "在天津举办" (the place between 在 and the verb)
_PLACE_SPAN = re.compile(
    r"(?<=\bin )[A-Z][\w'’.-]*[A-Za-z](?:\s+[A-Z][\w'’.-]*[A-Za-z])*|(?<=\bat )[A-Z][\w'’.-]*[A-Za-z](?:\s+[A-Z][\w'’.-]*[A-Za-z])*"
    r"|(?<=在)[\u4e00-\u9fff·]{2,12}?(?=举行|举办|召开|开幕|进行|开赛|落幕|闭幕)"
    r"|(?<=地点在)[\u4e00-\u9fff·]{2,12}|(?<=地点为)[\u4e00-\u9fff·]{2,12}|(?<=位于)[\u4e00-\u9fff·]{2,12}")
# How often: "every quarter", "twice a year", "annually", "每季度", "每两年一次"
_OFTEN_SPAN = re.compile(
    r"\b(?:every|each|per|once an?|twice an?|(?:one|two|three|\d+) times? an?)\s+(?:other\s+)?(?:\w+\s+)?"
    r"(?:day|week|fortnight|month|quarter|season|year|decade)s?\b"
    r"|\b(?:daily|weekly|fortnightly|monthly|quarterly|annually|yearly|biennially)\b"
    r"|每[一二两三四五六七八九十\d]*(?:天|日|周|星期|个?月|季度?|年|届)(?:一次|一届)?|一年一度", re.I)
# Capitalised words that are not names: calendar words, and words that open a sentence.
_NOT_NAMES = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march
    april may june july august september october november december jan feb mar apr jun jul aug sep sept
    oct nov dec today yesterday it its the this that these those there their they he she his her we our
    you your in on at to for from by with and or but as if when where while after before during since
    a an of what who which how why no yes not also however here then so all some many most more one
    according following including having being despite although though because under between among
    against without within through""".split())

# One capitalised word of a nationality's shape between an article and a lower-case word
_DEMONYM = re.compile(r"[A-Z][a-z]+(?:an|ese|ish|ch)$")
_ARTICLE = re.compile(r"(?:^|\W)(?:the|an?)\s+$", re.I)

# A number that is a year or a day of the calendar ("2014年", "in 2020,", "2月1日")
_AFTER_WORDS = "|".join(rf"(?<=\b{w} )" for w in ("in", "since", "by", "from", "until", "during", "of", "before", "after"))
_CALENDAR = re.compile(
    rf"{_YEAR}(?:年|(?=[,.;:)](?:\s|$)|$))|(?:{_AFTER_WORDS}){_YEAR}\b"
    r"|\d{1,2}(?:月|日|号)(?!份)", re.I)
_YEARS_Q = re.compile(r"\b(year|years)\b|哪年|多少年|几年|年份", re.I)


def dateline_end(text: str) -> int:
    """Where a snippet's publication stamp ("Mar 2, 2022 ... ") ends; 0 when it has none."""
    m = _DATELINE.match(text)
    return m.end() if m else 0


# The title of a work ("《满江红》"): the name a "which film / 票房冠军" question asks for
_WORK_SPAN = re.compile(r"(?<=《)[^《》]{1,30}(?=》)|" + _NAME_SPAN.pattern)


_WHEN_IN_TEXT = re.compile(
    rf"{_DAY_MONTH_YEAR}|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}:\d{{2}}\b|\d{{1,2}}时(?:\d{{1,2}}分)?", re.I)


_IN_NAME = re.compile(r"[GD](?![A-Za-z])")


def answer_spans(q: Question, text: str, works: bool = False) -> list[tuple[int, int]]:
    """Where text holds the kind of thing the question asks for, not already in the question
    (a publication stamp at the start excluded). `works`: for "who", titles in 《》 are names
    too (the answerer reads them so; the ranker's features, fitted without them, do not)."""
    if q.wants not in _SPAN_PATTERNS:
        return []
    skip_calendar = q.wants == "number" and not _YEARS_Q.search(q.text)  # "2014年以来", "2月1日": when, not how many
    ordinal_skip = q.wants == "number" and not _ASKS_RANK.search(q.text)
    asked = q.text.lower()
    numbers = q.numbers
    return [(start, end) for start, end in _kind_spans(q.wants, works, skip_calendar, ordinal_skip, text)
            if text[start:end].lower() not in asked and text[start:end].rstrip("%,.") not in numbers]


_SPAN_PATTERNS = {"number": _NUMBER_SPAN, "date": _DATE_SPAN, "who": _NAME_SPAN, "where": _PLACE_SPAN,
                  "often": _OFTEN_SPAN}


@lru_cache(maxsize=16384)
def _kind_spans(wants: str, works: bool, skip_calendar: bool, ordinal_skip: bool,
                text: str) -> tuple[tuple[int, int], ...]:
    """answer_spans before the question's own words are left out: the same for every question
    of a kind, so cached (the ranker reads the same candidates for many questions)."""
    pattern = _WORK_SPAN if wants == "who" and works else _SPAN_PATTERNS[wants]
    skip = dateline_end(text)
    out = []
    # a day of a date or a clock time ("Jul 22, 2020", "6:00 p.m.") is no figure for how many
    when = [(m.start(), m.end()) for m in _WHEN_IN_TEXT.finditer(text)] if skip_calendar else []
    for m in pattern.finditer(text, skip):
        start, end = m.start(), m.end()
        if wants == "number":
            end -= len(text[start:end]) - len(text[start:end].rstrip(",."))  # "22," is 22
            if skip_calendar and (_CALENDAR.match(text, start) or any(a <= start < b for a, b in when)):
                continue
            if ordinal_skip and (text[start - 1 : start] == "第" or _ORDINAL_END.match(text, end)):
                continue  # "第73届大会", "ranked 4th": which place, not how much
            glued = start > 0 and text[start - 1].isascii() and text[start - 1].isalpha() and not text[start:end].endswith("%")
            if glued or _IN_NAME.match(text, end):
                continue  # "5G", "3D", "C919": part of a name, not a figure
            if text[start] == "0" and text[start + 1 : start + 2].isdigit():
                continue  # "03合同段", "007": a code, not a quantity
        if wants == "who" and text[start:end].isascii():
            if text[start:end].endswith(("'s", "’s")):
                end -= 2
            words = text[start:end].split()
            while words and words[0].lower().rstrip(".") in _NOT_NAMES:  # "With Novak Djokovic"
                start += len(words.pop(0))
                start += len(text[start:end]) - len(text[start:end].lstrip())
            if not words:
                continue
            if len(words) == 1 and _DEMONYM.match(text, start, end) and _ARTICLE.search(text[max(0, start - 6) : start]) \
                    and text[end : end + 2][1:].islower():
                continue  # "the Austrian author": an adjective of nationality, not a name
        out.append((start, end))
    return tuple(out)


_ORDINAL_END = re.compile(r"(?:st|nd|rd|th)\b")
_YEAR_RE = re.compile(rf"(?<!\d){_YEAR}(?!\d)")


def years(text: str) -> set[str]:
    """The years text names ("2019", "2022年")."""
    return set(_YEAR_RE.findall(text))


def full_date(text: str) -> bool:
    """Whether text names a day, month and year (a publication stamp at its start aside)."""
    return bool(_FULL_DATE.search(text, dateline_end(text)))


_PUBLISHED_Q = re.compile(
    r"\b(published|posted|publication date|date of publication)\b|发表于|发布时间|发布日期|刊发|刊登|何时发布|什么时候发布|哪天发布", re.I)
_STAMP = re.compile(
    rf"\s*(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{4}}年\d{{1,2}}月\d{{1,2}}日|{_MONTH}\s+\d{{1,2}},?\s+{_YEAR}|\d{{1,2}}\s+{_MONTH}\s+{_YEAR})",
    re.I)


def asks_publication(q: Question) -> bool:
    """Whether the question asks when the document itself was published."""
    return q.wants == "date" and bool(_PUBLISHED_Q.search(q.text))


def stamp(line: str) -> tuple[int, int] | None:
    """The date of a short line that is only a date stamp ("2022-06-11 0 By"), as a span."""
    m = _STAMP.match(line)
    if m is None or len(line) > 40 or len(content_terms(line[m.end():])) > 2:
        return None
    return m.start() + len(m.group(0)) - len(m.group(0).lstrip()), m.end()


_ASKS = re.compile(r"^(how|what|which|who|whom|whose|when|where|why|is|are|was|were|do|does|did|can|has|have)\b"
                   r"|哪|什么|多少|几|谁|何|吗|怎|是否", re.I)
_PART_SPLIT = re.compile(
    r"[?？]\s*(?=\S)|[,;，；]\s*(?:and|but|also|并且|而且|以及|还有|另外)?\s*(?=(?:how|what|which|who|when|where)\b)"
    r"|,?\s+and\s+(?=(?:how|what|which|who|when|where)\b)", re.I)


def parts(q: Question) -> list[Question]:
    """The sub-questions of a question that asks two things ("Which company ..., and how fast
    did its revenue grow?"), each with its own kind of answer; [] for a single question."""
    pieces = [p.strip() for p in _PART_SPLIT.split(q.text) if p and p.strip()]
    subs = [Question.parse(p) for p in pieces]
    if len(subs) != 2 or any(len(s.terms) < 2 or not _ASKS.search(s.text) for s in subs):
        return []  # "Apart from bearings, which industry ...?" is one question with a preamble
    return subs


def wanted_match(q: Question, text: str, spans: Sequence[tuple[int, int]] | None = None) -> bool:
    """Whether text holds the kind of thing the question asks for, beyond what it already says;
    `spans`, its answer_spans when the caller has them already."""
    if answer_spans(q, text) if spans is None else spans:
        return True
    if q.wants != "number":
        return False
    rank = bool(_ASKS_RANK.search(q.text))
    return numeral(text, ordinals=rank) or bool(rank and _ORDINAL_WORD.search(text))


# "Where does Luoyang rank ...?": "the second city" answers it as "2nd" would
_ASKS_RANK = re.compile(r"\b(rank|ranks|ranked|ranking|place|placed|edition|episode|session)\b|排名|排第|第几|哪一?[集期届次]", re.I)
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_ORDINAL_WORD = re.compile(rf"\b({'|'.join(_ORDINALS)})\b", re.I)


def numeral(text: str, ordinals: bool = True) -> bool:
    """Whether text counts in Chinese numerals ("十五个", "两倍"); `ordinals`: "第一个" counts too,
    and then, asked which place, a bare 一 with a measure word is no answer ("一个章节": "a")."""
    bare = re.sub(r"\d", "", text)
    for m in _NUMBER.finditer(bare):
        ordinal = bare[m.start() - 1 : m.start()] == "第"
        if ordinals and not ordinal and _ARTICLE_ONE.fullmatch(m.group()):
            continue
        if ordinals or not ordinal:
            return True
    return False


_ARTICLE_ONE = re.compile(rf"一[{_MEASURE}]")


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
def _measures_asked(q: Question) -> tuple[re.Pattern[str], ...]:
    """The figure patterns of the kinds a "how many" question names (per question, not per sentence)."""
    return tuple(unit for asked, unit in _MEASURES.values() if asked.search(q.text)) if q.wants == "number" else ()


def measure_match(q: Question, text: str) -> bool:
    """For a question about an amount of money, a rate, a number of people or a length: whether text
    holds a figure of that kind (any of them, when it names several); True for other questions."""
    kinds = _measures_asked(q)
    return not kinds or any(unit.search(text) for unit in kinds)


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

# A role as the subject of what it says or does, with no one named ("，导演也透露", "不如说导演在拍"):
# the word opens a clause and an adverb or a verb of saying follows ("季军则是《X》" names one)
_BARE_ROLE_AFTER = re.compile(r"[也还都却则就曾又在将已正便](?![是为])|表示|透露|说|称|认为|坦言|介绍|直言")
_BARE_ROLE_BEFORE = re.compile(r"(?:^|[，。；：！？、\s“”（）]|[说的让被和与称])$")


def states_relation(term: str, text: str) -> bool:
    """Whether text states a Chinese relation term of `relation_terms` about someone: it says the
    word, and not only as a bare role ("导演也透露 ..." names no director)."""
    return any(not (_BARE_ROLE_BEFORE.search(text, 0, m.start()) and _BARE_ROLE_AFTER.match(text, m.end()))
               for m in re.finditer(re.escape(term), text))


# An English "who" names what the person did ("who won", "who was awarded") or the office asked
# about ("who is the CEO of", "the lead actress in"); a sentence that answers states it too.
# Results ("the runner-up") are left out: "France ... defeating Croatia" names the runner-up
# without the word.
_WHO_VERB = re.compile(r"^\W*who\s+(?:(?:has|have|had)\s+been\s+|will\s+be\s+|(?:was|were|is|are|has|have|had|did)\s+)?"
                       r"(?:(?:first|last|originally|actually|officially)\s+)?([a-z]+(?:ed|ing|s)|won|wrote|led|"
                       r"bought|made|built|sang|took|ran|beat|founded|owns|wins)\b", re.I)
_ROLE_WORDS = r"ceo|chief executive|chair(?:man|woman|person)?|president|director|actress|actor|coach|founder" \
    r"|co-founder|mayor|governor|minister|prime minister|secretary|chancellor|author|writer|producer|owner" \
    r"|captain|manager|composer|singer|host|screenwriter"
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


def asks_role(q: Question) -> bool:
    """Whether an English "who" question asks who holds a role ("Who is the CEO of ...?")."""
    return q.lang == "en" and q.wants == "who" and bool(_WHO_ROLE.search(q.text))


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


# The body whose office a role question asks about ("the CEO of Nintendo", "Apple's CEO"), and
# the body a sentence ties the office to ("Apple CEO Tim Cook", "president of the NFL Players
# Association"); a title's own capitals ("Vice President") are no body
_BODY_ROLES = r"ceo|chief executive|president|chair(?:man|woman|person)?|founder|co-founder|owner|mayor|governor"
_BODY = r"[A-Z][\w&.'’-]*(?:\s+(?:of\s+|&\s+)?[A-Z][\w&.'’-]*)*"
_ASKED_BODY = re.compile(rf"\b(?i:{_BODY_ROLES})\s+of\s+(?:the\s+)?({_BODY})|({_BODY})['’]s\s+(?:(?:new|current)\s+)?(?i:{_BODY_ROLES})\b")
_BODY_AFTER = re.compile(rf"\s+(?:of|at)\s+(?:the\s+)?({_BODY})")
_BODY_BEFORE = re.compile(rf"({_BODY})(?:['’]s)?\s+$")
_TITLE_WORDS = frozenset("vice deputy executive senior acting interim former new co chief general managing global"
                         " the a an its our their his her this that".split())  # ... nor a sentence's opening word


@lru_cache(maxsize=1024)
def _body_of_office(q: Question) -> str | None:
    """The body whose office the question asks about, as `_plain_body` compares it. Cached:
    the answerer asks per sentence."""
    m = _ASKED_BODY.search(q.text) if asks_role(q) else None
    return _plain_body(m.group(1) or m.group(2)) if m else None


def office_of_another_body(q: Question, text: str) -> bool:
    """For "who is the CEO of Nintendo": whether every mention of the office in text ties it to
    another body ("Apple CEO Tim Cook", "president of the NFL Players Association" for the
    president of the NFL). A mention tied to no body ("their new team president") may be the
    asked one."""
    asked, stated = _body_of_office(q), stated_relation(q)
    if asked is None or stated is None:
        return False
    bodies = []
    for m in stated.finditer(text):
        after = _BODY_AFTER.match(text, m.end())
        before = _BODY_BEFORE.search(text, 0, m.start())
        body = after.group(1) if after else before.group(1) if before else None
        if body is not None:
            words = body.split()
            while words and words[-1].lower() in _TITLE_WORDS:  # "Executive Vice President": a title
                words.pop()
            body = " ".join(words) or None
        bodies.append(_plain_body(body) if body else None)
    return bool(bodies) and all(b is not None and b != asked for b in bodies)


# What a body's name may end in and still name the same body ("Luoyang City", "Nintendo Co., Ltd.")
_BODY_SUFFIXES = frozenset("city county province municipality municipal government co inc ltd llc corp corporation"
                           " company group holdings plc".split())


def _plain_body(body: str) -> str:
    words = re.sub(r"['’]s$", "", body.lower().rstrip(".,-")).split()
    while len(words) > 1 and words[-1].rstrip(".,") in _BODY_SUFFIXES:
        words.pop()
    return " ".join(words)


def figures_of_other_years(q: Question, text: str, passage: str = "") -> bool:
    """For "how much in 2022": whether every figure of the asked kind in text is about another
    year: its clause names only other years, or, naming none, the last year before it in text
    is another ("2021年我国电影总票房达472.58亿元" for 2022年的总票房). A figure that `passage`
    (the text around) states about another year is about that year wherever it is repeated."""
    asked = years(q.text)
    if q.wants != "number" or not asked:
        return False
    figures = _figures(q, text)
    if not figures:
        return False
    elsewhere = {value for at, value in _figures(q, passage) if not _about_years(passage, at, asked)}
    return all(not _about_years(text, at, asked) or value in elsewhere for at, value in figures)


_PLACE_VALUES = {**{w: n for n, w in enumerate(_ORDINALS, 1)}, **{c: n for n, c in enumerate("一二三四五六七八九十", 1)}}
# A place in a ranking: "ranked 4th", "ranked first", "No. 3", "第六名", "排名第一"
_PLACE = re.compile(
    rf"\b(?:rank(?:s|ed)?|placed|finished|came|comes)\s+(?:(?:at|in)\s+)?(?:no\.?\s*)?"
    rf"(?:(\d+)(?:st|nd|rd|th)?|({'|'.join(_ORDINALS)}))\b"
    r"|\b(\d+)(?:st|nd|rd|th)\b(?=\s+(?:place|position|largest|biggest))|\bno\.\s*(\d+)\b"
    r"|第([一二三四五六七八九十]|\d+)(?=[名位])|排(?:名|在|行)?第([一二三四五六七八九十]|\d+)", re.I)


def places(text: str) -> set[int]:
    """The places in a ranking that text states ("ranked 4th" -> 4, 排名第一 -> 1)."""
    values = (next(g for g in m.groups() if g) for m in _PLACE.finditer(text))
    return {int(v) if v.isdigit() else _PLACE_VALUES[v.lower()] for v in values}


_CLAUSE_MARK = re.compile(r"[，；;。]|,(?!\d)")  # not the comma of "1,234"
_FIGURE_VALUE = re.compile(r"\d[\d,.]*\d|\d")


def _figures(q: Question, text: str) -> list[tuple[int, str]]:
    """Where each figure of the asked kind starts, and its value ("472.58亿元" and "472.58亿
    票房" state one figure: 472.58); years are no figures."""
    kinds = _measures_asked(q)
    spans = [m.span() for unit in kinds for m in unit.finditer(text)] if kinds else answer_spans(q, text)
    out = []
    for a, b in spans:
        if not _YEAR_RE.match(text, a):
            m = _FIGURE_VALUE.search(text, a, b)
            out.append((a, m.group().replace(",", "") if m else text[a:b]))
    return out


def _about_years(text: str, at: int, asked: set[str]) -> bool:
    """Whether the figure at `at` may be about one of the asked years (True when no year binds it)."""
    starts = [m.end() for m in _CLAUSE_MARK.finditer(text, 0, at)]
    end = _CLAUSE_MARK.search(text, at)
    clause = years(text[starts[-1] if starts else 0 : end.start() if end else len(text)])
    if clause:
        return bool(clause & asked)
    before = _YEAR_RE.findall(text, 0, at)
    return not before or before[-1] in asked


# A named thing with a number that tells it from its kin: "Splatoon 2", "Pixel 5a", "Season 3"
_VARIANT = re.compile(r"\b([A-Za-z][A-Za-z'’-]+)\s+(\d{1,2}[a-z]?)\b(?![\d.,:/%-])")


@lru_cache(maxsize=1024)
def _asked_variants(question: str, terms: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    """The numbered things a question names, as (word, number): read once per question, not
    once for every sentence `other_variant` is asked about."""
    return frozenset((m.group(1).lower(), m.group(2).lower()) for m in _VARIANT.finditer(question)
                     if m.group(1).lower() in terms)


def other_variant(q: Question, text: str, found: list[tuple[int, int]]) -> bool:
    """Whether the answer-like spans `found` in text are about another of the asked thing's kin:
    the thing named last before each span (or, with none before, first after it) is one with
    another number ("Splatoon 1 was released in 2015" for "When was Splatoon 2 released?")."""
    asked = _asked_variants(q.text, q.terms)
    if not asked or not found:
        return False
    heads = {head for head, _ in asked}
    named = [(m.start(), m.end(), (m.group(1).lower(), m.group(2).lower()) in asked)
             for m in _VARIANT.finditer(text) if m.group(1).lower() in heads]
    if all(mine for _, _, mine in named):
        return False

    def about_asked(start: int) -> bool:
        before = [mine for _, end, mine in named if end <= start]
        return before[-1] if before else next((mine for at, _, mine in named if at >= start), True)

    return not any(about_asked(start) for start, _ in found)
