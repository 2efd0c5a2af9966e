"""Named answer steps: one registry, each switchable, each reported in the answer's trace
(`chatbot ask --explain`, `--json --explain` as `trace`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.answering.extractive import ExtractiveAnswerer
from chatbot.answering.steps import REGISTRY, STAGES, Steps
from chatbot.errors import ConfigError
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.retrieval.question import Question
from chatbot.types import Chunk, ScoredChunk

REPO = Path(__file__).resolve().parent.parent
CEREMONY_Q = "Which companies were awarded medals at the Luoyang landmark equipment licensing ceremony?"


def passage(name: str, text: str, lang: str = "en") -> ScoredChunk:
    chunk = Chunk(id=name, doc_id=name, file=f"{name}.txt", title=name, text=text, start_char=0,
                  end_char=len(text), lang=lang, seq=1)
    return ScoredChunk(chunk, 1.0)


def answer(answerer: ExtractiveAnswerer, question: str, *texts: str):  # type: ignore[no-untyped-def]
    q = Question.parse(question)
    ranked = [passage(chr(97 + i), t) for i, t in enumerate(texts)]
    return answerer.answer(q, ranked, answerer.embeddings.embed_array([q.text])[0], {})


def test_every_step_is_named_once_with_a_stage_and_a_reason() -> None:
    assert len(REGISTRY) >= 30 and {step.stage for step in REGISTRY.values()} == set(STAGES)  # every module registered
    for name, step in REGISTRY.items():
        assert name == step.name and step.stage in STAGES and step.doc.strip(), step
        assert step.kind in ("reject", "feature", "rule")
        assert (step.fn is not None) == (step.kind != "rule"), step


def test_an_unknown_step_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"names no step no_such_step.*Known steps: .*weak_evidence"):
        Steps(["weak_evidence", "no_such_step"])


def test_switching_a_step_off_changes_what_it_decides(embeddings: BundledEmbeddings) -> None:
    """A year the question names must appear in the file, unless that step is off."""
    question = "How many turbines did the Qinling wind farm install in 2021?"
    text = "The Qinling wind farm installed 48 turbines on the ridge."
    on = answer(ExtractiveAnswerer(embeddings), question, text)
    off = answer(ExtractiveAnswerer(embeddings, steps=Steps(["question_numbers"])), question, text)
    assert on.refused and "2021" in on.trace["passed_over"][0]["verdict"]
    assert not off.refused and "48 turbines" in off.text
    assert off.trace["steps_off"] == ["question_numbers"]


def test_the_trace_names_the_steps_that_chose_a_quote_and_those_that_rejected_others(
        embeddings: BundledEmbeddings) -> None:
    draft = answer(ExtractiveAnswerer(embeddings), "When did the Qinling wind farm start operating?",
                   "The Qinling wind farm operations ended on 3 May 2019.",
                   "The Qinling wind farm started operating on 12 March 2015, with 48 turbines.")
    assert "12 March 2015" in draft.text and not draft.refused
    chosen = draft.trace["chosen"][0]
    assert chosen["verdict"] == "quoted" and "12 March 2015" in chosen["quote"]
    assert {"kind_asked_bonus", "whole_date"} <= {s["step"] for s in chosen["steps"]}
    ended = next(p for p in draft.trace["passed_over"] if "ended" in p["quote"])
    assert "other end" in ended["verdict"]
    assert any(s["step"] == "other_end_of_the_event" for s in ended["steps"])


def test_a_refusal_says_why(embeddings: BundledEmbeddings) -> None:
    draft = answer(ExtractiveAnswerer(embeddings), "When did the Qinling wind farm start operating?",
                   "The Qinling wind farm has 48 turbines on the ridge above the valley.")
    assert draft.refused
    assert draft.trace["refusal"] and draft.trace["chosen"] == []
    assert draft.trace["passed_over"][0]["verdict"]


def cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    full.update(CHATBOT_DATA_DIR=str(data_dir), **env)
    return subprocess.run([sys.executable, "-m", "chatbot.cli", *args], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=180, check=False)


def test_ask_explain_prints_why_and_json_carries_the_trace(seeded_data_dir: Path) -> None:
    plain = cli(seeded_data_dir, "ask", CEREMONY_Q, "--explain")
    assert plain.returncode == 0, plain.stderr
    assert "\nWhy:\n" in plain.stdout and "  quoted  000_9e53f5965d956f18.txt" in plain.stdout
    assert "chunk_rank (score)" in plain.stdout
    data = json.loads(cli(seeded_data_dir, "ask", CEREMONY_Q, "--json", "--explain").stdout)
    assert {"chosen", "passed_over", "refusal", "sentences_read"} <= set(data["trace"])
    assert data["trace"]["chosen"][0]["file"] == data["citations"][0]["file"]
    assert "trace" not in json.loads(cli(seeded_data_dir, "ask", CEREMONY_Q, "--json").stdout)


def test_ask_explain_says_why_it_refused(seeded_data_dir: Path) -> None:
    result = cli(seeded_data_dir, "ask", "When did the Qinling wind farm on Mars start operating?", "--explain")
    assert result.returncode == 0 and "Refused: " in result.stdout


def test_steps_switched_off_in_settings_reach_the_answerer(seeded_data_dir: Path) -> None:
    data = json.loads(cli(seeded_data_dir, "ask", CEREMONY_Q, "--json", "--explain",
                          CHATBOT_ANSWER_STEPS_OFF="whole_date, chunk_rank").stdout)
    assert data["trace"]["steps_off"] == ["chunk_rank", "whole_date"]
    bad = cli(seeded_data_dir, "ask", CEREMONY_Q, CHATBOT_ANSWER_STEPS_OFF="chunk_ranks")
    assert bad.returncode == 1 and "names no step chunk_ranks" in bad.stderr and "Traceback" not in bad.stderr
