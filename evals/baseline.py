"""Turn an eval's metrics.json into a committed baseline: the gated metrics, overall and per language.

Per-metric tolerances already in the target file (`"tolerance": {"default": 0.005, "mrr": 0.01}`)
are kept, and so is the choice of gating categories: when the old baseline has a `by_category`
block (added by hand), the same categories are refreshed from the new run.

    python evals/baseline.py eval-out/seeds/metrics.json evals/baselines/seeds.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from chatbot.evaluation.gate import DEFAULT_TOLERANCE
from chatbot.evaluation.scoring import HIGHER_IS_BETTER, LOWER_IS_BETTER  # noqa: E402


def strip(m: dict[str, object]) -> dict[str, object]:
    return {k: m[k] for k in HIGHER_IS_BETTER + LOWER_IS_BETTER if m.get(k) is not None}


def main(src: str, dst: str) -> None:
    metrics = json.loads(Path(src).read_text(encoding="utf-8"))
    old = json.loads(Path(dst).read_text(encoding="utf-8")) if Path(dst).is_file() else {}
    tolerance = old.get("tolerance", {"default": DEFAULT_TOLERANCE})  # kept: set by hand
    base = {
        "source": metrics.get("meta", {}),
        "tolerance": tolerance,
        "overall": strip(metrics["overall"]),
        "by_lang": {k: strip(v) for k, v in metrics["by_lang"].items()},
    }
    if old.get("by_category"):
        cats = metrics.get("by_category", {})
        base["by_category"] = {k: strip(cats[k]) for k in old["by_category"] if k in cats}
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    Path(dst).write_text(json.dumps(base, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
