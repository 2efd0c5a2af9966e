"""The web surface under abuse (issue 27), over real HTTP against `chatbot serve`."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import web_server
from web_server import Server

from chatbot.app import Chatbot
from chatbot.config import Settings
from chatbot.embeddings import BundledEmbeddings
from chatbot.ui import ChatUI

JUNK = ["*", "🙂🎉👍", "\u200b\u200b\u200b", "?!  ..."]
HUGE = "medals" * 875_000  # 5.25 MB, one unbroken word


@pytest.fixture(scope="module")
def open_server(seeded_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("hardening")
    shutil.copytree(seeded_data_dir, base / "open")
    server = web_server.start(base / "open", base / "open.log")
    try:
        web_server.wait_ready(server)
        yield server
    finally:
        web_server.stop([server])


@pytest.fixture
def ui(seeded_data_dir: Path, embeddings: BundledEmbeddings) -> ChatUI:
    settings = Settings(data_dir=seeded_data_dir, _env_file=None)  # type: ignore[call-arg]
    return ChatUI(Chatbot(settings, embeddings))


def last_reply(ui: ChatUI, question: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The chat and the session's turns after the chat handler has answered `question`."""
    *_, (_box, chat, turns, *_rest) = list(ui.respond(question, [], [], "extractive", 6))
    return chat, turns


# -- 8 and 9: questions too long, or with nothing to search ---------------------------------------


def test_chat_refuses_a_megabyte_question_with_the_fix_and_echoes_only_its_start(ui: ChatUI) -> None:
    t0 = time.perf_counter()
    chat, turns = last_reply(ui, HUGE)
    assert time.perf_counter() - t0 < 5
    assert 'class="msg-a error"' in chat[-1]["content"]
    assert "5,250,000 characters" in chat[-1]["content"] and "CHATBOT_MAX_QUESTION_CHARS" in chat[-1]["content"]
    # the page and the session keep a few hundred characters of it, not five megabytes
    assert len(chat[0]["content"]) < 1000 and "(5,250,000 characters)" in chat[0]["content"]
    assert len(turns[0]["question"]) < 1000


@pytest.mark.parametrize("question", JUNK)
def test_chat_refuses_a_question_with_nothing_to_search(ui: ChatUI, question: str) -> None:
    chat, turns = last_reply(ui, question)
    assert "refusal" in chat[-1]["content"] and "no words or numbers to search for" in chat[-1]["content"]
    assert turns[-1]["refused"] is True and turns[-1]["citations"] == [] and "[1]" not in chat[-1]["content"]


def test_api_refuses_a_multi_megabyte_question_at_once(open_server: Server) -> None:
    from gradio_client import Client

    api = Client(open_server.url, verbose=False)
    t0 = time.perf_counter()
    result = api.predict(HUGE, api_name="/ask")
    assert time.perf_counter() - t0 < 10  # about 0.3 s here; 95 s of CPU before the limit
    assert "5,250,000 characters long; the limit is 4,000 (CHATBOT_MAX_QUESTION_CHARS)" in result["error"]
    assert len(result["question"]) < 1000, "a refused question is not sent back whole"
    for question in JUNK:
        result = api.predict(question, api_name="/ask")
        assert result["refused"] is True and "no words or numbers to search for" in result["answer"]
        assert result["citations"] == []
