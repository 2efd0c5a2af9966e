"""Eval packs: run through a fresh isolated Chatbot, score, gate on a baseline.

Packs are read and checked by `chatbot.packs`; reports (report.md, report.html) are rendered by `chatbot.report`, run-to-run comparisons by
`chatbot.compare`, the optional LLM-judged metrics by `chatbot.judge`; what produced a run (commit,
settings, prompts) comes from `chatbot.provenance`.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from chatbot.citations import MARKER, check
from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.packs import EvalQuestion, histories, load_pack
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


def score_row(q: EvalQuestion, ans: Answer, invalid: int, history: list[str] | None = None) -> dict[str, Any]:
    retrieved = ans.retrieved_files()
    best: dict[str, float] = {}
    for sc in ans.retrieved:
        best.setdefault(sc.chunk.file, sc.score)
    gold = set(q.gold_files)
    cited = [c.file for c in ans.citations]
    correct = q.answerable and not ans.refused and answer_correct(q, ans.answer)
    row = {
        "id": q.id, "lang": q.lang, "category": q.category, "answerable": q.answerable,
        "conversation": q.conversation, "turn": q.turn, "history": list(history or []),
        "question": q.question, "answer": ans.answer, "refused": ans.refused,
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


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    lat = sorted(r["latency_ms"] for r in rows)
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


def run_pack(settings: Settings, pack: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Index the pack's corpus into a fresh temporary store and ask every question.

    Questions of one conversation are asked with the earlier questions as history.
    """
    from chatbot.app import build

    questions = load_pack(pack)
    history = histories(questions)
    with tempfile.TemporaryDirectory(prefix="chatbot-eval-") as tmp:
        isolated = settings.model_copy(update={"data_dir": Path(tmp), "chroma_host": None})
        bot = build(isolated)
        prompts = ({"answer": bot.llm.answer_prompt.id, "condense": bot.llm.condense_prompt.id}
                   if bot.llm is not None else {})
        run = provenance(isolated, prompts)
        report = bot.ingest([pack / "corpus"], progress=False)
        rows = []
        for q in questions:
            ans = bot.ask(q.question, history=history[q.id])
            invalid = len(check(ans.answer, ans.citations, bot.document_text))
            row = score_row(q, ans, invalid, history[q.id])
            row["run"] = {k: v for k, v in run.items() if k != "prompts"} | {"prompt": ans.prompt or None}
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

    The baseline's `tolerance` maps metric names (or "default") to the drop allowed.
    """
    failures = []
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


def write_outputs(out: Path, rows: list[dict[str, Any]], metrics: dict[str, Any]) -> list[str]:
    from chatbot.report import render_html, render_markdown

    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "report.md").write_text(render_markdown(rows, metrics), encoding="utf-8")
    (out / "report.html").write_text(render_html(rows, metrics), encoding="utf-8")
    return ["results.jsonl", "metrics.json", "report.md", "report.html"]


def run_eval(settings: Settings, pack: Path, out: Path, baseline: Path | None, judge: bool = False) -> int:
    if baseline is not None and not baseline.is_file():
        raise ChatbotError(f"Baseline {baseline} not found. Create one with "
                           f"`python evals/baseline.py OUT/metrics.json {baseline}` (or `make baselines`).")
    judge_runner = None
    if judge:
        from chatbot.judge import Judge

        judge_runner = Judge(settings)  # a missing endpoint or a broken prompt fails before the run
    rows, metrics = run_pack(settings, pack)
    if judge_runner is not None:
        metrics["judged"] = judge_runner.judge_rows(rows)
    written = write_outputs(out, rows, metrics)
    o = metrics["overall"]
    print(f"{pack.name}: " + ", ".join(f"{k}={fmt(o[k], k)}" for k in (
        "n", "pass_rate", "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
        "refusal_rate", "false_refusal_rate", "invalid_citations", "latency_p50_ms")))
    if "judged" in metrics:
        j = metrics["judged"]["overall"]
        print("judged (LLM, not gated): " + ", ".join(f"{k}={fmt(v)}" for k, v in j.items()))
    print(f"wrote {out}/" + ", ".join(written))
    if baseline is not None:
        failures = gate(metrics, json.loads(baseline.read_text(encoding="utf-8")))
        if failures:
            print("REGRESSION against " + str(baseline) + ":\n  " + "\n  ".join(failures))
            return 2
        print(f"no regression against {baseline}")
    return 0
