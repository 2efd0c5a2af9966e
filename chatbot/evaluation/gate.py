"""The baseline gate: a run's metrics against committed figures (`--baseline`), exit 1 on a drop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatbot.errors import ChatbotError
from chatbot.evaluation.scoring import HIGHER_IS_BETTER, LOWER_IS_BETTER

DEFAULT_TOLERANCE = 0.005


REGRESSION = 1  # run_eval's result (and `chatbot eval`'s exit code) when a metric dropped below the baseline


def gate(metrics: dict[str, Any], baseline: dict[str, Any], tolerance: float = DEFAULT_TOLERANCE) -> list[str]:
    """Metrics that dropped below the baseline (overall, per language, per category if the baseline has them).

    The baseline's `tolerance` maps metric names (or "default") to the drop allowed. A question
    that failed to run fails the gate whatever the baseline: no run is expected to have one.
    """
    failures = []
    errors = metrics["overall"].get("errors") or 0
    if errors:
        failures.append(f"overall errors: {errors} question{'s' * (errors != 1)} failed to run (see `error` in results.jsonl)")
    checks = [("overall", metrics["overall"], baseline.get("overall", {}))]
    for key in ("by_lang", "by_category"):
        for name, base in baseline.get(key, {}).items():
            checks.append((name, metrics.get(key, {}).get(name, {}), base))
    tolerances = baseline.get("tolerance", {})
    for scope, got, base in checks:
        for name in HIGHER_IS_BETTER + LOWER_IS_BETTER:
            b, g = base.get(name), got.get(name)
            if b is None or g is None:
                continue
            tol = tolerances.get(name, tolerances.get("default", tolerance))
            if name in HIGHER_IS_BETTER and g < b - tol:
                failures.append(f"{scope} {name}: {g} < baseline {b}")
            if name in LOWER_IS_BETTER and g > b + tol:
                failures.append(f"{scope} {name}: {g} > baseline {b}")
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
