"""The fit/check split: pinned, about 70/30 on every pack here, and blind to language and answerability."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from chatbot.evaluation.split import split_of

ROOT = Path(__file__).resolve().parent.parent
PACKS = sorted((ROOT.parent / "shared" / "evals").glob("*/questions.jsonl")) + [ROOT / "evals" / "seeds" / "questions.jsonl"]


def test_the_split_of_an_id_never_changes() -> None:
    """Pinned: a change of hash, cut or encoding would move questions between fit and check."""
    pinned = {"a": "check", "b": "fit", "c": "fit", "q-001": "fit", "q-002": "check", "q-003": "fit",
              "q-004": "fit", "q-005": "fit", "q-006": "check", "q-007": "fit", "q-008": "fit", "q-009": "fit",
              "q-010": "check", "问题-1": "fit", "42": "fit"}
    assert {i: split_of(i) for i in pinned} == pinned


def test_about_seven_in_ten_are_fit() -> None:
    share = sum(split_of(f"id-{i}") == "fit" for i in range(10_000)) / 10_000
    assert 0.68 < share < 0.72


def near_70(fit: int, n: int) -> bool:
    """Within three standard deviations of a fair 70/30 coin's share over n questions."""
    return abs(fit / n - 0.7) <= 3 * math.sqrt(0.7 * 0.3 / n)


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]


@pytest.mark.parametrize("questions", PACKS, ids=[p.parent.name for p in PACKS])
def test_every_pack_splits_about_70_30_with_every_kind_on_both_sides(questions: Path) -> None:
    rows = _rows(questions)
    splits = Counter(split_of(str(r["id"])) for r in rows)
    assert near_70(splits["fit"], len(rows)), splits
    kinds: dict[tuple[object, bool], Counter[str]] = {}
    for r in rows:
        kinds.setdefault((r.get("lang") or "en", r.get("answerable", True) is not False), Counter())[
            split_of(str(r["id"]))] += 1
    for kind, counts in kinds.items():
        n = sum(counts.values())
        if n >= 6:  # every language, answerable or not, is on both sides
            assert counts["fit"] and counts["check"], (kind, counts)
        if n >= 30:  # and in the shares of a coin that knows nothing of them
            assert near_70(counts["fit"], n), (kind, counts)
