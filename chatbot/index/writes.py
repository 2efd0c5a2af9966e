"""Writing to the index: chunks with their vectors, keyword rows and texts; removal; reconciling;
resetting a damaged part; wiping everything (--rebuild). Callers hold `Store.batch()`."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from chatbot.config import Settings
from chatbot.index.chroma import ProcessClient, drop_collections, open_client
from chatbot.index.datadir import DataDir
from chatbot.index.keyword import KeywordIndex
from chatbot.index.manifest import FileEntry, Manifest
from chatbot.index.texts import TextFiles, crc
from chatbot.types import Chunk

log = logging.getLogger(__name__)
T = TypeVar("T")


class ChunkWrites:
    """The write half of `Store`."""

    settings: Settings
    remote: bool
    collection: Any
    client: Any
    keywords: KeywordIndex
    texts: TextFiles
    backend: Any
    _manifest: Manifest
    _texts: dict[str, str]
    _wrote: bool
    _shared: ProcessClient
    _epoch: int
    _keywords_at: tuple[int, int] | None

    def _call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError

    def batch(self) -> Any:
        raise NotImplementedError

    def save_manifest(self, *, defer: bool = False) -> None:
        raise NotImplementedError

    def _open_keywords(self) -> None:
        raise NotImplementedError

    def _bind(self, client: Any) -> None:
        raise NotImplementedError

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
        if self.remote and self.backend.other_live_leases():
            log.info("reconcile skipped: another ingest is writing to the server")
            return set()
        owned = self._manifest.owned_ids()
        held = ids if ids is not None else self.all_ids() | self.keywords.ids()
        stray = sorted(held - owned)
        if stray:
            log.warning("reconcile removed=%d stray chunks", len(stray))
            self.delete_chunks(stray)
        return set(stray)

    def wipe(self) -> None:
        """Drop everything the index wrote (for --rebuild), whatever settings built it; the store
        opens afresh on its next use. The caller holds the ingest lock."""
        settings = self.settings
        if self.remote:
            drop_collections(open_client(settings), settings)
            for name in ("keyword.sqlite", "keyword.sqlite-wal", "keyword.sqlite-shm"):
                (settings.data_dir / name).unlink(missing_ok=True)
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            datadir = DataDir.of(settings.data_dir)
            with datadir.hold(exclusive_here=True, exclusive=True):
                shared = ProcessClient.of(settings)
                drop_collections(shared.client, settings)
                for path in settings.texts_dir.glob("*.txt"):
                    path.unlink()
                for name in ("keyword.sqlite", "keyword.sqlite-wal", "keyword.sqlite-shm"):
                    (settings.data_dir / name).unlink(missing_ok=True)
                settings.manifest_path.unlink(missing_ok=True)
                # every Store of this process binds the new collection; other processes reload
                shared.reopen(settings)
                shared.generation = datadir.bump()
        self._forget()

    def _forget(self) -> None:
        raise NotImplementedError
