"""Eval metrics on hand-computed cases, the baseline gate, and both packs through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.evals import EvalQuestion, aggregate, answer_correct, gate, is_concise

ROOT = Path(__file__).resolve().parent.parent
RGB = ROOT.parent / "shared" / "evals" / "rgb-dev"


def q(**kw: object) -> EvalQuestion:
    base: dict[str, object] = dict(id="x", lang="en", question="?", answers=("Norway",),
                                   gold_files=("a.txt",), answerable=True)
    base.update(kw)
    return EvalQuestion(**base)  # type: ignore[arg-type]


def row(gold_rank: int, correct: bool, refused: bool = False, answerable: bool = True,
        cited_gold: int = 1, cited_total: int = 1, latency: float = 10.0) -> dict[str, object]:
    return {"answerable": answerable, "gold_rank": gold_rank, "correct": correct, "concise_correct": correct,
            "refused": refused, "cited_gold": cited_gold, "cited_total": cited_total,
            "invalid_citations": 0, "latency_ms": latency, "lang": "en", "category": ""}


def test_answer_matching_is_case_insensitive_and_ignores_markers_and_chinese_spaces() -> None:
    assert answer_correct(q(), "It was NORWAY [1].")
    assert not answer_correct(q(), "Sweden [1]")
    assert answer_correct(q(lang="zh", answers=("挪威 队",)), "冠军是挪威队[1]")
    assert not answer_correct(q(answers=()), "anything")


def test_concise_limits_by_language() -> None:
    assert is_concise(q(), "x" * 300 + " [1]")
    assert not is_concise(q(), "x" * 301)
    assert not is_concise(q(lang="zh"), "字" * 151)


def test_aggregate_by_hand() -> None:
    rows = [
        row(1, True, latency=10),
        row(3, False, cited_gold=0, cited_total=2, latency=20),
        row(0, False, refused=True, cited_gold=0, cited_total=0, latency=30),
        row(0, False, refused=True, answerable=False, cited_gold=0, cited_total=0, latency=40),
    ]
    m = aggregate(rows)  # type: ignore[arg-type]
    assert m["hit@1"] == round(1 / 3, 4)
    assert m["hit@5"] == round(2 / 3, 4)
    assert m["mrr"] == round((1 + 1 / 3) / 3, 4)
    assert m["accuracy"] == round(1 / 3, 4)
    assert m["citation_precision"] == round(1 / 3, 4)  # 1 gold of 3 citations among answered
    assert m["citation_recall"] == round(1 / 3, 4)
    assert m["refusal_rate"] == 1.0
    assert m["false_refusal_rate"] == round(1 / 3, 4)
    assert m["latency_p50_ms"] == 25.0


def test_gate_flags_drops_beyond_tolerance_only() -> None:
    base = {"overall": {"accuracy": 0.8, "false_refusal_rate": 0.05}, "by_lang": {"zh": {"hit@1": 0.9}}}
    good = {"overall": {"accuracy": 0.798, "false_refusal_rate": 0.05}, "by_lang": {"zh": {"hit@1": 0.95}}}
    bad = {"overall": {"accuracy": 0.7, "false_refusal_rate": 0.1}, "by_lang": {"zh": {"hit@1": 0.8}}}
    assert gate(good, base) == []
    failures = gate(bad, base)
    assert len(failures) == 3
    assert any("zh hit@1" in f for f in failures)


def _eval(pack: Path, out: Path, baseline: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env["CHATBOT_DATA_DIR"] = str(out / "never-used")
    return subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "eval", "--pack", str(pack), "--out", str(out),
         "--baseline", str(baseline)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )


@pytest.mark.evalgate
def test_seeds_pack_meets_baseline(tmp_path: Path) -> None:
    proc = _eval(ROOT / "evals" / "seeds", tmp_path, ROOT / "evals" / "baselines" / "seeds.json")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("results.jsonl", "metrics.json", "report.md"):
        assert (tmp_path / name).is_file()
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) >= 40
    assert set(rows[0]) >= {"id", "question", "answer", "refused", "citations", "retrieved", "latency_ms"}
    assert json.loads((tmp_path / "metrics.json").read_text())["overall"]["invalid_citations"] == 0
    assert not (tmp_path / "never-used").exists(), "eval must index into its own isolated store"


@pytest.mark.evalgate
@pytest.mark.skipif(not RGB.is_dir(), reason="../shared/evals/rgb-dev is not beside the repository")
def test_rgb_pack_meets_baseline(tmp_path: Path) -> None:
    proc = _eval(RGB, tmp_path, ROOT / "evals" / "baselines" / "rgb-dev.json")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "metrics.json").read_text())["overall"]["n"] == 207
