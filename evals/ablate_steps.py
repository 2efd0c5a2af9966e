"""Ablation of every named step of the extractive answerer, on the *check* split of every pack.

    make ablation                          # retrieval modes (evals/fit_ranker.py), then this
    .venv/bin/python evals/ablate_steps.py --reuse --packs seeds rgb-dev

Each question is retrieved once (the indexes of `make train`, in .train-cache/, are reused while a
corpus is unchanged); then the answerer reads the same passages with all steps on, and once more
with each step switched off (`Steps(off=[name])`, as CHATBOT_ANSWER_STEPS_OFF does). Only aggregate
figures of the check split are printed: a step *helps* when switching it off loses right
decisions (answerable questions answered right and concisely, unanswerable ones refused) summed
over the packs, or loses citation precision (quotes from a gold file) or hit@1 (an answer's first
source is a gold file). The table goes to
evals/README.md between the ablation-steps markers.

    .venv/bin/python evals/ablate_steps.py --reuse --eliminate

then switches off, one at a time and cumulatively, each step that did not help (`eliminate`): a
step stays off while nothing is lost, and the steps it leaves off are the ones to remove from
the code. Issue 29 removed 28 steps this way (evals/README.md, "Where issue 29 stands (third
session)").
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from collections.abc import Callable
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
from chatbot.retrieval.retrieve import Retrieval, evidence_first  # noqa: E402

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
    first_gold: int = 0  # answerable questions whose answer lists a gold file first (hit@1, as `chatbot eval` counts it)

    @property
    def precision(self) -> float:
        return self.cited_gold / max(self.cited, 1)

    @property
    def decisions(self) -> int:
        return self.right + self.refused_unanswerable

    def figures(self) -> str:
        acc = self.right / max(self.answerable, 1)
        fr = self.refused_answerable / max(self.answerable, 1)
        rr = f"{self.refused_unanswerable / self.unanswerable:.3f}" if self.unanswerable else "–"
        return f"{acc:.3f} / {fr:.3f} / {rr} / {self.precision:.3f}"


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
        d = answerer.answer(found.question, found.ranked, found.qvec, found.idf)
        if q.answerable:
            t.answerable += 1
            listed = evidence_first(found.ranked, d.evidence)
            t.first_gold += bool(listed) and listed[0].chunk.file in q.gold_files
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
    lines = ["| step (stage) switched off | " + " | ".join(packs)
             + " | right decisions the step wins, all packs | citation precision it wins, most on one pack"
             " | hit@1 it wins, all packs |",
             "|---|" + "---|" * (len(packs) + 3)]
    lines.append("| none (all steps on): acc. / false ref. / ref. of unanswerable / cit. prec. | "
                 + " | ".join(base[p].figures() for p in packs) + " | – | – | – |")
    rows = []
    for name, per in off.items():
        lost = sum(base[p].decisions - per[p].decisions for p in packs)
        cited = max(base[p].precision - per[p].precision for p in packs)
        first = sum(base[p].first_gold - per[p].first_gold for p in packs)
        cells = " | ".join(f"{base[p].decisions - per[p].decisions:+d}" for p in packs)
        rows.append((lost, cited, first,
                     f"| `{name}` ({REGISTRY[name].stage}) | {cells} | {lost:+d} | {cited:+.3f} | {first:+d} |"))
    lines += [r for *_, r in sorted(rows, key=lambda r: (-r[0], -r[1], -r[2]))]
    return "\n".join(lines)


def eliminate(order: list[str], base: dict[str, Tally], run: Callable[[list[str]], dict[str, Tally]],
              packs: list[str]) -> list[str]:
    """Backward elimination in one pass: each step of `order` stays off if, with the steps already
    off, no right decision is lost in all, no pack falls more than one decision below all steps on,
    no pack's citation precision falls more than 0.01 below it, and no answer's first source
    (hit@1) is lost in all."""
    gone: list[str] = []
    now = base
    for name in [n for n in order if n != "none"]:
        trial = run([*gone, name])
        total = sum(trial[p].decisions - now[p].decisions for p in packs)
        slack = min(trial[p].decisions - base[p].decisions for p in packs)
        cited = min(trial[p].precision - base[p].precision for p in packs)
        first = sum(trial[p].first_gold - now[p].first_gold for p in packs)
        keep_off = total >= 0 and slack >= -1 and cited >= -0.01 and first >= 0
        print(json.dumps({"step": name, "change": total, "worst pack vs all on": slack,
                          "worst cit. precision vs all on": round(cited, 3), "hit@1 change": first,
                          "off": keep_off}), flush=True)
        if keep_off:
            gone.append(name)
            now = trial
    print(json.dumps({"off": gone, "vs all on": {p: now[p].decisions - base[p].decisions for p in packs},
                      "figures": {p: now[p].figures() for p in packs}}), flush=True)
    return gone


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=ROOT / ".train-cache")
    p.add_argument("--packs", nargs="*", default=list(PACKS))
    p.add_argument("--steps", nargs="*", default=None, help="only these steps (default: every one; none: no step)")
    p.add_argument("--off", default="", help="steps switched off in every run, the baseline too (a,b,...)")
    p.add_argument("--reuse", action="store_true", help="reuse the retrievals cached by an earlier run")
    p.add_argument("--split", default="check", choices=["check", "fit"])
    p.add_argument("--write", action="store_true", help="rewrite the table in evals/README.md")
    p.add_argument("--eliminate", action="store_true",
                   help="then switch off, one at a time and cumulatively, every step that did not help "
                        "(or those of --steps, in that order) while no right decision is lost")
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
    alone = list(REGISTRY) if args.steps is None else [s for s in args.steps if s != "none"]
    for name in [] if args.eliminate and args.steps is not None else alone:
        off[name] = {p: tally(answerer([name]), asked[p]) for p in args.packs}
        lost = sum(base[p].decisions - off[name][p].decisions for p in args.packs)
        print(f"{name}: {lost:+d}", flush=True)
    text = table(base, off, args.packs)
    print(text)
    if args.eliminate:
        lost_alone = {name: sum(base[p].decisions - per[p].decisions for p in args.packs) for name, per in off.items()}
        order = (args.steps if args.steps is not None and args.steps != ["none"]
                 else sorted((n for n, lost in lost_alone.items() if lost <= 0), key=lambda n: lost_alone[n]))
        eliminate(order, base, lambda off: {p: tally(answerer(off), asked[p]) for p in args.packs}, args.packs)
    if args.write:
        readme = ROOT / "evals" / "README.md"
        doc = readme.read_text(encoding="utf-8")
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
