"""Confidence figures on hand-computed cases: AUROC, calibration error, reliability bins, risk-coverage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from chatbot.evaluation.calibration import (
    auroc,
    calibration_metrics,
    curves,
    ece,
    operating_point,
    reliability,
    risk_coverage,
)
from chatbot.evaluation.packs import EvalQuestion
from chatbot.evaluation.scoring import compute_metrics, error_row, score_row
from chatbot.types import Answer

T, F = True, False


def test_auroc_perfect_reversed_tied_and_by_hand() -> None:
    assert auroc([0.9, 0.8, 0.2, 0.1], [T, T, F, F]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [T, T, F, F]) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], [T, F, T, F]) == 0.5
    # pairs (positive, negative): 0.9>0.5, 0.9>0.1, 0.5=0.5 (half), 0.5>0.1 -> 3.5 of 4
    assert auroc([0.9, 0.5, 0.5, 0.1], [T, F, T, F]) == 0.875


def test_auroc_needs_both_kinds() -> None:
    assert auroc([0.9, 0.1], [T, T]) is None
    assert auroc([0.9, 0.1], [F, F]) is None
    assert auroc([], []) is None


def test_ece_by_hand() -> None:
    # bin [0.9, 1.0]: mean confidence 0.95, half right: 0.45 * 2/4; bin [0.1, 0.2): 0.15 * 1/4;
    # bin [0.5, 0.6): |0.55 - 1| * 1/4
    assert ece([0.95, 0.95, 0.15, 0.55], [T, F, F, T]) == pytest.approx(0.375)
    assert ece([0.5, 0.5], [T, F]) == 0.0  # says a half, right half the time
    assert ece([1.0, 0.0], [T, F]) == 0.0  # 1.0 falls in the last bin, 0.0 in the first
    assert ece([], []) is None


def test_reliability_bins() -> None:
    bins = reliability([0.95, 0.95, 0.15, 0.55], [T, F, F, T])
    assert len(bins) == 10 and bins[0] == {"lo": 0.0, "hi": 0.1, "n": 0, "confidence": None, "accuracy": None}
    assert bins[9] == {"lo": 0.9, "hi": 1.0, "n": 2, "confidence": 0.95, "accuracy": 0.5}
    assert bins[1]["n"] == 1 and bins[1]["accuracy"] == 0.0 and bins[5]["accuracy"] == 1.0


def test_risk_coverage_answers_tied_confidences_together() -> None:
    assert risk_coverage([0.9, 0.8, 0.8, 0.1], [T, F, T, F]) == [
        {"threshold": 0.9, "coverage": 0.25, "risk": 0.0},
        {"threshold": 0.8, "coverage": 0.75, "risk": 0.3333},
        {"threshold": 0.1, "coverage": 1.0, "risk": 0.5},
    ]
    assert risk_coverage([], []) == []


def rated(confidence: float | None, *, correct: bool = False, answerable: bool = True,
          refused: bool = False) -> dict[str, Any]:
    return {"confidence": confidence, "correct": correct, "answerable": answerable, "refused": refused}


def test_the_label_is_answered_correctly_over_every_row_with_a_confidence() -> None:
    rows = [rated(0.9, correct=True), rated(0.8, answerable=False),  # an answer to an unanswerable question: 0
            rated(0.3, refused=True), rated(0.2), rated(None, correct=True)]  # the last has no confidence
    m = calibration_metrics(rows)
    assert m["auroc"] == 1.0  # the one right answer is above the three that are not
    assert m["auroc_answerable"] == 1.0
    assert m["ece"] == pytest.approx((0.1 + 0.8 + 0.3 + 0.2) / 4)
    rows[1]["confidence"] = 0.95  # a confident answer to an unanswerable question now outranks it
    assert calibration_metrics(rows)["auroc"] == round(2 / 3, 4)
    assert calibration_metrics(rows)["auroc_answerable"] == 1.0  # answerable questions only
    assert calibration_metrics(rows)["auroc_answered"] == 0.5  # the answers shown only: 0.95 wrong over 0.9 right


def test_runs_without_confidence_give_none_everywhere() -> None:
    rows = [{"correct": True, "answerable": True, "refused": False}, rated(None)]
    assert calibration_metrics(rows) == {"auroc": None, "auroc_answerable": None, "auroc_answered": None, "ece": None}
    assert curves(rows) is None and operating_point(rows) is None


def test_operating_point_is_what_the_run_answered() -> None:
    rows = [rated(0.9, correct=True), rated(0.7), rated(0.2, refused=True), rated(0.1, refused=True)]
    assert operating_point(rows) == {"coverage": 0.5, "risk": 0.5}
    c = curves(rows)
    assert c is not None and c["n"] == 4 and len(c["reliability"]) == 10 and len(c["risk_coverage"]) == 4


def _question(qid: str = "q-001", **kw: Any) -> EvalQuestion:
    base: dict[str, Any] = dict(id=qid, lang="en", question="Which port?", answers=("Norway",),
                                gold_files=("a.txt",), answerable=True)
    return EvalQuestion(**(base | kw))


@dataclass(frozen=True)
class RatedAnswer(Answer):
    confidence: float | None = None


def _answer(confidence: float | None = None, text: str = "Norway [1]") -> Answer:
    return RatedAnswer(question="Which port?", answer=text, refused=False, citations=(), retrieved=(),
                       mode="extractive", latency_ms=1.0, confidence=confidence)


def test_rows_record_split_and_confidence_when_the_answer_has_one() -> None:
    row = score_row(_question("q-002"), _answer(0.81234), 0)
    assert row["split"] == "check" and row["confidence"] == 0.8123 and row["correct"]
    plain = Answer(question="?", answer="Norway", refused=False, citations=(), retrieved=(), mode="extractive",
                   latency_ms=1.0)
    row = score_row(_question("q-001"), plain, 0)
    assert row["split"] == "fit" and row["confidence"] is None  # an answer without the attribute
    failed = error_row(_question("q-003"), "RuntimeError: x", 1.0)
    assert failed["split"] == "fit" and failed["confidence"] is None


@pytest.mark.parametrize("bad", [1.5, -0.1, True, "0.5"])
def test_a_confidence_outside_0_1_is_the_question_s_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="not a number in \\[0, 1\\]"):
        score_row(_question(), _answer(bad), 0)


def test_metrics_carry_calibration_overall_per_language_and_per_split() -> None:
    rows = [score_row(_question(qid), _answer(c, text), 0) for qid, c, text in (
        ("q-001", 0.9, "Norway"), ("q-003", 0.2, "Sweden"), ("q-002", 0.7, "Norway"), ("q-006", 0.4, "Sweden"))]
    m = compute_metrics(rows)
    assert m["overall"]["auroc"] == 1.0 and m["by_lang"]["en"]["auroc"] == 1.0
    assert m["by_split"]["fit"]["overall"]["n"] == 2 and m["by_split"]["check"]["overall"]["n"] == 2
    assert m["by_split"]["check"]["overall"]["ece"] == pytest.approx((0.3 + 0.4) / 2)
    assert m["calibration"]["check"]["n"] == 2 and m["calibration"]["overall"]["n"] == 4
