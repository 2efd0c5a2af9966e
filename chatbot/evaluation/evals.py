"""Run an eval pack through a fresh, isolated Chatbot; write results, metrics and reports; gate.

Packs are read and checked by `packs`; rows are scored by `scoring`, gated by `gate`, rendered by
`report` (report.md, report.html); run-to-run comparisons are `compare`, the optional LLM-judged
metrics `judge`; what produced a run (commit, settings, prompts) comes from `provenance`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from chatbot.answering.citations import check
from chatbot.app import build
from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.evaluation.gate import REGRESSION, gate, load_baseline
from chatbot.evaluation.junit import check_junit_path, render_junit, write_junit
from chatbot.evaluation.packs import EvalQuestion, PackError, histories, load_pack
from chatbot.evaluation.provenance import provenance
from chatbot.evaluation.report import render_html, render_markdown
from chatbot.evaluation.scoring import compute_metrics, describe, error_row, fmt, score_row
from chatbot.evaluation.split import RULE

log = logging.getLogger(__name__)


# -- running --------------------------------------------------------------------------------


def run_pack(settings: Settings, pack: Path,
             questions: list[EvalQuestion] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Index the pack's corpus into a fresh temporary store and ask every question.

    Questions of one conversation are asked with the earlier questions as history. A question that
    fails (with any exception) becomes an error row and the run goes on.
    """

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
        "pack": pack.resolve().name, **run, "settings": isolated.public(), "split": RULE,
        "corpus_files": len(report.added), "skipped_files": len(report.skipped),
        "ingest_seconds": round(report.seconds, 1),
    }
    return rows, metrics


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


def run_eval(settings: Settings, pack: Path, out: Path, baseline: Path | None, judge: bool = False,
             junit: Path | None = None) -> int:
    """Run the pack, write the outputs, gate: 0 pass, REGRESSION (1) when a metric dropped below the baseline.

    Everything that can be checked without running (the baseline, --out, --junit, every row of the
    pack, the judge's endpoint) is checked first; a broken pack or run raises ChatbotError.
    `junit`: also write the run as JUnit XML there (`chatbot.evaluation.junit`), gate included.
    """
    base = load_baseline(baseline) if baseline is not None else None
    check_out(out)
    if junit is not None:
        check_junit_path(junit)
    questions = load_pack(pack)
    judge_runner = None
    if judge:
        from chatbot.evaluation.judge import Judge

        judge_runner = Judge(settings)  # a missing endpoint or a broken prompt fails before the run
    rows, metrics = run_pack(settings, pack, questions)
    if judge_runner is not None:
        metrics["judged"] = judge_runner.judge_rows(rows)
    written = write_outputs(out, rows, metrics)
    failures = gate(metrics, base) if base is not None else None
    if junit is not None:
        write_junit(junit, render_junit(rows, metrics, failures, str(baseline) if baseline is not None else None))
    for name, o in (("", metrics["overall"]), (" check", metrics["by_split"]["check"]["overall"])):
        print(f"{pack.name}{name}: " + ", ".join(f"{k}={fmt(o[k], k)}" for k in (
            "n", "pass_rate", "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
            "refusal_rate", "false_refusal_rate", "invalid_citations", "auroc", "ece", "errors", "latency_p50_ms")))
    if "judged" in metrics:
        j = metrics["judged"]["overall"]
        print("judged (LLM, not gated): " + ", ".join(f"{k}={fmt(v)}" for k, v in j.items()))
    failed = [r["id"] for r in rows if r.get("error")]
    if failed:
        print(f"{len(failed)} question{'s' * (len(failed) != 1)} failed to run and count as misses: "
              + ", ".join(failed[:10]) + (" ..." if len(failed) > 10 else "") + " (see `error` in results.jsonl)")
    print(f"wrote {out}/" + ", ".join(written) + (f"; {junit}" if junit is not None else ""))
    if failures is not None:
        if failures:
            print("REGRESSION against " + str(baseline) + ":\n  " + "\n  ".join(failures))
            return REGRESSION
        print(f"no regression against {baseline}")
    return 0
