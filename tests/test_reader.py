"""The trained reader: every extractive answer carries a calibrated `confidence`; below
`CHATBOT_MIN_CONFIDENCE` the answer is refused; the model ships with the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chatbot.answering import features
from chatbot.answering.reader import META_PATH, MODEL_PATH, Reader
from chatbot.errors import ConfigError
from chatbot.types import Answer
from chatbot.web.render import answer_html, turn_record

REPO = Path(__file__).resolve().parent.parent
CEREMONY_Q = "Which companies were awarded medals at the Luoyang landmark equipment licensing ceremony?"
OFF_TOPIC_Q = "How many penguins live on the glaciers of the Qinling wind farm?"


def ask(data_dir: Path, question: str, **env: str) -> dict[str, object]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    full.update(CHATBOT_DATA_DIR=str(data_dir), **env)
    result = subprocess.run([sys.executable, "-m", "chatbot.cli", "ask", question, "--json", "--explain"], cwd=REPO,
                            env=full, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_the_model_files_ship_beside_the_reader_and_match_its_features() -> None:
    meta = json.loads(META_PATH.read_text(encoding="utf-8"))
    assert MODEL_PATH.stat().st_size < 1_000_000, "package data stays small"
    assert tuple(meta["features"]) == features.FEATURES
    xs, ys = meta["calibration"]["x"], meta["calibration"]["y"]
    assert xs == sorted(xs) and ys == sorted(ys) and 0.0 <= ys[0] <= ys[-1] <= 1.0
    assert set(meta["check"]) == {"seeds", "rgb-dev", "squad2-dev", "cmrc-dev"}


def test_a_model_fitted_on_other_features_is_refused_with_the_fix(tmp_path: Path) -> None:
    meta = json.loads(META_PATH.read_text(encoding="utf-8"))
    meta["features"] = meta["features"][:-1]
    other = tmp_path / "reader.json"
    other.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ConfigError, match="make train"):
        Reader(MODEL_PATH, other).probabilities(np.zeros((1, len(features.FEATURES)), dtype=np.float32))


def test_answers_carry_a_confidence_and_a_sure_answer_beats_a_guess(seeded_data_dir: Path) -> None:
    answered = ask(seeded_data_dir, CEREMONY_Q)
    refused = ask(seeded_data_dir, OFF_TOPIC_Q)
    assert not answered["refused"] and refused["refused"]
    for data in (answered, refused):
        assert isinstance(data["confidence"], float) and 0.0 <= data["confidence"] <= 1.0
        assert data["trace"]["confidence"] == data["confidence"]
        assert 0.0 <= data["trace"]["best_candidate"] <= 1.0
    # a refusal shows no answer: nothing to be right about, so 0 (the trace keeps the best candidate's)
    assert answered["confidence"] > refused["confidence"] == 0.0
    assert answered["trace"]["best_candidate"] >= answered["confidence"]


def test_below_the_minimum_confidence_an_answer_is_refused_saying_why(seeded_data_dir: Path) -> None:
    data = ask(seeded_data_dir, CEREMONY_Q, CHATBOT_MIN_CONFIDENCE="0.999")
    assert data["refused"] and not data["citations"] and data["confidence"] == 0.0
    assert "CHATBOT_MIN_CONFIDENCE" in data["trace"]["refusal"]
    assert data["related"], "the passage it would have quoted is still shown as related"


def test_the_chat_shows_the_confidence() -> None:
    answer = Answer(question="q", answer="It is 42. [1]", refused=False, citations=(), retrieved=(), mode="extractive",
                    latency_ms=12.0, confidence=0.634)
    assert "confidence 63%" in answer_html(turn_record(answer), 0)
    refused = Answer(question="q", answer="The documents do not answer this question.", refused=True, citations=(),
                     retrieved=(), mode="extractive", latency_ms=12.0, confidence=0.0)
    assert "confidence" not in answer_html(turn_record(refused), 0)  # a refusal has no answer to rate
    assert "confidence" not in answer_html(turn_record(Answer(question="q", answer="x", refused=False, citations=(),
                                                              retrieved=(), mode="llm", latency_ms=1.0)), 0)
