"""`chatbot eval` on broken input (issue 27, items 12 and 13), on tiny packs made here.

Every bad row of a pack is named with FILE:LINE before anything is indexed; a question that fails
while running is recorded as an error row, counted, reported, and the run goes on; and the exit
codes hold: 0 pass, 1 a metric below the baseline, 2 a broken pack or run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatbot.app import Chatbot
from chatbot.cli import main

ROOT = Path(__file__).resolve().parent.parent
BEARINGS = "004_e82685cb10df071e.txt"
FACT = {"id": "fact", "lang": "en", "question": "Which bearing company from Luoyang is ranked sixth among the top ten in China?",
        "answers": ["Xinqianglian"], "gold_files": [BEARINGS]}
NONE = {"id": "none", "lang": "en", "question": "Which city is the capital of Australia?", "answers": [], "gold_files": [],
        "answerable": False}


def make_pack(where: Path, lines: list[str | bytes | dict[str, Any]], corpus: dict[str, bytes] | None = None) -> Path:
    """A pack with the given questions.jsonl lines (objects as JSON, text and bytes as they are) and,
    by default, one seed file as its corpus."""
    (where / "corpus").mkdir(parents=True)
    if corpus is None:
        shutil.copy(ROOT / "seeds" / BEARINGS, where / "corpus" / BEARINGS)
    for name, data in (corpus or {}).items():
        (where / "corpus" / name).write_bytes(data)
    raw = [x if isinstance(x, bytes) else (json.dumps(x, ensure_ascii=False) if isinstance(x, dict) else x).encode()
           for x in lines]
    (where / "questions.jsonl").write_bytes(b"".join(x + b"\n" for x in raw))
    return where


def run_eval(cwd: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """`chatbot eval ARGS` as a user runs it, from `cwd` (no developer .env), on a data dir it must not touch."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(CHATBOT_DATA_DIR=str(cwd / "never-used"), **extra_env)
    return subprocess.run([sys.executable, "-m", "chatbot.cli", "eval", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def assert_broken(result: subprocess.CompletedProcess[str], *says: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") or "usage:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for text in says:
        assert text in result.stderr, (text, result.stderr)


# -- item 13: the whole pack is checked first -----------------------------------------------------


def test_every_bad_row_is_named_with_file_and_line_and_nothing_is_written(tmp_path: Path) -> None:
    pack = make_pack(tmp_path / "pack", [
        FACT,                                                                         # 1 fine
        '{"id": "broken", "question": "Who?"',                                        # 2
        {"id": "empty", "question": "   "},                                           # 3
        {"question": "Which id am I?"},                                               # 4
        "",                                                                           # 5 blank: skipped
        {"id": "types", "question": "Who?", "answers": "Xinqianglian", "answerable": "false"},  # 6
        '["a", "list"]',                                                              # 7
        {"id": "fact", "question": "Asked twice?"},                                   # 8
        b'{"id": "latin1", "question": "caf\xe9?"}',                                  # 9
        {"id": "c1", "question": "Who makes bearings?", "conversation": "c", "turn": 1},  # 10
        {"id": "c3", "question": "Since when?", "conversation": "c", "turn": 3},      # 11
        NONE,                                                                         # 12 fine
    ])
    qfile = pack / "questions.jsonl"
    result = run_eval(tmp_path, "--pack", str(pack), "--out", str(tmp_path / "out"))
    assert_broken(result, f"{qfile} has 8 bad rows; nothing was indexed or written",
                  f"{qfile}:2: not JSON (Expecting ',' delimiter",
                  f'{qfile}:3: "question" is empty',
                  f'{qfile}:4: no "id"',
                  f'{qfile}:6: "answers" must be a list of strings, not a string',
                  f'{qfile}:6: "answerable" must be true or false, not a string',
                  f"{qfile}:7: a list where a question object",
                  f"{qfile}:8: id 'fact' is already used on line 1",
                  f"{qfile}:9: not UTF-8 text (byte 0xe9",
                  f"{qfile}:10: conversation 'c' has turns [1, 3] (lines 10, 11)")
    assert f"{qfile}:1:" not in result.stderr and f"{qfile}:12:" not in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "out").exists() and not (tmp_path / "never-used").exists()


@pytest.mark.parametrize(("lines", "says"), [
    ([], "holds no questions"),
    ([{"id": 1.5, "question": "Who?"}], '"id" must be a string or a whole number, not a number'),
    ([{"id": "t", "question": "Who?", "conversation": "c", "turn": 0}], '"turn" must be a whole number from 1, not 0'),
    ([{"id": "g", "question": "Who?", "gold_files": ["a.txt", 3]}], '"gold_files" must be a list of strings; it holds a number'),
], ids=["no-questions", "id-a-float", "turn-zero", "gold-file-a-number"])
def test_other_broken_packs_are_refused_before_indexing(tmp_path: Path, lines: list[dict[str, Any]], says: str) -> None:
    pack = make_pack(tmp_path / "pack", list(lines))
    assert_broken(run_eval(tmp_path, "--pack", str(pack), "--out", str(tmp_path / "out")), says)
    assert not (tmp_path / "out").exists()


def test_a_corpus_with_nothing_to_index_is_a_broken_pack(tmp_path: Path) -> None:
    pack = make_pack(tmp_path / "pack", [FACT], corpus={"scan.txt": b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 8})
    result = run_eval(tmp_path, "--pack", str(pack), "--out", str(tmp_path / "out"))
    assert_broken(result, f"Nothing in {pack / 'corpus'} could be indexed (scan.txt: ")
    assert not (tmp_path / "out").exists()


# -- item 13: a question that fails while running ---------------------------------------------------


def test_a_question_that_fails_while_running_is_an_error_row_and_the_run_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Two failures: a real one (a question over CHATBOT_MAX_QUESTION_CHARS raises QuestionError) and an
    unexpected exception injected into Chatbot.ask for one unanswerable question."""
    long_q = dict(FACT, id="long", question=f"{FACT['question']} {FACT['question']}")  # over 150 characters
    boom = dict(NONE, id="boom", question="What is the boom of Australia?")
    pack = make_pack(tmp_path / "pack", [FACT, long_q, boom, NONE])
    real_ask = Chatbot.ask

    def ask(self: Chatbot, question: str, **kw: Any) -> Any:
        if "boom" in question:
            raise RuntimeError("the answerer broke")
        return real_ask(self, question, **kw)

    monkeypatch.setattr(Chatbot, "ask", ask)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHATBOT_MAX_QUESTION_CHARS", "150")
    out = tmp_path / "out"

    assert main(["eval", "--pack", str(pack), "--out", str(out)]) == 0  # no baseline: the run itself is sound
    printed = capsys.readouterr().out
    assert "errors=2" in printed and "2 questions failed to run and count as misses: long, boom" in printed

    rows = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["fact", "long", "boom", "none"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["fact"]["correct"] and by_id["none"]["refused"] and "error" not in by_id["fact"]
    assert by_id["long"]["error"].startswith(
        f"QuestionError: The question is {len(long_q['question'])} characters long; the limit is 150")
    assert by_id["boom"]["error"] == "RuntimeError: the answerer broke"
    for r in (by_id["long"], by_id["boom"]):
        assert r["passed"] is False and r["correct"] is False and r["refused"] is False
        assert r["answer"] == "" and r["citations"] == [] and r["retrieved"] == [] and r["gold_rank"] == 0
        assert r["run"]["embedding_model"] and r["latency_ms"] >= 0

    overall = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["overall"]
    assert overall["n"] == 4 and overall["errors"] == 2
    assert overall["accuracy"] == 0.5 and overall["hit@1"] == 0.5  # the failed answerable question is a miss
    assert overall["refusal_rate"] == 0.5  # ... and the failed unanswerable one is no refusal
    assert overall["pass_rate"] == 0.5

    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| boom | ERROR |" in md and "| fact | pass |" in md
    assert "| long |" not in md and "1 check question is not listed" in md  # "long" is a check question
    errors = md.split("## Errors", 1)[1]  # ... yet its error is listed: what broke, not what it answered
    assert "**boom**: RuntimeError: the answerer broke" in errors and "**long**: QuestionError" in errors
    assert "got an error: RuntimeError: the answerer broke" in md.split("## Failures", 1)[1]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert '<tr class="fail error" id="q-boom">' in page and "error: RuntimeError: the answerer broke" in page
    assert "Questions (3, 1 failing, 1 of them with an error)" in page
    assert f"Check questions that failed to run: long (QuestionError: The question is {len(long_q['question'])}" in page


# -- item 12 and the exit codes: what cannot run is refused before the run, with exit 2 --------------


@pytest.fixture(scope="module")
def tiny_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pack(tmp_path_factory.mktemp("tiny") / "pack", [FACT, NONE])


def test_out_an_existing_file_is_refused_naming_the_fix(tiny_pack: Path, tmp_path: Path) -> None:
    (tmp_path / "report.txt").write_text("keep me", encoding="utf-8")
    result = run_eval(tmp_path, "--pack", str(tiny_pack), "--out", "report.txt")
    assert_broken(result, "--out report.txt is a file, not a folder. Give a folder for the results")
    assert (tmp_path / "report.txt").read_text(encoding="utf-8") == "keep me"
    under = run_eval(tmp_path, "--pack", str(tiny_pack), "--out", "report.txt/run1")
    assert_broken(under, "--out report.txt/run1 cannot be made: report.txt is a file")


@pytest.mark.parametrize(("baseline", "says"), [
    (None, "not found. Create it with `python evals/baseline.py OUT/metrics.json"),
    (b'{"overall": {"accuracy": 0.9,}}', "is not JSON (Expecting property name enclosed in double quotes at line 1, column 30)"),
    (b"\xff\xfe{}", "is not UTF-8 text"),
    (b'[{"accuracy": 0.9}]', "is not a baseline: it is not a JSON object"),
    (b'{"by_lang": {}}', 'is not a baseline: it has no "overall" object of metrics'),
    (b'{"overall": {"accuracy": "high"}, "tolerance": {"default": "small"}}',
     '"tolerance" must map metric names to numbers; overall: accuracy must be numbers'),
], ids=["missing", "not-json", "not-utf8", "a-list", "no-overall", "wrong-types"])
def test_a_baseline_that_cannot_be_gated_on_is_refused_before_the_run(tiny_pack: Path, tmp_path: Path,
                                                                      baseline: bytes | None, says: str) -> None:
    path = tmp_path / "base.json"
    if baseline is not None:
        path.write_bytes(baseline)
    result = run_eval(tmp_path, "--pack", str(tiny_pack), "--out", "out", "--baseline", str(path))
    assert_broken(result, f"Baseline {path} ", says)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "env", "says"), [
    (["--pack", "no-such-pack"], {}, "no-such-pack is not an eval pack: it needs corpus/ and questions.jsonl"),
    (["--pack", ""], {}, "argument --pack: an empty path"),
    (["--pack", "PACK"], {"CHATBOT_RETRIEVAL": "magic"}, "invalid setting: CHATBOT_RETRIEVAL"),
    (["--pack", "PACK", "--judge"], {}, "--judge needs an LLM endpoint"),
], ids=["pack-missing", "pack-empty-path", "bad-setting", "judge-without-endpoint"])
def test_a_run_that_cannot_start_exits_2(tiny_pack: Path, tmp_path: Path, args: list[str], env: dict[str, str],
                                         says: str) -> None:
    args = [str(tiny_pack) if a == "PACK" else a for a in args]
    assert_broken(run_eval(tmp_path, *args, "--out", "out", **env), says)
    assert not (tmp_path / "out").exists()


def test_compare_of_a_damaged_run_or_into_a_file_is_refused(tmp_path: Path) -> None:
    for run in ("old", "new"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "metrics.json").write_text("{}", encoding="utf-8")
    (tmp_path / "old" / "results.jsonl").write_text('{"id": "a"}\n{"id": ', encoding="utf-8")
    (tmp_path / "new" / "results.jsonl").write_text("", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "chatbot.cli", "eval", "--compare", "old", "new"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert_broken(result, "old holds a damaged eval run", "Run `chatbot eval --pack PACK --out old` again")
    (tmp_path / "cmp").write_text("", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "chatbot.cli", "eval", "--compare", "new", "new", "--out", "cmp"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert_broken(result, "--out cmp is a file, not a folder")
