"""Scoring eval rows and aggregating metrics: the cheap, deterministic metrics of a run.

A row is one question's record (`results.jsonl`); `compute_metrics` gives the overall figures and
each language's, category's and turn's, then the same for each split (*fit*, *check*: see
`chatbot.evaluation.split`); `scopes` lists them for reports. The figures read from `confidence`
come from `chatbot.evaluation.calibration`; gating lives in `chatbot.evaluation.gate`.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from typing import Any

from chatbot.answering.asks import asks_list
from chatbot.answering.citations import MARKER
from chatbot.evaluation.calibration import calibration_metrics, curves
from chatbot.evaluation.packs import EvalQuestion
from chatbot.evaluation.split import SPLITS, split_of
from chatbot.retrieval.question import Question
from chatbot.types import Answer

CONCISE_CHARS = {"en": 300, "zh": 150}
LIST_FACTOR = 2  # a question that asks for a list may take twice the room: a complete list is the answer


HIGHER_IS_BETTER = (
    "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
    "citation_recall", "refusal_rate", "auroc",
)


LOWER_IS_BETTER = ("false_refusal_rate", "invalid_citations", "ece")


def _squash(text: str, lang: str) -> str:
    text = MARKER.sub("", text).lower()
    return re.sub(r"\s+", "", text) if lang == "zh" else re.sub(r"\s+", " ", text)


def answer_correct(q: EvalQuestion, answer_text: str) -> bool:
    got = _squash(answer_text, q.lang)
    return any(_squash(a, q.lang) in got for a in q.answers if a.strip())


def asks_for_list(q: EvalQuestion) -> bool:
    """The pack says so (`category: list`), or the answerer's own reading of the question does
    ("Which companies ...?", "...哪些..."; `chatbot.answering.asks.asks_list`)."""
    return q.category == "list" or asks_list(Question.parse(q.question))


def concise_limit(q: EvalQuestion) -> int:
    """Characters a concise answer may take: 300 in English, 150 in Chinese; twice that for a list."""
    return CONCISE_CHARS.get(q.lang, 300) * (LIST_FACTOR if asks_for_list(q) else 1)


def is_concise(q: EvalQuestion, answer_text: str) -> bool:
    return len(MARKER.sub("", answer_text).strip()) <= concise_limit(q)


def row_split(row: dict[str, Any]) -> str | None:
    """The split a row belongs to: as recorded, or from its id for rows written before splits."""
    if row.get("split"):
        return str(row["split"])
    return split_of(str(row["id"])) if "id" in row else None


def answer_confidence(ans: Answer) -> float | None:
    """The answer's confidence (answers from before it existed have none); one outside [0, 1] is a
    bug of the answerer, raised so that the run shows it as this question's error."""
    c = getattr(ans, "confidence", None)
    if c is None:
        return None
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.0 <= c <= 1.0:
        raise ValueError(f"the answer's confidence {c!r} is not a number in [0, 1]")
    return round(float(c), 4)


def gold_rank(retrieved_files: list[str], gold_files: tuple[str, ...]) -> int:
    """1-based rank of the first gold file among the retrieved files; 0 when none was retrieved."""
    gold = set(gold_files)
    return next((i for i, f in enumerate(retrieved_files, 1) if f in gold), 0)


def passed(row: dict[str, Any]) -> bool:
    """A question passes when it is answered correctly, or refused when it is unanswerable."""
    return bool(row["correct"] if row["answerable"] else row["refused"])


def _question_fields(q: EvalQuestion, history: list[str] | None) -> dict[str, Any]:
    return {"id": q.id, "split": split_of(q.id), "lang": q.lang, "category": q.category, "answerable": q.answerable,
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
        "confidence": answer_confidence(ans),
        "citations": [{"n": c.n, "file": c.file, "quote": c.quote, "start_char": c.start_char,
                       "end_char": c.end_char, "page": c.page, "section": c.section} for c in ans.citations],
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
        **_question_fields(q, history), "answer": "", "refused": False, "confidence": None, "citations": [],
        "retrieved": [],
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
        "n": len(rows), "n_answerable": len(ans), "n_unanswerable": len(una), "n_answered": len(answered),
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
        **calibration_metrics(rows),
    }
    return m


def compute_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall and per language, category and turn; `by_split` the same for each split;
    `calibration` the reliability and risk-coverage data (None where no row has a confidence)."""
    split_rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for r in rows:
        s = row_split(r)
        if s in split_rows:
            split_rows[s].append(r)
    return {**_breakdown(rows), "by_split": {s: _breakdown(v) for s, v in split_rows.items()},
            "calibration": {"overall": curves(rows), **{s: curves(v) for s, v in split_rows.items()}}}


def _breakdown(rows: list[dict[str, Any]]) -> dict[str, Any]:
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
    """(name, metrics) for overall, each fit/check split and its languages, and every other
    breakdown of all questions, in report order."""
    out = [("overall", metrics["overall"])]
    for name, part in metrics.get("by_split", {}).items():
        out.append((f"split={name}", part["overall"]))
        out += [(f"split={name} lang={k}", v) for k, v in part.get("by_lang", {}).items()]
    for key, label in (("by_lang", "lang"), ("by_category", "category"), ("by_turn", "turn")):
        out += [(f"{label}={k}", v) for k, v in metrics.get(key, {}).items()]
    return out


def fmt(v: Any, name: str = "") -> str:
    """A metric for reports: rates with 3 decimals, milliseconds with 1, "–" when undefined."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.1f}" if name.startswith("latency") else f"{v:.3f}"
    return str(v)
