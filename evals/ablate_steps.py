"""Ablation of every named step of the extractive answerer, on the *check* split of every pack.

    make ablation                          # retrieval modes (evals/fit_ranker.py), then this
    .venv/bin/python evals/ablate_steps.py --reuse --packs seeds rgb-dev

Each question is retrieved once (the indexes of `make train`, in .train-cache/, are reused while a
corpus is unchanged); then the answerer reads the same passages with all steps on, and once more
with each step switched off (`Steps(off=[name])`, as CHATBOT_ANSWER_STEPS_OFF does). Only aggregate
figures of the check split are printed: a step *helps* when switching it off loses right
decisions (answerable questions answered right and concisely, unanswerable ones refused) summed
over the packs. The table goes to evals/README.md between the ablation-steps markers.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from train_answerer import PACKS, pack_bot  # noqa: E402 - after the path set-up above

from chatbot.answering.extractive import ExtractiveAnswerer  # noqa: E402
from chatbot.answering.steps import REGISTRY, Steps  # noqa: E402
from chatbot.config import Settings  # noqa: E402
from chatbot.evaluation.packs import EvalQuestion, histories, load_pack  # noqa: E402
from chatbot.evaluation.scoring import answer_correct, is_concise  # noqa: E402
from chatbot.evaluation.split import split_of  # noqa: E402
from chatbot.index.embeddings import BundledEmbeddings  # noqa: E402
from chatbot.retrieval.question import condense  # noqa: E402
from chatbot.retrieval.retrieve import Retrieval  # noqa: E402

BEGIN, END = "<!-- ablation-steps:begin -->", "<!-- ablation-steps:end -->"


class Remembered:
    """The bundled embeddings, each text embedded once: every pass reads the same sentences."""

    def __init__(self, embeddings: BundledEmbeddings) -> None:
        self.embeddings = embeddings
        self.seen: dict[str, np.ndarray] = {}

    def embed_array(self, texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if new:
            self.seen.update(zip(new, self.embeddings.embed_array(new)))
        return np.array([self.seen[t] for t in texts])


@dataclass
class Tally:
    answerable: int = 0
    right: int = 0  # answered, holding an accepted answer, within the concise cap
    refused_answerable: int = 0
    unanswerable: int = 0
    refused_unanswerable: int = 0
    cited: int = 0
    cited_gold: int = 0

    @property
    def decisions(self) -> int:
        return self.right + self.refused_unanswerable

    def figures(self) -> str:
        acc = self.right / max(self.answerable, 1)
        fr = self.refused_answerable / max(self.answerable, 1)
        rr = f"{self.refused_unanswerable / self.unanswerable:.3f}" if self.unanswerable else "–"
        prec = self.cited_gold / max(self.cited, 1)
        return f"{acc:.3f} / {fr:.3f} / {rr} / {prec:.3f}"


def retrieved(name: str, pack: Path, work: Path, embeddings: BundledEmbeddings, reuse: bool,
              split: str) -> list[tuple[EvalQuestion, Retrieval]]:
    cache = work / f"{name}.{split}.retrieved.pkl"
    if reuse and cache.exists():
        return pickle.loads(cache.read_bytes())  # type: ignore[no-any-return]
    bot = pack_bot(name, pack, work, embeddings)
    questions = load_pack(pack)
    history = histories(questions)
    out = [(q, bot.retriever.retrieve(condense(q.question, history[q.id]), asked=q.question))
           for q in questions if split_of(q.id) == split]
    cache.write_bytes(pickle.dumps(out))
    return out


def tally(answerer: ExtractiveAnswerer, asked: list[tuple[EvalQuestion, Retrieval]]) -> Tally:
    t = Tally()
    for q, found in asked:
        d = answerer.answer(found.question, found.ranked, found.qvec, found.idf, found.further)
        if q.answerable:
            t.answerable += 1
            t.refused_answerable += d.refused
            t.right += (not d.refused) and answer_correct(q, d.text) and is_concise(q, d.text)
        else:
            t.unanswerable += 1
            t.refused_unanswerable += d.refused
        if not d.refused:
            t.cited += len(d.evidence)
            t.cited_gold += sum(ev.chunk.file in q.gold_files for ev in d.evidence)
    return t


def table(base: dict[str, Tally], off: dict[str, dict[str, Tally]], packs: list[str]) -> str:
    lines = ["| step (stage) switched off | " + " | ".join(packs) + " | right decisions the step wins, all packs |",
             "|---|" + "---|" * (len(packs) + 1)]
    lines.append("| none (all steps on): acc. / false ref. / ref. of unanswerable / cit. prec. | "
                 + " | ".join(base[p].figures() for p in packs) + " | – |")
    rows = []
    for name, per in off.items():
        lost = sum(base[p].decisions - per[p].decisions for p in packs)
        cells = " | ".join(f"{base[p].decisions - per[p].decisions:+d}" for p in packs)
        rows.append((lost, f"| `{name}` ({REGISTRY[name].stage}) | {cells} | {lost:+d} |"))
    lines += [r for _, r in sorted(rows, key=lambda r: -r[0])]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=ROOT / ".train-cache")
    p.add_argument("--packs", nargs="*", default=list(PACKS))
    p.add_argument("--steps", nargs="*", default=None, help="only these steps (default: every one; none: no step)")
    p.add_argument("--off", default="", help="steps switched off in every run, the baseline too (a,b,...)")
    p.add_argument("--reuse", action="store_true", help="reuse the retrievals cached by an earlier run")
    p.add_argument("--split", default="check", choices=["check", "fit"])
    p.add_argument("--write", action="store_true", help="rewrite the table in evals/README.md")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    embeddings = BundledEmbeddings(threads=2)
    max_citations = Settings(_env_file=None).max_citations  # type: ignore[call-arg]
    asked = {}
    for name in args.packs:
        t0 = time.perf_counter()
        asked[name] = retrieved(name, PACKS[name], args.work, embeddings, args.reuse, args.split)
        print(json.dumps({"pack": name, "questions": len(asked[name]), "seconds": round(time.perf_counter() - t0, 1)}),
              flush=True)

    remembered = Remembered(embeddings)

    always = [name for name in args.off.split(",") if name]

    def answerer(off: list[str]) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(remembered, max_citations, Steps([*always, *off]))  # type: ignore[arg-type]

    base = {p: tally(answerer([]), asked[p]) for p in args.packs}
    off: dict[str, dict[str, Tally]] = {}
    for name in list(REGISTRY) if args.steps is None else [s for s in args.steps if s != "none"]:
        off[name] = {p: tally(answerer([name]), asked[p]) for p in args.packs}
        lost = sum(base[p].decisions - off[name][p].decisions for p in args.packs)
        print(f"{name}: {lost:+d}", flush=True)
    text = table(base, off, args.packs)
    print(text)
    if args.write:
        readme = ROOT / "evals" / "README.md"
        doc = readme.read_text(encoding="utf-8")
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
