"""The chat handler in LLM mode against the fake OpenAI-compatible server (real HTTP on loopback):
the reply streams into the chat, then the checked answer replaces it, labelled with its mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply, serve

from chatbot.app import build
from chatbot.config import Settings
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.web.ui import ChatUI

QUESTION = "Which enterprises received medals at Luoyang's landmark high-end equipment ceremony?"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serve() as server:
        yield server


@pytest.fixture
def ui(fake: FakeOpenAI, seeded_data_dir: Path, embeddings: BundledEmbeddings) -> ChatUI:
    fake.reset()
    settings = Settings(data_dir=seeded_data_dir, answer_mode="llm", openai_base_url=fake.base_url,  # type: ignore[call-arg]
                        llm_model="fake-model", llm_timeout_s=5.0, llm_max_retries=0, _env_file=None)
    return ChatUI(build(settings, embeddings=embeddings))


def test_llm_reply_streams_then_shows_checked_answer_with_mode(ui: ChatUI, fake: FakeOpenAI) -> None:
    assert ui.modes == ["extractive", "llm"]
    text = "The ceremony was held by the Luoyang Municipal Bureau of Industry and Information Technology [1]."
    fake.script(Reply(text, pieces=6, delay_s=0.05))
    outputs, shown = [], []
    for out in ui.respond(QUESTION, [], [], "llm", 6):  # the chat list is reused: look at each step
        outputs.append(out)
        shown.append(out[1][-1]["content"])
    streamed = [s for s in shown if "streaming" in s]
    assert len({len(s) for s in streamed}) >= 3, "the reply did not arrive in pieces"
    final_chat, turns = outputs[-1][1], outputs[-1][2]
    assert turns[0]["mode"] == "llm" and turns[0]["citations"]
    assert "answered in LLM mode" in final_chat[-1]["content"]
    assert 'class="cite-ref cref-0-c-1"' in final_chat[-1]["content"]
    assert "Answered in <b>LLM mode</b>" in outputs[-1][3]


def test_extractive_choice_skips_the_model(ui: ChatUI, fake: FakeOpenAI) -> None:
    outputs = list(ui.respond(QUESTION, [], [], "extractive", 6))
    assert outputs[-1][2][0]["mode"] == "extractive"
    assert "extractive mode" in outputs[-1][1][-1]["content"]
    assert fake.chat_requests == []


def test_endpoint_failure_falls_back_with_a_notice(ui: ChatUI, fake: FakeOpenAI) -> None:
    from fake_openai import Fail

    fake.script(Fail(500), Fail(500), Fail(500))
    outputs = list(ui.respond(QUESTION, [], [], "llm", 6))
    message = outputs[-1][1][-1]["content"]
    assert "msg-notice" in message and "extractive mode" in message
