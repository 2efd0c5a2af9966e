"""What a passage holds that answers: answer-like spans (dates, figures, names, places), a
document's date line, and checks of a passage against what a question asks (the measure,
the relation stated, the office of another body, other years, numbered variants)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from chatbot.retrieval.question import Question, measures_asked
from chatbot.text.terms import content_terms

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


_STAMP = re.compile(
    rf"\s*(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{4}}年\d{{1,2}}月\d{{1,2}}日|{_MONTH}\s+\d{{1,2}},?\s+{_YEAR}|\d{{1,2}}\s+{_MONTH}\s+{_YEAR})",
    re.I)


def stamp(line: str) -> tuple[int, int] | None:
    """The date of a short line that is only a date stamp ("2022-06-11 0 By"), as a span."""
    m = _STAMP.match(line)
    if m is None or len(line) > 40 or len(content_terms(line[m.end():])) > 2:
        return None
    return m.start() + len(m.group(0)) - len(m.group(0).lstrip()), m.end()


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


def measure_match(q: Question, text: str) -> bool:
    """For a question about an amount of money, a rate, a number of people or a length: whether text
    holds a figure of that kind (any of them, when it names several); True for other questions."""
    kinds = measures_asked(q)
    return not kinds or any(unit.search(text) for unit in kinds)


# A role as the subject of what it says or does, with no one named ("，导演也透露", "不如说导演在拍"):
# the word opens a clause and an adverb or a verb of saying follows ("季军则是《X》" names one)
_BARE_ROLE_AFTER = re.compile(r"[也还都却则就曾又在将已正便](?![是为])|表示|透露|说|称|认为|坦言|介绍|直言")
_BARE_ROLE_BEFORE = re.compile(r"(?:^|[，。；：！？、\s“”（）]|[说的让被和与称])$")


def states_relation(term: str, text: str) -> bool:
    """Whether text states a Chinese relation term of `relation_terms` about someone: it says the
    word, and not only as a bare role ("导演也透露 ..." names no director)."""
    return any(not (_BARE_ROLE_BEFORE.search(text, 0, m.start()) and _BARE_ROLE_AFTER.match(text, m.end()))
               for m in re.finditer(re.escape(term), text))
