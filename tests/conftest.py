"""Shared fixtures: isolated settings, one embedding model, one seeded index per session.

Every test runs against real parts (the bundled model, a temp Chroma directory). Nothing here
reads the developer's environment or `.env`: settings are built explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatbot.config import Settings
from chatbot.index.embeddings import BundledEmbeddings

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = REPO_ROOT / "seeds"

_ISOLATING_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}


def _scrub_environment(mp: pytest.MonkeyPatch) -> None:
    """Drop CHATBOT_* and OPENAI_* variables; set the variables that keep Gradio offline."""
    for name in list(os.environ):
        if name.startswith(("CHATBOT_", "OPENAI_")):
            mp.delenv(name)
    for name, value in _ISOLATING_ENV.items():
        mp.setenv(name, value)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for `data_dir`, ignoring any `.env` file; keyword arguments override fields."""
    return Settings(data_dir=data_dir, _env_file=None, **overrides)  # type: ignore[call-arg]


@pytest.fixture(scope="session", autouse=True)
def _clean_session_environment() -> Iterator[None]:
    """Session-scoped fixtures (the seeded index) run before function fixtures: scrub for them."""
    with pytest.MonkeyPatch.context() as mp:
        _scrub_environment(mp)
        yield


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without CHATBOT_*/OPENAI_* variables, whatever an earlier test left."""
    _scrub_environment(monkeypatch)


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """`settings_factory(**overrides)`: Settings whose data_dir is this test's `tmp_path/data`.

    Calling it twice in one test gives the same data_dir (with other overrides, e.g. another
    chunk_tokens); pass `data_dir=` to point at another directory (such as `seeded_data_dir`).
    """

    def make(data_dir: Path | None = None, **overrides: Any) -> Settings:
        return make_settings(data_dir if data_dir is not None else tmp_path / "data", **overrides)

    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per browser test module (each test opens its own context)."""
    import web_server

    with web_server.chromium() as b:
        yield b


@pytest.fixture(scope="session")
def embeddings() -> BundledEmbeddings:
    """One bundled model for the session (loading it takes about a second)."""
    return BundledEmbeddings(threads=2)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The repository's seed corpus (read-only: copy it before changing files)."""
    return SEEDS_DIR


@pytest.fixture(scope="session")
def seeded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the five seeds, ingested once per session. Only read from it."""
    from chatbot.app import build

    data_dir = tmp_path_factory.mktemp("seeded") / "data"
    report = build(make_settings(data_dir)).ingest([SEEDS_DIR], progress=False)
    assert len(report.added) == 5 and not report.skipped, report.summary()
    return data_dir


# -- a real Chroma server on loopback (server mode) ----------------------------------------------


class ChromaServer:
    """`chroma run` on 127.0.0.1 with its own data path; `stop()` and `start()` again (same port
    and path) simulate an outage. Its `settings(data_dir, collection)` point the app at it."""

    def __init__(self, path: Path) -> None:
        import socket

        self.path = path
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.proc: Any = None

    def start(self, timeout: float = 60.0) -> None:
        import subprocess
        import sys
        import time
        import urllib.request

        chroma = Path(sys.executable).parent / "chroma"
        self.proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not answer on port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - a server that ignores SIGTERM is killed
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def env(self, collection: str) -> dict[str, str]:
        return {"CHATBOT_CHROMA_HOST": "127.0.0.1", "CHATBOT_CHROMA_PORT": str(self.port),
                "CHATBOT_COLLECTION": collection}

    def settings(self, data_dir: Path, collection: str, **overrides: Any) -> Settings:
        return make_settings(data_dir, chroma_host="127.0.0.1", chroma_port=self.port,
                             collection=collection, **overrides)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One Chroma server for the session (tests use their own collections on it)."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
