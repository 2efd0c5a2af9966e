"""The signals the trained reader weighs, one row per candidate sentence (`FEATURES` names them).

General signals, none tied to a question seen in training: how much of the question the sentence
covers (IDF-weighted, its rarest term, what it lacks), the kind of answer wanted and whether the
sentence holds one, figures and years present or missing, the bundled model's similarity, the
passage's retrieval scores and rank, the sentence's place, agreement across files, and every
named reject step of stages `support` and `shows` as a yes/no signal (each today's rule becomes
a feature: the model learns how much it counts). The hand-set score the rules add up to is a
feature too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chatbot.answering.asks import Ctx
from chatbot.answering.sentences import Sentence, sentence_terms
from chatbot.answering.steps import REGISTRY, Step
from chatbot.answering.support import must_show
from chatbot.retrieval.spans import number_forms
from chatbot.text.terms import tokenize
from chatbot.types import Evidence, ScoredChunk

WANTS = ("date", "number", "who", "where", "often", "")
_REJECTS = [name for name, step in REGISTRY.items() if step.kind == "reject" and step.stage in ("support", "shows")]

FEATURES: tuple[str, ...] = (
    "hand_score", "hand_score_gap", "hand_rank", "coverage", "similarity", "words_met",
    "missing_weight", "rarest_met", "rarest_missing", "numbers_in_sentence", "numbers_missing",
    "chunk_rank", "chunk_score", "chunk_dense", "chunk_keyword", "chunk_score_gap",
    "wanted", "counts", "enumerates", "support", "stamp", "has_context", "novel",
    "length", "position", "first_of_doc", "other_language", "must_show",
    "prev_coverage", "next_coverage", "coverage_rank", "chunk_coverage", "bigram_overlap", "new_answers",
    "match_density", "question_terms",
    *(f"wants_{w or 'none'}" for w in WANTS), "naming", "listing", "office", "counting", "question_zh",
    *(f"reject_{name}" for name in _REJECTS),
    "hand_pick", "hand_further", "hand_refused",
)


def _bigrams(tokens: list[str]) -> set[tuple[str, str]]:
    return set(zip(tokens, tokens[1:]))


def _neighbour_coverage(sents: Sequence[Sentence], i: int, step: int) -> float:
    """The coverage of the sentence before (-1) or after (+1) in the same passage: the words of a
    question often sit beside the sentence that answers it."""
    j = i + step
    if 0 <= j < len(sents) and sents[j].evidence.chunk.id == sents[i].evidence.chunk.id:
        return sents[j].coverage
    return 0.0


def _chunk_coverage(cache: dict[str, float], cid: str, text: str, weights: dict[str, float], total: float) -> float:
    if cid not in cache:
        terms = set(tokenize(text))
        cache[cid] = sum(w for t, w in weights.items() if t in terms or t in text) / total
    return cache[cid]


def _density(quote: str, present: set[str]) -> float:
    """How close together the question's words stand in the sentence: matched terms over the
    span of tokens they cover (1.0 when they are adjacent)."""
    at = [i for i, t in enumerate(tokenize(quote)) if t in present]
    return len(at) / (at[-1] - at[0] + 1) if at else 0.0


def _rejects(ctx: Ctx) -> list[Step]:
    return [REGISTRY[name] for name in _REJECTS]


def rows(ctx: Ctx, sents: Sequence[Sentence]) -> np.ndarray:
    """The feature rows of scored sentences (`scoring.score` has run), in their order."""
    if not sents:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    q = ctx.q
    by_id: dict[str, tuple[int, ScoredChunk]] = {sc.chunk.id: (i, sc) for i, sc in enumerate(ctx.ranked)}
    best_chunk = max((sc.score for sc in ctx.ranked), default=0.0)
    best = max(s.score for s in sents)
    order = {id(s): i for i, s in enumerate(sorted(sents, key=lambda s: s.score, reverse=True))}
    weights = ctx.weights
    total = ctx.total
    idf_max = max(weights.values(), default=1.0) or 1.0
    numbers = q.numbers
    rejects = _rejects(ctx)
    kind = [float(q.wants == w) for w in WANTS]
    asks = [float(ctx.naming), float(ctx.listing), float(ctx.office), float(ctx.counting), float(q.lang == "zh")]
    out = np.zeros((len(sents), len(FEATURES)), dtype=np.float32)
    cov_order = {id(s): i for i, s in enumerate(sorted(sents, key=lambda s: s.coverage, reverse=True))}
    q_bigrams = _bigrams(tokenize(q.text))
    chunk_cov: dict[str, float] = {}
    for r, s in enumerate(sents):
        quote = s.quote
        present = [t for t in weights if t in s.terms or (q.lang == "zh" and t in quote)]
        missing = [t for t in weights if t not in present]
        _, sc = by_id.get(s.evidence.chunk.id, (s.rank, None))
        chunk = s.evidence.chunk
        in_numbers = sum(bool(number_forms(n).search(quote.replace(",", ""))) for n in numbers)
        out[r] = [
            s.score, best - s.score, order[id(s)], s.coverage, s.similarity, s.words_met,
            sum(weights[t] for t in missing) / total, max((weights[t] for t in present), default=0.0) / idf_max,
            max((weights[t] for t in missing), default=0.0) / idf_max, in_numbers, len(numbers) - in_numbers,
            s.rank, sc.score if sc else 0.0, sc.dense if sc else 0.0, sc.keyword if sc else 0.0,
            best_chunk - (sc.score if sc else 0.0),
            s.wanted, s.counts, s.enumerates, min(s.support, 3), s.stamp, bool(s.context),
            any(t not in weights for t in s.terms if len(t) > 1 or t.isdigit()),
            min(len(quote), 600) / 100, (s.evidence.start_char - chunk.start_char) / max(len(chunk.text), 1),
            chunk.seq == 0, s.lang != q.lang, must_show(ctx, s),
            _neighbour_coverage(sents, r, -1), _neighbour_coverage(sents, r, 1), cov_order[id(s)] / len(sents),
            _chunk_coverage(chunk_cov, chunk.id, chunk.text, weights, total),
            len(q_bigrams & _bigrams(tokenize(quote))) / max(len(q_bigrams), 1),
            sum(not (sentence_terms(a) & set(weights)) for a in s.answers), _density(quote, set(present)), len(weights),
            *kind, *asks,
            *(bool(step.fn(ctx, s)) if step.fn and ctx.steps.on(step.name) else False for step in rejects),
            0.0, 0.0, 0.0,  # what the named steps chose: `with_choice`
        ]
    return out


def with_choice(x: np.ndarray, sents: Sequence[Sentence], quoted: Sequence[Evidence], refused: bool) -> np.ndarray:
    """Mark in the rows what the named steps alone chose: the sentence of their first quote, of
    their further quotes, and whether they refused."""
    pick, further, refusal = FEATURES.index("hand_pick"), FEATURES.index("hand_further"), FEATURES.index("hand_refused")
    x[:, refusal] = float(refused)
    for n, ev in enumerate(quoted):
        for r, s in enumerate(sents):
            if s.evidence.chunk.id == ev.chunk.id and s.evidence.start_char <= ev.start_char < s.evidence.end_char:
                x[r, pick if n == 0 else further] = 1.0
                break
    return x
