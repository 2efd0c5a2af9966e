"""From chosen sentences to quotes: cutting a sentence to the clauses that answer, and which further
sentences may be quoted beside the first (stage `further`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatbot.answering.asks import Ctx
from chatbot.answering.draft import BUDGET
from chatbot.answering.sentences import Sentence, sentence_terms
from chatbot.answering.steps import Steps, reject, rule
from chatbot.answering.support import shows
from chatbot.retrieval.question import Question
from chatbot.retrieval.spans import answer_spans, full_date, measure_match, wanted_match
from chatbot.text.chunking import Span
from chatbot.text.terms import tokenize
from chatbot.types import Evidence

# a clause that opens with one of these leans on the one before it: a quote never starts there
_DANGLING = re.compile(r"(?:and|or|but|which|while|whereas|including)\s", re.IGNORECASE)
_NAME_AND = re.compile(r"and\s+[A-Z]")
_ENDS_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*$")
_CLAUSE_END = re.compile(r"[，,；;：:、]\s*|\s+[–—-]\s+|\s(?=(?:and|which|while|but|whereas|including)\s)")
# A quoted name or slogan ("four strong, two excellent, three competitive") is one clause: its
# commas are not cut points. Only a quote that closes soon counts, so a stray mark cuts nothing.
_QUOTED = re.compile(r"“[^“”]{1,80}”|「[^「」]{1,80}」|『[^『』]{1,80}』|《[^《》]{1,80}》|\"[^\"]{1,80}\"")

KEEP_ANSWER = rule("cut_keeps_the_answer", "quote",
                   "A quote cut to fit keeps the clause holding the kind of answer asked, not only the question's words.")
WHOLE_LIST = rule("whole_list", "quote",
                  "\"Which companies\": a complete list is the answer, so a list question may quote twice the usual length.")
READS_ALONE = rule("quote_reads_alone", "quote", "A quote cut from a sentence never starts with a dangling \"and ...\" or \"which ...\".")
BRINGS_SOMETHING = rule("further_brings_something", "further",
                        "A further quote must bring a question word the first lacks, or another file.")
SETTLED = rule("settled_answer", "further",
               "A one-answer question whose first quote another file vouches for needs no rival beside it.")


def quote_budget(ctx: Ctx) -> int:
    """Characters of quoted text one answer may hold: twice as many for a list question."""
    budget = BUDGET.get(ctx.q.lang, 300)
    return 2 * budget if ctx.listing and ctx.steps.on(WHOLE_LIST) else budget


def clauses(text: str) -> list[Span]:
    """Clause spans of one sentence (cut after commas, semicolons, colons and before 'and ...',
    never inside a short quotation or a name)."""
    spans: list[Span] = []
    pos = 0
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    for m in _CLAUSE_END.finditer(text):
        if any(a < m.start() < b for a, b in quoted):
            continue
        if m.group().isspace() and _NAME_AND.match(text, m.end()) and _ENDS_CAPITALISED.search(text, 0, m.start()):
            continue  # "Bureau of Industry and Information Technology": one name, not two clauses
        if m.end() > pos:
            spans.append(Span(pos, m.end()))
            pos = m.end()
    if pos < len(text):
        spans.append(Span(pos, len(text)))
    return [s for s in spans if text[s.start : s.end].strip()]


def shorten(q: Question, ev: Evidence, budget: int, idf: dict[str, float] | None = None,
            clause_relevance: Sequence[float] | None = None, steps: Steps | None = None) -> Evidence:
    """The contiguous run of clauses within `budget` characters that best answers the question.

    It must keep the answer-bearing part (a wanted name, number or date) where there is one,
    not merely the densest run of question words. `clause_relevance`, one score per clause,
    replaces the question-word coverage where the words cannot match (another language).
    """
    quote = ev.quote
    if len(quote) <= budget:
        return ev
    on = steps.on if steps is not None else (lambda _name: True)
    parts = clauses(quote)
    weights = {t: (idf or {}).get(t, 1.0) for t in q.terms}
    total = sum(weights.values()) or 1.0
    clause_terms = [set(tokenize(quote[p.start : p.end])) & set(weights) for p in parts]
    # a clause holds the answer when it holds the kind asked for: a GDP's sum of money, not any figure
    clause_wanted = [on(KEEP_ANSWER) and wanted_match(q, quote[p.start : p.end], answer_spans(q, quote[p.start : p.end], works=True))
                     and measure_match(q, quote[p.start : p.end]) for p in parts]
    best: tuple[float, int, int] | None = None
    alone = on(READS_ALONE)
    for i in range(len(parts)):
        if alone and i > 0 and _DANGLING.match(quote[parts[i].start : parts[i].end].lstrip()):
            continue  # "and encourage ...": leans on the clause before it
        terms: set[str] = set()
        for j in range(i, len(parts)):
            length = parts[j].end - parts[i].start
            if length > budget:
                break
            terms |= clause_terms[j]
            wanted = sum(clause_wanted[i : j + 1])
            # question words covered, the wanted kind of answer, brevity
            relevance = max(clause_relevance[i : j + 1]) if clause_relevance is not None else (
                sum(weights[t] for t in terms) / total)
            value = relevance + (1.0 if wanted else 0.0) + 0.03 * wanted - 0.0005 * length
            if best is None or value > best[0]:
                best = (value, i, j)
    return _cut(ev, quote, parts, best, budget)


def _cut(ev: Evidence, quote: str, parts: list[Span], best: tuple[float, int, int] | None, budget: int) -> Evidence:
    if best is None:  # even one clause is too long: keep its start, cut at a space
        end = quote.rfind(" ", 0, budget)
        end = end if end > budget // 2 else budget
        start, stop = 0, end
    else:
        start, stop = parts[best[1]].start, parts[best[2]].end
    piece = quote[start:stop]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip().rstrip("，,；;：:、")
    begin = ev.start_char + start + lead
    return Evidence(ev.chunk, begin, begin + len(piece))


# -- further quotes --------------------------------------------------------------------------------


def settled(ctx: Ctx, best: Sentence) -> bool:
    """Whether the first quote answers a one-answer question so that no rival answer need
    stand beside it: it shows the kind asked for, in full (a whole date; a name or place
    other than the question's words), and another retrieved file holds that answer too."""
    q = ctx.q
    if not ctx.steps.on(SETTLED) or q.wants not in ("who", "date", "number", "where") or ctx.listing:
        return False
    if best.support < 1 or not shows(ctx, best):
        return False
    if q.wants == "date":
        return full_date(best.quote)
    if q.wants in ("who", "where"):
        asked = set(q.terms)
        return any(not (sentence_terms(a) & asked) for a in best.answers)
    return True


@reject("no_rival_beside_a_settled_answer", "further",
        "Beside a first answer another file vouches for, a sentence offering other answers is a rival, not support.")
def _rival(ctx: Ctx, s: Sentence) -> str:
    return "a rival answer beside a settled one" if ctx.settled and another_answer(ctx.best, s) else ""


def another_answer(first: Sentence | None, s: Sentence) -> bool:
    """Whether s offers answers the first quote does not: none of its answer spans is in the
    first sentence, nor any of the first one's in s."""
    if first is None:
        return False
    one, other = first.quote.lower(), s.quote.lower()
    return bool(s.answers) and not any(a in one for a in s.answers) and not any(a in other for a in first.answers)


def overlap(a: Evidence, b: Evidence) -> bool:
    return a.chunk.doc_id == b.chunk.doc_id and a.start_char < b.end_char and b.start_char < a.end_char


def one_per_file(sents: list[Sentence]) -> list[Sentence]:
    seen: set[str] = set()
    out = []
    for s in sents:
        if s.evidence.chunk.doc_id not in seen:
            seen.add(s.evidence.chunk.doc_id)
            out.append(s)
    return out
