"""The `chatbot` command as a user runs it: a subprocess of the real entry point."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.citations import markers
from chatbot.config import Settings
from chatbot.loaders import load_file

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS = REPO_ROOT / "seeds"
MEDALS_Q = "Which enterprises received medals at Luoyang's landmark high-end equipment ceremony?"
DESIGN_CITATION_KEYS = {"n", "file", "title", "quote", "start_char", "end_char"}


# Settings a developer's .env (read from the repo root) could change: pinned to the defaults the
# seeded index was built with, so these tests measure the product, not the local setup.
PINNED = {
    f"CHATBOT_{name.upper()}": str(Settings.model_fields[name].default)
    for name in ("chunk_tokens", "chunk_overlap_tokens", "answer_mode")
}


def chatbot(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m chatbot.cli ARGS` from the repo root on `data_dir`."""
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}  # seed its own cache
    env.update(PINNED, CHATBOT_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "chatbot.cli", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout


def ask_json(data_dir: Path, question: str) -> dict[str, object]:
    result = chatbot(data_dir, "ask", question, "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one JSON line, got: {result.stdout!r}"
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    return data


# -- errors become clean messages --------------------------------------------------------------


def test_ask_before_ingest_says_to_ingest(tmp_path: Path) -> None:
    result = chatbot(tmp_path / "data", "ask", "What is in the documents?")
    assert_clean_failure(result)
    assert "chatbot ingest" in result.stderr
    assert result.stdout == ""


def test_ingest_of_a_missing_path_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = chatbot(tmp_path / "data", "ingest", str(missing))
    assert_clean_failure(result)
    assert str(missing) in result.stderr and "Not found" in result.stderr
    assert not (tmp_path / "data" / "manifest.json").exists()


# -- ingest -------------------------------------------------------------------------------------


def test_ingest_defaults_to_seeds_and_prints_a_summary(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = chatbot(data_dir, "ingest")
    assert result.returncode == 0, result.stderr
    assert "5 added, 0 updated, 0 unchanged, 0 removed, 0 skipped" in result.stdout
    assert "chunks embedded" in result.stdout
    assert f"index: {data_dir}" in result.stdout and "from 5 files" in result.stdout
    assert "Traceback" not in result.stderr

    again = chatbot(data_dir, "ingest")
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 updated, 5 unchanged" in again.stdout and "0 chunks embedded" in again.stdout


def test_ingest_reports_each_skipped_file(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    name = "000_9e53f5965d956f18.txt"
    (folder / name).write_bytes((SEEDS / name).read_bytes())
    binary = folder / "scan.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(random.Random(5).randrange(256) for _ in range(2000)))

    result = chatbot(tmp_path / "data", "ingest", str(folder))

    assert result.returncode == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 1, result.stderr
    assert skipped[0].startswith(f"skipped {binary.resolve()}: ")
    assert "binary" in skipped[0]
    assert "1 added" in result.stdout and "1 skipped" in result.stdout
    assert "Traceback" not in result.stderr


# -- ask --json on the seeded index ---------------------------------------------------------------


def test_ask_json_has_the_documented_shape_and_cites_the_ceremony(seeded_data_dir: Path) -> None:
    data = ask_json(seeded_data_dir, MEDALS_Q)
    assert {"answer", "refused", "citations", "retrieved", "latency_ms"} <= set(data)
    assert isinstance(data["answer"], str) and data["answer"]
    assert data["refused"] is False
    assert isinstance(data["latency_ms"], (int, float)) and data["latency_ms"] >= 0
    assert isinstance(data["retrieved"], list) and all(isinstance(f, str) for f in data["retrieved"])
    citations = data["citations"]
    assert isinstance(citations, list) and citations
    for c in citations:
        assert DESIGN_CITATION_KEYS <= set(c)
        # the quote is the seed's normalized text at [start_char, end_char)
        text = load_file(SEEDS / c["file"], c["file"], 20_000_000).text
        assert text[c["start_char"] : c["end_char"]] == c["quote"]
    assert "000_9e53f5965d956f18.txt" in {c["file"] for c in citations}
    assert "000_9e53f5965d956f18.txt" in data["retrieved"]
    # every [n] in the answer maps to exactly one citation, and every citation is used
    ns = [c["n"] for c in citations]
    assert len(ns) == len(set(ns))
    assert set(markers(data["answer"])) == set(ns)


def test_ask_json_unanswerable_is_refused(seeded_data_dir: Path) -> None:
    data = ask_json(seeded_data_dir, "What is the capital of Australia?")
    assert data["refused"] is True
    assert data["citations"] == []
    assert not markers(str(data["answer"]))


def test_ask_plain_prints_answer_and_sources(seeded_data_dir: Path) -> None:
    result = chatbot(seeded_data_dir, "ask", MEDALS_Q)
    assert result.returncode == 0, result.stderr
    answer, sep, sources = result.stdout.partition("\nSources:\n")
    assert sep and answer.strip()
    assert "000_9e53f5965d956f18.txt" in sources
    for n in set(markers(answer)):
        assert f"[{n}] " in sources


@pytest.mark.parametrize("args", [["ask"], ["frobnicate"], []])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = chatbot(tmp_path / "data", *args)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "Traceback" not in result.stderr
