"""Chroma (embedded or server), the keyword index, the normalized texts and the manifest.

Embedded mode (default): Chroma on disk in `DATA_DIR/chroma`, the manifest in `manifest.json`,
texts in `texts/` (`chatbot.texts`), the keyword index in `keyword.sqlite`. Any number of
processes may use one data directory (`chatbot.datadir`): a question runs under the shared lock,
each write batch under the exclusive one, and a process reloads its manifest and reopens Chroma
(whose vector index it holds in memory) when it finds that another process wrote. The manifest is
written after the chunks reach Chroma, atomically, so a crash leaves at worst chunks the manifest
does not know; `reconcile()` removes those at the start of the next ingest. An index found
incomplete on opening (Chroma, keyword index or texts missing chunks the manifest lists, a
manifest that is not JSON) answers nothing: `problems` says what is wrong, questions get
`IndexDamagedError` naming the fix, and the next ingest or `chatbot check --repair` mends it.

Server mode (`CHATBOT_CHROMA_HOST`/`CHATBOT_CHROMA_PORT`): the chunks and the manifest (with the
normalized texts) live on the Chroma server, shared by every app process that points at it; the
local `keyword.sqlite` is a cache, synced from the server's manifest on open and whenever the
shared manifest's generation moves (checked at most once a second, when the manifest is read).
A call that fails to connect is retried once, then raises `StoreUnavailableError` naming the fix.

Where a chunk's text lives. Embedded mode: nowhere in Chroma; it is the slice of its file's
normalized text (see `chatbot.texts`). Storing long strings in Chroma is what made its upsert
slow: as documents it builds a trigram full-text index we never query (12.4 s per 10,000 chunks),
and as metadata it still cost 9.2 s of upsert against 6.4 s without them. Server mode: in the
chunk's metadata (`text`), so a reader on another machine needs no extra round trip per file.
Indexes written before keep their texts as documents or metadata; all three are read. Each chunk's
metadata also names its file's source path and hash, so a lost manifest can be rebuilt from Chroma.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import chromadb
import httpx
import numpy as np
from chromadb.api.shared_system_client import SharedSystemClient
from langchain_chroma import Chroma

from chatbot.config import EMBEDDING_MODEL, TOKEN_ENCODING, Settings
from chatbot.datadir import DataDir, disk_full, no_space, read_only
from chatbot.embeddings import BundledEmbeddings
from chatbot.errors import (
    ChatbotError,
    IndexDamagedError,
    IndexMismatchError,
    IndexMissingError,
    StoreUnavailableError,
)
from chatbot.keyword import KEYWORD_TERMS_VERSION, KeywordIndex
from chatbot.manifest import ChromaManifest, FileEntry, JsonManifest, Manifest
from chatbot.texts import TextFiles, crc
from chatbot.types import Chunk, ScoredChunk

__all__ = ["FileEntry", "Manifest", "Store", "chunk_from_record", "index_stamp"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_CONNECTION_ERRORS = (httpx.TransportError, ConnectionError)
SYNC_INTERVAL_S = 1.0  # server mode: how often reading the manifest checks for others' writes
RETRY_PAUSE_S = 0.5


def index_stamp(settings: Settings) -> dict[str, Any]:
    """What built the index; an index built otherwise is refused, not silently mixed."""
    return {
        "embedding_model": EMBEDDING_MODEL,
        "token_encoding": TOKEN_ENCODING,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_tokens": settings.chunk_overlap_tokens,
        "keyword_terms": KEYWORD_TERMS_VERSION,
    }


def unavailable(settings: Settings, exc: BaseException) -> StoreUnavailableError:
    host, port = settings.chroma_host, settings.chroma_port
    return StoreUnavailableError(
        f"Cannot reach the Chroma server at {host}:{port} ({exc}). Start it with "
        f"`chroma run --path DIR --host {host} --port {port}` (or fix CHATBOT_CHROMA_HOST/"
        "CHATBOT_CHROMA_PORT), or unset CHATBOT_CHROMA_HOST to use the embedded store."
    )


def _embedded_error(settings: Settings, exc: Exception) -> ChatbotError | None:
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


def _client(settings: Settings) -> chromadb.ClientAPI:
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
        clear = _embedded_error(settings, exc)
        if clear is None:
            raise
        raise clear from exc


class _ProcessClient:
    """This process's Chroma client of one embedded data directory. Chroma keeps one `System`
    per path in a process and holds the vector index in memory, so when another process has
    written, the System is stopped and opened anew: the next open reads what is on disk."""

    _by_dir: ClassVar[dict[Path, _ProcessClient]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings: Settings) -> None:
        self.client = _client(settings)
        self.generation: str | None = None  # the data dir generation the client has seen
        self.epoch = 0  # how many times it was opened anew

    @classmethod
    def of(cls, settings: Settings) -> _ProcessClient:
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
        self.client = _client(settings)
        self.epoch += 1


def _files_collection(settings: Settings) -> str:
    return f"{settings.collection}_files"


def _drop_collections(client: chromadb.ClientAPI, settings: Settings) -> None:
    names = [settings.collection] + ([_files_collection(settings)] if settings.chroma_host else [])
    for name in names:
        try:
            client.delete_collection(name)
        except _CONNECTION_ERRORS as exc:
            raise unavailable(settings, exc) from exc
        except Exception:  # noqa: BLE001 - a missing collection is what we want anyway
            log.debug("no collection %s to delete", name)


class Store:
    """The index: chunk vectors in Chroma, keyword index, texts and manifest beside them.

    Callers wrap what they do in `reading()` (a question, a listing) or `batch()` (one write);
    an ingest as a whole runs in `writing()` under the ingest lock (`chatbot.ingest`)."""

    def __init__(self, settings: Settings, embeddings: BundledEmbeddings, *, create: bool) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.stamp = index_stamp(settings)
        self.remote = bool(settings.chroma_host)
        self._lock = threading.RLock()
        self._writing = 0
        self._texts: dict[str, str] = {}  # server mode: texts waiting for their manifest entry
        self._generation: str | None = None  # server mode: the shared manifest we last synced
        self._checked_at = 0.0
        self.texts = TextFiles(settings.texts_dir)
        # embedded mode: what makes this index unfit to answer (found on opening or catching up)
        self.problems: list[str] = []
        self.manifest_damaged = ""
        self.keywords_damaged = ""
        self._wrote = False
        if self.remote:
            self._open_remote(create)
        else:
            self._open_embedded(create)

    # -- opening -----------------------------------------------------------------------------

    def _open_remote(self, create: bool) -> None:
        settings = self.settings
        self.client = _client(settings)
        files = self._call(self.client.get_or_create_collection, name=_files_collection(settings),
                           metadata=dict(self.stamp), embedding_function=None)
        self._check_stamp(files.metadata or {}, "manifest collection")
        self.backend: JsonManifest | ChromaManifest = ChromaManifest(files, self._call)
        if not create and not self.backend.exists():
            raise IndexMissingError(f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._manifest = Manifest(stamp=self.stamp)  # loaded by refresh() below, with the keyword cache
        self._bind(self.client)
        self.keywords = KeywordIndex(settings.data_dir / "keyword.sqlite")
        self.refresh(force=True)

    def _open_embedded(self, create: bool) -> None:
        settings = self.settings
        if not create and not settings.manifest_path.exists() and not settings.chroma_dir.exists():
            raise IndexMissingError(str(settings.data_dir))
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise read_only(settings.data_dir, exc) from exc
        self.datadir = DataDir.of(settings.data_dir)
        self.backend = JsonManifest(settings.manifest_path)
        self._manifest = Manifest(stamp=self.stamp)
        self._manifest_at: tuple[int, int, int] | None = (-1, -1, -1)  # nothing loaded yet
        self._keywords_at: tuple[int, int] | None = None
        with self.datadir.hold(exclusive_here=True, exclusive=False):
            self._shared = _ProcessClient.of(settings)
            self._epoch = -1
            self._catch_up()

    def _bind(self, client: chromadb.ClientAPI) -> None:
        self.client = client
        self.vectors = self._call(
            Chroma,
            collection_name=self.settings.collection,
            embedding_function=self.embeddings,
            client=client,
            collection_metadata=dict(self.stamp),
            collection_configuration={"hnsw": {"space": "cosine"}},
        )
        self.collection = self.vectors._collection
        self._check_stamp(self.collection.metadata or {}, "Chroma collection")

    def _catch_up(self) -> None:
        """Embedded mode, under the data dir lock with this process's other threads kept out:
        bring what this Store holds in memory to the data dir's current generation."""
        generation = self.datadir.generation()
        shared = self._shared
        if shared.generation is not None and shared.generation != generation:
            shared.reopen(self.settings)
        shared.generation = generation
        if self._epoch != shared.epoch:
            self._bind(shared.client)
            self._epoch = shared.epoch
        self._load_manifest()
        self._open_keywords()
        self._diagnose()
        self._seen = generation

    def _load_manifest(self) -> None:
        path = self.settings.manifest_path
        try:
            st = path.stat()
        except FileNotFoundError:
            stamp = None
        else:
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._manifest_at:
            return
        if self._manifest.files.dirty:
            # only an ingest that failed to save leaves changes unsaved, and another process has
            # written since: what is on disk wins (the chunks of the lost entries are reconciled)
            log.warning("manifest changes that were never saved are dropped; another process wrote since")
        try:
            manifest = self.backend.load(self.stamp)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.manifest_damaged = f"{path.name} is damaged ({type(exc).__name__}: {exc})"
            manifest = Manifest(stamp=self.stamp)
        else:
            self.manifest_damaged = ""
            self._check_stamp(manifest.stamp, "manifest")
            if stamp is None and self._call(self.collection.count):
                self.manifest_damaged = f"{path.name} is missing, though Chroma holds chunks"
        self._manifest, self._manifest_at = manifest, stamp

    def _open_keywords(self) -> None:
        """(Re)open the keyword index when its file is new (a repair or rebuild replaced it)."""
        path = self.settings.data_dir / "keyword.sqlite"
        try:
            st = path.stat()
            stamp: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp == self._keywords_at:
            return
        try:
            self.keywords = KeywordIndex(path)
            self.keywords.count()
        except sqlite3.DatabaseError as exc:
            self.keywords_damaged = f"keyword.sqlite is damaged ({exc})"
            self.keywords = KeywordIndex(None)  # in memory, empty: the store still opens to be mended
        else:
            self.keywords_damaged = ""
        self._keywords_at = (path.stat().st_dev, path.stat().st_ino) if path.exists() else None

    def _diagnose(self) -> None:
        """Cheap checks that the parts agree (counts, not ids; `chatbot check` compares ids)."""
        problems = [p for p in (self.manifest_damaged, self.keywords_damaged) if p]
        files = self._manifest.files
        owned = sum(len(e.chunk_ids) for e in files.values())
        if owned:
            in_chroma = self._call(self.collection.count)
            if in_chroma < owned:
                problems.append(f"Chroma holds {in_chroma} of the {owned} chunks the manifest lists")
            if not self.keywords_damaged and self.keywords.count() < owned:
                problems.append(f"the keyword index holds {self.keywords.count()} of the {owned} chunks")
            texts = len(self.texts.doc_ids())
            if texts < len(files):
                problems.append(f"texts/ holds {texts} of the {len(files)} files' texts")
        self.problems = problems

    def damage(self) -> IndexDamagedError:
        return IndexDamagedError(
            f"The index in {self.settings.data_dir} is damaged: {'; '.join(self.problems)}. Nothing will be "
            "answered from half an index. Run `chatbot ingest` on the same folders (it re-embeds only "
            "what is missing), or `chatbot check --repair`; `chatbot check` says what is wrong."
        )

    def _check_stamp(self, found: dict[str, Any], where: str) -> None:
        diff = {k: (found.get(k), v) for k, v in self.stamp.items() if found.get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: index has {a!r}, settings ask for {b!r}" for k, (a, b) in diff.items())
            place = (f"Chroma server {self.settings.chroma_host}:{self.settings.chroma_port}"
                     if self.remote else str(self.settings.data_dir))
            raise IndexMismatchError(
                f"The {where} in {place} was built with other settings ({detail}). "
                "Rebuild it with `chatbot ingest --rebuild`, or restore the settings it was built with."
            )

    def _call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run one Chroma call. Embedded mode: a full or read-only disk becomes a clear error.
        Server mode: retry a failed connection once, then say the fix."""
        if not self.remote:
            try:
                return fn(*args, **kwargs)
            except ChatbotError:
                raise
            except Exception as exc:
                clear = _embedded_error(self.settings, exc)
                if clear is None:
                    raise
                raise clear from exc
        try:
            return fn(*args, **kwargs)
        except _CONNECTION_ERRORS as exc:
            log.warning("chroma server call failed (%s); retrying once", exc)
        time.sleep(RETRY_PAUSE_S)
        try:
            return fn(*args, **kwargs)
        except _CONNECTION_ERRORS as exc:
            raise unavailable(self.settings, exc) from exc

    # -- locking: one data directory, many processes ---------------------------------------------

    @contextmanager
    def reading(self, *, whole: bool = True) -> Iterator[None]:
        """Around a question or a listing: other processes' writes wait, and what they wrote
        since this process last looked is loaded first. `whole`: refuse a damaged index."""
        if self.remote:
            self.refresh()
            yield
            return
        dd = self.datadir
        with dd.hold(exclusive_here=False, exclusive=False) as outer:
            if not outer or dd.generation() == self._seen:
                if outer and whole and self.problems:
                    raise self.damage()
                yield
                return
        with dd.hold(exclusive_here=True, exclusive=False):
            self._catch_up()
            if whole and self.problems:
                raise self.damage()
            yield

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Around one write (a batch of an ingest, a removal, a repair): readers wait until it is
        whole; afterwards the data dir has a new generation, so other processes reload."""
        if self.remote:
            yield
            return
        dd = self.datadir
        with dd.hold(exclusive_here=True, exclusive=True) as outer:
            if not outer:
                yield
                return
            if dd.generation() != self._seen:
                self._catch_up()
            self._wrote = False
            try:
                yield
            finally:
                if self._wrote:
                    try:
                        self._seen = self._shared.generation = dd.bump()
                    except OSError as exc:  # a write that failed for room fails here too; its error goes up
                        log.error("could not record a new generation in %s: %s", dd.path, exc)

    # -- the manifest, shared in server mode -------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        """The manifest; in server mode reading it first picks up other processes' writes."""
        if self.remote and not self._writing:
            self.refresh()
        return self._manifest

    def refresh(self, *, force: bool = False) -> bool:
        """Server mode: when the shared manifest changed since we last synced (its generation
        moved), reload it and bring the local keyword cache to its chunk ids. Cheap otherwise:
        one small request, at most once a second unless forced. Returns whether it reloaded."""
        if not self.remote:
            return False
        with self._lock:
            if self._writing or self._manifest.files.dirty:  # never drop unsaved changes
                return False
            now = time.monotonic()
            if not force and now - self._checked_at < SYNC_INTERVAL_S:
                return False
            self._checked_at = now
            generation = self.backend.generation()
            if not force and generation == self._generation:
                return False
            manifest = self.backend.load(self.stamp)
            self._sync_keywords(manifest.owned_ids())
            self._manifest, self._generation = manifest, generation
            return True

    def _sync_keywords(self, owned: set[str]) -> None:
        have = self.keywords.ids()
        extra, missing = sorted(have - owned), sorted(owned - have)
        if extra:
            self.keywords.delete(extra)
        for i in range(0, len(missing), 1000):
            res = self._call(self.collection.get, ids=missing[i : i + 1000], include=["documents", "metadatas"])
            self.keywords.add((c.id, c.text) for c in self._chunks(res["ids"], res["documents"], res["metadatas"]))
        if extra or missing:
            log.info("keyword cache synced added=%d removed=%d", len(missing), len(extra))

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around an ingest: no resync in between, a final save; in server mode a lease tells
        other processes' ingests not to sweep this one's chunks before their manifest entries."""
        if self.remote:
            self.refresh(force=True)
            self.backend.hold_lease()  # type: ignore[union-attr]
        with self._lock:
            self._writing += 1
        try:
            yield
        finally:
            with self._lock:
                self._writing -= 1
            try:
                with self.batch():
                    self.save_manifest()
                if not self.remote:
                    self._diagnose()
            except BaseException:
                if not self.remote:  # memory must not hold a manifest the disk does not: reload it
                    self._manifest.files.take_changes()
                    self._manifest_at = (-1, -1, -1)
                    self._load_manifest()
                raise
            finally:
                if self.remote:
                    self.backend.drop_lease()  # type: ignore[union-attr]

    def save_manifest(self, *, defer: bool = False) -> None:
        """Write what changed in the manifest. `defer`: embedded mode may postpone the write by a
        few seconds (a bulk ingest of new files; chunks without an entry are reconciled later)."""
        if not self.remote:
            try:
                saved = self.backend.save(self._manifest, self._texts, defer=defer)
            except OSError as exc:
                if no_space(exc):
                    raise disk_full(self.settings.data_dir, exc) from exc
                raise
            if saved:
                self._wrote = True
                self.manifest_damaged = ""
                st = self.settings.manifest_path.stat()
                self._manifest_at = (st.st_ino, st.st_mtime_ns, st.st_size)
            return
        backend: ChromaManifest = self.backend  # type: ignore[assignment]
        before = backend.generation()
        if backend.save(self._manifest, self._texts):
            # our own write needs no resync, unless another process wrote since we last synced
            self._generation = backend.generation() if before == self._generation else None
            if self._writing:
                backend.hold_lease()

    # -- writing ---------------------------------------------------------------------------

    def write_text(self, doc_id: str, text: str) -> None:
        if self.remote:
            self._texts[doc_id] = text  # sent with the file's manifest entry
            return
        self._wrote = True
        self.texts.write(doc_id, text)

    def _record_metadata(self, chunk: Chunk, origin: FileEntry | None) -> dict[str, str | int]:
        meta: dict[str, str | int] = {**chunk.metadata()}
        if origin is not None:  # what rebuilds a lost manifest: the file's path and hash
            meta.update(source=origin.source, sha256=origin.sha256)
        if self.remote:
            return {**meta, "text": chunk.text}
        return {**meta, "crc": crc(chunk.text)}

    def add_chunks(self, chunks: list[Chunk], vectors: np.ndarray,
                   origins: dict[str, FileEntry] | None = None) -> None:
        """Upsert chunks with their vectors; `origins` (doc_id -> entry) names each one's file."""
        if not chunks:
            return
        self._wrote = True
        origins = origins or {}
        self._call(
            self.collection.upsert,
            ids=[c.id for c in chunks],
            embeddings=vectors,
            metadatas=[self._record_metadata(c, origins.get(c.doc_id)) for c in chunks],
        )
        self.keywords.add((c.id, c.text) for c in chunks)

    def update_positions(self, chunks: list[Chunk], origins: dict[str, FileEntry] | None = None) -> None:
        """Rewrite the metadata of chunks that stay in an edited file (same text, so same id and
        vector) but may have moved: offsets, position and title come from the new version."""
        origins = origins or {}
        for i in range(0, len(chunks), 1000):
            part = chunks[i : i + 1000]
            self._wrote = True
            self._call(self.collection.update, ids=[c.id for c in part],
                       metadatas=[self._record_metadata(c, origins.get(c.doc_id)) for c in part])

    def delete_chunks(self, ids: list[str]) -> None:
        if not ids:
            return
        self._wrote = True
        for i in range(0, len(ids), 5000):
            self._call(self.collection.delete, ids=ids[i : i + 5000])
        self.keywords.delete(ids)

    def remove_files(self, sources: list[str]) -> list[FileEntry]:
        """Drop files from the index in one write: manifest entries, chunks, keyword rows, texts."""
        if not sources:
            return []
        with self.batch():
            entries = [self._manifest.files[source] for source in sources]
            for source in sources:
                del self._manifest.files[source]
            self.save_manifest()
            self.delete_chunks([cid for entry in entries for cid in entry.chunk_ids])
            if not self.remote:
                for entry in entries:
                    self.texts.remove(entry.doc_id)
        return entries

    def reset_keywords(self) -> None:
        """Set a damaged keyword index aside (`keyword.sqlite.damaged`) and start an empty one;
        the caller adds the chunks again from their texts (no embedding needed)."""
        base = self.settings.data_dir / "keyword.sqlite"
        for suffix in ("", "-wal", "-shm"):
            part = base.with_name(base.name + suffix)
            if part.exists():
                os.replace(part, part.with_name(part.name + ".damaged"))
        self._wrote = True
        self._keywords_at = None
        self._open_keywords()

    def reset_vectors(self) -> None:
        """Drop a Chroma collection that cannot answer and start an empty one (the caller embeds
        the files again). When Chroma cannot even drop it, its folder is set aside."""
        self._wrote = True
        if self.remote:
            self.client.delete_collection(self.settings.collection)
            self._bind(self.client)
            return
        try:
            self.client.delete_collection(self.settings.collection)
        except Exception as exc:  # noqa: BLE001 - a collection too damaged to drop is set aside whole
            log.warning("dropping the damaged collection failed (%s); setting chroma/ aside", exc)
            os.replace(self.settings.chroma_dir, self.settings.chroma_dir.with_name(f"chroma.damaged-{int(time.time())}"))
        self._shared.reopen(self.settings)  # every Store of this process binds the new collection
        self._epoch = self._shared.epoch
        self._bind(self._shared.client)

    def all_ids(self) -> set[str]:
        return set(self._call(self.collection.get, include=[])["ids"])

    def reconcile(self, ids: set[str] | None = None) -> set[str]:
        """Delete chunks that no manifest entry owns (left by an interrupted ingest); `ids`: what
        Chroma and the keyword index hold, when the caller has read it. In server mode, not
        while another process's ingest holds a live lease (its chunks come first). Returns the
        ids deleted."""
        if self.remote and self.backend.other_live_leases():  # type: ignore[union-attr]
            log.info("reconcile skipped: another ingest is writing to the server")
            return set()
        owned = self._manifest.owned_ids()
        held = ids if ids is not None else self.all_ids() | self.keywords.ids()
        stray = sorted(held - owned)
        if stray:
            log.warning("reconcile removed=%d stray chunks", len(stray))
            self.delete_chunks(stray)
        return set(stray)

    @staticmethod
    def wipe(settings: Settings) -> None:
        """Drop everything an index wrote (for --rebuild), whatever settings built it."""
        if settings.chroma_host:
            _drop_collections(_client(settings), settings)
            for name in ("keyword.sqlite", "keyword.sqlite-wal", "keyword.sqlite-shm"):
                (settings.data_dir / name).unlink(missing_ok=True)
            return
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        datadir = DataDir.of(settings.data_dir)
        with datadir.hold(exclusive_here=True, exclusive=True):
            shared = _ProcessClient.of(settings)
            _drop_collections(shared.client, settings)
            for path in settings.texts_dir.glob("*.txt"):
                path.unlink()
            for name in ("keyword.sqlite", "keyword.sqlite-wal", "keyword.sqlite-shm"):
                (settings.data_dir / name).unlink(missing_ok=True)
            settings.manifest_path.unlink(missing_ok=True)
            # every Store of this process binds the new collection; other processes reload
            shared.reopen(settings)
            shared.generation = datadir.bump()

    # -- reading ---------------------------------------------------------------------------

    def count(self) -> int:
        return self._call(self.collection.count)

    def document_text(self, doc_id: str) -> str:
        if self.remote:
            return self.backend.text(doc_id)  # type: ignore[union-attr]
        return self.texts.read(doc_id)

    def _record_text(self, document: str | None, meta: Any) -> str | None:
        """A chunk's text: the slice of its file's text (checked by CRC), or for indexes written
        before, its metadata `text` or its Chroma document. None when it cannot be trusted."""
        if document:
            return document
        if meta.get("text"):
            return str(meta["text"])
        return self.texts.slice(str(meta["doc_id"]), int(meta["start_char"]), int(meta["end_char"]), meta.get("crc"))

    def _chunks(self, ids: list[str], documents: Any, metadatas: Any) -> list[Chunk]:
        """Chunks of a Chroma result, in its order; those whose text cannot be trusted left out."""
        out = []
        for cid, document, meta in zip(ids, documents or [None] * len(ids), metadatas):
            text = self._record_text(document, meta)
            if text is not None:
                out.append(chunk_from_record(cid, text, meta))
        return out

    def dense_search(self, vector: np.ndarray, k: int) -> list[ScoredChunk]:
        # Chroma returns fewer than k (none for an empty collection) without an error, so no
        # count() first: one request per question, which matters against a server
        res = self._call(
            self.collection.query,
            query_embeddings=[vector], n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        ids = res["ids"][0]
        sims = dict(zip(ids, (1.0 - float(d) for d in res["distances"][0])))  # type: ignore[index]
        chunks = self._chunks(ids, res["documents"][0], res["metadatas"][0])  # type: ignore[index]
        return [ScoredChunk(chunk=c, score=sims[c.id], dense=sims[c.id]) for c in chunks]

    def get_with_vectors(self, ids: list[str]) -> list[tuple[Chunk, np.ndarray]]:
        if not ids:
            return []
        res = self._call(self.collection.get, ids=ids, include=["documents", "metadatas", "embeddings"])
        vectors = dict(zip(res["ids"], res["embeddings"]))  # type: ignore[arg-type]
        return [(c, np.asarray(vectors[c.id], dtype=np.float32))
                for c in self._chunks(res["ids"], res["documents"], res["metadatas"])]

    def neighbours(self, chunk: Chunk) -> list[Chunk]:
        """The chunks just before and after `chunk` in its file."""
        res = self._call(
            self.collection.get,
            where={"$and": [{"doc_id": chunk.doc_id}, {"seq": {"$in": [chunk.seq - 1, chunk.seq + 1]}}]},
            include=["documents", "metadatas"],
        )
        return sorted(self._chunks(res["ids"], res["documents"], res["metadatas"]), key=lambda c: c.seq)

    def get_chunks(self, ids: list[str]) -> list[Chunk]:
        res = self._call(self.collection.get, ids=ids, include=["documents", "metadatas"])
        found = {c.id: c for c in self._chunks(res["ids"], res["documents"], res["metadatas"])}
        return [found[i] for i in ids if i in found]


def chunk_from_record(cid: str, text: str, meta: Any) -> Chunk:
    return Chunk(
        id=cid, doc_id=str(meta["doc_id"]), file=str(meta["file"]), title=str(meta["title"]),
        text=text, start_char=int(meta["start_char"]), end_char=int(meta["end_char"]),
        lang=str(meta["lang"]), seq=int(meta["seq"]),
    )
