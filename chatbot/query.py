"""Question analysis: language, content terms, the kind of answer wanted; follow-up rewriting."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.loaders import detect_lang
from chatbot.terms import content_terms

_NUMBER_Q = re.compile(
    r"\bhow (many|much|large|big|long)\b|\bwhat (percentage|proportion|share|number|amount|scale|score|value)\b"
    r"|\bwhat is the (total|number|amount|value|scale|score)\b|多少|几|百分之|比例|规模|金额|产值|数量", re.I)
_DATE_Q = re.compile(
    r"\bwhen\b|\bwhat (year|date|month|day|time)\b|\bwhich (year|date|month|day)\b|\bon what (date|day)\b"
    r"|何时|什么时候|哪年|哪一年|哪天|哪一天|几月|几号|日期|时间", re.I)
_WHO_Q = re.compile(
    r"\bwho\b|\bwhom\b|\bwhose\b"
    r"|\bwhich (company|companies|enterprise|enterprises|firm|firms|organi[sz]ation|person|people|official|team|country|city)\b"
    r"|谁|哪家|哪些企业|哪些公司|哪位|哪个公司|哪个企业|哪个国家|哪个城市|哪支|哪个队", re.I)

# What an answer of each kind looks like in a passage.
_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万亿两]+(?:个|家|项|亿|万|倍|%|名|位|年)")
_DATE = re.compile(
    r"\b(1[89]|20)\d{2}\b|\d{1,2}月\d{1,2}日|\d{1,2}月|\d{4}年"
    r"|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b"
    r"|\b\d{1,2}\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*", re.I)
_NAME = re.compile(
    r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*\b|[\u4e00-\u9fff]{2,}(?:公司|集团|研究院|大学|实验室|基地)"
    r"|[\u4e00-\u9fff]{2,3}(?=[，,、]?(?:市长|书记|主任|局长|总理|主席|介绍|表示|说))")

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
    wants: str  # "date", "number", "who" or ""

    @classmethod
    def parse(cls, text: str) -> Question:
        wants = ""
        if _DATE_Q.search(text):
            wants = "date"
        elif _NUMBER_Q.search(text):
            wants = "number"
        elif _WHO_Q.search(text):
            wants = "who"
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


def wanted_match(q: Question, text: str) -> bool:
    """Whether text holds the kind of thing the question asks for, beyond what it already says."""
    if q.wants == "number":
        found = {m.group(0) for m in re.finditer(r"\d[\d,.]*", text)}
        return bool(found - set(q.numbers)) or bool(_NUMBER.search(re.sub(r"\d", "", text)))
    if q.wants == "date":
        return any(m.group(0).lower() not in q.text.lower() for m in _DATE.finditer(text))
    if q.wants == "who":
        return any(m.group(0).lower() not in q.text.lower() for m in _NAME.finditer(text))
    return False
