"""`chatbot eval --junit FILE`: JUnit XML that CI systems display (a case per question, named by its id,
and the metrics gate), checked by parsing it; the exit codes 0 / 1 / 2 it goes with; and
`--compare ... --compare-out FILE`, the comparison's summary as a Markdown file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from langchain_corpus import write_corpus
from test_eval_report import make_row

from chatbot.cli import main
from chatbot.evaluation.junit import render_junit
from chatbot.evaluation.scoring import compute_metrics
from chatbot.evaluation.split import split_of

LONG = "Describe every room of the Veldmoor lighthouse museum in detail, " * 4  # over the limit set below
QUESTIONS: list[dict[str, Any]] = [
    {"id": "lighthouse", "lang": "en", "question": "When was the Veldmoor lighthouse built?", "answers": ["1887"],
     "gold_files": ["veldmoor.txt"]},
    # the pack expects a wrong figure, so this one fails whatever the answerer does
    {"id": "ferry-time", "lang": "en", "question": "How long does the ferry crossing to Tiel take?",
     "answers": ["ninety minutes"], "gold_files": ["ferry.txt"]},
    {"id": "jx-7", "lang": "en", "question": "In which year did the Kessel quarry close?", "answers": ["1066"],
     "gold_files": ["quarry.txt"]},
    {"id": "tea-area", "lang": "zh", "question": "云岭茶园的种植面积是多少？", "answers": ["三百二十公顷"],
     "gold_files": ["tea.txt"]},
    {"id": "unanswerable", "lang": "en", "question": "Who painted the ceiling of the town hall in Tiel?", "answers": [],
     "gold_files": [], "answerable": False},
    {"id": "too-long", "lang": "en", "question": LONG, "answers": ["x"], "gold_files": ["veldmoor.txt"]},
]


def parse(path_or_text: Path | str) -> ET.Element:
    text = path_or_text.read_text(encoding="utf-8") if isinstance(path_or_text, Path) else path_or_text
    assert text.startswith("<?xml")
    return ET.fromstring(text)


def cases(root: ET.Element) -> dict[str, ET.Element]:
    (suite,) = root.findall("testsuite")
    return {c.get("name", ""): c for c in suite.findall("testcase")}


def assert_counts_agree(root: ET.Element) -> None:
    """The counts on <testsuites> and <testsuite> are those of the cases inside."""
    (suite,) = root.findall("testsuite")
    found = suite.findall("testcase")
    for node in (root, suite):
        assert int(node.get("tests", -1)) == len(found)
        assert int(node.get("failures", -1)) == sum(c.find("failure") is not None for c in found)
        assert int(node.get("errors", -1)) == sum(c.find("error") is not None for c in found)
        assert int(node.get("skipped", -1)) == sum(c.find("skipped") is not None for c in found)


def test_a_case_per_question_and_one_for_the_gate() -> None:
    rows = [
        make_row("ok-1"),
        make_row("bad-1", correct=False, question="What <b>is</b> \x01 here?", answer="Nothing & all [1]",
                 citations=[{"n": 1, "file": "a.txt", "quote": "a < b \x0b", "start_char": 3, "end_char": 9}]),
        make_row("un-1", answerable=False, refused=False, category="unanswerable"),
        make_row("hidden", correct=False, split="check", question="Which lantern is hidden?"),
        make_row("broke", error="QuestionError: too long", correct=False),
    ]
    metrics = compute_metrics(rows)
    metrics["meta"] = {"pack": "demo", "commit": "abc", "answer_mode": "extractive"}
    root = parse(render_junit(rows, metrics, ["check overall accuracy: 0.5 < baseline 0.9"], "base.json"))
    assert_counts_agree(root)
    got = cases(root)
    assert list(got) == ["ok-1", "bad-1", "un-1", "hidden", "broke", "metrics gate"]
    assert root.get("failures") == "4" and root.get("errors") == "1" and root.get("tests") == "6"
    assert not list(got["ok-1"]) and got["ok-1"].get("classname") == "demo.fit.en"
    failure = got["bad-1"].find("failure")
    assert failure is not None and failure.text is not None
    assert "the answer holds none of the expected answers" in failure.get("message", "")
    # the question, the expected answers, the answer and its citations, characters XML cannot hold replaced
    for part in ("question: What <b>is</b> \ufffd here?", "expected: Answer", "answer: Nothing & all [1]",
                 "[1] a.txt chars 3-9: a < b \ufffd"):
        assert part in failure.text
    assert "expected a refusal" in got["un-1"].find("failure").get("message", "")  # type: ignore[union-attr]
    hidden = got["hidden"].find("failure")
    assert hidden is not None and "check split" in hidden.get("message", "")
    assert "lantern" not in ET.tostring(got["hidden"], encoding="unicode")
    assert got["broke"].find("error").get("message") == "QuestionError: too long"  # type: ignore[union-attr]
    gate = got["metrics gate"].find("failure")
    assert gate is not None and gate.text == "check overall accuracy: 0.5 < baseline 0.9"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["commit"] == "abc" and props["baseline"] == "base.json"

    no_gate = parse(render_junit(rows[:1], metrics, None))
    assert_counts_agree(no_gate)
    assert cases(no_gate)["metrics gate"].find("skipped") is not None and no_gate.get("failures") == "0"
    passed_gate = parse(render_junit(rows[:1], metrics, []))
    assert_counts_agree(passed_gate)
    assert list(cases(passed_gate)["metrics gate"]) == [] and passed_gate.get("failures") == "0"


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("junit-pack")
    write_corpus(where / "corpus")
    (where / "questions.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS),
                                           encoding="utf-8")
    return where


def test_eval_writes_junit_that_agrees_with_results_and_exits_by_the_gate(
        pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert split_of("ferry-time") == "fit" and split_of("jx-7") == "check"  # what the assertions below read
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATBOT_MAX_QUESTION_CHARS", "200")
    (tmp_path / "high.json").write_text(json.dumps({"overall": {"hit@5": 1.01}}), encoding="utf-8")
    junit = tmp_path / "ci" / "eval.xml"
    code = main(["eval", "--pack", str(pack), "--out", str(tmp_path / "out"), "--baseline", "high.json",
                 "--junit", str(junit)])
    printed = capsys.readouterr().out
    assert code == 1, printed  # 1: below the baseline
    root = parse(junit)
    assert_counts_agree(root)
    got = cases(root)
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "results.jsonl").read_text().splitlines())}
    assert list(got) == [q["id"] for q in QUESTIONS] + ["metrics gate"]
    for qid, row in rows.items():
        outcome = "error" if row.get("error") else "pass" if row["passed"] else "failure"
        assert (got[qid].find(outcome) is not None) if outcome != "pass" else not list(got[qid]), qid
        assert got[qid].get("classname") == f"{pack.name}.{row['split']}.{row['lang']}"
    ferry = got["ferry-time"].find("failure")
    assert ferry is not None and ferry.text is not None
    assert "question: How long does the ferry crossing to Tiel take?" in ferry.text
    refused = "(refused) " if rows["ferry-time"]["refused"] else ""
    assert "expected: ninety minutes" in ferry.text and f"answer: {refused}{rows['ferry-time']['answer']}" in ferry.text
    for c in rows["ferry-time"]["citations"]:
        assert f"[{c['n']}] {c['file']} chars {c['start_char']}-{c['end_char']}: {c['quote']}" in ferry.text
    assert "1066" not in ET.tostring(got["jx-7"], encoding="unicode")  # a check question: counted, not shown
    assert "CHATBOT_MAX_QUESTION_CHARS" in got["too-long"].find("error").get("message", "")  # type: ignore[union-attr]
    gate = got["metrics gate"].find("failure")
    assert gate is not None and gate.get("message", "").startswith("REGRESSION against high.json (2): ")
    assert "overall hit@5: " in (gate.text or "") and "overall errors: 1 question failed to run" in (gate.text or "")

    # no question over the limit now, and a baseline the run meets: 0, and the gate's case passes
    monkeypatch.setenv("CHATBOT_MAX_QUESTION_CHARS", "4000")
    (tmp_path / "low.json").write_text(json.dumps({"overall": {"hit@5": 0.0}}), encoding="utf-8")
    assert main(["eval", "--pack", str(pack), "--out", str(tmp_path / "out2"), "--baseline", "low.json",
                 "--junit", str(junit)]) == 0
    again = parse(junit)
    assert_counts_agree(again)
    assert not list(cases(again)["metrics gate"]) and again.get("errors") == "0"


def test_a_broken_pack_or_junit_path_exits_2_before_the_run(pack: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / "broken"
    (broken / "corpus").mkdir(parents=True)
    (broken / "questions.jsonl").write_text('{"id": "a", "question": 3}\n', encoding="utf-8")
    assert main(["eval", "--pack", str(broken), "--out", str(tmp_path / "out"), "--junit", "eval.xml"]) == 2
    assert not (tmp_path / "eval.xml").exists() and not (tmp_path / "out").exists()
    (tmp_path / "folder").mkdir()
    assert main(["eval", "--pack", str(pack), "--out", str(tmp_path / "out"), "--junit", "folder"]) == 2
    assert "--junit folder is a folder" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main(["eval", "--compare", "a", "b", "--junit", "x.xml"]) == 2
    assert main(["eval", "--compare-out", "x.md"]) == 2


def test_compare_out_writes_the_printed_summary_for_a_pull_request(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from test_eval_compare import write_run

    old = write_run(tmp_path / "old", [make_row("q1"), make_row("q2", correct=False)])
    new = write_run(tmp_path / "new", [make_row("q1", correct=False), make_row("q2")], top_k=3)
    summary = tmp_path / "pr" / "comment.md"
    assert main(["eval", "--compare", str(old), str(new), "--compare-out", str(summary)]) == 0
    printed = capsys.readouterr().out
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# Eval comparison") and "## pass->fail (1)" in text and "| q1 |" in text
    assert text in printed and f"and {summary} (the summary above)" in printed
    assert (new / "compare.md").is_file()  # the full comparison, as before
