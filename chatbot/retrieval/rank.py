"""Second-stage ranking: features the first stage lacks, combined by weights fitted on the packs.

No reranker model ships offline, so a linear model over a dozen cheap features re-orders the
union of dense and keyword candidates. Weights live in `ranker.json` beside this file and are
fitted by `make fit-ranker` (pairwise logistic regression, k-fold cross-validated figures in
evals/README.md). Dense similarity stays a feature of its own, so a passage in the other
language can still win when the lexical features are blind to it.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from chatbot.retrieval.question import Question
from chatbot.retrieval.spans import answer_spans, dateline_end, wanted_match, years
from chatbot.text import lexicon
from chatbot.text.chunking import split_sentences
from chatbot.text.terms import han_bigrams, is_stop, tokenize, tokenize_spans, with_parts
from chatbot.types import Chunk

WEIGHTS_PATH = Path(__file__).with_name("ranker.json")
FEATURES = (
    "dense", "dense_gap", "dense_rr", "bm25", "bm25_rr", "coverage", "sentence_coverage",
    "bigram", "numbers", "wants_match", "cross", "cross_dense", "title_coverage",
    "answer_sentence", "phrase", "answer_near", "cross_coverage", "year_missing", "year_conflict", "quoted",
)
NEAR = {"zh": 20, "en": 60}  # characters either side of an answer-like span that count as near it

# A phrase the question quotes ("dual system", 《满江红》): the passage that says it verbatim is likely the one meant
_QUOTED = re.compile(r'"([^"]{2,60})"|“([^”]{2,60})”|《([^》]{1,60})》|「([^」]{1,60})」')


def quoted_phrases(text: str) -> list[str]:
    return [next(g for g in m.groups() if g).lower() for m in _QUOTED.finditer(text)]


@dataclass
class Candidate:
    chunk: Chunk
    dense: float
    bm25: float = 0.0
    dense_rank: int = 0  # 1-based; 0 when not among the dense candidates
    bm25_rank: int = 0


@dataclass(frozen=True)
class _Text:
    starts: list[int]  # where each term starts
    seq: tuple[str, ...]  # the terms in order
    terms: frozenset[str]
    sentences: list[tuple[int, int, frozenset[str]]]  # start, end, terms
    years: frozenset[str]  # the years it names
    body_years: frozenset[str]  # the same, a snippet's publication stamp left out


@lru_cache(maxsize=8192)
def _analyse(text: str) -> _Text:
    """A chunk's terms with their offsets, as a set, and per sentence: tokenized once per chunk
    text (jieba and the sentence splitter dominate the cost; candidates recur across questions)."""
    pairs = tokenize_spans(text)
    starts = [p for p, _ in pairs]
    seq = tuple(t for _, t in pairs)
    sentences = [(sp.start, sp.end, frozenset(seq[bisect_left(starts, sp.start) : bisect_left(starts, sp.end)]))
                 for sp in split_sentences(text)]
    return _Text(starts, seq, frozenset(seq), sentences, frozenset(years(text)),
                 frozenset(years(text[dateline_end(text):])))


def _near(found: list[tuple[int, int]], doc: _Text, lang: str, weights: dict[str, float]) -> float:
    """IDF share of the question's terms found close to an answer-like span (a name for "who",
    a date for "when", a figure for "how many"): the answer usually sits beside the words of
    the question, where a passage that only shares the topic has them apart."""
    width = NEAR.get(lang, NEAR["en"])
    best = 0.0
    for a, b in found:
        lo, hi = bisect_left(doc.starts, a - width), bisect_right(doc.starts, b + width)
        near = set(doc.seq[lo:hi])
        best = max(best, sum(w for t, w in weights.items() if t in near))
    return best


@lru_cache(maxsize=8192)
def _en_words(text: str) -> frozenset[str]:
    return lexicon.en_words(with_parts(_analyse(text).terms))


def _cross_coverage(q: Question, text: str, share: dict[str, float]) -> float:
    """IDF share of the question's terms that meet a passage in the other language through the lexicon."""
    words = _en_words(text)
    return sum(w for t, w in share.items() if lexicon.meets(t, words, text))


@lru_cache(maxsize=8192)
def _bigrams(text: str) -> frozenset[str]:
    return frozenset(han_bigrams(text))


@lru_cache(maxsize=4096)
def _title_terms(title: str) -> frozenset[str]:
    return frozenset(tokenize(title))


def features(q: Question, cands: Sequence[Candidate], idf: dict[str, float]) -> np.ndarray:
    """One row of FEATURES per candidate."""
    if not cands:
        return np.zeros((0, len(FEATURES)), dtype=np.float64)
    total = sum(idf.get(t, 0.0) for t in q.terms) or 1.0
    share = {t: idf.get(t, 0.0) / total for t in q.terms}
    top_dense = max(c.dense for c in cands)
    top_bm25 = max(c.bm25 for c in cands) or 1.0
    q_bi = han_bigrams(q.text) if q.lang == "zh" else set()
    numbers = [n.replace(",", "") for n in q.numbers]
    q_seq = tokenize(q.text)
    q_pairs = {(a, b) for a, b in zip(q_seq, q_seq[1:]) if not (is_stop(a) and is_stop(b))}
    q_years = years(q.text)
    phrases = quoted_phrases(q.text)
    rows = []
    for c in cands:
        text = c.chunk.text
        doc = _analyse(text)
        found = answer_spans(q, text)
        cov = sum(idf.get(t, 0.0) for t in q.terms if t in doc.terms) / total
        best_sent = answer_sent = 0.0
        for start, end, sterms in doc.sentences:
            sc = sum(idf.get(t, 0.0) for t in q.terms if t in sterms) / total
            best_sent = max(best_sent, sc)
            if q.wants and sc > answer_sent and wanted_match(
                    q, text[start:end], [(a, b) for a, b in found if start <= a and b <= end]):
                answer_sent = sc
        pairs = set(zip(doc.seq, doc.seq[1:]))
        phrase = sum(p in pairs for p in q_pairs) / len(q_pairs) if q_pairs else 0.0
        title_terms = _title_terms(c.chunk.title)
        title_cov = sum(idf.get(t, 0.0) for t in q.terms if t in title_terms) / total
        bigram = len(q_bi & _bigrams(text)) / len(q_bi) if q_bi else cov
        flat = text.replace(",", "")
        num_match = sum(n in flat for n in numbers) / len(numbers) if numbers else 0.0
        wants = 1.0 if wanted_match(q, text, found) else 0.0
        cross = 1.0 if c.chunk.lang != q.lang else 0.0
        # a question about one year, a passage about others ("the 2018 winner" for 2019)
        year_missing = 1.0 if q_years and not q_years & (doc.years | years(c.chunk.title)) else 0.0
        year_conflict = 1.0 if q_years and doc.body_years and not q_years & doc.body_years else 0.0
        lowered = text.lower() if phrases else ""
        rows.append([
            c.dense, c.dense - top_dense, 1.0 / c.dense_rank if c.dense_rank else 0.0,
            c.bm25 / top_bm25, 1.0 / c.bm25_rank if c.bm25_rank else 0.0,
            cov, best_sent, bigram, num_match, wants, cross, cross * c.dense, title_cov,
            answer_sent, phrase, _near(found, doc, c.chunk.lang, share),
            _cross_coverage(q, text, share) if cross else 0.0, year_missing, year_conflict,
            sum(p in lowered for p in phrases) / len(phrases) if phrases else 0.0,
        ])
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class Ranker:
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def score(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0)
        return ((x - self.mean) / self.scale) @ self.weights

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> Ranker:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted for other features; run `make fit-ranker`")
        return cls(np.asarray(data["weights"]), np.asarray(data["mean"]), np.asarray(data["scale"]))

    def save(self, path: Path, extra: dict[str, object]) -> None:
        data = {"features": list(FEATURES), "weights": self.weights.round(6).tolist(),
                "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(), **extra}
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def fit(groups: Sequence[tuple[np.ndarray, np.ndarray]], l2: float = 1.0, epochs: int = 300) -> Ranker:
    """Pairwise logistic regression: every (relevant, irrelevant) pair of one question.

    `groups` holds, per question, the feature rows of its candidates and 0/1 relevance.
    """
    allx = np.vstack([x for x, _ in groups if len(x)])
    mean, scale = allx.mean(axis=0), allx.std(axis=0)
    scale[scale < 1e-9] = 1.0
    diffs = []
    for x, y in groups:
        z = (x - mean) / scale
        pos, neg = z[y > 0], z[y <= 0]
        if len(pos) and len(neg):
            d = (pos[:, None, :] - neg[None, :, :]).reshape(-1, z.shape[1])
            diffs.append(d / math.sqrt(len(d)))  # each question weighs about the same
    d = np.vstack(diffs)
    w = np.zeros(d.shape[1])
    lr = 0.5
    for _ in range(epochs):  # plain gradient descent on a convex loss: deterministic
        m = d @ w
        p = 1.0 / (1.0 + np.exp(np.clip(m, -30, 30)))
        grad = -(d * p[:, None]).sum(axis=0) / len(groups) + l2 * w / len(groups)
        w -= lr * grad
    return Ranker(w, mean, scale)
