"""`chatbot check`: do the manifest, Chroma, the keyword index and the texts agree, and does every
chunk's quote still match its file? `--repair` mends what does not, embedding only what is lost.

What is checked (a finding each):
- the manifest reads as JSON; the keyword index is a database; Chroma answers a query whose hits
  it can also fetch;
- every chunk the manifest lists is in Chroma and in the keyword index; nothing else is there;
- every file's normalized text is in `texts/`, as long as recorded, and every chunk's text (its
  slice at `[start_char, end_char)`) has the CRC stored beside its vector;
- information only: source files changed or gone since they were indexed (`chatbot ingest`
  brings the index up to date; that is not damage).

How it mends: a lost manifest is rebuilt from the chunks' metadata in Chroma (each names its
file's path and hash); a damaged keyword index is set aside and filled again from the texts; a
file whose chunks, keyword rows or text are missing or wrong is chunked again from its stored
text when that is intact, else from its source file, and only chunks missing from Chroma are
embedded; stray chunks and texts are deleted. A file whose text and source are both gone is
taken out of the index, and the report says so.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.errors import ChatbotError, LoadError
from chatbot.index.manifest import FileEntry
from chatbot.index.store import Store
from chatbot.index.texts import crc
from chatbot.ingest.ingestor import Ingestor, Present, doc_id_for
from chatbot.text.loaders import load_file
from chatbot.types import LoadedDoc, places_from_json

log = logging.getLogger(__name__)
PAGE = 5000


@dataclass(frozen=True)
class Finding:
    kind: str  # a short name: manifest, keywords, chroma, vectors, keyword-rows, text, quotes, strays, ...
    detail: str  # one line for the person reading the report
    sources: tuple[str, ...] = ()  # the manifest entries concerned
    serious: bool = True  # False: information (a source changed since it was indexed)


@dataclass
class CheckReport:
    files: int = 0
    chunks: int = 0
    findings: list[Finding] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.serious for f in self.findings)

    def damaged_sources(self) -> set[str]:
        return {s for f in self.findings if f.serious for s in f.sources}

    def lines(self) -> list[str]:
        out = [f"{'problem' if f.serious else 'note'}: {f.detail}" for f in self.findings]
        out += [f"repaired: {r}" for r in self.repaired]
        verdict = "consistent" if self.ok else "INCONSISTENT"
        out.append(f"index: {self.files} files, {self.chunks} chunks; {verdict}")
        return out


def _names(store: Store, sources: set[str], limit: int = 5) -> str:
    files = sorted(store.manifest.files[s].file for s in sources if s in store.manifest.files)
    more = f" and {len(files) - limit} more" if len(files) > limit else ""
    return ", ".join(files[:limit]) + more


def inspect(store: Store, *, deep: bool = True) -> CheckReport:
    """What disagrees. `deep`: also every chunk's CRC against its text, and the source files."""
    report = CheckReport()
    add = report.findings.append
    if store.manifest_damaged:
        add(Finding("manifest", store.manifest_damaged))
    if store.keywords_damaged:
        add(Finding("keywords", store.keywords_damaged))
    if not _chroma_answers(store):
        add(Finding("chroma", "Chroma's vector index cannot answer a query with chunks it can fetch"))
    files = store.manifest.files
    report.files = len(files)
    report.chunks = sum(len(e.chunk_ids) for e in files.values())
    present = Present.of(store)
    no_vectors = {s for s, e in files.items() if any(i not in present.chroma for i in e.chunk_ids)}
    no_rows = {s for s, e in files.items() if any(i not in present.keywords for i in e.chunk_ids)}
    if no_vectors:
        add(Finding("vectors", f"{len(no_vectors)} files have chunks missing from Chroma: {_names(store, no_vectors)}",
                    tuple(sorted(no_vectors))))
    if no_rows and not store.keywords_damaged:
        add(Finding("keyword-rows", f"{len(no_rows)} files have chunks missing from the keyword index: "
                    f"{_names(store, no_rows)}", tuple(sorted(no_rows))))
    owned = store.manifest.owned_ids()
    stray = (present.chroma | present.keywords) - owned
    if stray and not store.manifest_damaged:  # with the manifest lost, every chunk looks stray
        add(Finding("strays", f"{len(stray)} chunks belong to no indexed file"))
    if not store.remote:
        _inspect_texts(store, present, deep, add)
    if deep:
        _inspect_sources(store, add)
    return report


def _chroma_answers(store: Store) -> bool:
    """Query with a stored vector: the hits must include it, and each hit must be fetchable."""
    try:
        first = store.collection.get(limit=1, include=["embeddings"])
        if not first["ids"]:
            return True
        vector = np.asarray(first["embeddings"], dtype=np.float32)
        res = store.collection.query(query_embeddings=vector, n_results=min(store.count(), 10), include=[])
        ids = res["ids"][0]
        return first["ids"][0] in ids and len(store.collection.get(ids=ids, include=[])["ids"]) == len(ids)
    except Exception as exc:  # noqa: BLE001 - any failure of the probe is the finding
        log.warning("chroma probe failed: %s", exc)
        return False


def _inspect_texts(store: Store, present: Present, deep: bool, add: Callable[[Finding], None]) -> None:
    files = store.manifest.files
    missing = {s for s, e in files.items() if e.doc_id not in present.texts}
    if missing:
        add(Finding("text", f"{len(missing)} files' texts are missing from texts/: {_names(store, missing)}",
                    tuple(sorted(missing))))
    orphans = present.texts - {e.doc_id for e in files.values()}
    if orphans and not store.manifest_damaged:
        add(Finding("orphan-texts", f"{len(orphans)} texts in texts/ belong to no indexed file", serious=False))
    if not deep:
        return
    wrong_length = {s for s, e in files.items() if s not in missing
                    and len(store.texts.cached(e.doc_id) or "") != e.n_chars}
    by_doc = {e.doc_id: s for s, e in files.items()}
    bad_quotes: set[str] = set()
    for _ids, metas in _metadata_pages(store):
        for meta in metas:
            source = by_doc.get(str(meta.get("doc_id")))
            if source is None or source in missing or "crc" not in meta:
                continue
            if store.texts.slice(str(meta["doc_id"]), int(meta["start_char"]), int(meta["end_char"]), meta["crc"]) is None:
                bad_quotes.add(source)
    if wrong_length | bad_quotes:
        bad = wrong_length | bad_quotes
        add(Finding("quotes", f"{len(bad)} files' texts no longer match their chunks (a quote would not be "
                    f"what the file says): {_names(store, bad)}", tuple(sorted(bad))))


def _metadata_pages(store: Store) -> list[tuple[list[str], list[dict[str, Any]]]]:
    out = []
    offset = 0
    while True:
        res = store.collection.get(include=["metadatas"], limit=PAGE, offset=offset)
        out.append((res["ids"], [dict(m or {}) for m in res["metadatas"] or []]))
        if len(res["ids"]) < PAGE:
            return out
        offset += PAGE


def _inspect_sources(store: Store, add: Callable[[Finding], None]) -> None:
    changed, gone = set(), set()
    for source, entry in store.manifest.files.items():
        path = Path(source)
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            gone.add(source)
            continue
        except OSError:
            changed.add(source)
            continue
        if digest != entry.sha256:
            changed.add(source)
    if changed:
        add(Finding("changed", f"{len(changed)} files changed since they were indexed (`chatbot ingest` "
                    f"updates them): {_names(store, changed)}", tuple(sorted(changed)), serious=False))
    if gone:
        add(Finding("gone", f"{len(gone)} indexed files no longer exist at their path (`chatbot ingest` of "
                    f"their folder takes them out): {_names(store, gone)}", tuple(sorted(gone)), serious=False))


# -- repair ---------------------------------------------------------------------------------------


def repair(store: Store, ingestor: Ingestor, report: CheckReport) -> list[str]:
    """Mend what `inspect` found; the caller holds the ingest lock and `store.writing()`."""
    done: list[str] = []
    kinds = {f.kind for f in report.findings if f.serious}
    with store.batch():
        if "manifest" in kinds:
            done.append(_rebuild_manifest(store))
        if "keywords" in kinds:
            store.reset_keywords()
            done.append("keyword.sqlite was set aside as keyword.sqlite.damaged; refilled from the texts")
        if "chroma" in kinds:
            store.reset_vectors()
            done.append("Chroma's collection was dropped and is embedded again from the texts")
        present = Present.of(store)
        stray = store.reconcile(present.chroma | present.keywords)
        if stray:
            done.append(f"deleted {len(stray)} chunks of no indexed file")
        if not store.remote:
            owned_docs = {e.doc_id for e in store.manifest.files.values()}
            orphans = store.texts.doc_ids() - owned_docs
            for doc_id in orphans:
                store.texts.remove(doc_id)
    again = inspect(store, deep="quotes" in kinds) if kinds & {"manifest", "keywords", "chroma"} else report
    damaged = again.damaged_sources() | (report.damaged_sources() & set(store.manifest.files))
    done += _reindex(store, ingestor, damaged)
    return done


def _rebuild_manifest(store: Store) -> str:
    """The manifest again from the chunks' metadata in Chroma; the damaged file is set aside."""
    path = store.settings.manifest_path
    if path.exists():
        path.replace(path.with_name(path.name + ".damaged"))
    chunks: dict[str, list[tuple[int, str, dict[str, Any]]]] = defaultdict(list)
    for ids, metas in _metadata_pages(store):
        for cid, meta in zip(ids, metas):
            chunks[str(meta.get("doc_id"))].append((int(str(meta.get("seq", 0))), cid, meta))
    files = store.manifest.files
    unknown = 0
    for doc_id, parts in chunks.items():
        parts.sort(key=lambda p: p[0])
        meta = parts[0][2]
        source = str(meta.get("source") or "")
        if not source or doc_id_for(source) != doc_id:
            unknown += 1  # indexed by a version that did not record the path: left as strays
            continue
        text = store.texts.cached(doc_id, warn=False) if not store.remote else None
        files[source] = FileEntry(
            source=source, file=str(meta["file"]), title=str(meta["title"]), lang=str(meta["lang"]),
            sha256=str(meta.get("sha256", "")), doc_id=doc_id,
            n_chars=len(text) if text is not None else max(int(str(p[2]["end_char"])) for p in parts),
            chunk_ids=[cid for _, cid, _ in parts],
        )
    store.save_manifest()
    note = f"; {unknown} files indexed by an older version have no recorded path: ingest their folders again" \
        if unknown else ""
    return f"manifest.json rebuilt from Chroma ({len(files)} files; the damaged one kept as manifest.json.damaged){note}"


def _reindex(store: Store, ingestor: Ingestor, sources: set[str]) -> list[str]:
    """Chunk the damaged files again (from their intact text, else their source) and store what
    is missing; a file with neither is taken out."""
    done, docs, lost = [], [], []
    for source in sorted(sources):
        entry = store.manifest.files.get(source)
        if entry is None:
            continue
        doc = _doc_from_text(store, entry) or _doc_from_source(store, entry)
        if doc is None:
            lost.append(source)
        else:
            docs.append((entry, doc))
    if docs:
        embedded = ingestor.reindex(docs)
        done.append(f"{len(docs)} files chunked again from their texts or sources; {embedded} chunks embedded")
    for entry in store.remove_files(lost):
        done.append(f"{entry.file}: its text and its source are both gone; taken out of the index")
    return done


def _doc_from_text(store: Store, entry: FileEntry) -> LoadedDoc | None:
    if store.remote:
        return None
    text = store.texts.cached(entry.doc_id, warn=False)
    if text is None or len(text) != entry.n_chars:
        return None
    doc = LoadedDoc(source=entry.source, file=entry.file, title=entry.title, text=text, lang=entry.lang,
                    sha256=entry.sha256, places=places_from_json(entry.places))
    return doc if _quotes_match(store, entry, text) else None


def _quotes_match(store: Store, entry: FileEntry, text: str) -> bool:
    try:
        res = store.collection.get(ids=entry.chunk_ids, include=["metadatas"])
    except ChatbotError:
        return False
    for meta in res["metadatas"] or []:
        if meta and "crc" in meta and crc(text[int(str(meta["start_char"])) : int(str(meta["end_char"]))]) != meta["crc"]:
            return False
    return True


def _doc_from_source(store: Store, entry: FileEntry) -> LoadedDoc | None:
    try:
        return load_file(Path(entry.source), entry.file, int(store.settings.max_file_mb * 1e6))
    except (LoadError, OSError):
        return None
