"""The extractive answerer (the offline default) and refusal, read top-down in `answer`.

It reads the ranked chunks sentence by sentence (`sentences`), scores each as an answer to the
question (`scoring`: how much of the question it covers, the kind of answer wanted, the chunk's
rank, files that agree, ...), picks the best one that is supported (`support`) and shows the
kind of answer asked for, quotes it cut to the clauses that answer, and adds further quotes
(`quoting`) only when they bring something new. It refuses when no sentence is supported, or
when no close one holds the kind of answer asked for ("when", "how many", "where", "who"):
quoting the topic is no answer. Before refusing it judges the passages read in the other language
by similarity too.

Every rule is a named step (`steps`): switchable by name, and reported in the answer's trace.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chatbot.answering import scoring
from chatbot.answering.asks import Ctx
from chatbot.answering.draft import REFUSAL, Draft, compose
from chatbot.answering.quoting import BRINGS_SOMETHING, clauses, one_per_file, overlap, quote_budget, settled, shorten
from chatbot.answering.reader import Reader
from chatbot.answering.sentences import Sentence, read
from chatbot.answering.steps import Steps, first_reason, rule
from chatbot.answering.support import must_show, shows, supported
from chatbot.answering.trace import trace
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.retrieval.question import Question
from chatbot.types import Evidence, ScoredChunk

__all__ = ["REFUSAL", "Draft", "ExtractiveAnswerer", "Sentence", "clauses", "shorten"]

WANTED_NEAR = rule("kind_asked_nearby", "pick", "A best sentence that only restates the topic gives way to a close one "
                   "holding the kind of answer asked for.")
REREAD = rule("reread_other_language", "pick", "Before refusing, every passage read in the other language is judged by "
                                               "similarity too.")
KINDS = {"date": "a date", "number": "a figure", "where": "a place", "who": "who it is"}


class ExtractiveAnswerer:
    """Quotes the sentence(s) of the ranked chunks that best answer the question."""

    # Evidence thresholds, calibrated on the seeds pack and rgb-dev (see evals/README.md).
    min_coverage = 0.25
    min_similarity = 0.25
    min_cross_coverage = 0.4  # through the lexicon, which matches more loosely than the words themselves
    min_cross_words = 2  # ... and of at least two of the question's words, numbers aside
    cross_lang_chunks = 4
    wanted_bonus = 0.15  # a sentence holding the kind of answer asked for (a date, a number, a name)
    context_weight = 0.7  # coverage counted through the sentence a pronoun refers to (0.8 added false refusals)
    full_date_bonus = 0.05  # "when": a day, month and year over a year alone
    support_bonus = 0.1  # per other file that states the same name, date or figure (at most two)
    wanted_window = 0.7  # of the best score, where a sentence holding the wanted answer is looked for
    counted_bonus = 0.1  # "how many X": a figure that counts X over one that counts something else
    # an asked English word met only in another form ("released" for "release", "winning" for
    # "won", "industrial" for "industry") counts for this share of its weight: the form is
    # weaker evidence than the word (half its weight, or all of it, lost answers on both packs)
    form_weight = 0.3
    look_at = 2  # the best-scoring sentences that may carry the answer when a better one lacks support

    def __init__(self, embeddings: BundledEmbeddings, max_citations: int = 2, steps: Steps | None = None,
                 reader: Reader | None = None, min_confidence: float = 0.0) -> None:
        self.embeddings = embeddings
        self.max_citations = max_citations
        self.steps = steps if steps is not None else Steps()
        self.reader = reader
        self.min_confidence = min_confidence

    def answer(self, q: Question, ranked: Sequence[ScoredChunk], qvec: np.ndarray | None = None,
               idf: dict[str, float] | None = None) -> Draft:
        """The named steps' answer, with the reader's confidence in it; refused below
        `min_confidence`."""
        draft = self._answer(q, ranked, qvec, idf)
        if self.reader is None:
            return draft
        ctx, sents = self.candidates(q, ranked, qvec, idf)
        draft.confidence, best = self.reader.confidence(ctx, sents, draft.evidence, draft.refused)
        draft.trace["confidence"], draft.trace["best_candidate"] = draft.confidence, best
        if not draft.refused and draft.confidence < self.min_confidence:
            reason = f"its confidence {draft.confidence:.2f} is below CHATBOT_MIN_CONFIDENCE ({self.min_confidence:g})"
            related = [ev for i, ev in enumerate(draft.evidence) if i < self.max_citations]
            return Draft(REFUSAL[q.lang], [], True, related=related, confidence=0.0,
                         trace={**draft.trace, "confidence": 0.0, "refusal": reason})
        return draft

    def _answer(self, q: Question, ranked: Sequence[ScoredChunk], qvec: np.ndarray | None,
                idf: dict[str, float] | None) -> Draft:
        ctx, idf = Ctx(q, self.steps, self, ranked), idf or {}
        skipped: list[Sentence] = []
        sents = read(self.steps, ranked, skipped=skipped)
        ctx.skipped = len(skipped)
        if not sents:
            ctx.refusal = "no sentence of the passages read can answer anything"
            return self._refuse(ctx, [])
        sents, best = self._choose(ctx, sents, qvec, idf)
        if best is None:
            return self._refuse(ctx, sents)
        return self._quote(ctx, best, sents, qvec, idf)

    # -- choosing the first quote ------------------------------------------------------------

    def _choose(self, ctx: Ctx, sents: list[Sentence], qvec: np.ndarray | None,
                idf: dict[str, float]) -> tuple[list[Sentence], Sentence | None]:
        q, ranked, on = ctx.q, ctx.ranked, self.steps.on
        sents, best = self._score_and_pick(ctx, sents, qvec, idf)
        if best is None and on(REREAD) and any(s.lang != q.lang for s in sents):
            # the retriever's other-language slot lies below the chunks read that way at first
            sents, best = self._score_and_pick(ctx, sents, qvec, idf, cross_ranks=len(ranked))
        if best is None:
            ctx.refusal = "no sentence read is supported by the question's words"
        elif must_show(ctx, best) and not shows(ctx, best):
            best = self._wanted_near(ctx, best, sents) if on(WANTED_NEAR) else best
            if not shows(ctx, best):
                ctx.refusal = f"no sentence close to the best one gives {KINDS.get(q.wants, 'the answer asked for')}"
                best = None
        return sents, best

    def _score_and_pick(self, ctx: Ctx, sents: list[Sentence], qvec: np.ndarray | None, idf: dict[str, float],
                        cross_ranks: int | None = None) -> tuple[list[Sentence], Sentence | None]:
        """The sentences scored for the question, best first (a new list; ties keep the given
        order), and the one to quote (None: refuse)."""
        for s in sents:
            s.fired.clear()
        scoring.score(ctx, sents, idf, qvec, self.embeddings,
                      self.cross_lang_chunks if cross_ranks is None else cross_ranks)
        ordered = sorted(sents, key=lambda s: s.score, reverse=True)
        return ordered, self._pick(ctx, ordered)

    def _pick(self, ctx: Ctx, sents: list[Sentence]) -> Sentence | None:
        """The first supported one of the `look_at` best-scoring sentences (sorted already)."""
        return next((s for s in sents[: self.look_at] if supported(ctx, s)), None)

    def _wanted_near(self, ctx: Ctx, best: Sentence, sents: list[Sentence]) -> Sentence:
        """A best sentence that only restates the topic gives way to a close one holding the kind
        of answer asked for."""
        for s in sents:
            if s.score < self.wanted_window * best.score:
                break
            if shows(ctx, s) and supported(ctx, s):
                return s
        return best

    # -- quoting -----------------------------------------------------------------------------

    def _quote(self, ctx: Ctx, best: Sentence, sents: list[Sentence], qvec: np.ndarray | None,
               idf: dict[str, float]) -> Draft:
        """The first quote (it may use the whole budget: cutting it to leave room for a second
        one lost the answer-bearing clause more often than the second found one), then further
        quotes from the sentences scored below it (those above were passed over for it)."""
        q = ctx.q
        budget = quote_budget(ctx)
        first = self.shorten(q, best.evidence, budget, idf, qvec)
        quotes, picked = [first], [best]
        used, covered = len(first.quote), set(best.terms)
        ctx.best, ctx.settled = best, settled(ctx, best)
        for s in sents[next(i for i, s in enumerate(sents) if s is best) + 1 :]:
            if len(quotes) >= self.max_citations or s.score < 0.7 * best.score or used >= budget - 40:
                break
            if any(overlap(s.evidence, ev) for ev in quotes) or not supported(ctx, s):
                continue
            if first_reason(self.steps.at("further"), ctx, s):
                continue
            adds_terms = any(t in s.terms and t not in covered for t in q.terms)
            other_file = all(s.evidence.chunk.doc_id != ev.chunk.doc_id for ev in quotes)
            if adds_terms or other_file or not self.steps.on(BRINGS_SOMETHING):
                room = budget - used - 2  # the spaces around the marker before it count too
                ev = self.shorten(q, s.evidence, room, idf, qvec)
                if len(ev.quote) <= room:
                    quotes.append(ev)
                    picked.append(s)
                    used += len(ev.quote) + 2
                    covered |= s.terms
        draft = compose(quotes)
        draft.trace = trace(ctx, sents, picked)
        return draft

    def _refuse(self, ctx: Ctx, sents: list[Sentence]) -> Draft:
        related = [s.evidence for s in one_per_file([s for s in sents if not s.stamp])[: self.max_citations]]
        return Draft(REFUSAL[ctx.q.lang], [], True, related=related, trace=trace(ctx, sents, []))

    def shorten(self, q: Question, ev: Evidence, budget: int, idf: dict[str, float] | None,
                qvec: np.ndarray | None) -> Evidence:
        """`quoting.shorten`, judging clauses of a passage in the other language by embedding
        similarity (the question's words cannot match them)."""
        if len(ev.quote) <= budget or ev.chunk.lang == q.lang or qvec is None:
            return shorten(q, ev, budget, idf, steps=self.steps)
        texts = [ev.quote[p.start : p.end] for p in clauses(ev.quote)]
        sims = [float(x) for x in self.embeddings.embed_array(texts) @ qvec]
        return shorten(q, ev, budget, idf, clause_relevance=sims, steps=self.steps)

    # -- the parts, one at a time (for tests and tools) ----------------------------------------

    def candidates(self, q: Question, ranked: Sequence[ScoredChunk], qvec: np.ndarray | None = None,
                   idf: dict[str, float] | None = None) -> tuple[Ctx, list[Sentence]]:
        """The candidate sentences of the ranked chunks, scored, as the first reading sees them
        (what the reader model is trained on)."""
        ctx = Ctx(q, self.steps, self, ranked)
        sents = read(self.steps, ranked)
        if sents:
            scoring.score(ctx, sents, idf or {}, qvec, self.embeddings, self.cross_lang_chunks)
        return ctx, sents

    def sentences(self, ranked: Sequence[ScoredChunk], first_rank: int = 0) -> list[Sentence]:
        return read(self.steps, ranked, first_rank)

    def score(self, q: Question, sents: list[Sentence], idf: dict[str, float], qvec: np.ndarray | None,
              cross_ranks: int | None = None) -> None:
        scoring.score(Ctx(q, self.steps, self), sents, idf, qvec, self.embeddings,
                      self.cross_lang_chunks if cross_ranks is None else cross_ranks)

    def supported(self, q: Question, s: Sentence, ranked: Sequence[ScoredChunk] = ()) -> bool:
        return supported(Ctx(q, self.steps, self, ranked), s)
