"""Server mode: the same code against a real `chroma run` on loopback.

Each test uses its own collection on the session's server and its own data directories, so the
app processes here share nothing but the server, as two machines of a team would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import REPO_ROOT, ChromaServer

from chatbot.app import build
from chatbot.errors import IndexMissingError, StoreUnavailableError
from chatbot.index import store as store_module
from chatbot.index.embeddings import BundledEmbeddings

MEDALS_Q = "Which enterprises received medals at Luoyang's landmark high-end equipment ceremony?"
MEDALS_FILE = "000_9e53f5965d956f18.txt"
ZH_FILE = "001_012aab4d7e564c44.txt"


def new_collection() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def cited_files(answer) -> set[str]:  # type: ignore[no-untyped-def]
    return {c.file for c in answer.citations}


@pytest.fixture(scope="module")
def shared(chroma_server: ChromaServer, seeds_dir: Path, embeddings: BundledEmbeddings,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The seeds ingested once into a collection of the server; returns (collection, corpus)."""
    corpus = tmp_path_factory.mktemp("server-corpus")
    for path in sorted(seeds_dir.glob("*.txt")):
        (corpus / path.name).write_bytes(path.read_bytes())
    collection = new_collection()
    bot = build(chroma_server.settings(tmp_path_factory.mktemp("writer") / "data", collection), embeddings=embeddings)
    report = bot.ingest([corpus], progress=False)
    assert len(report.added) == 5 and report.chunks_added > 5, report.summary()
    return collection, corpus


def test_ingest_ask_and_reingest_against_the_server(
    chroma_server: ChromaServer, shared: tuple[str, Path], embeddings: BundledEmbeddings, tmp_path: Path
) -> None:
    collection, corpus = shared
    # a reader with an empty data directory: everything comes from the server
    reader = build(chroma_server.settings(tmp_path / "reader", collection), embeddings=embeddings)
    assert len(reader.documents()) == 5
    answer = reader.ask(MEDALS_Q)
    assert not answer.refused and MEDALS_FILE in cited_files(answer)
    for c in answer.citations:  # quotes are exact against the text kept on the server
        assert reader.document_text(c.doc_id)[c.start_char : c.end_char] == c.quote
    store = reader.store()
    owned = store.manifest.owned_ids()
    assert store.keywords.ids() == owned == store.all_ids(), "keyword cache not synced from the server"
    assert not list((tmp_path / "reader" / "texts").glob("*.txt")), "server mode keeps texts on the server"

    again = build(chroma_server.settings(tmp_path / "again", collection), embeddings=embeddings).ingest([corpus], progress=False)
    assert again.chunks_added == 0 and len(again.unchanged) == 5 and not again.removed


def test_a_running_app_sees_another_process_add_and_remove(
    chroma_server: ChromaServer, seeds_dir: Path, embeddings: BundledEmbeddings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_module, "SYNC_INTERVAL_S", 0.0)
    collection = new_collection()
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / ZH_FILE).write_bytes((seeds_dir / ZH_FILE).read_bytes())
    writer = build(chroma_server.settings(tmp_path / "w", collection), embeddings=embeddings)
    writer.ingest([folder], progress=False)
    reader = build(chroma_server.settings(tmp_path / "r", collection), embeddings=embeddings)
    assert [e.file for e in reader.documents()] == [ZH_FILE]
    assert MEDALS_FILE not in cited_files(reader.ask(MEDALS_Q))

    (folder / MEDALS_FILE).write_bytes((seeds_dir / MEDALS_FILE).read_bytes())
    assert writer.ingest([folder], progress=False).added == [MEDALS_FILE]
    assert MEDALS_FILE in cited_files(reader.ask(MEDALS_Q)), "the running reader missed the new file"
    assert reader.store().keywords.ids() == reader.store().manifest.owned_ids()

    removed = writer.remove_document(MEDALS_FILE)
    assert [e.file for e in reader.documents()] == [ZH_FILE]
    assert not set(removed.chunk_ids) & reader.store().all_ids()
    assert not set(removed.chunk_ids) & reader.store().keywords.ids()
    assert MEDALS_FILE not in {sc.chunk.file for sc in reader.ask(MEDALS_Q).retrieved}


def test_two_cli_processes_share_one_server(
    chroma_server: ChromaServer, seeds_dir: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(chroma_server.env(new_collection()))

    def cli(data_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chatbot.cli", *args], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=180, env={**env, "CHATBOT_DATA_DIR": str(tmp_path / data_dir)})

    ingest = cli("a", "ingest", str(seeds_dir / MEDALS_FILE))
    assert ingest.returncode == 0, ingest.stderr
    ask = cli("b", "ask", MEDALS_Q, "--json")
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert not answer["refused"] and MEDALS_FILE in {c["file"] for c in answer["citations"]}


def test_server_down_gives_a_clear_error_and_recovers(
    seeds_dir: Path, embeddings: BundledEmbeddings, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = ChromaServer(tmp_path_factory.mktemp("outage"))
    server.start()
    try:
        settings = server.settings(tmp_path / "data", "outage")
        bot = build(settings, embeddings=embeddings)
        bot.ingest([seeds_dir / MEDALS_FILE], progress=False)
        assert MEDALS_FILE in cited_files(bot.ask(MEDALS_Q))

        server.stop()
        with pytest.raises(StoreUnavailableError) as down:
            bot.ask(MEDALS_Q)
        assert f"127.0.0.1:{server.port}" in str(down.value) and "chroma run" in str(down.value)
        with pytest.raises(StoreUnavailableError, match="chroma run"):
            build(settings, embeddings=embeddings).documents()  # a new process cannot open it either

        server.start()  # same path and port: the session goes on
        assert MEDALS_FILE in cited_files(bot.ask(MEDALS_Q))
    finally:
        server.stop()


def test_empty_server_says_to_ingest(chroma_server: ChromaServer, embeddings: BundledEmbeddings,
                                     tmp_path: Path) -> None:
    bot = build(chroma_server.settings(tmp_path / "data", new_collection()), embeddings=embeddings)
    with pytest.raises(IndexMissingError, match="chatbot ingest"):
        bot.ask(MEDALS_Q)
