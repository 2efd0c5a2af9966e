"""Question to ranked, de-duplicated chunks: dense + keyword candidates, fused, re-ranked.

Modes (Settings.retrieval), kept side by side for the ablation in evals/README.md:
- dense:   Chroma nearest neighbours only
- keyword: BM25 (SQLite FTS5) only
- fused:   union of both, min-max normalised scores averaged
- ranked:  the union re-ordered by the fitted second stage (`chatbot.rank`), the default

In every mode the answer step then moves the passages its extractive reading quotes to the
front (`evidence_first`): the sources an answer lists and the context an LLM reads start with them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from chatbot.index.embeddings import BundledEmbeddings
from chatbot.index.store import Store
from chatbot.retrieval.question import Question
from chatbot.retrieval.rank import Candidate, Ranker, features
from chatbot.text.terms import content_terms
from chatbot.types import Evidence, ScoredChunk

log = logging.getLogger(__name__)
MODES = ("dense", "keyword", "fused", "ranked")
# A follow-up's terms carried from earlier questions name the topic; its own words say what is
# asked. 0.0 to 0.3 gave the same results on the seeds conversations; 0.5 fixed one fewer.
CARRIED_WEIGHT = 0.3


@dataclass(frozen=True)
class Retrieval:
    question: Question
    ranked: list[ScoredChunk]
    qvec: np.ndarray  # the question's embedding, reused by the answerer
    idf: dict[str, float]  # corpus IDF of the question's terms


class Retriever:
    def __init__(self, store: Store, embeddings: BundledEmbeddings, top_k: int, *,
                 mode: str = "ranked", candidates: int = 30, ranker: Ranker | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"retrieval mode {mode!r} is not one of {MODES}")
        self._store = store
        self.embeddings = embeddings
        self.top_k = top_k
        self.mode = mode
        self.n_candidates = candidates
        self.ranker = ranker if ranker is not None else (Ranker.load() if mode == "ranked" else None)

    def store(self) -> Store:
        """The index, opened on first use."""
        return self._store.open()

    def candidates(self, q: Question, qvec: np.ndarray, doc_ids: Collection[str] | None = None) -> list[Candidate]:
        """Union of dense and keyword candidates, each with both scores. `doc_ids`: candidates
        only from those documents (a question scoped to them); None: the whole index."""
        n = self.n_candidates
        by_id: dict[str, Candidate] = {}
        scope_ids: list[str] | None = None
        if doc_ids is not None:
            wanted = set(doc_ids)
            scope_ids = [cid for e in self.store().manifest.files.values() if e.doc_id in wanted for cid in e.chunk_ids]
        if self.mode != "keyword":
            dense = self.store().dense_search(qvec, n) if doc_ids is None else \
                self.store().dense_search(qvec, n, doc_ids=sorted(set(doc_ids)))
            for rank, sc in enumerate(dense, 1):
                by_id[sc.chunk.id] = Candidate(sc.chunk, sc.dense, dense_rank=rank)
        if self.mode != "dense":
            hits = self.store().keywords.search(q.terms, n, within=scope_ids)
            missing = [cid for cid, _ in hits if cid not in by_id]
            for chunk, vec in self.store().get_with_vectors(missing):
                by_id[chunk.id] = Candidate(chunk, float(vec @ qvec))
            for rank, (cid, score) in enumerate(hits, 1):
                if cid in by_id:
                    by_id[cid].bm25, by_id[cid].bm25_rank = score, rank
            if self.mode != "keyword":
                unscored = [cid for cid, c in by_id.items() if not c.bm25_rank]
                for cid, score in self.store().keywords.search(q.terms, len(unscored), within=unscored):
                    by_id[cid].bm25 = score
        return list(by_id.values())

    def order(self, q: Question, cands: list[Candidate], idf: dict[str, float]) -> list[tuple[Candidate, float]]:
        if not cands:
            return []
        if self.mode == "dense":
            scores = np.array([c.dense for c in cands])
        elif self.mode == "keyword":
            cands = [c for c in cands if c.bm25_rank]
            scores = np.array([c.bm25 for c in cands])
        elif self.mode == "fused":
            scores = 0.5 * _minmax([c.dense for c in cands]) + 0.5 * _minmax([c.bm25 for c in cands])
        else:
            assert self.ranker is not None
            scores = self.ranker.score(features(q, cands, idf))
        order = np.argsort(-scores, kind="stable")
        return [(cands[i], float(scores[i])) for i in order]

    def analyse(self, question: str, asked: str | None = None) -> tuple[Question, np.ndarray, dict[str, float]]:
        """The question parsed, embedded, and the IDF of its terms. `question` is as rewritten
        for a follow-up, `asked` the words the user typed: terms carried over from earlier
        questions weigh CARRIED_WEIGHT in the second stage and in the answer."""
        q = Question.parse(question)
        qvec = self.embeddings.embed_array([question])[0]
        idf = self.store().keywords.idf(list(q.terms))
        if asked is not None and asked != question:
            own = set(content_terms(asked))
            idf = {t: w if t in own else w * CARRIED_WEIGHT for t, w in idf.items()}
        return q, qvec, idf

    def retrieve(self, question: str, k: int | None = None, *, asked: str | None = None,
                 doc_ids: Collection[str] | None = None) -> Retrieval:
        """`doc_ids`: read only those documents (the web chat's scope); None: all of them."""
        k = k or self.top_k
        q, qvec, idf = self.analyse(question, asked)
        ordered = self.order(q, self.candidates(q, qvec, doc_ids), idf)
        ranked = dedupe([
            ScoredChunk(chunk=c.chunk, score=s, dense=c.dense, keyword=c.bm25) for c, s in ordered
        ])
        return Retrieval(question=q, ranked=keep_other_language(q, ranked, k), qvec=qvec, idf=idf)


def evidence_first(ranked: Sequence[ScoredChunk], evidence: Sequence[Evidence]) -> list[ScoredChunk]:
    """The passages an answer quotes, in the order it quotes them, then the rest as ranked.

    The reader's verdict is the last ranking stage: the second stage scores whole passages, the
    extractive answerer reads their sentences for one that states what is asked (a full date,
    a name beside the verb asked), which is what tells the passage holding the answer from a
    same-topic one.
    """
    by_id = {sc.chunk.id: sc for sc in ranked}
    quoted = [by_id[i] for i in dict.fromkeys(ev.chunk.id for ev in evidence) if i in by_id]
    ids = {sc.chunk.id for sc in quoted}
    return quoted + [sc for sc in ranked if sc.chunk.id not in ids]


CROSS_SLOT = 4  # where the best passage in the other language goes when none made the top k


def keep_other_language(q: Question, ranked: list[ScoredChunk], k: int) -> list[ScoredChunk]:
    """The top k, with the other language's best passage kept alive.

    Lexical features only ever match the question's language, so a passage in the other
    language, which may be the only one holding the answer, would never be seen. When no
    passage in the other language made the top k, the ranker's best one there takes the fifth
    slot: low enough not to displace the same-language evidence the answerer prefers, high
    enough to be shown and cited. Embedding similarity (the only signal that crosses languages
    unaided) decides whether the other language is on topic at all: some passage there must be
    more similar to the question than one already shown. The ranker decides which one, since
    its cross-language features read the passage through the lexicon too. The most similar one
    was sometimes another part of the right article (seed-xen-009, seed-multi-002).
    """
    top = ranked[:k]
    if k <= CROSS_SLOT or any(sc.chunk.lang != q.lang for sc in top):
        return top
    others = [sc for sc in ranked[k:] if sc.chunk.lang != q.lang]
    if not others:
        return top
    if max(sc.dense for sc in others) < min(sc.dense for sc in top):
        return top  # less similar than everything shown: a topic the corpus covers in one language
    return top[:CROSS_SLOT] + [others[0]] + top[CROSS_SLOT : k - 1]


def _minmax(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    lo, hi = arr.min(), arr.max()
    return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)


def dedupe(ranked: list[ScoredChunk]) -> list[ScoredChunk]:
    """Keep the first of chunks whose whitespace-free text is identical (near-duplicate copies)."""
    seen: set[str] = set()
    out = []
    for sc in ranked:
        key = "".join(sc.chunk.text.split())
        if key in seen:
            continue
        seen.add(key)
        out.append(sc)
    return out
