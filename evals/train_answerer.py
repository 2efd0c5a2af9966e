"""Train the reader: which candidate sentence holds the answer, and how sure to be of it.

    make train            # collect, fit on the *fit* split of every pack, write the model files
    .venv/bin/python evals/train_answerer.py --collect-only

Every pack (evals/seeds and ../shared/evals/{rgb-dev,squad2-dev,cmrc-dev}) is indexed once into
`--work` (reused while its corpus is unchanged). Each question is retrieved and read as the app
reads it; each candidate sentence becomes a row of `chatbot.answering.features` labelled 1 when
it holds one of the question's accepted answers. Only questions of the *fit* split train; the
*check* split is scored in aggregate by `chatbot eval`, never read here question by question.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatbot.answering import features  # noqa: E402 - after the path set-up above
from chatbot.app import Chatbot, build  # noqa: E402
from chatbot.config import Settings  # noqa: E402
from chatbot.evaluation.packs import EvalQuestion, histories, load_pack  # noqa: E402
from chatbot.evaluation.scoring import answer_correct  # noqa: E402
from chatbot.evaluation.split import split_of  # noqa: E402
from chatbot.index.embeddings import BundledEmbeddings  # noqa: E402
from chatbot.retrieval.question import condense  # noqa: E402

SHARED = ROOT.parent / "shared" / "evals"
PACKS = {"seeds": ROOT / "evals" / "seeds", "rgb-dev": SHARED / "rgb-dev", "squad2-dev": SHARED / "squad2-dev",
         "cmrc-dev": SHARED / "cmrc-dev"}


@dataclass
class Asked:
    """One question as read: its candidate rows, their labels, and what the hand rules chose."""

    pack: str
    id: str
    lang: str
    answerable: bool
    split: str
    x: np.ndarray
    y: np.ndarray  # 1: the sentence holds an accepted answer
    gold: np.ndarray  # 1: the sentence is in a gold file
    hand_correct: bool  # the hand-ruled answerer's answer holds an accepted answer
    hand_refused: bool


def corpus_key(pack: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((pack / "corpus").iterdir()):
        h.update(p.name.encode())
        h.update(str(p.stat().st_size).encode())
    return h.hexdigest()[:12]


def pack_bot(name: str, pack: Path, work: Path, embeddings: BundledEmbeddings) -> Chatbot:
    """The app on the pack's own index in `work` (indexed the first time; reused while the corpus is
    unchanged). make train, make ablation and make fit-ranker share these indexes."""
    data = work / f"{name}-{corpus_key(pack)}"
    bot = build(Settings(data_dir=data, _env_file=None), embeddings=embeddings)  # type: ignore[call-arg]
    if not (data / "manifest.json").exists():
        bot.ingest([pack / "corpus"], progress=False)
    return bot


def collect(name: str, pack: Path, work: Path, embeddings: BundledEmbeddings) -> list[Asked]:
    bot = pack_bot(name, pack, work, embeddings)
    bot.extractive.reader = None  # the named steps' own answer: the model being fitted judges nothing yet
    questions = load_pack(pack)
    history = histories(questions)
    out = []
    for q in questions:
        out.append(read_one(bot, name, q, history[q.id]))
    return out


def read_one(bot, pack: str, q: EvalQuestion, history: list[str]) -> Asked:  # type: ignore[no-untyped-def]
    found = bot.retriever.retrieve(condense(q.question, history), asked=q.question)
    ctx, sents = bot.extractive.candidates(found.question, found.ranked, found.qvec, found.idf)
    hand = bot.extractive.answer(found.question, found.ranked, found.qvec, found.idf)
    x = features.with_choice(features.rows(ctx, sents), sents, hand.evidence, hand.refused)
    y = np.array([q.answerable and answer_correct(q, s.quote) for s in sents], dtype=np.float32)
    gold = np.array([s.evidence.chunk.file in q.gold_files for s in sents], dtype=np.float32)
    return Asked(pack, q.id, q.lang, q.answerable, split_of(q.id), x, y, gold,
                 q.answerable and not hand.refused and answer_correct(q, hand.text), hand.refused)


PARAMS = dict(objective="binary", learning_rate=0.05, num_leaves=15, min_data_in_leaf=40, feature_fraction=0.8,
              bagging_fraction=0.8, bagging_freq=1, lambda_l2=1.0, verbose=-1, seed=1, deterministic=True,
              force_row_wise=True, num_threads=2)
ROUNDS = 200
FOLDS = 5


def fold_of(question_id: str) -> int:
    return int(hashlib.sha256(f"fold:{question_id}".encode()).hexdigest()[:8], 16) % FOLDS


def decision_row(a: Asked) -> int | None:
    """The row whose probability is the answer's confidence: the named steps' first quote; None
    for a refusal (it shows no answer: its confidence is 0)."""
    picked = np.where(a.x[:, features.FEATURES.index("hand_pick")] > 0)[0]
    return int(picked[0]) if len(picked) and not a.hand_refused else None


def judged(a: Asked, probs: np.ndarray) -> tuple[float, float, bool]:
    """The answer's confidence (0 for a refusal), whether it was answered right (its first quote
    holds an accepted answer), and whether it was answered at all."""
    i = decision_row(a)
    return (0.0, 0.0, False) if i is None else (float(probs[i]), float(a.y[i] > 0), True)


def fit(asked: list[Asked]) -> tuple[object, dict[str, object], dict[str, dict[str, float]]]:
    """The reader fitted on the fit split, its isotonic calibration (from cross-validated
    predictions), and the cross-validated figures."""
    import lightgbm as lgb
    from sklearn.isotonic import IsotonicRegression

    train = [a for a in asked if a.split == "fit" and len(a.y)]
    x = np.vstack([a.x for a in train])
    y = np.concatenate([a.y for a in train])
    folds = np.concatenate([[fold_of(a.id)] * len(a.y) for a in train])
    oof = np.zeros(len(y))
    for f in range(FOLDS):
        model = lgb.train(PARAMS, lgb.Dataset(x[folds != f], y[folds != f]), ROUNDS)
        oof[folds == f] = model.predict(x[folds == f])
    raw, label, answered, packs = [], [], [], []
    start = 0
    for a in train:
        probs = oof[start : start + len(a.y)]
        start += len(a.y)
        c, right, shown = judged(a, probs)
        raw.append(c)
        label.append(right)  # its first quote holds an accepted answer (never, when unanswerable)
        answered.append(shown)
        packs.append(a.pack)
    shown_at = np.array(answered)
    # calibrated on the answers shown: a refusal's confidence is 0 whatever the map says
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(np.array(raw)[shown_at],
                                                                            np.array(label)[shown_at])
    model = lgb.train(PARAMS, lgb.Dataset(x, y), ROUNDS)
    meta = {"features": list(features.FEATURES), "params": PARAMS, "rounds": ROUNDS,
            "calibration": {"x": [round(float(v), 6) for v in iso.X_thresholds_],
                            "y": [round(float(v), 6) for v in iso.y_thresholds_]},
            "trained_on": {p: sum(1 for a in train if a.pack == p) for p in PACKS}}
    conf = np.where(shown_at, np.interp(raw, iso.X_thresholds_, iso.y_thresholds_), 0.0)
    cv = figures(conf, np.array(label), shown_at, np.array(packs))
    return model, meta, cv


def figures(conf: np.ndarray, label: np.ndarray, answered: np.ndarray, packs: np.ndarray) -> dict[str, dict[str, float]]:
    """Per pack: AUROC of the confidence against a right answer over every question (as `chatbot
    eval` counts it) and over the answered ones only, and the calibration error."""
    from sklearn.metrics import roc_auc_score

    def auc(c: np.ndarray, y: np.ndarray) -> float | None:
        return round(float(roc_auc_score(y, c)), 3) if 0 < y.sum() < len(y) else None

    out = {}
    for p in sorted(set(packs)):
        at = packs == p
        c, y, shown = conf[at], label[at], answered[at]
        bins = np.minimum((c * 10).astype(int), 9)
        ece = sum(abs(c[bins == b].mean() - y[bins == b].mean()) * (bins == b).mean() for b in range(10) if (bins == b).any())
        out[p] = {"n": int(len(c)), "auroc": auc(c, y), "auroc_answered": auc(c[shown], y[shown]),
                  "ece": round(float(ece), 3)}
    return out


def check_figures(model: object, meta: dict[str, object], asked: list[Asked]) -> dict[str, dict[str, float]]:
    """The same figures on the check split, in aggregate only (no question is read one by one)."""
    cal = meta["calibration"]
    assert isinstance(cal, dict)
    held = [a for a in asked if a.split == "check" and len(a.y)]
    conf, label, answered = [], [], []
    for a in held:
        c, right, shown = judged(a, np.interp(model.predict(a.x), cal["x"], cal["y"]))  # type: ignore[attr-defined]
        conf.append(c)
        label.append(right)
        answered.append(shown)
    return figures(np.array(conf), np.array(label), np.array(answered), np.array([a.pack for a in held]))


def policies(model: object, meta: dict[str, object], asked: list[Asked], split: str) -> dict[str, dict[str, str]]:
    """What-ifs, in aggregate per pack: the named steps alone; the reader choosing (refusing below a
    threshold t); the named steps answering and the reader only where they refused. For the
    issue that lets the reader decide; nothing here changes the shipped answerer."""
    cal = meta["calibration"]
    assert isinstance(cal, dict)
    out: dict[str, dict[str, str]] = {}
    for name, t in (("named steps", 0.0), ("reader, t=0.1", 0.1), ("steps, then reader, t=0.1", 0.1),
                    ("steps, then reader, t=0.3", 0.3)):
        row = {}
        for pack in sorted({a.pack for a in asked}):
            qs = [a for a in asked if a.pack == pack and a.split == split]
            decided = []
            for a in qs:
                if name == "named steps" or (name.startswith("steps") and not a.hand_refused):
                    decided.append((not a.hand_refused, a.hand_correct))
                    continue
                if not len(a.y):
                    decided.append((False, False))
                    continue
                probs = np.interp(model.predict(a.x), cal["x"], cal["y"])  # type: ignore[attr-defined]
                i = int(np.argmax(probs))
                decided.append((bool(probs[i] >= t), bool(a.y[i] > 0)))
            ans = [d for d, a in zip(decided, qs) if a.answerable]
            una = [d for d, a in zip(decided, qs) if not a.answerable]
            acc = sum(d[0] and d[1] for d in ans) / max(len(ans), 1)
            fr = sum(not d[0] for d in ans) / max(len(ans), 1)
            rr = sum(not d[0] for d in una) / len(una) if una else float("nan")
            row[pack] = f"accuracy {acc:.3f}, false refusals {fr:.3f}, refusal of unanswerable {rr:.3f}"
        out[name] = row
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=ROOT / ".train-cache", help="indexes and collected rows")
    p.add_argument("--packs", nargs="*", default=list(PACKS))
    p.add_argument("--reuse", action="store_true", help="fit on rows collected before (same features)")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    embeddings = BundledEmbeddings(threads=2)
    asked: list[Asked] = []
    for name in args.packs:
        cached = args.work / f"{name}.rows.pkl"
        t0 = time.perf_counter()
        if args.reuse and cached.exists():
            rows = pickle.loads(cached.read_bytes())
            for a in rows:  # the split rule is the eval runner's, whatever it was when collected
                a.split = split_of(a.id)
        else:
            rows = collect(name, PACKS[name], args.work, embeddings)
            cached.write_bytes(pickle.dumps(rows))
        asked += rows
        print(json.dumps({"pack": name, "questions": len(rows), "rows": sum(len(a.y) for a in rows),
                          "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    model, meta, cv = fit(asked)
    from chatbot.answering.reader import META_PATH, MODEL_PATH

    model.save_model(str(MODEL_PATH))  # type: ignore[attr-defined]
    meta["cross_validated_on_fit"] = cv
    meta["check"] = check_figures(model, meta, asked)
    META_PATH.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"fit (cross-validated)": cv, "check": meta["check"],
                      "what if, on check (aggregates)": policies(model, meta, asked, "check")}, indent=1))
    print(f"wrote {MODEL_PATH} and {META_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
