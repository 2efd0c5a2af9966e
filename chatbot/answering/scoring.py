"""Scoring candidate sentences: how much of the question each covers (stage `coverage`), what
answer-like spans it holds, and the features that add to its score (stage `score`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chatbot.answering.asks import Ctx, counts_asked, given_names, lists
from chatbot.answering.sentences import Sentence, in_other_forms
from chatbot.answering.steps import feature, rule
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.retrieval.spans import answer_spans, full_date, wanted_match
from chatbot.text import lexicon
from chatbot.text.terms import han_bigrams

LEXICON = rule("lexicon_coverage", "coverage", "A passage in the other language covers the question's words through the lexicon.")
INSIDE_WORDS = rule("zh_terms_inside_words", "coverage",
                    "A Chinese term counts inside a longer word (罚 in 罚款): jieba does not cut every text alike.")
WORD_FORMS = rule("word_forms", "coverage", "An English word in another form (released, release) counts for less than the word.")
THROUGH_CONTEXT = rule("coverage_through_context", "coverage",
                       "\"It was released on ...\": what \"it\" is, the sentence before says; it counts for less.")
BIGRAMS = rule("han_bigrams", "coverage", "Chinese coverage also by pairs of characters, which do not depend on word cuts.")
NAMES = rule("names_given", "coverage", "Asked what a thing is called, a name the passage gives (quoted, after 叫作) is the answer.")


def score(ctx: Ctx, sents: list[Sentence], idf: dict[str, float], qvec: np.ndarray | None,
          embeddings: BundledEmbeddings, cross_ranks: int) -> None:
    """Score every sentence; those of the first `cross_ranks` chunks in the other language also
    by embedding similarity."""
    q = ctx.q
    ctx.weights = {t: idf.get(t, 1.0) for t in q.terms}
    ctx.total = sum(ctx.weights.values()) or 1.0
    ctx.q_bigrams = han_bigrams(q.text) if q.lang == "zh" else set()
    cross = [s for s in sents if s.lang != q.lang and s.rank < cross_ranks and not s.similarity]
    if cross and qvec is not None:
        vecs = embeddings.embed_array([s.quote for s in cross])
        for s, sim in zip(cross, vecs @ qvec):
            s.similarity = float(sim)
    found_in = [_read(ctx, s) for s in sents]
    files_with = _files_with_answers(sents)
    features = ctx.steps.at("score")
    for s, found in zip(sents, found_in):
        quote = s.quote
        s.enumerates = ctx.listing and lists(quote, found)
        # for "哪些企业", items between 、 are the names asked for, though none looks like one
        s.wanted = wanted_match(q, quote, found) or s.enumerates
        s.counts = ctx.counting and counts_asked(q, quote, found)
        s.support = max((len(files_with[a] - {s.evidence.chunk.doc_id}) for a in s.answers), default=0)
        total = max(s.coverage, 1.6 * s.similarity)
        for step in features:
            value = step.fn(ctx, s) if step.fn else 0.0
            if value:
                s.fired[step.name] = value
            total += value
        s.score = total


def _read(ctx: Ctx, s: Sentence) -> list[tuple[int, int]]:
    """A sentence's coverage of the question and its answer-like spans (returned)."""
    q, weights, quote, total = ctx.q, ctx.weights, s.quote, ctx.total
    if s.lang != q.lang:  # the question's words, through the lexicon
        if ctx.steps.on(LEXICON):
            words = lexicon.en_words(s.terms)
            met = [t for t in weights if lexicon.meets(t, words, quote)]
        else:
            met = []
        s.coverage = sum(weights[t] for t in met) / total
        s.words_met = sum(not t.isdigit() for t in met)
    else:
        s.coverage = _same_language(ctx, s, total)
    if ctx.naming and ctx.steps.on(NAMES):
        found = given_names(q, quote)
        s.answers = frozenset()  # a name asked for is no answer other files back: the topic's kin have names too
    else:
        found = answer_spans(q, quote, works=True)
        s.answers = frozenset(quote[a:b].lower() for a, b in found if b - a > 1)
    return found


def _same_language(ctx: Ctx, s: Sentence, total: float) -> float:
    q, weights, quote, on = ctx.q, ctx.weights, s.quote, ctx.steps.on
    # a Chinese term also counts inside a longer word ("罚" in "罚款"): jieba does not cut every text alike
    present = s.terms | {t for t in weights if t in quote} if q.lang == "zh" and on(INSIDE_WORDS) else s.terms
    cov = _covered(ctx, present) / total
    if s.context and on(THROUGH_CONTEXT):  # "It was released on ...": what "it" is, the sentence before says
        cov = max(cov, ctx.limits.context_weight * _covered(ctx, present | s.context) / total)
    if ctx.q_bigrams and on(BIGRAMS):
        cov = max(cov, len(ctx.q_bigrams & han_bigrams(quote)) / len(ctx.q_bigrams))
    return cov


def _covered(ctx: Ctx, present: set[str]) -> float:
    """The weight of the asked terms in `present`, an English word met only in another form
    counting for `form_weight` of its own."""
    weights = ctx.weights
    forms = in_other_forms(weights, present) if ctx.q.lang == "en" and ctx.steps.on(WORD_FORMS) else set()
    return (sum(w for t, w in weights.items() if t in present)
            + ctx.limits.form_weight * sum(w for t, w in weights.items() if t in forms))


def _files_with_answers(sents: Sequence[Sentence]) -> dict[str, set[str]]:
    """Each answer-like span of the retrieved sentences, with the files that state it: when
    several sources give the same name, date or figure, that one is likely the answer."""
    out: dict[str, set[str]] = {}
    for s in sents:
        for a in s.answers:
            out.setdefault(a, set()).add(s.evidence.chunk.doc_id)
    return out


# -- features, in the order they add up -----------------------------------------------------------


@feature("kind_asked_bonus", "A sentence holding the kind of answer asked for (a date, a number, a name) comes first.")
def _wanted(ctx: Ctx, s: Sentence) -> float:
    return ctx.limits.wanted_bonus if s.wanted else 0.0


@feature("chunk_rank", "A sentence from a better-ranked passage comes first, other things equal.")
def _rank(_ctx: Ctx, s: Sentence) -> float:
    return 0.12 / (1 + s.rank)


@feature("files_agree", "When other files state the same name, date or figure, that one is likely the answer.")
def _support(ctx: Ctx, s: Sentence) -> float:
    return ctx.limits.support_bonus * min(s.support, 2)


@feature("counts_the_asked_thing", "\"How many X\": a figure that counts X beats one that counts something else.")
def _counts(ctx: Ctx, s: Sentence) -> float:
    return ctx.limits.counted_bonus if s.counts else 0.0


@feature("whole_date", "\"When\": a day, month and year beat a year alone.")
def _whole_date(ctx: Ctx, s: Sentence) -> float:
    return ctx.limits.full_date_bonus if ctx.q.wants == "date" and full_date(s.quote) else 0.0
