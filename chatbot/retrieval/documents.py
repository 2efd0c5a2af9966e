"""Ranked chunks as LangChain `Document`s, and the `BaseRetriever` other LangChain code composes.

`Chatbot.as_retriever(k=...)` returns a `ChatbotRetriever` over the Chatbot's own `search`: the
same path as `ask` (question checks, dense + keyword candidates, second stage, other-language
slot, the passages the extractive reading quotes moved first), so a LangChain chain or agent
sees the passages `ask` would cite, in the same order. The retriever holds no index of its own.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field

from chatbot.types import ScoredChunk

# Keys every Document carries: the PDF `page` (1-based) or the `section` (enclosing heading) the
# chunk starts in, from the loaders' page map; None for plain text and for indexes built before it.
LOCATION_KEYS = ("page", "section")


@runtime_checkable
class Searcher(Protocol):
    """What the retriever needs of the product: `Chatbot.search`."""

    def search(self, question: str, *, k: int | None = None) -> list[ScoredChunk]: ...


def to_document(sc: ScoredChunk, rank: int) -> Document:
    """One ranked chunk as a Document: its text, where it is (`file`, `title`, `start_char`,
    `end_char` into the file's normalized text, `page`, `section`), and how it ranked (`score`
    of the ranking stage, `dense` and `keyword` scores, 1-based `rank`)."""
    c = sc.chunk
    where = {key: getattr(c, key, None) for key in LOCATION_KEYS}
    return Document(
        page_content=c.text,
        id=c.id,
        metadata={**where, **c.metadata(), "chunk_id": c.id, "score": round(sc.score, 6),
                  "dense": round(sc.dense, 6), "keyword": round(sc.keyword, 6), "rank": rank},
    )


class ChatbotRetriever(BaseRetriever):
    """The product's hybrid retrieval as a LangChain retriever: the `k` passages `ask` reads first.

    `invoke(question)` or `invoke(question, k=2)`; `ainvoke` runs the search in a worker thread, so
    the event loop is never blocked. An empty or over-long question raises `QuestionError`, an
    index not built yet `IndexMissingError` (both `ChatbotError`s that name the fix); a question
    with no word or number to search for gives no documents.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    chatbot: Searcher
    k: int = Field(default=6, ge=1, le=50)

    def _search(self, query: str, k: int | None) -> list[Document]:
        ranked = self.chatbot.search(query, k=k or self.k)
        return [to_document(sc, i) for i, sc in enumerate(ranked, 1)]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, **_: Any) -> list[Document]:
        return self._search(query, k)

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None, **_: Any) -> list[Document]:
        # the search is CPU work (the model) under a file lock: a worker thread, not the loop
        return await run_in_executor(None, self._search, query, k)
