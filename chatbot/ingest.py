"""Incremental ingestion: discover, load, chunk, embed, store; one file at a time, all or nothing.

A file reaches the index whole or not at all: its chunks are upserted, then the manifest entry
is written; on any failure its new chunks are removed again. Unchanged files (same bytes, same
settings) cost a hash. Files that disappeared from an ingested folder leave the index.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from chatbot.chunking import Chunker
from chatbot.embeddings import BundledEmbeddings
from chatbot.errors import IngestBusyError, LoadError
from chatbot.loaders import discover, load_file
from chatbot.store import FileEntry, Store
from chatbot.types import Chunk, LoadedDoc

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    chunks_added: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0  # of `seconds`, the time spent in the embedding model

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {len(self.skipped)} skipped; "
            f"{self.chunks_added} chunks embedded in {self.seconds:.1f} s"
        )


def doc_id_for(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """One ingest per data directory at a time; a second one stops with a clear message."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "ingest.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IngestBusyError(
                f"Another ingest is running on {data_dir}. Wait for it to finish, then run this again."
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Pending:
    """A loaded, chunked file waiting for its embeddings."""

    doc: LoadedDoc
    doc_id: str
    chunks: list[Chunk]
    fresh: list[Chunk]  # chunks not already in the index
    old: FileEntry | None


class Ingestor:
    """Embeds in batches across files; a file's manifest entry is written only once all its
    chunks are stored, so an interruption never leaves part of a file behind a manifest entry."""

    batch_chunks = 256

    def __init__(self, store: Store, chunker: Chunker, embeddings: BundledEmbeddings) -> None:
        self.store = store
        self.chunker = chunker
        self.embeddings = embeddings

    def run(
        self,
        paths: list[Path],
        *,
        progress: bool = True,
        on_skip: Callable[[str, str], None] | None = None,
    ) -> IngestReport:
        report = IngestReport()
        started = time.perf_counter()
        store = self.store
        max_bytes = int(store.settings.max_file_mb * 1e6)
        with ingest_lock(store.settings.data_dir), store.writing():
            store.reconcile()
            roots = [p.resolve() for p in paths]
            found = list(discover(roots))
            seen: set[str] = set()
            pending: list[_Pending] = []
            bar = tqdm(found, desc="ingest", unit="file", disable=not progress or len(found) < 20)
            for path, display, _root in bar:
                source = str(path.resolve())
                seen.add(source)
                try:
                    item = self._prepare(path, display, source, max_bytes, report)
                except LoadError as exc:
                    report.skipped.append((exc.path, exc.reason))
                    if on_skip:
                        on_skip(exc.path, exc.reason)
                    continue
                if item is not None:
                    pending.append(item)
                    if sum(len(p.fresh) for p in pending) >= self.batch_chunks:
                        self._commit(pending, report)
                        pending = []
            self._commit(pending, report)
            self._remove_missing(roots, seen, report)
        report.seconds = time.perf_counter() - started
        log.info("ingest %s", report.summary())
        return report

    def _prepare(self, path: Path, display: str, source: str, max_bytes: int, report: IngestReport) -> _Pending | None:
        old = self.store.manifest.files.get(source)
        if old is not None and path.stat().st_size <= max_bytes:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest == old.sha256 and old.file == display:
                report.unchanged.append(display)
                return None
        doc = load_file(path, display, max_bytes)
        doc_id = doc_id_for(source)
        chunks = self.chunker.chunk(doc, doc_id)
        old_ids = set(old.chunk_ids) if old else set()
        return _Pending(doc, doc_id, chunks, [c for c in chunks if c.id not in old_ids], old)

    def _commit(self, pending: list[_Pending], report: IngestReport) -> None:
        """Embed and store the pending files' new chunks, then record them in the manifest."""
        if not pending:
            return
        store = self.store
        fresh = [c for p in pending for c in p.fresh]
        try:
            for i in range(0, len(fresh), self.batch_chunks):
                batch = fresh[i : i + self.batch_chunks]
                t0 = time.perf_counter()
                vectors = self.embeddings.embed_array([c.text for c in batch])
                report.embed_seconds += time.perf_counter() - t0
                store.add_chunks(batch, vectors)
        except BaseException:
            store.delete_chunks([c.id for c in fresh])
            raise
        gone: list[str] = []
        for p in pending:
            store.write_text(p.doc_id, p.doc.text)
            new_ids = [c.id for c in p.chunks]
            if p.old:
                gone += sorted(set(p.old.chunk_ids) - set(new_ids))
                # a kept chunk (same text, same id) may have moved in the edited file
                fresh_ids = {c.id for c in p.fresh}
                store.update_positions([c for c in p.chunks if c.id not in fresh_ids])
            store.manifest.files[p.doc.source] = FileEntry(
                source=p.doc.source, file=p.doc.file, title=p.doc.title, lang=p.doc.lang,
                sha256=p.doc.sha256, doc_id=p.doc_id, n_chars=len(p.doc.text), chunk_ids=new_ids,
            )
            (report.updated if p.old else report.added).append(p.doc.file)
        # new files only: the manifest write may wait a few seconds (at worst their chunks are
        # reconciled and embedded again after a crash); replaced chunks go only once it is written
        store.save_manifest(defer=not gone)
        store.delete_chunks(gone)
        report.chunks_added += len(fresh)

    def _remove_missing(self, roots: list[Path], seen: set[str], report: IngestReport) -> None:
        store = self.store
        gone: list[FileEntry] = []
        for source, entry in list(store.manifest.files.items()):
            path = Path(source)
            under_root = any(path.is_relative_to(r) for r in roots if r.is_dir())
            # in server mode other machines' files are in the manifest too: only sweep our roots
            vanished = not store.remote and not path.exists()
            if (under_root and source not in seen) or vanished:
                del store.manifest.files[source]
                gone.append(entry)
        if not gone:
            return
        store.save_manifest()
        for entry in gone:
            store.delete_chunks(entry.chunk_ids)
            store.text_path(entry.doc_id).unlink(missing_ok=True)
            report.removed.append(entry.file)
