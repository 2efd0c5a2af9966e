"""Turn an eval's metrics.json into a committed baseline: the *check* split's gated metrics, overall
and per language, with the number of questions behind each (what one question's worth is).

`chatbot eval --baseline` gates the run's *check* figures on these (`"split": "check"`); a question
may be lost per slice, or more where `tolerance` says so. Per-metric tolerances already in the
target file (`"tolerance": {"default": 0.005, "mrr": 0.01}`) are kept, and so is the choice of
gating categories: when the old baseline has a `by_category` block (added by hand), the same
categories are refreshed from the new run's check split.

    python evals/baseline.py eval-out/seeds/metrics.json evals/baselines/seeds.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from chatbot.evaluation.gate import DEFAULT_TOLERANCE  # noqa: E402
from chatbot.evaluation.scoring import HIGHER_IS_BETTER, LOWER_IS_BETTER  # noqa: E402

SPLIT = "check"
COUNTS = ("n", "n_answerable", "n_unanswerable", "n_answered")


def strip(m: dict[str, object]) -> dict[str, object]:
    return {k: m[k] for k in COUNTS + HIGHER_IS_BETTER + LOWER_IS_BETTER if m.get(k) is not None}


def main(src: str, dst: str) -> None:
    metrics = json.loads(Path(src).read_text(encoding="utf-8"))
    part = metrics.get("by_split", {}).get(SPLIT)
    if not part or not part["overall"].get("n"):
        sys.exit(f"{src} has no {SPLIT} questions (a run from before splits, or a pack too small to have any): "
                 "run `chatbot eval` again with this version, on a pack with a check split.")
    old = json.loads(Path(dst).read_text(encoding="utf-8")) if Path(dst).is_file() else {}
    tolerance = old.get("tolerance", {"default": DEFAULT_TOLERANCE})  # kept: set by hand
    base = {
        "source": metrics.get("meta", {}),
        "split": SPLIT,
        "tolerance": tolerance,
        "overall": strip(part["overall"]),
        "by_lang": {k: strip(v) for k, v in part["by_lang"].items()},
    }
    if old.get("by_category"):
        cats = part.get("by_category", {})
        base["by_category"] = {k: strip(cats[k]) for k in old["by_category"] if k in cats}
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    Path(dst).write_text(json.dumps(base, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
