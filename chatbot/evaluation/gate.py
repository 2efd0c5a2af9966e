"""The baseline gate: a run's metrics against committed figures (`--baseline`), exit 1 on a drop.

A baseline written by `evals/baseline.py` says `"split": "check"`: its figures are the *check*
split's, and the run's *check* figures are gated on them. A baseline without `split` (written
before splits) holds figures of all questions and is gated on the run's overall figures, so old
baselines keep working until they are refreshed.

Tolerance: a metric may drop by one question's worth in its slice (`one_question`), or by more
where the baseline's `tolerance` says so for that metric (or its `default`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatbot.errors import ChatbotError
from chatbot.evaluation.scoring import HIGHER_IS_BETTER, LOWER_IS_BETTER
from chatbot.evaluation.split import SPLITS

DEFAULT_TOLERANCE = 0.005


REGRESSION = 1  # run_eval's result (and `chatbot eval`'s exit code) when a metric dropped below the baseline

# The count each rate is taken over: one question moves the rate by at most 1 / that count.
_OVER = {"pass_rate": "n", "hit@1": "n_answerable", "hit@5": "n_answerable", "mrr": "n_answerable",
         "accuracy": "n_answerable", "concise_accuracy": "n_answerable", "citation_recall": "n_answerable",
         "false_refusal_rate": "n_answerable", "refusal_rate": "n_unanswerable",
         "citation_precision": "n_answered", "ece": "n"}


def one_question(name: str, m: dict[str, Any]) -> float:
    """How far one question can move metric `name` in a slice with metrics `m` (0 when the slice
    does not say how many questions it holds, or for a count such as invalid_citations).

    A rate over n questions: 1/n (MRR too: one question's reciprocal rank is at most 1).
    Citation precision is over citations; one answered question's share of them is taken as
    1 / answered questions. ECE: one question's label moves one bin's gap by at most 1/n.
    AUROC: one question moved from the top of the ranking to the bottom changes it by
    1 / (the number of its kind), so 1 / the smaller of right answers and the rest."""
    if name == "auroc":
        n, acc, n_ans = m.get("n"), m.get("accuracy"), m.get("n_answerable")
        if not n or acc is None or not n_ans:
            return 0.0
        right = round(acc * n_ans)
        return 1 / min(right, n - right) if 0 < right < n else 0.0
    count = m.get(_OVER.get(name, ""))
    return 1 / count if isinstance(count, int) and count > 0 else 0.0


def allowed_drop(name: str, got: dict[str, Any], tolerances: dict[str, float],
                 default: float = DEFAULT_TOLERANCE) -> float:
    """One question's worth, or the baseline's tolerance for the metric when that is larger."""
    return max(tolerances.get(name, tolerances.get("default", default)), one_question(name, got))


def gate(metrics: dict[str, Any], baseline: dict[str, Any], tolerance: float = DEFAULT_TOLERANCE) -> list[str]:
    """Metrics that dropped below the baseline (overall, per language, per category if the baseline
    has them), on the baseline's split (all questions for a baseline without one).

    A metric fails when it drops by more than `allowed_drop`. A question that failed to run, in
    either split, fails the gate whatever the baseline: no run is expected to have one.
    """
    failures = []
    errors = metrics["overall"].get("errors") or 0
    if errors:
        failures.append(f"overall errors: {errors} question{'s' * (errors != 1)} failed to run (see `error` in results.jsonl)")
    split = baseline.get("split")
    run: dict[str, Any] = (metrics.get("by_split", {}).get(split) or {}) if split else metrics
    if split and not run.get("overall", {}).get("n"):
        return failures + [f"{split}: the baseline gates the {split} split, and this run has no {split} questions"]
    checks = [("overall", run["overall"], baseline.get("overall", {}))]
    for key in ("by_lang", "by_category"):
        for name, base in baseline.get(key, {}).items():
            checks.append((name, run.get(key, {}).get(name, {}), base))
    tolerances = baseline.get("tolerance", {})
    prefix = f"{split} " if split else ""
    for scope, got, base in checks:
        for name in HIGHER_IS_BETTER + LOWER_IS_BETTER:
            b, g = base.get(name), got.get(name)
            if b is None or g is None:
                continue
            tol = allowed_drop(name, got, tolerances, tolerance)
            if name in HIGHER_IS_BETTER and g < b - tol:
                failures.append(f"{prefix}{scope} {name}: {g} < baseline {b} (allowed drop {tol:.3f})")
            if name in LOWER_IS_BETTER and g > b + tol:
                failures.append(f"{prefix}{scope} {name}: {g} > baseline {b} (allowed rise {tol:.3f})")
    return failures


def load_baseline(path: Path) -> dict[str, Any]:
    """The baseline to gate on, or a ChatbotError saying what is wrong with the file."""
    fix = f"Create it with `python evals/baseline.py OUT/metrics.json {path}` (or `make baselines`)."
    if not path.is_file():
        raise ChatbotError(f"Baseline {path} not found. {fix}")
    try:
        base = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ChatbotError(f"Cannot read baseline {path}: {exc.strerror or exc}. Check its permissions.") from exc
    except UnicodeDecodeError as exc:
        raise ChatbotError(f"Baseline {path} is not UTF-8 text. {fix}") from exc
    except json.JSONDecodeError as exc:
        raise ChatbotError(f"Baseline {path} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). "
                           f"Fix it, or {fix[0].lower()}{fix[1:]}") from exc
    problems = baseline_problems(base)
    if problems:
        raise ChatbotError(f"Baseline {path} is not a baseline: {'; '.join(problems)}. {fix}")
    return base


def baseline_problems(base: Any) -> list[str]:
    """What keeps `base` from being gated on: the shape `evals/baseline.py` writes."""
    if not isinstance(base, dict):
        return ["it is not a JSON object"]
    if not isinstance(base.get("overall"), dict):
        return ['it has no "overall" object of metrics']
    out = []
    if base.get("split") is not None and base["split"] not in SPLITS:
        out.append('"split" must be "check" or "fit" (or absent: all questions)')
    scopes_: list[tuple[str, Any]] = [("overall", base["overall"])]
    for key in ("by_lang", "by_category"):
        block = base.get(key, {})
        if not isinstance(block, dict) or not all(isinstance(v, dict) for v in block.values()):
            out.append(f'"{key}" must map names to objects of metrics')
        else:
            scopes_ += [(f"{key}.{k}", v) for k, v in block.items()]
    tolerance = base.get("tolerance", {})
    if not isinstance(tolerance, dict) or not all(_is_number(v) for v in tolerance.values()):
        out.append('"tolerance" must map metric names to numbers')
    for scope, metrics in scopes_:
        bad = [k for k in HIGHER_IS_BETTER + LOWER_IS_BETTER if metrics.get(k) is not None and not _is_number(metrics[k])]
        if bad:
            out.append(f"{scope}: {', '.join(bad)} must be numbers")
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
