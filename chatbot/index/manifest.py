"""The manifest: per source file, its content hash, normalized text and chunk ids.

It makes re-ingest incremental and says which chunks are committed. Two homes, one interface:
- `JsonManifest`: `manifest.json` in the data directory (embedded mode). Rewritten whole and
  atomically; during a bulk ingest at most every few seconds, so a 100,000-chunk ingest does not
  rewrite a growing file hundreds of times.
- `ChromaManifest`: a small `<collection>_files` collection on the Chroma server (server mode),
  one record per file (metadata = the entry, document = the normalized text) plus a `__state__`
  record whose `generation` changes with every write. Several app processes share it; each keeps
  its keyword index as a cache and resyncs when the generation moves (see `Store.refresh`).

`Manifest.files` is a dict that remembers what changed since the last save, so both homes write
only the difference (`del manifest.files[source]` and assignments are tracked).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from chatbot.index.datadir import replace_file

MANIFEST_FORMAT = 1
STATE_ID = "__state__"
LEASE_PREFIX = "__ingest__"
LEASE_TTL_S = 120.0  # an ingest that has not written for this long is taken as dead
_PAGE = 2000


@dataclass
class FileEntry:
    source: str
    file: str
    title: str
    lang: str
    sha256: str
    doc_id: str
    n_chars: int
    chunk_ids: list[str] = field(default_factory=list)
    # where the ingest found it, unresolved (a symlink's own path); "" in older manifests: source
    found_at: str = ""
    # its page map: [[start, page, section], ...] (`chatbot.types.places_json`), PDF pages or
    # headings by start offset in its normalized text; None in manifests written before page maps
    places: list[list[Any]] | None = None

    @property
    def found(self) -> str:
        return self.found_at or self.source

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _FIELDS}


_FIELDS = [f.name for f in fields(FileEntry)]
_JSON_FIELDS = ("chunk_ids", "places")  # lists, kept as JSON strings in Chroma's scalar metadata


class TrackedFiles(dict[str, FileEntry]):
    """source -> FileEntry; remembers the keys set and the entries removed since the last save."""

    def __init__(self, items: Iterable[tuple[str, FileEntry]] = ()) -> None:
        super().__init__(items)
        self.changed: set[str] = set()
        self.removed: dict[str, FileEntry] = {}

    def __setitem__(self, key: str, value: FileEntry) -> None:
        old = self.get(key)
        if old is not None and old.doc_id != value.doc_id:
            self.removed[key] = old
        super().__setitem__(key, value)
        self.changed.add(key)

    def __delitem__(self, key: str) -> None:
        self.removed.setdefault(key, self[key])
        super().__delitem__(key)
        self.changed.discard(key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            entry = self[key]
            del self[key]
            return entry
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, FileEntry]:
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: FileEntry) -> FileEntry:
        if key not in self:
            self[key] = default
        return self[key]

    @property
    def dirty(self) -> bool:
        return bool(self.changed or self.removed)

    def take_changes(self) -> tuple[list[FileEntry], list[FileEntry]]:
        """(entries set, entries removed) since the last call; forgets them."""
        put = [self[k] for k in sorted(self.changed) if k in self]
        gone = [e for k, e in self.removed.items() if k not in self or self[k].doc_id != e.doc_id]
        self.changed, self.removed = set(), {}
        return put, gone


@dataclass
class Manifest:
    stamp: dict[str, Any]
    files: TrackedFiles = field(default_factory=TrackedFiles)

    def by_doc_id(self, doc_id: str) -> FileEntry | None:
        return next((e for e in self.files.values() if e.doc_id == doc_id), None)

    def owned_ids(self) -> set[str]:
        return {cid for entry in self.files.values() for cid in entry.chunk_ids}


class JsonManifest:
    """`manifest.json`, rewritten whole and atomically (os.replace)."""

    defer_s = 5.0  # a deferrable save waits at least this long since the last one

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved_at = 0.0
        self._took = 0.0

    def exists(self) -> bool:
        return self.path.exists()

    def load(self, stamp: dict[str, Any]) -> Manifest:
        if not self.path.exists():
            return Manifest(stamp=stamp)
        data = json.loads(self.path.read_text(encoding="utf-8"))
        files = TrackedFiles((k, FileEntry(**v)) for k, v in data.get("files", {}).items())
        return Manifest(stamp=data.get("stamp", stamp), files=files)

    def save(self, manifest: Manifest, texts: dict[str, str], *, defer: bool = False) -> bool:
        """Write the manifest (texts live in files beside it). A deferrable save is skipped when
        the last one is recent; returns whether it wrote."""
        if not manifest.files.dirty and self.path.exists():
            return False
        # a deferrable save waits at least defer_s, and 20 times what the last save took, so
        # rewriting a large manifest stays a small share of a bulk ingest
        wait = max(self.defer_s, 20 * self._took)
        if defer and time.monotonic() - self._saved_at < wait:
            return False
        started = time.monotonic()
        data = {"format": MANIFEST_FORMAT, "stamp": manifest.stamp,
                "files": {k: manifest.files[k].to_dict() for k in sorted(manifest.files)}}
        replace_file(self.path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        manifest.files.take_changes()  # only once written: a failed save (a full disk) is retried
        self._saved_at = time.monotonic()
        self._took = self._saved_at - started
        return True

    def generation(self) -> str | None:
        return None


class ChromaManifest:
    """The manifest as records of a small collection on the Chroma server, shared by every app
    process that uses the server. `call` wraps each request (retry once, then a clear error)."""

    def __init__(self, collection: Any, call: Callable[..., Any]) -> None:
        self.collection = collection
        self.call = call
        self.lease_id = f"{LEASE_PREFIX}{uuid.uuid4().hex}"

    def exists(self) -> bool:
        return self.generation() is not None

    def _pages(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            res = self.call(self.collection.get, limit=_PAGE, offset=offset, **kwargs)
            yield res
            if len(res["ids"]) < _PAGE:
                return
            offset += _PAGE

    def load(self, stamp: dict[str, Any]) -> Manifest:
        entries = [
            FileEntry(**{k: meta[k] for k in _FIELDS if k in meta and k not in _JSON_FIELDS},
                      chunk_ids=json.loads(str(meta["chunk_ids"])),
                      places=json.loads(str(meta["places"])) if meta.get("places") else None)
            for res in self._pages(where={"kind": "file"}, include=["metadatas"])
            for meta in res["metadatas"]
        ]
        return Manifest(stamp=stamp, files=TrackedFiles((e.source, e) for e in entries))

    def save(self, manifest: Manifest, texts: dict[str, str], *, defer: bool = False) -> bool:
        put, gone = manifest.files.take_changes()
        if not (put or gone):
            return False
        for i in range(0, len(put), 500):
            part = put[i : i + 500]
            self.call(
                self.collection.upsert,
                ids=[e.doc_id for e in part],
                embeddings=[[1.0]] * len(part),
                documents=[texts.pop(e.doc_id, None) or self.text(e.doc_id) for e in part],
                metadatas=[{**{k: v for k, v in e.to_dict().items() if k not in _JSON_FIELDS},
                            "chunk_ids": json.dumps(e.chunk_ids), "kind": "file",
                            **({"places": json.dumps(e.places, ensure_ascii=False)} if e.places is not None else {})}
                           for e in part],
            )
        keep = {e.doc_id for e in put}
        drop = [e.doc_id for e in gone if e.doc_id not in keep]
        if drop:
            self.call(self.collection.delete, ids=drop)
        self.bump()
        return True

    def text(self, doc_id: str) -> str:
        res = self.call(self.collection.get, ids=[doc_id], include=["documents"])
        docs = res.get("documents") or []
        return str(docs[0]) if docs and docs[0] is not None else ""

    def generation(self) -> str | None:
        res = self.call(self.collection.get, ids=[STATE_ID], include=["metadatas"])
        metas = res.get("metadatas") or []
        return str(metas[0]["generation"]) if metas else None

    def bump(self) -> str:
        generation = uuid.uuid4().hex
        self.call(self.collection.upsert, ids=[STATE_ID], embeddings=[[1.0]], documents=[""],
                  metadatas=[{"kind": "state", "generation": generation}])
        return generation

    # -- ingest leases: an ingest in another process must not have its in-flight chunks swept --

    def hold_lease(self) -> None:
        self.call(self.collection.upsert, ids=[self.lease_id], embeddings=[[1.0]], documents=[""],
                  metadatas=[{"kind": "lease", "heartbeat": time.time(), "pid": os.getpid()}])

    def drop_lease(self) -> None:
        self.call(self.collection.delete, ids=[self.lease_id])

    def other_live_leases(self) -> int:
        res = self.call(self.collection.get, where={"kind": "lease"}, include=["metadatas"])
        now = time.time()
        return sum(1 for lid, meta in zip(res["ids"], res["metadatas"])
                   if lid != self.lease_id and now - float(meta["heartbeat"]) < LEASE_TTL_S)
