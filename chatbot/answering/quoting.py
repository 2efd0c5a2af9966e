"""From chosen sentences to quotes: cutting a sentence to the clauses that answer, and which further
sentences may be quoted beside the first (stage `further`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatbot.answering.asks import OFFICE_HOLDER, Ctx, asks_list, asks_office_holder
from chatbot.answering.draft import BUDGET
from chatbot.answering.sentences import Sentence, sentence_terms
from chatbot.answering.steps import Steps, reject, rule
from chatbot.answering.support import says, shows
from chatbot.retrieval.question import Question, stated_relation
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
LIST_CLAUSES = rule("cut_keeps_the_list", "quote", "\"Which companies\": each further clause holding a name is one more of the list.")
OFFICE_CLAUSE = rule("cut_keeps_the_office_holder", "quote", "\"Which official\": the office holder, not the list that follows.")
WHOLE_LIST = rule("whole_list", "quote",
                  "\"Which companies\": a complete list is the answer, so a list question may quote twice the usual length.")
READS_ALONE = rule("quote_reads_alone", "quote", "A quote cut from a sentence never starts with a dangling \"and ...\" or \"which ...\".")
SAME_WORDS = rule("same_words_cited_beside", "further",
                  "Another file that says the first quote word for word is cited beside it, not quoted again.")
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
    office = on(OFFICE_CLAUSE) and asks_office_holder(q)
    each = 0.05 if on(LIST_CLAUSES) and asks_list(q) else 0.03
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
            # question words covered, the wanted kind of answer (more of it for lists), brevity
            relevance = max(clause_relevance[i : j + 1]) if clause_relevance is not None else (
                sum(weights[t] for t in terms) / total)
            value = relevance + (1.0 if wanted else 0.0) + each * wanted - 0.0005 * length
            if office and OFFICE_HOLDER.search(quote, parts[i].start, parts[j].end):
                value += 0.5  # "which official": the office holder, not the list that follows
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


@reject("further_holds_the_kind_asked", "further",
        "A further quote must hold the kind of answer asked for, not only its topic.")
def _further_kind(ctx: Ctx, s: Sentence) -> str:
    return "it holds no answer of the kind asked" if (ctx.q.wants or ctx.naming) and not s.wanted else ""


@reject("further_says_what_is_asked", "further", "For \"who won / who is the CEO of\", a further quote must say it too.")
def _further_says(ctx: Ctx, s: Sentence) -> str:
    stated = stated_relation(ctx.q)
    return "it does not say the verb or office asked about" if stated and s.lang == "en" and not says(stated, s) else ""


@reject("no_rival_beside_a_settled_answer", "further",
        "Beside a first answer another file vouches for, a sentence offering other answers is a rival, not support.")
def _rival(ctx: Ctx, s: Sentence) -> str:
    return "a rival answer beside a settled one" if ctx.settled and another_answer(ctx.best, s) else ""


@reject("no_vaguer_date", "further", "Beside a whole date, a quote that only restates its year or day adds nothing.")
def _vaguer(ctx: Ctx, s: Sentence) -> str:
    return "a vaguer form of the first quote's date" if ctx.settled and ctx.q.wants == "date" and vaguer_date(
        ctx.best, s) else ""


def another_answer(first: Sentence | None, s: Sentence) -> bool:
    """Whether s offers answers the first quote does not: none of its answer spans is in the
    first sentence, nor any of the first one's in s."""
    if first is None:
        return False
    one, other = first.quote.lower(), s.quote.lower()
    return bool(s.answers) and not any(a in one for a in s.answers) and not any(a in other for a in first.answers)


def vaguer_date(first: Sentence | None, s: Sentence) -> bool:
    """Whether s only restates, less fully, dates the first quote gives (its year, its day
    without the year), giving no whole date of its own."""
    if first is None:
        return False
    one = first.quote.lower()
    return bool(s.answers) and all(a in one for a in s.answers) and not full_date(s.quote)


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
