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
from chatbot.text.chunking import split_sentences
from chatbot.text.terms import tokenize, with_parts
from chatbot.text.words import WORDS, alternation
from chatbot.types import Evidence, ScoredChunk

_ENDS_SENTENCE = re.compile(r"[。！？.!?]$")
_ASKS = re.compile(r"[?？]\s*$")
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


CONTEXT = rule("pronoun_and_heading_context", "read",
               "A sentence opening with a pronoun, or under a short heading, is about what the line before names.")


@reject("headline", "read", "A headline restates the topic; the body carries the facts.")
def _headline(_ctx: object, s: Sentence) -> str:
    c = s.evidence.chunk
    at_start = c.seq == 0 and s.evidence.start_char == c.start_char
    return "the document's headline" if at_start and s.quote == c.title and not _ENDS_SENTENCE.search(c.title) else ""


# No eval pack plants a document that repeats the question, so the ablation sees this step win
# nothing; it stays because without it such a document displaces the answer (tests/test_faults.py).
@reject("question_in_document", "read", "A question in a document (an FAQ heading, a planted echo) answers nothing.")
def _asks(_ctx: object, s: Sentence) -> str:
    return "a question, not a statement" if _ASKS.search(s.quote) else ""


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
        for span in split_sentences(c.text):
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
            s.stamp = date is not None
            out.append(s)
    return out
