"""Fit the second-stage ranker on the *fit* split of every pack; measure retrieval on *check*.

    make fit-ranker      # fit on fit, write chatbot/retrieval/ranker.json, update the table in evals/README.md
    make ablation        # measure with the committed weights (and the answerer's steps: ablate_steps.py)

Every pack (evals/seeds, ../shared/evals/{rgb-dev,squad2-dev,cmrc-dev}) is indexed once into
.train-cache/ (shared with `make train`, reused while its corpus is unchanged). The ranker is
fitted on the answerable questions of the fit split only (`chatbot.evaluation.split`); the table
gives the check split, in aggregate: plain dense, plain BM25 (over our chunks; a paragraph pack's
chunk is its paragraph), their fusion, the ranker, and what an answer lists (the passages it
quotes first).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from train_answerer import PACKS, pack_bot  # noqa: E402 - after the path set-up above

from chatbot.answering.extractive import ExtractiveAnswerer  # noqa: E402 - after the path set-up above
from chatbot.config import Settings  # noqa: E402
from chatbot.evaluation.packs import EvalQuestion, histories, load_pack  # noqa: E402
from chatbot.evaluation.split import split_of  # noqa: E402
from chatbot.index.embeddings import BundledEmbeddings  # noqa: E402
from chatbot.retrieval.question import Question, condense  # noqa: E402
from chatbot.retrieval.rank import WEIGHTS_PATH, Candidate, Ranker, features, fit  # noqa: E402
from chatbot.retrieval.retrieve import Retriever, dedupe, evidence_first, keep_other_language  # noqa: E402
from chatbot.types import ScoredChunk  # noqa: E402

TOP_K = 6  # chunks returned per question (Settings.top_k)
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


def collect(name: str, pack: Path, k: int, embeddings: BundledEmbeddings, work: Path) -> list[Item]:
    bot = pack_bot(name, pack, work, embeddings)
    retriever = Retriever(bot.store(), bot.embeddings, k, mode="fused", candidates=30)
    questions = load_pack(pack)
    history = histories(questions)
    items = []
    for q in questions:
        if not q.answerable:
            continue
        # as `chatbot eval` asks it: a follow-up rewritten with its conversation
        parsed, qvec, idf = retriever.analyse(condense(q.question, history[q.id]), asked=q.question)
        cands = retriever.candidates(parsed, qvec)
        x = features(parsed, cands, idf)
        y = np.array([1.0 if c.chunk.file in q.gold_files else 0.0 for c in cands])
        items.append(Item(name, q, cands, x, y, parsed, qvec, idf))
    return items


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
    top = keep_other_language(item.parsed, _ranked(item, scores), k)
    draft = reader.answer(item.parsed, top, item.qvec, item.idf)
    return _gold_rank(item, evidence_first(top, draft.evidence))


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
        langs = {items[n].q.lang for n in idx}
        for lang in ("en", "zh") if len(langs) > 1 else ():
            out.append((f"{pack} {lang}", [n for n in idx if items[n].q.lang == lang]))
        cross = [n for n in idx if items[n].q.category == "cross-language"]
        if cross:
            out.append((f"{pack} cross-language", cross))
    return out


def table(items: list[Item], columns: dict[str, list[int]]) -> str:
    """One cell per scope and column: hit@1 / hit@5 / MRR of the column's ranks."""
    lines = ["| check split | n | " + " | ".join(f"{c} hit@1 / hit@5 / MRR" for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for name, idx in scopes(items):
        cells = []
        for ranks in columns.values():
            h1, h5, mrr = summarize([ranks[n] for n in idx])
            cells.append(f"{h1:.3f} / {h5:.3f} / {mrr:.3f}")
        lines.append(f"| {name} | {len(idx)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="fit on the fit split and write chatbot/retrieval/ranker.json")
    parser.add_argument("--work", type=Path, default=ROOT / ".train-cache")
    parser.add_argument("--packs", nargs="*", default=list(PACKS))
    parser.add_argument("--reuse", action="store_true", help="reuse the candidates collected by an earlier run")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    embeddings = BundledEmbeddings(threads=2)
    reader = ExtractiveAnswerer(embeddings, Settings(_env_file=None).max_citations)  # type: ignore[call-arg]
    items: list[Item] = []
    for name in args.packs:
        cache = args.work / f"{name}.candidates.pkl"
        if args.reuse and cache.exists():
            got = pickle.loads(cache.read_bytes())
        else:
            got = collect(name, PACKS[name], 6, embeddings, args.work)
            cache.write_bytes(pickle.dumps(got))
        items += got
        print(f"{name}: {len(got)} answerable questions", flush=True)
    fit_items = [i for i in items if split_of(i.q.id) == "fit"]
    check = [i for i in items if split_of(i.q.id) == "check"]
    committed = Ranker.load()
    refit = fit([(i.x, i.y) for i in fit_items])
    columns = {name: [file_rank(i, baseline_scores(i, mode)) for i in check]
               for name, mode in (("plain dense", "dense"), ("plain BM25", "keyword"), ("fused", "fused"))}
    columns["ranked (committed)"] = [cross_slot_rank(i, committed.score(i.x)) for i in check]
    columns["ranked (refit on fit)"] = [cross_slot_rank(i, refit.score(i.x)) for i in check]
    columns["+ quoted first (committed: what runs)"] = [reader_rank(i, committed.score(i.x), reader) for i in check]
    columns["+ quoted first (refit on fit)"] = [reader_rank(i, refit.score(i.x), reader) for i in check]
    if args.fit:
        h1, h5, mrr = summarize(columns["ranked (refit on fit)"])
        refit.save(WEIGHTS_PATH, {"fitted_on": sorted({i.pack for i in fit_items}), "split": "fit",
                                  "questions": len(fit_items), "check_hit@1": round(h1, 4),
                                  "check_hit@5": round(h5, 4), "check_mrr": round(mrr, 4)})
        print(f"wrote {WEIGHTS_PATH}")
    text = table(check, columns)
    print(text)
    readme = ROOT / "evals" / "README.md"
    body = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = (f"{BEGIN}\nAnswerable questions of the *check* split only; a hit is a gold file among the files of the "
             f"6 retrieved chunks, as `chatbot eval` counts it. The ranker columns include the retriever's "
             f"other-language slot. Regenerate with `make ablation` (or `make fit-ranker`).\n\n{text}\n{END}")
    if BEGIN in body and END in body:
        body = body[: body.index(BEGIN)] + block + body[body.index(END) + len(END):]
    else:
        body += f"\n## Retrieval ablation\n{block}\n"
    readme.write_text(body, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
