"""Chroma (embedded or server), the normalized texts and the manifest: the index on disk.

The manifest records, per source file, its content hash and chunk ids. It is written after the
chunks reach Chroma, atomically, so a crash leaves at worst chunks the manifest does not know;
`reconcile()` removes those at the start of the next ingest.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from langchain_chroma import Chroma

from chatbot.config import EMBEDDING_MODEL, TOKEN_ENCODING, Settings
from chatbot.embeddings import BundledEmbeddings
from chatbot.keyword import KEYWORD_TERMS_VERSION, KeywordIndex
from chatbot.errors import IndexMismatchError, IndexMissingError, StoreUnavailableError
from chatbot.types import Chunk, ScoredChunk

log = logging.getLogger(__name__)
MANIFEST_FORMAT = 1


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


@dataclass
class Manifest:
    stamp: dict[str, Any]
    files: dict[str, FileEntry] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        data = {"format": MANIFEST_FORMAT, "stamp": self.stamp,
                "files": {k: asdict(v) for k, v in sorted(self.files.items())}}
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, stamp: dict[str, Any]) -> Manifest:
        if not path.exists():
            return cls(stamp=stamp)
        data = json.loads(path.read_text(encoding="utf-8"))
        files = {k: FileEntry(**v) for k, v in data.get("files", {}).items()}
        return cls(stamp=data.get("stamp", stamp), files=files)

    def by_doc_id(self, doc_id: str) -> FileEntry | None:
        return next((e for e in self.files.values() if e.doc_id == doc_id), None)


def index_stamp(settings: Settings) -> dict[str, Any]:
    """What built the index; an index built otherwise is refused, not silently mixed."""
    return {
        "embedding_model": EMBEDDING_MODEL,
        "token_encoding": TOKEN_ENCODING,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_tokens": settings.chunk_overlap_tokens,
        "keyword_terms": KEYWORD_TERMS_VERSION,
    }


def _client(settings: Settings) -> chromadb.ClientAPI:
    chroma_settings = chromadb.config.Settings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                       settings=chroma_settings)
        except Exception as exc:  # chromadb raises plain ValueError/ConnectionError here
            raise StoreUnavailableError(
                f"Cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                f"({exc}). Start it with `chroma run --path DIR --host {settings.chroma_host} "
                f"--port {settings.chroma_port}` or unset CHATBOT_CHROMA_HOST to use the embedded store."
            ) from exc
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class Store:
    """The index: chunk vectors in Chroma, texts and manifest beside them."""

    def __init__(self, settings: Settings, embeddings: BundledEmbeddings, *, create: bool) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.stamp = index_stamp(settings)
        if not create and not settings.manifest_path.exists():
            raise IndexMissingError(str(settings.data_dir))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.texts_dir.mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest.load(settings.manifest_path, self.stamp)
        self._check_stamp(self.manifest.stamp, "manifest")
        self.client = _client(settings)
        self.vectors = Chroma(
            collection_name=settings.collection,
            embedding_function=embeddings,
            client=self.client,
            collection_metadata=dict(self.stamp),
            collection_configuration={"hnsw": {"space": "cosine"}},
        )
        self.collection = self.vectors._collection
        self._check_stamp(self.collection.metadata or {}, "Chroma collection")
        self.keywords = KeywordIndex(settings.data_dir / "keyword.sqlite")

    def _check_stamp(self, found: dict[str, Any], where: str) -> None:
        diff = {k: (found.get(k), v) for k, v in self.stamp.items() if found.get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: index has {a!r}, settings ask for {b!r}" for k, (a, b) in diff.items())
            raise IndexMismatchError(
                f"The {where} in {self.settings.data_dir} was built with other settings ({detail}). "
                "Rebuild it with `chatbot ingest --rebuild`, or restore the settings it was built with."
            )

    # -- writing ---------------------------------------------------------------------------

    def save_manifest(self) -> None:
        self.manifest.save(self.settings.manifest_path)

    def text_path(self, doc_id: str) -> Path:
        return self.settings.texts_dir / f"{doc_id}.txt"

    def write_text(self, doc_id: str, text: str) -> None:
        path = self.text_path(doc_id)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

    def add_chunks(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        if not chunks:
            return
        self.collection.upsert(
            ids=[c.id for c in chunks],
            embeddings=vectors,
            documents=[c.text for c in chunks],
            metadatas=[c.metadata() for c in chunks],  # type: ignore[misc]
        )
        self.keywords.add((c.id, c.text) for c in chunks)

    def delete_chunks(self, ids: list[str]) -> None:
        for i in range(0, len(ids), 5000):
            self.collection.delete(ids=ids[i : i + 5000])
        self.keywords.delete(ids)

    def all_ids(self) -> set[str]:
        return set(self.collection.get(include=[])["ids"])

    def reconcile(self) -> int:
        """Delete chunks that no manifest entry owns (left by an interrupted ingest)."""
        owned = {cid for entry in self.manifest.files.values() for cid in entry.chunk_ids}
        stray = sorted((self.all_ids() | self.keywords.ids()) - owned)
        if stray:
            log.warning("reconcile removed=%d stray chunks", len(stray))
            self.delete_chunks(stray)
        return len(stray)

    @staticmethod
    def wipe(settings: Settings) -> None:
        """Drop everything an index wrote (for --rebuild), whatever settings built it."""
        try:
            _client(settings).delete_collection(settings.collection)
        except StoreUnavailableError:
            raise
        except Exception:  # noqa: BLE001 - a missing collection is what we want anyway
            log.debug("no collection to delete")
        for path in settings.texts_dir.glob("*.txt"):
            path.unlink()
        for name in ("keyword.sqlite", "keyword.sqlite-wal", "keyword.sqlite-shm"):
            (settings.data_dir / name).unlink(missing_ok=True)
        settings.manifest_path.unlink(missing_ok=True)

    # -- reading ---------------------------------------------------------------------------

    def count(self) -> int:
        return self.collection.count()

    def document_text(self, doc_id: str) -> str:
        return self.text_path(doc_id).read_text(encoding="utf-8")

    def dense_search(self, vector: np.ndarray, k: int) -> list[ScoredChunk]:
        n = self.count()
        if n == 0:
            return []
        res = self.collection.query(
            query_embeddings=[vector], n_results=min(k, n),
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for cid, text, meta, dist in zip(
            res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0]  # type: ignore[index]
        ):
            sim = 1.0 - float(dist)
            out.append(ScoredChunk(chunk=chunk_from_record(cid, text, meta), score=sim, dense=sim))
        return out

    def get_with_vectors(self, ids: list[str]) -> list[tuple[Chunk, np.ndarray]]:
        if not ids:
            return []
        res = self.collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        return [
            (chunk_from_record(cid, text, meta), np.asarray(vec, dtype=np.float32))
            for cid, text, meta, vec in zip(res["ids"], res["documents"], res["metadatas"], res["embeddings"])  # type: ignore[arg-type]
        ]

    def neighbours(self, chunk: Chunk) -> list[Chunk]:
        """The chunks just before and after `chunk` in its file."""
        res = self.collection.get(
            where={"$and": [{"doc_id": chunk.doc_id}, {"seq": {"$in": [chunk.seq - 1, chunk.seq + 1]}}]},
            include=["documents", "metadatas"],
        )
        found = [chunk_from_record(cid, t, m) for cid, t, m in zip(res["ids"], res["documents"], res["metadatas"])]  # type: ignore[arg-type]
        return sorted(found, key=lambda c: c.seq)

    def get_chunks(self, ids: list[str]) -> list[Chunk]:
        res = self.collection.get(ids=ids, include=["documents", "metadatas"])
        found = {
            cid: chunk_from_record(cid, text, meta)
            for cid, text, meta in zip(res["ids"], res["documents"], res["metadatas"])  # type: ignore[arg-type]
        }
        return [found[i] for i in ids if i in found]


def chunk_from_record(cid: str, text: str | None, meta: Any) -> Chunk:
    return Chunk(
        id=cid, doc_id=str(meta["doc_id"]), file=str(meta["file"]), title=str(meta["title"]),
        text=text or "", start_char=int(meta["start_char"]), end_char=int(meta["end_char"]),
        lang=str(meta["lang"]), seq=int(meta["seq"]),
    )
