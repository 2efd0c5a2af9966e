"""Eval packs: run through a fresh isolated Chatbot, score, gate on a baseline.

Packs are read and checked by `chatbot.packs`; reports (report.md, report.html) are rendered by `chatbot.report`, run-to-run comparisons by
`chatbot.compare`, the optional LLM-judged metrics by `chatbot.judge`; what produced a run (commit,
settings, prompts) comes from `chatbot.provenance`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from chatbot.citations import MARKER, check
from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.packs import EvalQuestion, PackError, histories, load_pack
from chatbot.provenance import provenance
from chatbot.types import Answer

log = logging.getLogger(__name__)

CONCISE_CHARS = {"en": 300, "zh": 150}
HIGHER_IS_BETTER = (
    "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
    "citation_recall", "refusal_rate",
)
LOWER_IS_BETTER = ("false_refusal_rate", "invalid_citations")
DEFAULT_TOLERANCE = 0.005
REGRESSION = 1  # run_eval's result (and `chatbot eval`'s exit code) when a metric dropped below the baseline


# -- scoring ------------------------------------------------------------------------------


def _squash(text: str, lang: str) -> str:
    text = MARKER.sub("", text).lower()
    return re.sub(r"\s+", "", text) if lang == "zh" else re.sub(r"\s+", " ", text)


def answer_correct(q: EvalQuestion, answer_text: str) -> bool:
    got = _squash(answer_text, q.lang)
    return any(_squash(a, q.lang) in got for a in q.answers if a.strip())


def is_concise(q: EvalQuestion, answer_text: str) -> bool:
    return len(MARKER.sub("", answer_text).strip()) <= CONCISE_CHARS.get(q.lang, 300)


def gold_rank(retrieved_files: list[str], gold_files: tuple[str, ...]) -> int:
    """1-based rank of the first gold file among the retrieved files; 0 when none was retrieved."""
    gold = set(gold_files)
    return next((i for i, f in enumerate(retrieved_files, 1) if f in gold), 0)


def passed(row: dict[str, Any]) -> bool:
    """A question passes when it is answered correctly, or refused when it is unanswerable."""
    return bool(row["correct"] if row["answerable"] else row["refused"])


def _question_fields(q: EvalQuestion, history: list[str] | None) -> dict[str, Any]:
    return {"id": q.id, "lang": q.lang, "category": q.category, "answerable": q.answerable,
            "conversation": q.conversation, "turn": q.turn, "history": list(history or []), "question": q.question}


def score_row(q: EvalQuestion, ans: Answer, invalid: int, history: list[str] | None = None) -> dict[str, Any]:
    retrieved = ans.retrieved_files()
    best: dict[str, float] = {}
    for sc in ans.retrieved:
        best.setdefault(sc.chunk.file, sc.score)
    gold = set(q.gold_files)
    cited = [c.file for c in ans.citations]
    correct = q.answerable and not ans.refused and answer_correct(q, ans.answer)
    row = {
        **_question_fields(q, history), "answer": ans.answer, "refused": ans.refused,
        "citations": [{"n": c.n, "file": c.file, "quote": c.quote, "start_char": c.start_char,
                       "end_char": c.end_char} for c in ans.citations],
        "retrieved": retrieved,
        "file_scores": [round(best[f], 4) for f in retrieved],
        "scores": [round(sc.score, 4) for sc in ans.retrieved],
        "gold_files": list(q.gold_files),
        "expected": list(q.answers),
        "latency_ms": round(ans.latency_ms, 1),
        "gold_rank": gold_rank(retrieved, q.gold_files),
        "correct": correct,
        "concise_correct": correct and is_concise(q, ans.answer),
        "cited_gold": sum(f in gold for f in cited),
        "cited_total": len(cited),
        "invalid_citations": invalid,
        "mode": ans.mode,
        "prompt": ans.prompt,
        "notice": ans.notice,
    }
    row["passed"] = passed(row)
    return row


def error_row(q: EvalQuestion, error: str, latency_ms: float, history: list[str] | None = None,
              mode: str = "") -> dict[str, Any]:
    """The row of a question that failed to run: the fields of a scored row, each one a miss
    (not correct, not refused, nothing retrieved or cited), and `error` saying what happened."""
    return {
        **_question_fields(q, history), "answer": "", "refused": False, "citations": [], "retrieved": [],
        "file_scores": [], "scores": [], "gold_files": list(q.gold_files), "expected": list(q.answers),
        "latency_ms": round(latency_ms, 1), "gold_rank": 0, "correct": False, "concise_correct": False,
        "cited_gold": 0, "cited_total": 0, "invalid_citations": 0, "mode": mode, "prompt": "", "notice": "",
        "error": error, "passed": False,
    }


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    lat = sorted(r["latency_ms"] for r in rows if not r.get("error"))  # a failure's time says nothing of speed
    answered = [r for r in ans if not r["refused"]]
    m: dict[str, Any] = {
        "n": len(rows), "n_answerable": len(ans), "n_unanswerable": len(una),
        "pass_rate": _rate(sum(passed(r) for r in rows), len(rows)),
        "hit@1": _rate(sum(r["gold_rank"] == 1 for r in ans), len(ans)),
        "hit@5": _rate(sum(0 < r["gold_rank"] <= 5 for r in ans), len(ans)),
        "mrr": _rate(sum(1 / r["gold_rank"] for r in ans if r["gold_rank"]), len(ans)),
        "accuracy": _rate(sum(r["correct"] for r in ans), len(ans)),
        "concise_accuracy": _rate(sum(r["concise_correct"] for r in ans), len(ans)),
        "citation_precision": _rate(sum(r["cited_gold"] for r in answered), sum(r["cited_total"] for r in answered)),
        "citation_recall": _rate(sum(r["cited_gold"] > 0 for r in ans), len(ans)),
        "refusal_rate": _rate(sum(r["refused"] for r in una), len(una)),
        "false_refusal_rate": _rate(sum(r["refused"] for r in ans), len(ans)),
        "invalid_citations": sum(r["invalid_citations"] for r in rows),
        "errors": sum(bool(r.get("error")) for r in rows),
        "latency_p50_ms": round(statistics.median(lat), 1) if lat else None,
        "latency_p95_ms": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1) if lat else None,
    }
    return m


def compute_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_turn: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_lang[r["lang"]].append(r)
        if r["category"]:
            by_cat[r["category"]].append(r)
        if r.get("conversation"):
            by_turn["follow-up" if r.get("turn", 1) > 1 else "first turn"].append(r)
    return {
        "overall": aggregate(rows),
        "by_lang": {k: aggregate(v) for k, v in sorted(by_lang.items())},
        "by_category": {k: aggregate(v) for k, v in sorted(by_cat.items())},
        "by_turn": {k: aggregate(v) for k, v in sorted(by_turn.items())},
    }


def scopes(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, metrics) for overall and every split, in report order."""
    out = [("overall", metrics["overall"])]
    for key, label in (("by_lang", "lang"), ("by_category", "category"), ("by_turn", "turn")):
        out += [(f"{label}={k}", v) for k, v in metrics.get(key, {}).items()]
    return out


# -- running --------------------------------------------------------------------------------


def run_pack(settings: Settings, pack: Path,
             questions: list[EvalQuestion] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Index the pack's corpus into a fresh temporary store and ask every question.

    Questions of one conversation are asked with the earlier questions as history. A question that
    fails (with any exception) becomes an error row and the run goes on.
    """
    from chatbot.app import build

    questions = questions if questions is not None else load_pack(pack)
    history = histories(questions)
    with tempfile.TemporaryDirectory(prefix="chatbot-eval-") as tmp:
        isolated = settings.model_copy(update={"data_dir": Path(tmp), "chroma_host": None})
        bot = build(isolated)
        prompts = ({"answer": bot.llm.answer_prompt.id, "condense": bot.llm.condense_prompt.id}
                   if bot.llm is not None else {})
        run = provenance(isolated, prompts)
        report = bot.ingest([pack / "corpus"], progress=False)
        if not report.added:
            why = "; ".join(f"{Path(p).name}: {reason}" for p, reason in report.skipped[:5]) or "it holds no files"
            raise PackError(f"Nothing in {pack / 'corpus'} could be indexed ({why}). Put the pack's documents "
                            "there as .txt, .md, .pdf, .docx or .html files.")
        rows = []
        for q in questions:
            t0 = time.perf_counter()
            try:
                ans = bot.ask(q.question, history=history[q.id])
                invalid = len(check(ans.answer, ans.citations, bot.document_text))
                row, prompt = score_row(q, ans, invalid, history[q.id]), ans.prompt or None
            except Exception as exc:  # any failure of one question is that question's result; the run goes on
                row, prompt = error_row(q, describe(exc), 1000 * (time.perf_counter() - t0), history[q.id],
                                        isolated.answer_mode), None
                log.warning("eval question %s failed: %s", q.id, row["error"],
                            exc_info=not isinstance(exc, ChatbotError))  # a bug's traceback, for whoever fixes it
            row["run"] = {k: v for k, v in run.items() if k != "prompts"} | {"prompt": prompt}
            rows.append(row)
    metrics = compute_metrics(rows)
    metrics["meta"] = {
        "pack": pack.resolve().name, **run, "settings": isolated.public(),
        "corpus_files": len(report.added), "skipped_files": len(report.skipped),
        "ingest_seconds": round(report.seconds, 1),
    }
    return rows, metrics


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


def fmt(v: Any, name: str = "") -> str:
    """A metric for reports: rates with 3 decimals, milliseconds with 1, "–" when undefined."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.1f}" if name.startswith("latency") else f"{v:.3f}"
    return str(v)


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


def check_out(out: Path) -> None:
    """Refuse, before anything runs, an output folder that cannot be made or written."""
    if out.exists() and not out.is_dir():
        raise ChatbotError(f"--out {out} is a file, not a folder. Give a folder for the results (a new one, or "
                           "an earlier run's, which is overwritten), or move the file away.")
    nearest = next(p for p in (out, *out.parents) if p.exists())  # a relative path ends at ".", which exists
    if not nearest.is_dir():
        raise ChatbotError(f"--out {out} cannot be made: {nearest} is a file. Give a folder path for the results.")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise ChatbotError(f"--out {out} cannot be written: {nearest} is not writable. "
                           "Give a folder you can write to.")


def write_outputs(out: Path, rows: list[dict[str, Any]], metrics: dict[str, Any]) -> list[str]:
    from chatbot.report import render_html, render_markdown

    try:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "results.jsonl").open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
        (out / "report.md").write_text(render_markdown(rows, metrics), encoding="utf-8")
        (out / "report.html").write_text(render_html(rows, metrics), encoding="utf-8")
    except OSError as exc:  # checked before the run, but a disk can fill or a folder change meanwhile
        raise ChatbotError(f"Cannot write the eval results to {out}: {exc.strerror or exc}. "
                           "Free some space or give another --out, and run again.") from exc
    return ["results.jsonl", "metrics.json", "report.md", "report.html"]


def run_eval(settings: Settings, pack: Path, out: Path, baseline: Path | None, judge: bool = False) -> int:
    """Run the pack, write the outputs, gate: 0 pass, REGRESSION (1) when a metric dropped below the baseline.

    Everything that can be checked without running (the baseline, --out, every row of the pack, the
    judge's endpoint) is checked first; a broken pack or run raises ChatbotError.
    """
    base = load_baseline(baseline) if baseline is not None else None
    check_out(out)
    questions = load_pack(pack)
    judge_runner = None
    if judge:
        from chatbot.judge import Judge

        judge_runner = Judge(settings)  # a missing endpoint or a broken prompt fails before the run
    rows, metrics = run_pack(settings, pack, questions)
    if judge_runner is not None:
        metrics["judged"] = judge_runner.judge_rows(rows)
    written = write_outputs(out, rows, metrics)
    o = metrics["overall"]
    print(f"{pack.name}: " + ", ".join(f"{k}={fmt(o[k], k)}" for k in (
        "n", "pass_rate", "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
        "refusal_rate", "false_refusal_rate", "invalid_citations", "errors", "latency_p50_ms")))
    if "judged" in metrics:
        j = metrics["judged"]["overall"]
        print("judged (LLM, not gated): " + ", ".join(f"{k}={fmt(v)}" for k, v in j.items()))
    failed = [r["id"] for r in rows if r.get("error")]
    if failed:
        print(f"{len(failed)} question{'s' * (len(failed) != 1)} failed to run and count as misses: "
              + ", ".join(failed[:10]) + (" ..." if len(failed) > 10 else "") + " (see `error` in results.jsonl)")
    print(f"wrote {out}/" + ", ".join(written))
    if base is not None:
        failures = gate(metrics, base)
        if failures:
            print("REGRESSION against " + str(baseline) + ":\n  " + "\n  ".join(failures))
            return REGRESSION
        print(f"no regression against {baseline}")
    return 0
