"""Reading passages as candidate sentences: where a sentence ends, which ones are no candidate at
all (stage `read`), and what each one carries from the sentence before it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from chatbot.answering.steps import Steps, first_reason, reject, rule
from chatbot.retrieval.spans import stamp
from chatbot.text import lexicon
from chatbot.text.chunking import Span, split_sentences
from chatbot.text.terms import tokenize, with_parts
from chatbot.text.words import WORDS, alternation
from chatbot.types import Evidence, ScoredChunk

_GLUED_END = re.compile(r"(?<=[a-z0-9)\]])[.!?][”’\"]?(?=[A-Z][a-z])")
_ASKS = re.compile(r"[?？]\s*$")
# A sentence that asks with a full stop ("有人开始想想GPT-4会是什么样的了。"): a question word or
# particle in its last clause; one earlier ("无论问什么，...都能回答。") leaves it a statement
_WONDERS = re.compile(rf"(?:{alternation(WORDS['wondering']['zh'])})[^，,；;：:“”]*$")
_ENDS_SENTENCE = re.compile(r"[。！？.!?]$")
_MENU_SEPARATOR = re.compile(r"\s+[·•]\s+|\s*[|｜]\s*")
_STAMP_WITHIN = 300  # characters from the start of a document where its date line may stand
# A short sentence before a longer one is read as its heading ("Strengthen exchange
# activities." over "... no less than one activity every quarter"): within a line of text
# (60 lost that seeds answer; 80 and 100 gave the same answers on both packs)
_HEADING = 80
_REFERS_BACK = re.compile(rf"(?:{alternation(WORDS['refers_back']['en'])})\b|(?:{alternation(WORDS['refers_back']['zh'])})",
                          re.I)


@dataclass(eq=False)
class Sentence:
    evidence: Evidence
    rank: int  # of its chunk in the ranking, 0 = best
    terms: set[str]
    context: frozenset[str] = frozenset()  # the previous sentence's terms, when this one refers back to it or it is a heading
    stamp: bool = False  # the document's date line, near its start
    coverage: float = 0.0
    similarity: float = 0.0
    wanted: bool = False
    answers: frozenset[str] = frozenset()  # the answer-like spans it holds (names, dates, figures)
    support: int = 0  # other retrieved files that hold one of them too
    counts: bool = False  # a figure followed by what the question counts ("7436名本科生", "10 stations")
    kin: bool = False  # its answers are about another of the asked thing's kin ("Splatoon 1" for "Splatoon 2")
    words_met: int = 0  # in the other language: the question's words (not numbers) met through the lexicon
    enumerates: bool = False  # it lists several of what a "which companies" question asks for
    score: float = 0.0
    fired: dict[str, str | float] = field(default_factory=dict)  # step name -> why it rejected, or what it added

    @property
    def quote(self) -> str:
        return self.evidence.quote

    @property
    def lang(self) -> str:
        return self.evidence.chunk.lang


def sentence_terms(text: str) -> set[str]:
    """A sentence's terms, hyphenated words also by their parts ("award-winning" answers "winning")."""
    return with_parts(tokenize(text))


def in_other_forms(asked: Iterable[str], terms: set[str]) -> set[str]:
    """The asked English words that `terms` hold only in another form ("released" for "release",
    "winning" for "won")."""
    forms = {_stem(t) for t in terms if t.isascii() and t.isalpha()}
    return {t for t in asked if t not in terms and t.isascii() and t.isalpha() and _stem(t) in forms}


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """An English word as `in_other_forms` compares it: the verb forms `lexicon.norm` cannot undo
    are listed (a noun of the doer, "winner", is not one of them)."""
    irregular = WORDS["irregular_verbs"]["en"]
    if word in irregular:
        return str(irregular[word])
    base = lexicon.norm(word)
    if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "aeiousl":
        base = base[:-1]  # "stopping", "planned"
    return base


GLUED_ENDS = rule("glued_sentence_ends", "read",
                  "A sentence end that lost its space in pasted web text (\"2022.We will\") still ends a sentence.")
CONTEXT = rule("pronoun_and_heading_context", "read",
               "A sentence opening with a pronoun, or under a short heading, is about what the line before names.")
DATE_LINE_ALONE = rule("date_line_quoted_alone", "read",
                       "A document's date line is quoted as the date alone, not with the byline glued to it.")


def split_glued(text: str, spans: list[Span]) -> list[Span]:
    """Also cut where a sentence end lost its space ("(association).We will ...", "by 2022.We
    will", "330 billion yuan.”The plan"), common in text pasted from web pages; abbreviations
    ("U.S.", "No.1") and decimals do not match."""
    out: list[Span] = []
    for sp in spans:
        pos = sp.start
        for m in _GLUED_END.finditer(text, sp.start, sp.end):
            out.append(Span(pos, m.end()))
            pos = m.end()
        out.append(Span(pos, sp.end))
    return out


@reject("headline", "read", "A headline restates the topic; the body carries the facts.")
def _headline(_ctx: object, s: Sentence) -> str:
    c = s.evidence.chunk
    at_start = c.seq == 0 and s.evidence.start_char == c.start_char
    return "the document's headline" if at_start and s.quote == c.title and not _ENDS_SENTENCE.search(c.title) else ""


@reject("question_in_document", "read", "A question in a document (an FAQ heading, a headline) answers nothing.")
def _asks(_ctx: object, s: Sentence) -> str:
    return "a question, not a statement" if _ASKS.search(s.quote) else ""


@reject("menu", "read", "A run of short items between ' · ' or '|' is navigation, not a statement.")
def _menu(_ctx: object, s: Sentence) -> str:
    return "a menu or a row of tags" if is_menu(s.quote) else ""


@reject("wondering", "read", "A sentence that wonders (什么, 吗 in its last clause) asks rather than states.")
def _wondering(_ctx: object, s: Sentence) -> str:
    return "it wonders, it does not state" if _WONDERS.search(s.quote) else ""


def is_menu(text: str) -> bool:
    """A run of short items between " · " or "|" (a menu, a table of contents, a row of tags:
    "三体(动画)编辑 · 播放平台 · 配音员 · 集数 ..."): navigation, not a statement. A name's middle
    dot ("凯尔·内斯") has no spaces around it, and a table row ("| 2021 | 104 家 |") holds figures."""
    items = [p.strip() for p in _MENU_SEPARATOR.split(text) if p.strip()]
    return (len(items) >= 3 and sorted(len(p) for p in items)[len(items) // 2] <= 12
            and not any(ch.isdigit() for ch in text))


def read(steps: Steps, ranked: Sequence[ScoredChunk], first_rank: int = 0,
         skipped: list[Sentence] | None = None) -> list[Sentence]:
    """The candidate sentences of the ranked chunks, in order; `skipped` collects those a read
    step rejected (for the trace)."""
    out: list[Sentence] = []
    rejects = steps.at("read")
    for rank, sc in enumerate(ranked, first_rank):
        c = sc.chunk
        previous: set[str] = set()
        last = ""
        spans = split_sentences(c.text)
        for span in split_glued(c.text, spans) if steps.on(GLUED_ENDS) else spans:
            ev = Evidence(c, c.start_char + span.start, c.start_char + span.end)
            before, previous = previous, sentence_terms(ev.quote)
            heading, last = last, ev.quote
            s = Sentence(ev, rank, previous)
            if first_reason(rejects, None, s):
                if skipped is not None:
                    skipped.append(s)
                continue
            under_heading = 0 < len(heading) <= _HEADING and len(ev.quote) > len(heading)
            if steps.on(CONTEXT) and (_REFERS_BACK.match(ev.quote) or under_heading):
                s.context = frozenset(before)
            date = stamp(ev.quote) if c.seq == 0 and span.start < _STAMP_WITHIN else None
            if date is not None:
                s.stamp = True
                if steps.on(DATE_LINE_ALONE):  # "2022-06-11", not "2022-06-11 0 By"
                    s.evidence = Evidence(c, ev.start_char + date[0], ev.start_char + date[1])
            out.append(s)
    return out
