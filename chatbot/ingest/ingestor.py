"""Incremental ingestion: discover, load, chunk, embed, store; a file reaches the index whole or not at all.

A file's chunks are upserted, then its manifest entry is written; on any failure its new chunks
are removed again. Unchanged files (same bytes, same settings, all their parts present) cost a
hash. A file that disappeared from an ingested folder leaves the index, and so does one that can
no longer be read (emptied, made binary, unreadable, vanished): a user who redacts a file must
be able to trust that its old text is no longer quoted. Embedding runs outside the data dir's
write lock; each batch is stored under it (`Store.batch`), so questions wait only for the write.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from chatbot.errors import DiskFullError, IngestBusyError, LoadError
from chatbot.index.datadir import disk_full, ensure_room, no_space, read_only
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.index.store import FileEntry, Store
from chatbot.ingest.discovery import Found, discover, roots_of
from chatbot.text.chunking import Chunker
from chatbot.text.loaders import PLACED_SUFFIXES, load_file
from chatbot.types import Chunk, LoadedDoc

log = logging.getLogger(__name__)
# disk one stored chunk takes, at most, across Chroma (vector, metadata, its write-ahead log and
# the index files a flush rewrites), the keyword index and the text: measured about 9 kB on
# average, doubled for a safety margin (docs/robustness.md, "A full disk")
BYTES_PER_CHUNK = 20_000


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    # of `removed`: files indexed before that can no longer be read, so their old text went too
    withdrawn: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    repaired: list[str] = field(default_factory=list)  # what was mended before the ingest (chatbot.check)
    chunks_added: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0  # of `seconds`, the time spent in the embedding model

    def summary(self) -> str:
        withdrawn = f" ({len(self.withdrawn)} no longer readable)" if self.withdrawn else ""
        repaired = f"; {len(self.repaired)} repairs" if self.repaired else ""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed{withdrawn}, {len(self.skipped)} skipped{repaired}; "
            f"{self.chunks_added} chunks embedded in {self.seconds:.1f} s"
        )


def doc_id_for(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """One ingest per data directory at a time; a second one stops with a clear message."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = (data_dir / "ingest.lock").open("a")
    except OSError as exc:
        raise (disk_full(data_dir, exc) if no_space(exc) else read_only(data_dir, exc)) from exc
    with handle:
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
    fresh: list[Chunk]  # chunks not in Chroma: to embed
    old: FileEntry | None
    found_at: str


@dataclass
class Present:
    """What the index holds now, read once at the start of an ingest and kept up to date by it:
    an entry whose chunks or text are missing is processed again, not taken as unchanged."""

    chroma: set[str]
    keywords: set[str]
    texts: set[str]

    @classmethod
    def of(cls, store: Store) -> Present:
        return cls(store.all_ids(), store.keywords.ids(), store.texts.doc_ids() if not store.remote else set())

    def whole(self, entry: FileEntry, remote: bool) -> bool:
        ids = entry.chunk_ids
        return (all(i in self.chroma for i in ids) and all(i in self.keywords for i in ids)
                and (remote or entry.doc_id in self.texts))


class Ingestor:
    """Embeds in batches across files; a file's manifest entry is written only once all its
    chunks are stored, so an interruption never leaves part of a file behind a manifest entry."""

    batch_chunks = 256

    def __init__(self, store: Store, chunker: Chunker, embeddings: BundledEmbeddings) -> None:
        self.store = store
        self.chunker = chunker
        self.embeddings = embeddings
        self.present = Present(set(), set(), set())

    def run(
        self,
        paths: list[Path],
        *,
        progress: bool = True,
        on_skip: Callable[[str, str], None] | None = None,
        follow_links: bool = False,
        report: IngestReport | None = None,
    ) -> IngestReport:
        """Ingest `paths`. The caller holds `ingest_lock` and `store.writing()`."""
        report = report or IngestReport()
        started = time.perf_counter()
        store = self.store
        max_bytes = int(store.settings.max_file_mb * 1e6)
        with store.batch():
            self.present = present = Present.of(store)
            stray = store.reconcile(present.chroma | present.keywords)
            present.chroma -= stray
            present.keywords -= stray
        found = list(discover(paths, follow_links=follow_links))
        seen: set[str] = set()
        withdraw: dict[str, str] = {}  # source -> why it can no longer be read
        pending: list[_Pending] = []
        bar = tqdm(found, desc="ingest", unit="file", disable=not progress or len(found) < 20)
        for item in bar:
            source = str(item.path)
            if item.skip:
                self._skip(report, on_skip, item.display, item.skip)
                continue
            seen.add(source)
            try:
                ready = self._prepare(item, source, max_bytes, report)
            except LoadError as exc:
                reason = exc.reason
                if source in store.manifest.files:
                    withdraw[source] = reason
                    reason += "; its earlier version is taken out of the index"
                self._skip(report, on_skip, exc.path, reason)
                continue
            if ready is not None:
                pending.append(ready)
                if sum(len(p.fresh) for p in pending) >= self.batch_chunks:
                    self._commit(pending, report)
                    pending = []
        self._commit(pending, report)
        self._remove(paths, seen, withdraw, report)
        report.seconds = time.perf_counter() - started
        log.info("ingest %s", report.summary())
        return report

    def reindex(self, docs: list[tuple[FileEntry, LoadedDoc]]) -> int:
        """Store indexed files again from their documents (a repair): each is chunked, and only
        its chunks missing from Chroma are embedded. Returns how many were embedded."""
        report = IngestReport()
        with self.store.batch():
            self.present = Present.of(self.store)
        pending: list[_Pending] = []
        for entry, doc in docs:
            chunks = self.chunker.chunk(doc, entry.doc_id)
            pending.append(_Pending(doc, entry.doc_id, chunks, [c for c in chunks if c.id not in self.present.chroma],
                                    entry, entry.found_at))
            if sum(len(p.fresh) for p in pending) >= self.batch_chunks:
                self._commit(pending, report)
                pending = []
        self._commit(pending, report)
        return report.chunks_added

    @staticmethod
    def _skip(report: IngestReport, on_skip: Callable[[str, str], None] | None, path: str, reason: str) -> None:
        report.skipped.append((path, reason))
        if on_skip:
            on_skip(path, reason)

    def _prepare(self, item: Found, source: str, max_bytes: int, report: IngestReport) -> _Pending | None:
        old = self.store.manifest.files.get(source)
        try:
            # an entry from before page maps is read again once to get its pages or headings: the
            # text is the same, so its chunks keep their ids and vectors (nothing is embedded)
            mapped = old is not None and (old.places is not None or item.path.suffix.lower() not in PLACED_SUFFIXES)
            if (old is not None and mapped and old.file == item.display and self.present.whole(old, self.store.remote)
                    and item.path.stat().st_size <= max_bytes
                    and hashlib.sha256(item.path.read_bytes()).hexdigest() == old.sha256):
                if old.found_at != str(item.at):
                    old.found_at = str(item.at)
                    self.store.manifest.files[source] = old  # marks it for the next manifest write
                report.unchanged.append(item.display)
                return None
        except FileNotFoundError as exc:
            raise LoadError(str(item.at), "vanished while the ingest ran") from exc
        except OSError as exc:
            raise LoadError(str(item.at), f"cannot read: {exc.strerror or exc}") from exc
        doc = load_file(item.path, item.display, max_bytes)
        doc_id = doc_id_for(source)
        chunks = self.chunker.chunk(doc, doc_id)
        return _Pending(doc, doc_id, chunks, [c for c in chunks if c.id not in self.present.chroma], old,
                        str(item.at))

    def _commit(self, pending: list[_Pending], report: IngestReport) -> None:
        """Embed the pending files' new chunks (unlocked), then store them and record the files
        in the manifest (one write batch)."""
        if not pending:
            return
        store = self.store
        fresh = [c for p in pending for c in p.fresh]
        vectors = []
        for i in range(0, len(fresh), self.batch_chunks):
            t0 = time.perf_counter()
            vectors.append(self.embeddings.embed_array([c.text for c in fresh[i : i + self.batch_chunks]]))
            report.embed_seconds += time.perf_counter() - t0
        if not store.remote:
            text_bytes = sum(len(p.doc.text.encode("utf-8")) for p in pending)
            ensure_room(store.settings.data_dir, len(fresh) * BYTES_PER_CHUNK + 2 * text_bytes,
                        store.settings.min_free_mb)
        entries = {p.doc_id: self._entry(p) for p in pending}
        try:
            with store.batch():
                self._store(pending, fresh, vectors, entries)
        except Exception as exc:
            if no_space(exc) and not isinstance(exc, DiskFullError):
                raise disk_full(store.settings.data_dir, exc) from exc
            raise
        for p in pending:
            (report.updated if p.old else report.added).append(p.doc.file)
        report.chunks_added += len(fresh)

    def _store(self, pending: list[_Pending], fresh: list[Chunk], vectors: list[np.ndarray],
               entries: dict[str, FileEntry]) -> None:
        """One write batch. Until the manifest is written a failure takes everything back, the
        old texts of updated files included (their old chunks are still what the index quotes);
        after it, only the sweep of replaced chunks is left, and the next ingest finishes it."""
        store, present = self.store, self.present
        old_texts: dict[str, str | None] = {}
        try:
            for i, part in enumerate(vectors):
                store.add_chunks(fresh[i * self.batch_chunks : (i + 1) * self.batch_chunks], part, entries)
            # chunks already in Chroma but missing from the keyword index (a damaged one): no embedding
            fresh_ids = {c.id for c in fresh}
            lost = [c for p in pending for c in p.chunks if c.id not in present.keywords and c.id not in fresh_ids]
            store.keywords.add((c.id, c.text) for c in lost)
            gone: list[str] = []
            for p in pending:
                if p.old is not None and not store.remote:
                    old_texts[p.doc_id] = store.texts.cached(p.doc_id, warn=False)
                store.write_text(p.doc_id, p.doc.text)
                if p.old:
                    gone += sorted(set(p.old.chunk_ids) - {c.id for c in p.chunks})
                    # a kept chunk (same text, same id) may have moved in the edited file
                    store.update_positions([c for c in p.chunks if c.id not in fresh_ids], entries)
                store.manifest.files[p.doc.source] = entries[p.doc_id]
            # new files only: the manifest write may wait a few seconds (at worst their chunks are
            # reconciled and embedded again after a crash). An updated file's text was just
            # replaced, so its entry is written now; its replaced chunks go only once it is.
            store.save_manifest(defer=all(p.old is None for p in pending))
        except BaseException:
            self._undo(pending, fresh, old_texts)
            raise
        present.chroma.update(c.id for c in fresh)
        present.keywords.update(c.id for p in pending for c in p.chunks)
        present.texts.update(p.doc_id for p in pending)
        store.delete_chunks(gone)
        present.chroma.difference_update(gone)
        present.keywords.difference_update(gone)

    def _undo(self, pending: list[_Pending], fresh: list[Chunk], old_texts: dict[str, str | None]) -> None:
        """After a failed batch: its new chunks out again, the old texts and manifest entries back
        (best effort: on a full disk the deletes may fail too; the next ingest reconciles)."""
        store = self.store
        for p in pending:
            if p.old is not None:
                store.manifest.files[p.doc.source] = p.old
            elif p.doc.source in store.manifest.files:
                del store.manifest.files[p.doc.source]
        steps: list[Callable[[], None]] = [lambda: store.delete_chunks([c.id for c in fresh])]  # first: frees room
        steps += [partial(store.write_text, doc_id, text) for doc_id, text in old_texts.items() if text is not None]
        for step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - the failure that stopped the batch is the one reported
                log.warning("could not take back part of a failed batch (%s); `chatbot ingest` or "
                            "`chatbot check --repair` mends it", exc)

    @staticmethod
    def _entry(p: _Pending) -> FileEntry:
        return FileEntry(
            source=p.doc.source, file=p.doc.file, title=p.doc.title, lang=p.doc.lang, sha256=p.doc.sha256,
            doc_id=p.doc_id, n_chars=len(p.doc.text), chunk_ids=[c.id for c in p.chunks], found_at=p.found_at,
            places=[[pl.start, pl.page, pl.section] for pl in p.doc.places],
        )

    def _remove(self, paths: list[Path], seen: set[str], withdraw: dict[str, str], report: IngestReport) -> None:
        """Take out files that left an ingested folder, vanished, or can no longer be read."""
        store = self.store
        folders = [r for given, real in roots_of(paths) for r in (given, real) if real.is_dir()]
        gone: list[str] = []
        for source, entry in store.manifest.files.items():
            found = Path(entry.found)
            left_folder = source not in seen and any(found.is_relative_to(f) for f in folders)
            # in server mode other machines' files are in the manifest too: only sweep our folders
            vanished = not store.remote and not Path(source).exists()
            if left_folder or vanished or source in withdraw:
                gone.append(source)
        for entry in store.remove_files(gone):
            report.removed.append(entry.file)
            if entry.source in withdraw:
                report.withdrawn.append((entry.file, withdraw[entry.source]))
