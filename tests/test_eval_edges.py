"""`chatbot eval` on broken input (issue 27, item 13), on tiny packs made here.

Every bad row of a pack is named with FILE:LINE before anything is indexed.
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

ROOT = Path(__file__).resolve().parent.parent
BEARINGS = "004_e82685cb10df071e.txt"
FACT = {"id": "fact", "lang": "en", "question": "Which Luoyang company ranked sixth among China's top ten bearing companies?",
        "answers": ["Xinqianglian"], "gold_files": [BEARINGS]}
NONE = {"id": "none", "lang": "en", "question": "What is the capital of Australia?", "answers": [], "gold_files": [],
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
