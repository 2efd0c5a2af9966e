"""When a sentence is no support for the question (stage `support`), and when it does not show the
kind of answer asked for (stage `shows`): each a named reject step that says why."""

from __future__ import annotations

import re

from chatbot.answering.asks import Ctx, asks_list, naming_words
from chatbot.answering.sentences import Sentence
from chatbot.answering.steps import first_reason, reject, rule
from chatbot.retrieval.question import Question, asks_publication, relation_terms, stated_relation
from chatbot.retrieval.spans import (
    measure_match,
    number_forms,
    states_relation,
)
from chatbot.text.words import WORDS, alternation

_STARTS = re.compile(rf"{alternation(WORDS['starts']['zh'])}|\b(?:{alternation(WORDS['starts']['en'])})\b", re.I)
_ENDS = re.compile(rf"{alternation(WORDS['ends']['zh'])}|\b(?:{alternation(WORDS['ends']['en'])})\b", re.I)
# A span of dates gives both ends ("5月1日至5月10日截止", "from May 1 until May 10")
_DATE_RANGE = re.compile(r"\d\s*[日号月年]?\s*(?:至|到|～|~|—|–)\s*\d|\bfrom\b[^.;]{1,40}\b(?:to|until|through)\b", re.I)
# Works listed one after another ("《长空之王》《人生路不熟》《倒数说爱你》", "《A》、《B》和《C》")
_TITLE_RUN = re.compile(r"(?:《[^《》]{1,30}》\s*[、，,和与及]?\s*){3,}")
# A choice still to come, in a sentence, and a question about the future (which it may answer)
_NOT_YET = re.compile(rf"\bwill be (?:{alternation(WORDS['not_yet']['en'])})\b", re.I)
_FUTURE_Q = re.compile(r"\bwill\b", re.I)

MUST_SHOW = rule("must_show_the_kind_asked", "pick",
                 "\"When / how many / where / who\" is not answered by a sentence that only restates the topic.")
RELATION = rule("relation_stated", "shows",
                "谁创立的 is answered by a sentence that says 创立 (or whose sentence before says it).")


# -- support: is the sentence evidence for this question at all ---------------------------------


@reject("date_line", "support", "A document's date line says when it was published, and nothing else.")
def _date_line(ctx: Ctx, s: Sentence) -> str:
    return "the document's date line" if s.stamp and not asks_publication(ctx.q) else ""


@reject("question_numbers", "support", "A year or figure in the question must appear in what was read of that file.")
def _numbers(ctx: Ctx, s: Sentence) -> str:
    q = ctx.q
    if not q.numbers:
        return ""
    doc = s.evidence.chunk.doc_id
    seen = " ".join([s.evidence.chunk.title, s.evidence.chunk.text]
                    + [sc.chunk.text for sc in ctx.ranked if sc.chunk.doc_id == doc]).replace(",", "")
    missing = [n for n in q.numbers if not number_forms(n).search(seen)]
    return f"its file does not mention {missing[0]}" if missing else ""


@reject("other_end_of_the_event", "support", "\"6月5日，法网结束男单决赛\" does not say when the tournament began.")
def _other_end_step(ctx: Ctx, s: Sentence) -> str:
    return "it dates the other end of the event" if ctx.q.wants == "date" and other_end(ctx.q.text, s.quote) else ""


@reject("among_titles", "support", "A work named only in a list of three or more works says nothing of it alone.")
def _titles(ctx: Ctx, s: Sentence) -> str:
    return "it names the work only in a list of works" if among_titles(ctx.q, s.quote) else ""


@reject("weak_evidence", "support", "Too few of the question's words (or too little similarity) are no evidence.")
def _weak(ctx: Ctx, s: Sentence) -> str:
    lim, q = ctx.limits, ctx.q
    if s.lang == q.lang:
        ok = s.coverage >= lim.min_coverage or s.similarity >= lim.min_similarity
        return "" if ok else f"it covers {s.coverage:.2f} of the question (needs {lim.min_coverage})"
    # a year and one loosely glossed word are not evidence ("2022 World Cup History." for
    # 2022年超级碗冠军是谁: 碗 "bowl; cup")
    if s.words_met < min(lim.min_cross_words, sum(not t.isdigit() for t in q.terms)):
        return f"in the other language it meets {s.words_met} of the question's words"
    ok = s.coverage >= lim.min_cross_coverage or s.similarity >= lim.min_similarity
    return "" if ok else f"in the other language it covers {s.coverage:.2f} and is {s.similarity:.2f} similar"


def supported(ctx: Ctx, s: Sentence) -> bool:
    return not first_reason(ctx.steps.at("support"), ctx, s)


# -- shows: does it hold the kind of answer asked for --------------------------------------------


def must_show(ctx: Ctx, s: Sentence) -> bool:
    """Whether a sentence must hold the kind of answer asked for to answer at all: a date, a
    figure or a place; for "who", a name when the sentence is English (capitals show names
    there) and the relation asked when it is Chinese (a name there gives no sign of itself)."""
    q = ctx.q
    if not ctx.steps.on(MUST_SHOW):
        return False
    if q.wants == "who":
        return s.lang == "en" or bool(relation_terms(q))
    return q.wants in ("date", "number", "where")


def shows(ctx: Ctx, s: Sentence) -> bool:
    """Whether a sentence holds the kind of answer asked for: a GDP is a sum of money, not any
    figure, and 2022's box office not 2021's; 零壹空间是谁创立的 is answered by a sentence that
    says 创立, and "who was named" not by one saying who will be."""
    relation = relation_terms(ctx.q) if s.lang == "zh" and ctx.steps.on(RELATION) else ()
    if relation:
        missing = [t for t in relation if not (states_relation(t, s.quote) or t in s.context)]
        if missing:
            s.fired[RELATION] = f"it does not say {missing[0]}"
        return not missing
    return not first_reason(ctx.steps.at("shows"), ctx, s)


@reject("not_named_yet", "shows", "\"One of the finalists will be named ...\" does not say who it was.")
def _not_yet(ctx: Ctx, s: Sentence) -> str:
    q = ctx.q
    return "it says who will be, not who was" if q.wants == "who" and _NOT_YET.search(s.quote) and not _FUTURE_Q.search(
        q.text) else ""


@reject("says_what_is_asked", "shows", "\"Who won\" is answered by a sentence that says won (or its sentence before does).")
def _says_step(ctx: Ctx, s: Sentence) -> str:
    stated = stated_relation(ctx.q) if s.lang == "en" else None
    return "it does not say the verb or office asked about" if stated and not says(stated, s) else ""


@reject("kind_asked", "shows", "A time answers \"when\", a figure \"how many\", a name \"who\": the topic alone does not.")
def _kind(_ctx: Ctx, s: Sentence) -> str:
    return "" if s.wanted else "it holds no answer of the kind asked for"


@reject("measure_asked", "shows", "A GDP is a sum of money and a bridge's length a length, not any figure.")
def _measure(ctx: Ctx, s: Sentence) -> str:
    return "" if measure_match(ctx.q, s.quote) else "its figure measures something else"


def says(stated: re.Pattern[str], s: Sentence) -> bool:
    """Whether a sentence, or the one it refers back to, says the verb or office asked about."""
    return bool(stated.search(s.quote)) or any(stated.fullmatch(t) for t in s.context)


def other_end(question: str, text: str) -> bool:
    """Whether text dates only the other end of what the question asks the start or end of
    ("法网结束男单决赛" for 法网开始时间); a span of dates gives both."""
    if _DATE_RANGE.search(text):
        return False
    for asked, other in ((_STARTS, _ENDS), (_ENDS, _STARTS)):
        if asked.search(question) and not other.search(question):
            return bool(other.search(text)) and not asked.search(text)
    return False


def among_titles(q: Question, text: str) -> bool:
    """Whether text names the work asked about only as one of a list of three or more works, and
    the question does not ask for several."""
    if q.lang != "zh" or asks_list(q) or "《" not in text:
        return False
    asked = naming_words(q)
    runs = [m.group() for m in _TITLE_RUN.finditer(text)]
    return any(t in run for t in asked for run in runs)
