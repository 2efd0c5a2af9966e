"""Chroma (embedded or server), the keyword index, the normalized texts and the manifest.

Embedded mode (default): Chroma on disk in `DATA_DIR/chroma`, the manifest in `manifest.json`,
texts in `texts/` (`texts`), the keyword index in `keyword.sqlite`. Any number of
processes may use one data directory (`datadir`): a question runs under the shared lock,
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
normalized text (see `texts`). Storing long strings in Chroma is what made its upsert
slow: as documents it builds a trigram full-text index we never query (12.4 s per 10,000 chunks),
and as metadata it still cost 9.2 s of upsert against 6.4 s without them. Server mode: in the
chunk's metadata (`text`), so a reader on another machine needs no extra round trip per file.
Indexes written before keep their texts as documents or metadata; all three are read. Each chunk's
metadata also names its file's source path and hash, so a lost manifest can be rebuilt from Chroma.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from chatbot.config import EMBEDDING_MODEL, TOKEN_ENCODING, Settings
from chatbot.errors import IndexDamagedError, IndexMismatchError, IndexMissingError
from chatbot.index import chroma
from chatbot.index.chroma import ProcessClient, files_collection, open_client
from chatbot.index.datadir import DataDir, disk_full, no_space, read_only
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.index.keyword import KEYWORD_TERMS_VERSION, KeywordIndex
from chatbot.index.manifest import ChromaManifest, FileEntry, JsonManifest, Manifest
from chatbot.index.reads import ChunkReads, chunk_from_record
from chatbot.index.texts import TextFiles
from chatbot.index.writes import ChunkWrites

__all__ = ["FileEntry", "Manifest", "Store", "chunk_from_record", "index_stamp"]

log = logging.getLogger(__name__)
T = TypeVar("T")
SYNC_INTERVAL_S = 1.0  # server mode: how often reading the manifest checks for others' writes


def index_stamp(settings: Settings) -> dict[str, Any]:
    """What built the index; an index built otherwise is refused, not silently mixed."""
    return {
        "embedding_model": EMBEDDING_MODEL,
        "token_encoding": TOKEN_ENCODING,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_tokens": settings.chunk_overlap_tokens,
        "keyword_terms": KEYWORD_TERMS_VERSION,
    }


class Store(ChunkReads, ChunkWrites):
    """The index: chunk vectors in Chroma, keyword index, texts and manifest beside them.

    Callers wrap what they do in `reading()` (a question, a listing) or `batch()` (one write);
    an ingest as a whole runs in `writing()` under the ingest lock (`chatbot.ingest`)."""

    def __init__(self, settings: Settings, embeddings: BundledEmbeddings) -> None:
        """Nothing is read or opened here; `open()` does that, on first use."""
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
        self._opened = False

    def _forget(self) -> None:
        """Back to unopened (after a wipe): what was read from the old index is dropped."""
        self._opened = False
        self._manifest = Manifest(stamp=self.stamp)
        self.problems, self.manifest_damaged, self.keywords_damaged = [], "", ""

    def open(self, *, create: bool = False) -> Store:
        """Open the index (once); `create`: start an empty one where there is none, else
        `IndexMissingError` says how to build it."""
        if not self._opened:
            if self.remote:
                self._open_remote(create)
            else:
                self._open_embedded(create)
            self._opened = True
        return self

    # -- opening -----------------------------------------------------------------------------

    def _open_remote(self, create: bool) -> None:
        settings = self.settings
        self.client = open_client(settings)
        files = self._call(self.client.get_or_create_collection, name=files_collection(settings),
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
            self._shared = ProcessClient.of(settings)
            self._epoch = -1
            self._catch_up()

    def _bind(self, client: Any) -> None:
        self.client = client
        self.vectors, self.collection = self._call(chroma.bind, client, self.settings, self.embeddings, self.stamp)
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
        return chroma.call(self.settings, fn, *args, **kwargs)

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


    # -- reading ---------------------------------------------------------------------------


