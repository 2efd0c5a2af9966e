"""How well an answer's `confidence` says whether it is right: AUROC, calibration error, and the
data of a reliability diagram and a risk-coverage curve.

The label is "answered correctly": the question is answerable, not refused, and an accepted answer
string is in the answer (a row's `correct`). Every row with a confidence counts: a refusal, or any
answer to an unanswerable question, is a 0. So a confidence is judged as what DESIGN.md says it is,
the probability that the answer is supported and right.

Rows without a confidence (runs made before answers carried one, and questions that failed to run)
are left out; with none left, every figure is None.
"""

from __future__ import annotations

import math
from typing import Any

BINS = 10


def confidence_of(row: dict[str, Any]) -> float | None:
    """A row's confidence, or None when it has none."""
    c = row.get("confidence")
    return float(c) if isinstance(c, (int, float)) and not isinstance(c, bool) and not math.isnan(c) else None


def answered_correctly(row: dict[str, Any]) -> bool:
    return bool(row.get("answerable") and not row.get("refused") and row.get("correct"))


def scored(rows: list[dict[str, Any]]) -> tuple[list[float], list[bool]]:
    """(confidences, labels) of the rows that have a confidence."""
    pairs = [(c, answered_correctly(r)) for r in rows if (c := confidence_of(r)) is not None]
    return [c for c, _ in pairs], [y for _, y in pairs]


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """The probability that a random positive scores above a random negative, ties counting half
    (the Mann-Whitney U over n_pos * n_neg). None without both a positive and a negative."""
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):  # tied scores share the mean of their 1-based ranks
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _bin(c: float, bins: int) -> int:
    return min(bins - 1, max(0, int(c * bins)))  # [0, 0.1), [0.1, 0.2) ... [0.9, 1.0]


def reliability(scores: list[float], labels: list[bool], bins: int = BINS) -> list[dict[str, Any]]:
    """Per equal-width bin of confidence: its bounds, how many rows, their mean confidence and the
    share answered correctly (None for an empty bin)."""
    members: list[list[int]] = [[] for _ in range(bins)]
    for i, c in enumerate(scores):
        members[_bin(c, bins)].append(i)
    out = []
    for b, idx in enumerate(members):
        n = len(idx)
        out.append({"lo": round(b / bins, 4), "hi": round((b + 1) / bins, 4), "n": n,
                    "confidence": round(sum(scores[i] for i in idx) / n, 4) if n else None,
                    "accuracy": round(sum(labels[i] for i in idx) / n, 4) if n else None})
    return out


def ece(scores: list[float], labels: list[bool], bins: int = BINS) -> float | None:
    """Expected calibration error: over equal-width bins, |mean confidence - share correct|
    weighted by the bin's share of rows. None without rows."""
    if not scores:
        return None
    conf, ok = [0.0] * bins, [0.0] * bins  # per bin: the sum of confidences, the count correct
    for c, y in zip(scores, labels, strict=True):
        conf[_bin(c, bins)] += c
        ok[_bin(c, bins)] += y
    return sum(abs(c - y) for c, y in zip(conf, ok, strict=True)) / len(scores)


def risk_coverage(scores: list[float], labels: list[bool]) -> list[dict[str, float]]:
    """Answer only at or above a threshold, for each confidence seen, highest first: coverage is the
    share of rows answered, risk the share of those answered that are not correct. Tied
    confidences are answered together, so each point is a threshold one could set."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    points, wrong = [], 0
    for k, i in enumerate(order, 1):
        wrong += not labels[i]
        if k == len(order) or scores[order[k]] != scores[i]:
            points.append({"threshold": round(scores[i], 4), "coverage": round(k / len(order), 4),
                           "risk": round(wrong / k, 4)})
    return points


def operating_point(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """Where the run itself stands on the risk-coverage plane: the rows with a confidence that
    were not refused, and the share of them not answered correctly."""
    rated = [r for r in rows if confidence_of(r) is not None]
    answered = [r for r in rated if not r.get("refused")]
    if not answered:
        return None
    return {"coverage": round(len(answered) / len(rated), 4),
            "risk": round(sum(not answered_correctly(r) for r in answered) / len(answered), 4)}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def calibration_metrics(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """`auroc`: confidence against answered correctly, over every row with a confidence (the
    issue's answerability AUROC); `auroc_answerable`: the same over answerable questions only;
    `auroc_answered`: over the answers shown only, refusals (confidence 0) left out (does it know
    a right answer from a wrong one); `ece` over 10 equal-width bins."""
    scores, labels = scored(rows)
    answerable = [r for r in rows if r.get("answerable")]
    answered = [r for r in rows if not r.get("refused")]
    return {"auroc": _r(auroc(scores, labels)), "auroc_answerable": _r(auroc(*scored(answerable))),
            "auroc_answered": _r(auroc(*scored(answered))), "ece": _r(ece(scores, labels))}


def curves(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The reliability bins, the risk-coverage points and the run's own point; None without any
    confidence."""
    scores, labels = scored(rows)
    if not scores:
        return None
    return {"n": len(scores), "reliability": reliability(scores, labels),
            "risk_coverage": risk_coverage(scores, labels), "operating_point": operating_point(rows)}
