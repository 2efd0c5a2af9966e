"""Fit the second-stage ranker on the eval packs and regenerate the ablation table.

    make fit-ranker      # fit, write chatbot/retrieval/ranker.json, update the table in evals/README.md
    make ablation        # only measure with the committed weights and update the table

Every pack is indexed into a fresh temporary store. Figures for the fitted ranker are k-fold
cross-validated by question (each question is scored by weights fitted without it), averaged
over several splits of the questions into folds: one split moves by a question or two whenever
the training rows change. The in-sample figure is shown beside them to make over-fitting visible.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatbot.answering.extractive import ExtractiveAnswerer  # noqa: E402 - after the path set-up above
from chatbot.app import build  # noqa: E402
from chatbot.config import Settings  # noqa: E402
from chatbot.evaluation.packs import EvalQuestion, histories, load_pack  # noqa: E402
from chatbot.index.embeddings import BundledEmbeddings  # noqa: E402
from chatbot.retrieval.question import Question, condense  # noqa: E402
from chatbot.retrieval.rank import WEIGHTS_PATH, Candidate, Ranker, features, fit  # noqa: E402
from chatbot.retrieval.retrieve import Retriever, dedupe, evidence_first, keep_other_language, split_top  # noqa: E402
from chatbot.types import ScoredChunk  # noqa: E402

PACKS = [ROOT / "evals" / "seeds", ROOT.parent / "shared" / "evals" / "rgb-dev"]
TOP_K = 6  # chunks returned per question (Settings.top_k)
FOLDS = 5
SPLITS = 4  # fold assignments averaged in the cross-validated figures
BEGIN, END = "<!-- ablation:begin -->", "<!-- ablation:end -->"


@dataclass
class Item:
    pack: str
    q: EvalQuestion
    cands: list[Candidate]
    x: np.ndarray
    y: np.ndarray
    parsed: Question  # as retrieval parsed it (a follow-up rewritten)
    qvec: np.ndarray
    idf: dict[str, float]


def collect(pack: Path, k: int, embeddings: BundledEmbeddings) -> list[Item]:
    items = []
    with tempfile.TemporaryDirectory(prefix="chatbot-fit-") as tmp:
        bot = build(Settings(data_dir=Path(tmp)), embeddings=embeddings)
        bot.ingest([pack / "corpus"], progress=False)
        store = bot.store()
        retriever = Retriever(store, bot.embeddings, k, mode="fused", candidates=30)
        questions = load_pack(pack)
        history = histories(questions)
        for q in questions:
            if not q.answerable:
                continue
            # as `chatbot eval` asks it: a follow-up rewritten with its conversation
            parsed, qvec, idf = retriever.analyse(condense(q.question, history[q.id]), asked=q.question)
            cands = retriever.candidates(parsed, qvec)
            x = features(parsed, cands, idf)
            y = np.array([1.0 if c.chunk.file in q.gold_files else 0.0 for c in cands])
            items.append(Item(pack.name, q, cands, x, y, parsed, qvec, idf))
    return items


def fold_of(question_id: str, split: int = 0) -> int:
    """The fold of a question in one split (split 0 is the one the earlier tables used)."""
    key = question_id if split == 0 else f"{split}:{question_id}"
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % FOLDS


def _ranked(item: Item, scores: np.ndarray) -> list[ScoredChunk]:
    order = np.argsort(-scores, kind="stable")
    return dedupe([ScoredChunk(chunk=item.cands[i].chunk, score=float(scores[i]), dense=item.cands[i].dense)
                   for i in order])


def _gold_rank(item: Item, top: list[ScoredChunk]) -> int:
    """Rank of the first gold file among the files of the top chunks, as `chatbot eval` counts it."""
    files = list(dict.fromkeys(sc.chunk.file for sc in top))
    return next((r for r, f in enumerate(files, 1) if f in item.q.gold_files), 0)


def file_rank(item: Item, scores: np.ndarray, k: int = TOP_K) -> int:
    return _gold_rank(item, _ranked(item, scores)[:k])


def cross_slot_rank(item: Item, scores: np.ndarray, k: int = TOP_K) -> int:
    """file_rank after the retriever's other-language slot."""
    return _gold_rank(item, keep_other_language(Question.parse(item.q.question), _ranked(item, scores), k))


def reader_rank(item: Item, scores: np.ndarray, reader: ExtractiveAnswerer, k: int = TOP_K) -> int:
    """file_rank of what an answer lists: the slot, then the passages the extractive answer quotes first."""
    top, further = split_top(item.parsed, _ranked(item, scores), k)
    draft = reader.answer(item.parsed, top, item.qvec, item.idf, further)
    return _gold_rank(item, evidence_first(top, further, draft.evidence))


def baseline_scores(item: Item, mode: str) -> np.ndarray:
    dense = np.array([c.dense for c in item.cands])
    bm25 = np.array([c.bm25 if c.bm25_rank else -1.0 for c in item.cands])
    if mode == "dense":
        return np.where([c.dense_rank > 0 for c in item.cands], dense, -9.0)
    if mode == "keyword":
        return np.where([c.bm25_rank > 0 for c in item.cands], bm25, -9.0)
    def mm(a: np.ndarray) -> np.ndarray:
        return (a - a.min()) / (a.max() - a.min()) if a.max() > a.min() else np.zeros_like(a)
    return 0.5 * mm(dense) + 0.5 * mm(np.array([c.bm25 for c in item.cands]))


def summarize(ranks: list[int]) -> tuple[float, float, float]:
    n = len(ranks) or 1
    return (sum(r == 1 for r in ranks) / n, sum(0 < r <= 5 for r in ranks) / n,
            sum(1 / r for r in ranks if r) / n)


def scopes(items: list[Item]) -> list[tuple[str, list[int]]]:
    out = []
    for pack in dict.fromkeys(i.pack for i in items):
        idx = [n for n, i in enumerate(items) if i.pack == pack]
        out.append((f"{pack} all", idx))
        for lang in ("en", "zh"):
            out.append((f"{pack} {lang}", [n for n in idx if items[n].q.lang == lang]))
        cross = [n for n in idx if items[n].q.category == "cross-language"]
        if cross:
            out.append((f"{pack} cross-language", cross))
    return out


def table(items: list[Item], columns: dict[str, list[list[int]]]) -> str:
    """One cell per scope and column: the figures averaged over the column's rank lists."""
    lines = ["| scope | n | " + " | ".join(f"{c} hit@1 / hit@5 / MRR" for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for name, idx in scopes(items):
        cells = []
        for runs in columns.values():
            h1, h5, mrr = np.mean([summarize([ranks[n] for n in idx]) for ranks in runs], axis=0)
            cells.append(f"{h1:.3f} / {h5:.3f} / {mrr:.3f}")
        lines.append(f"| {name} | {len(idx)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="fit and write chatbot/retrieval/ranker.json")
    args = parser.parse_args()
    packs = [p for p in PACKS if (p / "questions.jsonl").exists()]
    embeddings = BundledEmbeddings()
    reader = ExtractiveAnswerer(embeddings, Settings().max_citations)
    items = [it for p in packs for it in collect(p, 6, embeddings)]
    groups = [(i.x, i.y) for i in items]
    columns: dict[str, list[list[int]]] = {
        m: [[file_rank(i, baseline_scores(i, m)) for i in items]] for m in ("dense", "keyword", "fused")
    }
    cvs, cv_crosses, cv_readers = [], [], []
    for split in range(SPLITS):
        folds = [fold_of(i.q.id, split) for i in items]
        cv, cv_cross, cv_reader = [0] * len(items), [0] * len(items), [0] * len(items)
        for fold in range(FOLDS):
            ranker = fit([g for g, f in zip(groups, folds) if f != fold])
            for n, i in enumerate(items):
                if folds[n] == fold:
                    scores = ranker.score(i.x)
                    cv[n], cv_cross[n] = file_rank(i, scores), cross_slot_rank(i, scores)
                    cv_reader[n] = reader_rank(i, scores, reader)
        cvs.append(cv)
        cv_crosses.append(cv_cross)
        cv_readers.append(cv_reader)
    columns[f"ranked ({FOLDS}-fold CV)"] = cvs
    columns["ranked + other-language slot (CV)"] = cv_crosses
    columns["+ quoted passages first (CV)"] = cv_readers
    final = fit(groups) if args.fit else Ranker.load()
    columns["ranked + slot (in-sample)" if args.fit else "ranked + slot (committed weights)"] = [[
        cross_slot_rank(i, final.score(i.x)) for i in items
    ]]
    columns["+ quoted first (in-sample)" if args.fit else "+ quoted first (committed weights: what runs)"] = [[
        reader_rank(i, final.score(i.x), reader) for i in items
    ]]
    if args.fit:
        h1, h5, mrr = np.mean([summarize(cv) for cv in cvs], axis=0)
        final.save(WEIGHTS_PATH, {"fitted_on": [p.name for p in packs], "questions": len(items),
                                  "cv_hit@1": round(h1, 4), "cv_hit@5": round(h5, 4), "cv_mrr": round(mrr, 4)})
        print(f"wrote {WEIGHTS_PATH}")
    text = table(items, columns)
    print(text)
    readme = ROOT / "evals" / "README.md"
    body = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = (f"{BEGIN}\nAnswerable questions only; a hit is a gold file among the files of the 6 retrieved chunks, "
             f"as `chatbot eval` counts it. CV columns: the mean over {SPLITS} splits of the questions into "
             f"{FOLDS} folds. "
             f"Regenerate with `make ablation` (or `make fit-ranker`).\n\n{text}\n{END}")
    if BEGIN in body and END in body:
        body = body[: body.index(BEGIN)] + block + body[body.index(END) + len(END):]
    else:
        body += f"\n## Retrieval ablation\n{block}\n"
    readme.write_text(body, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
