"""The product from LangChain code: `Chatbot.as_retriever` (a `BaseRetriever` giving `ask`'s passages
in `ask`'s order), `Chatbot.as_runnable` (the answer as a runnable), and the README's LCEL example
run as written against the fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings
from fake_openai import Reply, serve
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable
from langchain_corpus import FILES, indexed_bot

from chatbot.app import Chatbot, build
from chatbot.errors import IndexMissingError, QuestionError
from chatbot.index.embeddings import BundledEmbeddings

README = Path(__file__).resolve().parent.parent / "README.md"
QUESTIONS = [
    "When was the Veldmoor lighthouse built?",
    "How long does the ferry crossing to Tiel take?",
    "云岭茶园的种植面积是多少？",
    "What happened to the slate quarry in 1978?",
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, embeddings: BundledEmbeddings) -> Chatbot:
    return indexed_bot(tmp_path_factory.mktemp("lc"), embeddings)


def without_latency(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "latency_ms"}


@pytest.mark.parametrize("k", [1, 2, 6])
def test_the_retriever_gives_the_passages_ask_reads_in_asks_order(bot: Chatbot, k: int) -> None:
    retriever = bot.as_retriever(k=k)
    assert isinstance(retriever, BaseRetriever)
    for q in QUESTIONS:
        docs = retriever.invoke(q)
        asked = [sc.chunk.id for sc in bot.ask(q, k=k).retrieved][:k]
        assert [d.id for d in docs] == asked == [sc.chunk.id for sc in bot.search(q, k=k)], q
        assert len(docs) == min(k, len(FILES))


def test_documents_say_where_they_are_and_how_they_ranked(bot: Chatbot) -> None:
    docs = bot.as_retriever(k=4).invoke("When was the Veldmoor lighthouse built?")
    assert docs[0].metadata["file"] == "veldmoor.txt" and docs[0].metadata["title"] == "Veldmoor Lighthouse"
    for rank, d in enumerate(docs, 1):
        m = d.metadata
        assert isinstance(d, Document) and d.id == m["chunk_id"]
        assert {"file", "title", "start_char", "end_char", "page", "section", "score", "doc_id", "lang"} <= set(m)
        assert m["page"] is None and m["section"] is None  # plain text files have neither
        assert m["rank"] == rank and isinstance(m["score"], float)
        # the offsets point into the file's normalized text, as a citation's do
        assert bot.document_text(m["doc_id"])[m["start_char"]:m["end_char"]] == d.page_content


def test_k_per_call_overrides_the_retrievers_k(bot: Chatbot) -> None:
    retriever = bot.as_retriever(k=4)
    assert len(retriever.invoke("ferry crossing", k=1)) == 1
    assert len(retriever.invoke("ferry crossing")) == 4
    assert bot.as_retriever().k == bot.settings.top_k


def test_questions_the_product_refuses_are_refused_the_same_way(bot: Chatbot, tmp_path: Path,
                                                               embeddings: BundledEmbeddings) -> None:
    retriever = bot.as_retriever()
    assert retriever.invoke("?!") == []  # nothing to search for: no passage, as `ask` cites none
    with pytest.raises(QuestionError):
        retriever.invoke("   ")
    with pytest.raises(QuestionError, match="CHATBOT_MAX_QUESTION_CHARS"):
        retriever.invoke("x" * (bot.settings.max_question_chars + 1))
    empty = build(make_settings(tmp_path / "empty"), embeddings=embeddings)
    with pytest.raises(IndexMissingError):
        empty.as_retriever().invoke("Veldmoor")


def test_ainvoke_gives_the_same_documents_and_leaves_the_event_loop_free(bot: Chatbot) -> None:
    retriever = bot.as_retriever(k=3)
    q = "How many passengers does the Saltwren carry?"

    async def main() -> tuple[list[Document], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.002)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        docs = await retriever.ainvoke(q)
        task.cancel()
        return docs, ticks

    docs, ticks = asyncio.run(main())
    assert [d.id for d in docs] == [d.id for d in retriever.invoke(q)]
    assert ticks >= 3, f"the loop ran {ticks} times while the search ran: it was blocked"


def test_the_answer_chain_is_a_runnable_of_question_and_history(bot: Chatbot) -> None:
    chain = bot.as_runnable()
    assert isinstance(chain, Runnable)
    q = "When was the Veldmoor lighthouse built?"
    out = chain.invoke({"question": q, "history": []})
    assert without_latency(out) == without_latency({"question": q, **bot.ask(q).as_dict()})
    assert "1887" in out["answer"] and out["citations"][0]["file"] == "veldmoor.txt"
    batch = chain.batch([{"question": q}, {"question": QUESTIONS[1], "k": 2}])
    assert [without_latency(b) for b in batch] == [without_latency(out),
                                                    without_latency({"question": QUESTIONS[1],
                                                                     **bot.ask(QUESTIONS[1], k=2).as_dict()})]
    streamed = list(chain.stream({"question": q}))
    assert len(streamed) == 1 and without_latency(streamed[0]) == without_latency(out)
    assert without_latency(asyncio.run(chain.ainvoke({"question": q}))) == without_latency(out)


def test_history_is_read_from_strings_pairs_or_messages(bot: Chatbot) -> None:
    first, follow = "Tell me about the ferry to the island of Tiel.", "Which vessel serves it now?"
    expected = without_latency(bot.ask(follow, history=[first]).as_dict())
    chain = bot.as_runnable()
    for history in ([first], [("human", first), ("ai", "It crosses twice a day.")],
                    [HumanMessage(first), AIMessage("It crosses twice a day.")],
                    [{"role": "user", "content": first}, {"role": "assistant", "content": "Yes."}]):
        out = chain.invoke({"question": follow, "history": history})
        assert without_latency(out) == {"question": follow, **expected}, history


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## From LangChain code", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's LangChain section has no python example"
    return match.group(1)


def test_the_readme_example_runs_as_written(bot: Chatbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our retriever feeds a chat model in LCEL: the model (the fake) receives the passages, named by file."""
    code = readme_example()
    assert len(code.strip().splitlines()) <= 12
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(bot.settings.data_dir))
    with serve() as fake:
        fake.script(Reply("The passages do not name such enterprises [veldmoor.txt]."))
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})  # noqa: S102
        messages = fake.last_messages()
    assert printed.getvalue().strip() == "The passages do not name such enterprises [veldmoor.txt]."
    prompt = messages[-1]["content"]
    question = re.search(r'chain\.invoke\("(.*)"\)', code)
    assert question and question.group(1) in prompt
    docs = bot.as_retriever(k=4).invoke(question.group(1))
    assert len(docs) == 4 and all(f"[{d.metadata['file']}] {d.page_content}" in prompt for d in docs), prompt
