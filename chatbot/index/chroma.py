"""Chroma's one home: clients (embedded or server), collections, and what its errors mean.

Embedded mode keeps one client per data directory per process (`ProcessClient`): Chroma holds a
collection's vector index in memory, so when another process has written, the client is stopped
and opened afresh and the next read sees what is on disk. Server mode retries a failed
connection once, then says how to start the server (`call`).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import chromadb
import httpx
from chromadb.api.shared_system_client import SharedSystemClient
from langchain_chroma import Chroma

from chatbot.config import Settings
from chatbot.errors import ChatbotError, IndexDamagedError, StoreUnavailableError
from chatbot.index.datadir import disk_full, no_space, read_only
from chatbot.index.embeddings import BundledEmbeddings

log = logging.getLogger(__name__)
T = TypeVar("T")
CONNECTION_ERRORS = (httpx.TransportError, ConnectionError)
RETRY_PAUSE_S = 0.5


def unavailable(settings: Settings, exc: BaseException) -> StoreUnavailableError:
    host, port = settings.chroma_host, settings.chroma_port
    return StoreUnavailableError(
        f"Cannot reach the Chroma server at {host}:{port} ({exc}). Start it with "
        f"`chroma run --path DIR --host {host} --port {port}` (or fix CHATBOT_CHROMA_HOST/"
        "CHATBOT_CHROMA_PORT), or unset CHATBOT_CHROMA_HOST to use the embedded store."
    )


def translate_error(settings: Settings, exc: Exception) -> ChatbotError | None:
    """A clear error for what Chroma's own message says about the data directory, if it says."""
    if no_space(exc):
        return disk_full(settings.data_dir, exc)
    text = str(exc).lower()
    if "readonly database" in text or "read-only file system" in text:
        return read_only(settings.data_dir, exc)
    if "error finding id" in text or "error executing plan" in text:
        return IndexDamagedError(
            f"Chroma's index in {settings.chroma_dir} does not agree with itself ({exc}). Run "
            "`chatbot check` to see what is wrong and `chatbot check --repair` to mend it."
        )
    return None


def open_client(settings: Settings) -> chromadb.ClientAPI:
    chroma_settings = chromadb.config.Settings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                       settings=chroma_settings)
        except Exception as exc:  # chromadb raises plain ValueError/ConnectionError here
            raise unavailable(settings, exc) from exc
    try:
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        # Opening a new directory creates Chroma's tables; two processes doing that at once (two
        # ingests started together, or serve beside an ingest) fail with "table collections
        # already exists". One opener at a time, for the moment it takes.
        with (settings.data_dir / "chroma.open.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError as exc:
        if no_space(exc):
            raise disk_full(settings.data_dir, exc) from exc
        raise read_only(settings.data_dir, exc) from exc
    except Exception as exc:  # chromadb's InternalError for a read-only or full disk
        clear = translate_error(settings, exc)
        if clear is None:
            raise
        raise clear from exc


class ProcessClient:
    """This process's Chroma client of one embedded data directory. Chroma keeps one `System`
    per path in a process and holds the vector index in memory, so when another process has
    written, the System is stopped and opened anew: the next open reads what is on disk."""

    _by_dir: ClassVar[dict[Path, ProcessClient]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings: Settings) -> None:
        self.client = open_client(settings)
        self.generation: str | None = None  # the data dir generation the client has seen
        self.epoch = 0  # how many times it was opened anew

    @classmethod
    def of(cls, settings: Settings) -> ProcessClient:
        key = settings.chroma_dir.resolve()
        with cls._guard:
            if key not in cls._by_dir:
                cls._by_dir[key] = cls(settings)
            return cls._by_dir[key]

    def reopen(self, settings: Settings) -> None:
        """Callers hold the data dir lock exclusively within this process: nobody uses the old
        client while it stops."""
        identifier = getattr(self.client, "_identifier", str(settings.chroma_dir))
        system = SharedSystemClient._identifier_to_system.pop(identifier, None)
        SharedSystemClient._identifier_to_refcount.pop(identifier, None)
        if system is not None:
            try:
                system.stop()
            except Exception:  # noqa: BLE001 - an old client that fails to stop still goes
                log.warning("stopping the old Chroma client failed", exc_info=True)
        self.client = open_client(settings)
        self.epoch += 1


def files_collection(settings: Settings) -> str:
    return f"{settings.collection}_files"


def drop_collections(client: chromadb.ClientAPI, settings: Settings) -> None:
    names = [settings.collection] + ([files_collection(settings)] if settings.chroma_host else [])
    for name in names:
        try:
            client.delete_collection(name)
        except CONNECTION_ERRORS as exc:
            raise unavailable(settings, exc) from exc
        except Exception:  # noqa: BLE001 - a missing collection is what we want anyway
            log.debug("no collection %s to delete", name)


def bind(client: chromadb.ClientAPI, settings: Settings, embeddings: BundledEmbeddings,
         stamp: dict[str, Any]) -> tuple[Chroma, Any]:
    """The chunk collection (created when missing, stamped with what built it) as LangChain's
    vector store and as Chroma's own collection."""
    vectors = Chroma(
        collection_name=settings.collection,
        embedding_function=embeddings,
        client=client,
        collection_metadata=dict(stamp),
        collection_configuration={"hnsw": {"space": "cosine"}},
    )
    return vectors, vectors._collection


def call(settings: Settings, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run one Chroma call. Embedded mode: a full or read-only disk, or an index that does not
    agree with itself, becomes a clear error. Server mode: retry a failed connection once, then
    say the fix."""
    if not settings.chroma_host:
        try:
            return fn(*args, **kwargs)
        except ChatbotError:
            raise
        except Exception as exc:
            clear = translate_error(settings, exc)
            if clear is None:
                raise
            raise clear from exc
    try:
        return fn(*args, **kwargs)
    except CONNECTION_ERRORS as exc:
        log.warning("chroma server call failed (%s); retrying once", exc)
    time.sleep(RETRY_PAUSE_S)
    try:
        return fn(*args, **kwargs)
    except CONNECTION_ERRORS as exc:
        raise unavailable(settings, exc) from exc
