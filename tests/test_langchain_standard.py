"""LangChain's own standard tests (`langchain-tests`) on our retriever and our embeddings, as a
LangChain user would run them: `RetrieversIntegrationTests` on `ChatbotRetriever` over a small
synthetic index, `EmbeddingsUnitTests` and `EmbeddingsIntegrationTests` on `BundledEmbeddings`.

The classes are inherited as they are (their `test_no_overrides_DO_NOT_OVERRIDE` checks that no
standard test is replaced); only their configuration properties are ours, and the embeddings
model fixture is built once per class instead of once per test (the same class and parameters; its
weights take a second or two to load). Their async tests are plain `async def`: the module's
`asyncio` mark lets pytest-asyncio run them in its strict mode, so the rest of the suite keeps its
configuration; the mark also lands on their sync tests, where pytest-asyncio's warning says nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_corpus import indexed_bot
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from chatbot.app import Chatbot
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.retrieval.documents import ChatbotRetriever

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings("ignore:The test <Function .*> is marked with '@pytest.mark.asyncio' but it is not an "
                               "async function:pytest.PytestWarning"),
]

_BOT: dict[str, Chatbot] = {}


@pytest.fixture(scope="module", autouse=True)
def _index(tmp_path_factory: pytest.TempPathFactory, embeddings: BundledEmbeddings) -> None:
    """The index the retriever reads, built once for the module (properties cannot take fixtures)."""
    _BOT["bot"] = indexed_bot(tmp_path_factory.mktemp("lc-standard"), embeddings)


class TestChatbotRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[ChatbotRetriever]:
        return ChatbotRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"chatbot": _BOT["bot"], "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "When did the ferry's current vessel enter service?"


class BundledEmbeddingsConfig:
    """The configuration both embeddings suites read: our class, one thread."""

    @property
    def embeddings_class(self) -> type[BundledEmbeddings]:
        return BundledEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"threads": 1}


class TestBundledEmbeddingsUnit(BundledEmbeddingsConfig, EmbeddingsUnitTests):
    pass


class TestBundledEmbeddingsIntegration(BundledEmbeddingsConfig, EmbeddingsIntegrationTests):
    @pytest.fixture(scope="class")
    def model(self) -> BundledEmbeddings:
        return self.embeddings_class(**self.embedding_model_params)
