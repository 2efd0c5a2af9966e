"""`chatbot eval --compare OLD NEW` on two hand-made output folders: deltas, settings changed, flips by id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_eval_report import make_row

from chatbot.cli import main
from chatbot.evaluation.compare import delta, flips, render_compare
from chatbot.evaluation.scoring import compute_metrics


def write_run(out: Path, rows: list[dict[str, Any]], **meta: Any) -> Path:
    out.mkdir(parents=True)
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    metrics = compute_metrics(rows)
    metrics["meta"] = {"pack": "demo", "commit": "c1", "dirty": False, "retrieval": "ranked", "top_k": 6, **meta}
    (out / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return out


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    old = write_run(tmp_path / "old", [
        make_row("q1"), make_row("q2", correct=False), make_row("q3"),
        make_row("u1", answerable=False, refused=True, category="unanswerable"),
    ])
    new = write_run(tmp_path / "new", [
        make_row("q1", correct=False),  # pass -> fail
        make_row("q2"),  # fail -> pass
        make_row("q3", answer="Reworded answer [1]"),  # same result, other answer
        make_row("u1", answerable=False, refused=True, category="unanswerable"),
    ], top_k=3)
    return old, new


def test_delta_direction_by_metric() -> None:
    assert delta("accuracy", 0.5, 0.75) == (0.25, "better")
    assert delta("false_refusal_rate", 0.1, 0.2) == (0.1, "worse")
    assert delta("invalid_citations", 2, 0) == (-2, "better")
    assert delta("latency_p50_ms", 10.0, 12.5) == (2.5, "slower")
    assert delta("mrr", 0.5, 0.5) == (0.0, "same")
    assert delta("mrr", None, 0.5) == (None, "")


def test_flips_by_id(runs: tuple[Path, Path]) -> None:
    old, new = runs
    read = lambda p: [json.loads(x) for x in (p / "results.jsonl").read_text().splitlines()]  # noqa: E731
    f = flips(read(old), read(new))
    assert [o["id"] for o, _ in f["pass->fail"]] == ["q1"]
    assert [o["id"] for o, _ in f["fail->pass"]] == ["q2"]
    assert [o["id"] for o, _ in f["answer changed"]] == ["q3"]


def test_compare_report_names_the_setting_the_deltas_and_the_flips(runs: tuple[Path, Path]) -> None:
    old, new = runs
    text = render_compare(old, new)
    assert "**1 fixed, 1 broken, 1 answers changed with the same result" in text
    assert "- top_k: `6` -> `3`" in text
    # accuracy over 3 answerable questions: 2/3 before and after; pass rate 3/4 both: unchanged
    assert "| overall | accuracy | 0.667 | 0.667 | +0 | same |" in text
    pf = text.split("## pass->fail (1)", 1)[1].split("## fail->pass", 1)[0]
    assert "| q1 |" in pf and "| q2 |" not in pf
    assert "## answer changed (1)" in text and "Reworded answer" in text


def test_cli_compare_prints_and_writes_compare_md(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    old, new = runs
    assert main(["eval", "--compare", str(old), str(new)]) == 0
    printed = capsys.readouterr().out
    assert "## pass->fail (1)" in printed and "q1" in printed and f"wrote {new / 'compare.md'}" in printed
    assert "## fail->pass (1)" in (new / "compare.md").read_text(encoding="utf-8")
    assert main(["eval", "--compare", str(old), str(new), "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "compare.md").is_file()


def test_cli_compare_with_a_missing_run_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             runs: tuple[Path, Path]) -> None:
    assert main(["eval", "--compare", str(tmp_path / "nope"), str(runs[1])]) == 2
    assert "chatbot eval --pack PACK --out" in capsys.readouterr().err


def test_cli_compare_refuses_new_run_options(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--compare", str(runs[0]), str(runs[1]), "--judge"]) == 2
    assert "--compare reads two finished runs" in capsys.readouterr().err
    assert not (runs[1] / "compare.md").exists()


def test_check_questions_that_flipped_are_counted_not_shown(tmp_path: Path) -> None:
    old = write_run(tmp_path / "old", [make_row("f1"), make_row("c1", split="check"),
                                       make_row("c2", split="check", correct=False)])
    new = write_run(tmp_path / "new", [make_row("f1", correct=False), make_row("c1", split="check", correct=False),
                                       make_row("c2", split="check", answer="Secret answer [1]")])
    text = render_compare(old, new)
    assert "**1 fixed, 2 broken" in text  # the summary counts every question
    broken = text.split("## pass->fail (2)", 1)[1].split("## fail->pass", 1)[0]
    assert "1 of them in the check split, not listed." in broken and "| f1 |" in broken and "c1" not in broken
    fixed = text.split("## fail->pass (1)", 1)[1]
    assert "none in the fit split" in fixed and "c2" not in fixed and "Secret answer" not in text
