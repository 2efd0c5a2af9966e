"""Chroma (embedded or server), the keyword index, the normalized texts and the manifest.

Embedded mode (default): Chroma on disk in `DATA_DIR/chroma`, the manifest in `manifest.json`,
texts in `texts/`, the keyword index in `keyword.sqlite`. The manifest is written after the
chunks reach Chroma, atomically, so a crash leaves at worst chunks the manifest does not know;
`reconcile()` removes those at the start of the next ingest.

Server mode (`CHATBOT_CHROMA_HOST`/`CHATBOT_CHROMA_PORT`): the chunks and the manifest (with the
normalized texts) live on the Chroma server, shared by every app process that points at it; the
local `keyword.sqlite` is a cache, synced from the server's manifest on open and whenever the
shared manifest's generation moves (checked at most once a second, when the manifest is read).
A call that fails to connect is retried once, then raises `StoreUnavailableError` naming the fix.

Where a chunk's text lives. Embedded mode: nowhere in Chroma; it is the slice
`[start_char, end_char)` of its file's normalized text in `texts/`, checked against a CRC-32 kept
in the chunk's metadata (`crc`), so a chunk whose file was rewritten under it (a reader beside a
running ingest) is dropped, never quoted wrongly. Storing long strings in Chroma is what made its
upsert slow: as documents it builds a trigram full-text index we never query (12.4 s per 10,000
chunks), and as metadata it still cost 9.2 s of upsert against 6.4 s without them. Server mode: in the
chunk's metadata (`text`), so a reader on another machine needs no extra round trip per file.
Indexes written before keep their texts as documents or metadata; all three are read.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import chromadb
import httpx
import numpy as np
from langchain_chroma import Chroma

from chatbot.config import EMBEDDING_MODEL, TOKEN_ENCODING, Settings
from chatbot.embeddings import BundledEmbeddings
from chatbot.errors import IndexMismatchError, IndexMissingError, StoreUnavailableError
from chatbot.keyword import KEYWORD_TERMS_VERSION, KeywordIndex
from chatbot.manifest import ChromaManifest, FileEntry, JsonManifest, Manifest
from chatbot.types import Chunk, ScoredChunk

__all__ = ["FileEntry", "Manifest", "Store", "chunk_from_record", "index_stamp"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_CONNECTION_ERRORS = (httpx.TransportError, ConnectionError)
TEXT_CACHE_FILES = 512  # embedded mode: normalized file texts kept in memory for chunk slices
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


def _client(settings: Settings) -> chromadb.ClientAPI:
    chroma_settings = chromadb.config.Settings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                       settings=chroma_settings)
        except Exception as exc:  # chromadb raises plain ValueError/ConnectionError here
            raise unavailable(settings, exc) from exc
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    # Opening a new directory creates Chroma's tables; two processes doing that at once (two
    # ingests started together, or serve beside an ingest) fail with "table collections already
    # exists". One opener at a time, for the moment it takes.
    with (settings.data_dir / "chroma.open.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _files_collection(settings: Settings) -> str:
    return f"{settings.collection}_files"


class Store:
    """The index: chunk vectors in Chroma, keyword index, texts and manifest beside them."""

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
        # embedded mode: doc_id -> (file stamp, normalized text), least recently used first
        self._doc_texts: OrderedDict[str, tuple[tuple[int, int, int], str]] = OrderedDict()
        if not self.remote and not create and not settings.manifest_path.exists():
            raise IndexMissingError(str(settings.data_dir))
        self.client = _client(settings)
        self.backend: JsonManifest | ChromaManifest
        if self.remote:
            files = self._call(self.client.get_or_create_collection, name=_files_collection(settings),
                               metadata=dict(self.stamp), embedding_function=None)
            self._check_stamp(files.metadata or {}, "manifest collection")
            self.backend = ChromaManifest(files, self._call)
            if not create and not self.backend.exists():
                raise IndexMissingError(f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}")
        else:
            self.backend = JsonManifest(settings.manifest_path)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.texts_dir.mkdir(parents=True, exist_ok=True)
        # server mode: loaded by refresh() below, with the keyword cache
        self._manifest = Manifest(stamp=self.stamp) if self.remote else self.backend.load(self.stamp)
        self._check_stamp(self._manifest.stamp, "manifest")
        self.vectors = self._call(
            Chroma,
            collection_name=settings.collection,
            embedding_function=embeddings,
            client=self.client,
            collection_metadata=dict(self.stamp),
            collection_configuration={"hnsw": {"space": "cosine"}},
        )
        self.collection = self.vectors._collection
        self._check_stamp(self.collection.metadata or {}, "Chroma collection")
        self.keywords = KeywordIndex(settings.data_dir / "keyword.sqlite")
        if self.remote:
            self.refresh(force=True)

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
        """Run one Chroma call; in server mode retry a failed connection once, then say the fix."""
        if not self.remote:
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except _CONNECTION_ERRORS as exc:
            log.warning("chroma server call failed (%s); retrying once", exc)
        time.sleep(RETRY_PAUSE_S)
        try:
            return fn(*args, **kwargs)
        except _CONNECTION_ERRORS as exc:
            raise unavailable(self.settings, exc) from exc

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
                self.save_manifest()
            finally:
                if self.remote:
                    self.backend.drop_lease()  # type: ignore[union-attr]

    def save_manifest(self, *, defer: bool = False) -> None:
        """Write what changed in the manifest. `defer`: embedded mode may postpone the write by a
        few seconds (a bulk ingest of new files; chunks without an entry are reconciled later)."""
        if not self.remote:
            self.backend.save(self._manifest, self._texts, defer=defer)
            return
        backend: ChromaManifest = self.backend  # type: ignore[assignment]
        before = backend.generation()
        if backend.save(self._manifest, self._texts):
            # our own write needs no resync, unless another process wrote since we last synced
            self._generation = backend.generation() if before == self._generation else None
            if self._writing:
                backend.hold_lease()

    # -- writing ---------------------------------------------------------------------------

    def text_path(self, doc_id: str) -> Path:
        return self.settings.texts_dir / f"{doc_id}.txt"

    def write_text(self, doc_id: str, text: str) -> None:
        if self.remote:
            self._texts[doc_id] = text  # sent with the file's manifest entry
            return
        path = self.text_path(doc_id)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

    def _record_metadata(self, chunk: Chunk) -> dict[str, str | int]:
        if self.remote:
            return {**chunk.metadata(), "text": chunk.text}
        return {**chunk.metadata(), "crc": zlib.crc32(chunk.text.encode("utf-8"))}

    def add_chunks(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        if not chunks:
            return
        self._call(
            self.collection.upsert,
            ids=[c.id for c in chunks],
            embeddings=vectors,
            metadatas=[self._record_metadata(c) for c in chunks],
        )
        self.keywords.add((c.id, c.text) for c in chunks)

    def update_positions(self, chunks: list[Chunk]) -> None:
        """Rewrite the metadata of chunks that stay in an edited file (same text, so same id and
        vector) but may have moved: offsets, position and title come from the new version."""
        for i in range(0, len(chunks), 1000):
            part = chunks[i : i + 1000]
            self._call(self.collection.update, ids=[c.id for c in part],
                       metadatas=[self._record_metadata(c) for c in part])

    def delete_chunks(self, ids: list[str]) -> None:
        for i in range(0, len(ids), 5000):
            self._call(self.collection.delete, ids=ids[i : i + 5000])
        self.keywords.delete(ids)

    def all_ids(self) -> set[str]:
        return set(self._call(self.collection.get, include=[])["ids"])

    def reconcile(self) -> int:
        """Delete chunks that no manifest entry owns (left by an interrupted ingest). In server
        mode, not while another process's ingest holds a live lease (its chunks come first)."""
        if self.remote and self.backend.other_live_leases():  # type: ignore[union-attr]
            log.info("reconcile skipped: another ingest is writing to the server")
            return 0
        owned = self._manifest.owned_ids()
        stray = sorted((self.all_ids() | self.keywords.ids()) - owned)
        if stray:
            log.warning("reconcile removed=%d stray chunks", len(stray))
            self.delete_chunks(stray)
        return len(stray)

    @staticmethod
    def wipe(settings: Settings) -> None:
        """Drop everything an index wrote (for --rebuild), whatever settings built it."""
        client = _client(settings)
        names = [settings.collection] + ([_files_collection(settings)] if settings.chroma_host else [])
        for name in names:
            try:
                client.delete_collection(name)
            except _CONNECTION_ERRORS as exc:
                raise unavailable(settings, exc) from exc
            except Exception:  # noqa: BLE001 - a missing collection is what we want anyway
                log.debug("no collection %s to delete", name)
        for path in settings.texts_dir.glob("*.txt"):
            path.unlink()
        for name in ("keyword.sqlite", "keyword.sqlite-wal", "keyword.sqlite-shm"):
            (settings.data_dir / name).unlink(missing_ok=True)
        settings.manifest_path.unlink(missing_ok=True)

    # -- reading ---------------------------------------------------------------------------

    def count(self) -> int:
        return self._call(self.collection.count)

    def document_text(self, doc_id: str) -> str:
        if self.remote:
            return self.backend.text(doc_id)  # type: ignore[union-attr]
        return self.text_path(doc_id).read_text(encoding="utf-8")

    def _cached_text(self, doc_id: str) -> str | None:
        """Embedded mode: a file's normalized text, from memory while the file is unchanged."""
        path = self.text_path(doc_id)
        try:
            st = path.stat()
        except FileNotFoundError:
            log.warning("text of doc_id=%s missing from %s; its chunks are skipped. If this lasts, "
                        "rebuild with `chatbot ingest --rebuild`", doc_id, self.settings.texts_dir)
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._doc_texts.get(doc_id)
            if hit is not None and hit[0] == stamp:
                self._doc_texts.move_to_end(doc_id)
                return hit[1]
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        with self._lock:
            self._doc_texts[doc_id] = (stamp, text)
            while len(self._doc_texts) > TEXT_CACHE_FILES:
                self._doc_texts.popitem(last=False)
        return text

    def _record_text(self, document: str | None, meta: Any) -> str | None:
        """A chunk's text: the slice of its file's text (checked by CRC), or for indexes written
        before, its metadata `text` or its Chroma document. None when it cannot be trusted."""
        if document:
            return document
        if meta.get("text"):
            return str(meta["text"])
        text = self._cached_text(str(meta["doc_id"]))
        if text is None:
            return None
        piece = text[int(meta["start_char"]) : int(meta["end_char"])]
        if zlib.crc32(piece.encode("utf-8")) != meta.get("crc"):
            log.info("chunk skipped doc_id=%s: its file changed under it (an ingest is running)", meta["doc_id"])
            return None
        return piece

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
