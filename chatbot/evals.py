"""Eval packs: load, run through a fresh isolated Chatbot, score, write reports, gate on a baseline."""

from __future__ import annotations

import json
import logging
import re
import statistics
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.citations import MARKER, check
from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.types import Answer

log = logging.getLogger(__name__)

CONCISE_CHARS = {"en": 300, "zh": 150}
HIGHER_IS_BETTER = (
    "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
    "citation_recall", "refusal_rate",
)
LOWER_IS_BETTER = ("false_refusal_rate", "invalid_citations")
DEFAULT_TOLERANCE = 0.005


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    lang: str
    question: str
    answers: tuple[str, ...]
    gold_files: tuple[str, ...]
    answerable: bool
    category: str = ""

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> EvalQuestion:
        return cls(
            id=str(obj["id"]), lang=str(obj.get("lang", "en")), question=str(obj["question"]),
            answers=tuple(obj.get("answers") or ()), gold_files=tuple(obj.get("gold_files") or ()),
            answerable=bool(obj.get("answerable", True)), category=str(obj.get("category", "")),
        )


def load_pack(pack: Path) -> list[EvalQuestion]:
    qfile = pack / "questions.jsonl"
    if not (pack / "corpus").is_dir() or not qfile.is_file():
        raise ChatbotError(f"{pack} is not an eval pack: it needs corpus/ and questions.jsonl (see evals/README.md).")
    out = []
    for lineno, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(EvalQuestion.from_json(json.loads(line)))
            except (ValueError, KeyError) as exc:
                raise ChatbotError(f"{qfile}:{lineno}: not a valid question record ({exc})") from exc
    return out


def _squash(text: str, lang: str) -> str:
    text = MARKER.sub("", text).lower()
    return re.sub(r"\s+", "", text) if lang == "zh" else re.sub(r"\s+", " ", text)


def answer_correct(q: EvalQuestion, answer_text: str) -> bool:
    got = _squash(answer_text, q.lang)
    return any(_squash(a, q.lang) in got for a in q.answers if a.strip())


def is_concise(q: EvalQuestion, answer_text: str) -> bool:
    return len(MARKER.sub("", answer_text).strip()) <= CONCISE_CHARS.get(q.lang, 300)


def score_row(q: EvalQuestion, ans: Answer, invalid: int) -> dict[str, Any]:
    retrieved = ans.retrieved_files()
    gold = set(q.gold_files)
    rank = next((i for i, f in enumerate(retrieved, 1) if f in gold), 0)
    cited = [c.file for c in ans.citations]
    correct = q.answerable and not ans.refused and answer_correct(q, ans.answer)
    return {
        "id": q.id, "lang": q.lang, "category": q.category, "answerable": q.answerable,
        "question": q.question, "answer": ans.answer, "refused": ans.refused,
        "citations": [{"file": c.file, "quote": c.quote, "start_char": c.start_char, "end_char": c.end_char} for c in ans.citations],
        "retrieved": retrieved,
        "scores": [round(sc.score, 4) for sc in ans.retrieved],
        "latency_ms": round(ans.latency_ms, 1),
        "gold_rank": rank,
        "correct": correct,
        "concise_correct": correct and is_concise(q, ans.answer),
        "cited_gold": sum(f in gold for f in cited),
        "cited_total": len(cited),
        "invalid_citations": invalid,
        "mode": ans.mode,
        "prompt": ans.prompt,
    }


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    lat = sorted(r["latency_ms"] for r in rows)
    answered = [r for r in ans if not r["refused"]]
    m: dict[str, Any] = {
        "n": len(rows), "n_answerable": len(ans), "n_unanswerable": len(una),
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
    for r in rows:
        by_lang[r["lang"]].append(r)
        if r["category"]:
            by_cat[r["category"]].append(r)
    return {
        "overall": aggregate(rows),
        "by_lang": {k: aggregate(v) for k, v in sorted(by_lang.items())},
        "by_category": {k: aggregate(v) for k, v in sorted(by_cat.items())},
    }


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=False, cwd=Path(__file__).parent).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def run_pack(settings: Settings, pack: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Index the pack's corpus into a fresh temporary store and ask every question."""
    from chatbot.app import build

    questions = load_pack(pack)
    with tempfile.TemporaryDirectory(prefix="chatbot-eval-") as tmp:
        isolated = settings.model_copy(update={"data_dir": Path(tmp), "chroma_host": None})
        bot = build(isolated)
        report = bot.ingest([pack / "corpus"], progress=False)
        rows = []
        for q in questions:
            ans = bot.ask(q.question)
            invalid = len(check(ans.answer, ans.citations, bot.document_text))
            rows.append(score_row(q, ans, invalid))
    metrics = compute_metrics(rows)
    metrics["meta"] = {
        "pack": pack.name, "commit": _commit(), "settings": isolated.public(),
        "corpus_files": len(report.added), "skipped_files": len(report.skipped),
        "ingest_seconds": round(report.seconds, 1),
    }
    return rows, metrics


def gate(metrics: dict[str, Any], baseline: dict[str, Any], tolerance: float = DEFAULT_TOLERANCE) -> list[str]:
    """Metrics that dropped below the baseline (overall and per language)."""
    failures = []
    scopes = [("overall", metrics["overall"], baseline.get("overall", {}))]
    for lang, base in baseline.get("by_lang", {}).items():
        scopes.append((lang, metrics["by_lang"].get(lang, {}), base))
    tolerances = baseline.get("tolerance", {})
    for scope, got, base in scopes:
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


def _fmt(v: Any) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def render_markdown(rows: list[dict[str, Any]], metrics: dict[str, Any]) -> str:
    cols = ["n", "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
            "citation_recall", "refusal_rate", "false_refusal_rate", "invalid_citations",
            "latency_p50_ms", "latency_p95_ms"]
    meta = metrics.get("meta", {})
    lines = [f"# Eval report: {meta.get('pack', '')}", "",
             f"commit `{meta.get('commit')}`; settings: `{json.dumps(meta.get('settings'), ensure_ascii=False)}`", "",
             "| scope | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    scopes = [("overall", metrics["overall"])] + [(f"lang={k}", v) for k, v in metrics["by_lang"].items()]
    scopes += [(f"category={k}", v) for k, v in metrics["by_category"].items()]
    for name, m in scopes:
        lines.append(f"| {name} | " + " | ".join(_fmt(m.get(c)) for c in cols) + " |")
    lines += ["", "## Questions", "", "| id | ok | refused | gold rank | question | answer |", "|---|---|---|---|---|---|"]
    for r in rows:
        ok = "✓" if (r["correct"] if r["answerable"] else r["refused"]) else "✗"
        answer = r["answer"].replace("|", "\\|").replace("\n", " ")[:200]
        question = r["question"].replace("|", "\\|")
        lines.append(f"| {r['id']} | {ok} | {r['refused']} | {r['gold_rank'] or '–'} | {question} | {answer} |")
    return "\n".join(lines) + "\n"


def run_eval(settings: Settings, pack: Path, out: Path, baseline: Path | None) -> int:
    rows, metrics = run_pack(settings, pack)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "report.md").write_text(render_markdown(rows, metrics), encoding="utf-8")
    o = metrics["overall"]
    print(f"{pack.name}: " + ", ".join(f"{k}={_fmt(o[k])}" for k in (
        "n", "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
        "refusal_rate", "false_refusal_rate", "invalid_citations", "latency_p50_ms")))
    print(f"wrote {out}/results.jsonl, metrics.json, report.md")
    if baseline is not None:
        if not baseline.is_file():
            raise ChatbotError(f"Baseline {baseline} not found. Create one by copying an eval's metrics.json.")
        failures = gate(metrics, json.loads(baseline.read_text(encoding="utf-8")))
        if failures:
            print("REGRESSION against " + str(baseline) + ":\n  " + "\n  ".join(failures))
            return 2
        print(f"no regression against {baseline}")
    return 0
