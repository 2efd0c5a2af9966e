"""Reading chunks back: from Chroma's ids and metadata to `Chunk`s with their text.

A chunk's text in embedded mode is the slice of its file's normalized text (`chatbot.index.texts`,
checked by CRC); in server mode, and in indexes written before, its metadata `text` or its Chroma
document. A chunk whose text cannot be trusted is left out, never quoted wrongly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from chatbot.index.texts import TextFiles
from chatbot.types import Chunk, ScoredChunk, places_from_json

T = TypeVar("T")


class ChunkReads:
    """The read half of `Store`."""

    collection: Any
    remote: bool
    texts: TextFiles
    backend: Any

    def _call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        raise NotImplementedError

    def count(self) -> int:
        return self._call(self.collection.count)

    def document_text(self, doc_id: str) -> str:
        if self.remote:
            return self.backend.text(doc_id)
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

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> list[ScoredChunk]:
        """The k nearest chunks; `doc_ids`: only chunks of those documents (Chroma's `where`)."""
        # Chroma returns fewer than k (none for an empty collection) without an error, so no
        # count() first: one request per question, which matters against a server
        scope: dict[str, Any] = {} if doc_ids is None else {"where": {"doc_id": {"$in": list(doc_ids)}}}
        res = self._call(
            self.collection.query,
            query_embeddings=[vector], n_results=k,
            include=["documents", "metadatas", "distances"], **scope,
        )
        ids = res["ids"][0]
        sims = dict(zip(ids, (1.0 - float(d) for d in res["distances"][0])))
        chunks = self._chunks(ids, res["documents"][0], res["metadatas"][0])
        return [ScoredChunk(chunk=c, score=sims[c.id], dense=sims[c.id]) for c in chunks]

    def get_with_vectors(self, ids: list[str]) -> list[tuple[Chunk, np.ndarray]]:
        if not ids:
            return []
        res = self._call(self.collection.get, ids=ids, include=["documents", "metadatas", "embeddings"])
        vectors = dict(zip(res["ids"], res["embeddings"]))
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
        lang=str(meta["lang"]), seq=int(meta["seq"]), places=places_from_json(meta.get("places")),
    )
