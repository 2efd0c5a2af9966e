"""Composition root: `build(settings)` wires the parts into one `Chatbot`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from chatbot.answering.citations import to_citation
from chatbot.answering.draft import Draft
from chatbot.answering.extractive import ExtractiveAnswerer
from chatbot.answering.reader import Reader
from chatbot.answering.steps import Steps
from chatbot.config import TOKEN_ENCODING, Settings
from chatbot.errors import ChatbotError, IndexMissingError, LLMError, QuestionError
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.index.store import FileEntry, Store
from chatbot.ingest.check import CheckReport, inspect, repair
from chatbot.ingest.ingestor import Ingestor, IngestReport, ingest_lock
from chatbot.retrieval.documents import ChatbotRetriever
from chatbot.retrieval.question import condense, needs_context
from chatbot.retrieval.retrieve import Retrieval, Retriever, evidence_first
from chatbot.text.chunking import Chunker, offline_encoding
from chatbot.text.terms import has_searchable_term
from chatbot.types import Answer, Place, ScoredChunk, places_from_json

if TYPE_CHECKING:  # the openai SDK takes seconds to import: only LLM mode pays for it
    from chatbot.answering.llm import LLMAnswerer

log = logging.getLogger(__name__)

NO_TERMS = ("The question has no words or numbers to search for; ask about something in the documents. "
            "问题里没有可以检索的文字或数字，请就文档的内容提问。")


class Chatbot:
    """The product behind every surface: ingest, ask, list and read documents. Built by `build()`,
    which makes every part; the Chatbot only uses them."""

    def __init__(self, settings: Settings, *, embeddings: BundledEmbeddings, store: Store, chunker: Chunker,
                 retriever: Retriever, extractive: ExtractiveAnswerer, llm: LLMAnswerer | None) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self._store = store
        self.chunker = chunker
        self.retriever = retriever
        self.extractive = extractive
        self.llm = llm
        self._chain: Runnable[dict[str, Any], Answer] | None = None

    def store(self, *, create: bool = False) -> Store:
        """The index, opened on first use (`create`: an empty one where there is none)."""
        return self._store.open(create=create)

    # -- ingest ----------------------------------------------------------------------------

    def ingest(
        self,
        paths: list[Path],
        *,
        rebuild: bool = False,
        progress: bool = True,
        on_skip: Callable[[str, str], None] | None = None,
        follow_links: bool = False,
    ) -> IngestReport:
        """Index `paths` (incremental). Damage found on opening the index is mended first."""
        with ingest_lock(self.settings.data_dir):
            if rebuild:
                self._store.wipe()
            return self._ingest_locked(paths, progress=progress, on_skip=on_skip, follow_links=follow_links)

    def _ingest_locked(self, paths: list[Path], *, progress: bool = False,
                       on_skip: Callable[[str, str], None] | None = None, follow_links: bool = False) -> IngestReport:
        store = self.store(create=True)
        ingestor = Ingestor(store, self.chunker, self.embeddings)
        report = IngestReport()
        with store.writing():
            with store.batch():  # the problems of the data dir as it is now, other processes' writes read
                problems = list(store.problems)
            if problems:
                log.info("index damaged (%s); repairing before the ingest", "; ".join(problems))
                report.repaired = repair(store, ingestor, inspect(store, deep=False))
            return ingestor.run(paths, progress=progress, on_skip=on_skip, follow_links=follow_links, report=report)

    def check(self, *, fix: bool = False, deep: bool = True) -> CheckReport:
        """Do manifest, Chroma, keyword index and texts agree? `fix` mends what does not."""
        with ingest_lock(self.settings.data_dir):
            store = self.store(create=fix)
            if not fix:
                with store.reading(whole=False):
                    return inspect(store, deep=deep)
            with store.writing():
                with store.batch():
                    found = inspect(store, deep=deep)
                if found.ok:
                    return found
                done = repair(store, Ingestor(store, self.chunker, self.embeddings), found)
                with store.batch():
                    after = inspect(store, deep=deep)
                after.repaired = done
                return after

    def documents(self) -> list[FileEntry]:
        store = self.store()
        with store.reading(whole=False):
            return sorted(store.manifest.files.values(), key=lambda e: e.file)

    def document_text(self, doc_id: str) -> str:
        store = self.store()
        with store.reading(whole=False):
            return store.document_text(doc_id)

    def document_places(self, doc_id: str) -> tuple[Place, ...]:
        """A document's page map (PDF pages or headings, `FileEntry.places`); () without one."""
        store = self.store()
        with store.reading(whole=False):
            entry = store.manifest.by_doc_id(doc_id)
        return places_from_json(entry.places) if entry is not None else ()

    # -- documents from the web UI: uploads, removal, feedback -----------------------------

    @property
    def uploads_dir(self) -> Path:
        return self.settings.data_dir / "uploads"

    @property
    def feedback_path(self) -> Path:
        return self.settings.data_dir / "feedback.jsonl"

    def add_upload(self, src: Path, name: str) -> tuple[Path, IngestReport]:
        """Check an uploaded file, store it under `uploads_dir` with a safe name and index it, all
        under the ingest lock. A refused upload (another ingest running, an unreadable file)
        leaves the stored file and the index as they were. Returns the stored path and the
        report; a file the ingest refused is in `report.skipped`."""
        from chatbot.ingest.uploads import checked_destination, replacing

        with ingest_lock(self.settings.data_dir):
            dest = checked_destination(src, name, self.uploads_dir, self.settings.max_file_mb)
            had = dest.exists()
            with replacing(src, dest) as keep:
                report = self._ingest_locked([dest])
                if not report.skipped:
                    keep()
            if report.skipped and had:  # the earlier version is back on disk: back in the index too
                self._ingest_locked([dest])
        return dest, report

    def remove_document(self, key: str) -> FileEntry:
        """Drop one document (by doc_id, display name or source path) from manifest, Chroma and
        the keyword index; an uploaded file is deleted too. Takes the ingest lock."""
        store = self.store()
        with ingest_lock(self.settings.data_dir), store.writing(), store.batch():
            files = store.manifest.files
            matches = [e for e in files.values() if e.doc_id == key] or [e for e in files.values() if e.file == key]
            if not matches and key in files:
                matches = [files[key]]
            if not matches:
                raise ChatbotError(f"No indexed document is called {key!r}. Pick one from the document list.")
            if len(matches) > 1:
                raise ChatbotError(f"{len(matches)} documents are called {key!r}; remove one by its doc_id.")
            (entry,) = store.remove_files([matches[0].source])
            source = Path(entry.source)
            if source.parent == self.uploads_dir.resolve():
                source.unlink(missing_ok=True)
        log.info("removed file=%s doc_id=%s chunks=%d", entry.file, entry.doc_id, len(entry.chunk_ids))
        return entry

    # -- ask -------------------------------------------------------------------------------

    def chain(self) -> Runnable[dict[str, Any], Answer]:
        """question -> retrieve -> answer, as a LangChain LCEL runnable."""
        if self._chain is None:
            retriever = self.retriever

            def retrieve(inputs: dict[str, Any]) -> Retrieval:
                if inputs.get("doc_ids") is None:
                    return retriever.retrieve(inputs["standalone"], inputs["k"], asked=inputs["question"])
                return retriever.retrieve(inputs["standalone"], inputs["k"], asked=inputs["question"],
                                          doc_ids=inputs["doc_ids"])

            self._chain = RunnablePassthrough.assign(found=RunnableLambda(retrieve)) | RunnableLambda(
                self._answer_step
            )
        return self._chain

    def _read(self, found: Retrieval) -> tuple[Draft, list[ScoredChunk]]:
        """The extractive reading of what was retrieved, and the passages in their final order.

        It runs in every mode: the passages it quotes go first, in the sources listed, in an LLM's
        context and in `search`, and it is LLM mode's fallback."""
        extractive = self.extractive.answer(found.question, found.ranked, found.qvec, found.idf)
        return extractive, evidence_first(found.ranked, extractive.evidence)

    def _answer_step(self, inputs: dict[str, Any]) -> Answer:
        found: Retrieval = inputs["found"]
        extractive, ranked = self._read(found)
        draft: Draft | None = None
        mode, prompt, notice = "extractive", "", ""
        if self.llm is not None and inputs.get("mode", "llm") == "llm":
            try:
                draft, prompt = self.llm.answer_with_prompt(found.question, ranked, inputs.get("on_token"))
                mode = "llm"
            except LLMError as exc:
                log.warning("llm answer failed, using extractive: %s", exc)
                notice = f"The language model could not answer ({exc}). This is the extractive answer."
        if draft is None:
            draft = extractive
        citations = tuple(to_citation(i, ev) for i, ev in enumerate(draft.evidence, 1))
        related = tuple(to_citation(i, ev) for i, ev in enumerate(draft.related, 1))
        return Answer(
            question=inputs["question"], answer=draft.text, refused=draft.refused,
            citations=citations, retrieved=tuple(ranked), mode=mode,
            latency_ms=(time.perf_counter() - inputs["t0"]) * 1000,
            notice=notice or draft.notice, related=related, prompt=prompt,
            trace={**extractive.trace, "mode": mode} if extractive.trace else {"mode": mode},
            # the reader judged the extractive reading; an LLM's answer is judged by its citations
            confidence=extractive.confidence if mode == "extractive" else None,
        )

    def warm_up(self) -> None:
        """Load the model, jieba's dictionary and the index now, not on the first question."""
        if self.documents():
            self.ask("warm-up 预热")

    def ask(
        self,
        question: str,
        *,
        history: list[str] | None = None,
        k: int | None = None,
        mode: str | None = None,
        on_token: Callable[[str], None] | None = None,
        doc_ids: Collection[str] | None = None,
    ) -> Answer:
        """Answer one question.

        `history` holds the earlier user questions of the conversation (for follow-ups);
        `mode` picks "extractive" for this question even when LLM mode is configured;
        `on_token` receives streamed text in LLM mode;
        `doc_ids` scopes the question to those documents (None: the whole index).
        """
        question = self._checked(question)
        if not has_searchable_term(question):
            log.info("ask q=%r refused: no searchable term", question)
            return Answer(question=question, answer=NO_TERMS, refused=True, citations=(), retrieved=(),
                          mode="extractive", latency_ms=0.0)
        store = self.store()
        with store.reading():
            return self._ask(question, history, k, mode, on_token, doc_ids)

    def _checked(self, question: str) -> str:
        """The question stripped, or a QuestionError when it is too long (checked before any other
        work: a huge question must cost nothing) or empty."""
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise QuestionError(
                f"The question is {len(question):,} characters long; the limit is {limit:,} "
                "(CHATBOT_MAX_QUESTION_CHARS). Ask about one thing at a time, or quote less of the text."
            )
        question = question.strip()
        if not question:
            raise QuestionError("The question is empty. Type a question about the documents.")
        return question

    def search(self, question: str, *, k: int | None = None) -> list[ScoredChunk]:
        """The passages `ask` would read for `question`, best first, at most `k` (default
        CHATBOT_TOP_K): the same retrieval and the same final order (the passages its answer quotes
        first), without writing an answer. A question with no searchable term finds nothing."""
        question = self._checked(question)
        if not has_searchable_term(question):
            return []
        k = k or self.settings.top_k
        store = self.store()
        with store.reading():
            if not store.manifest.files:
                raise IndexMissingError(str(self.settings.data_dir))
            found = self.retriever.retrieve(condense(question, []), k, asked=question)
            _, ranked = self._read(found)
        # a passage quoted from below the top k joins `ask`'s sources; a retriever returns k
        return ranked[:k]

    def as_retriever(self, k: int | None = None) -> ChatbotRetriever:
        """A LangChain `BaseRetriever` over `search`: the top `k` passages as `Document`s (see
        `chatbot.retrieval.documents`). `invoke(question, k=...)` overrides `k` per call."""
        return ChatbotRetriever(chatbot=self, k=k or self.settings.top_k)

    def as_runnable(self) -> Runnable[dict[str, Any], dict[str, Any]]:
        """The whole product as a LangChain runnable: `{"question": str, "history": [...]}` in
        (optional `k`, `mode`), the `chatbot ask --json` object out, with `question` (`answer`,
        `refused`, `confidence`, `citations`, `retrieved`, ...). `history` holds the earlier
        turns: strings (the user's questions), `(role, text)` pairs or LangChain messages, of
        which the user's are used. `invoke`, `batch` and their async forms; `stream` yields the
        whole object once (streamed tokens: `ask(on_token=...)`)."""
        def run(inputs: dict[str, Any]) -> dict[str, Any]:
            answer = self.ask(inputs["question"], history=user_turns(inputs.get("history")),
                              k=inputs.get("k"), mode=inputs.get("mode"))
            return {"question": answer.question, **answer.as_dict()}

        return RunnableLambda(run, name="chatbot")

    def _ask(self, question: str, history: list[str] | None, k: int | None, mode: str | None,
             on_token: Callable[[str], None] | None, doc_ids: Collection[str] | None = None) -> Answer:
        if not self.store().manifest.files:
            raise IndexMissingError(str(self.settings.data_dir))
        t0 = time.perf_counter()
        standalone = condense(question, history or [])
        if self.llm is not None and mode != "extractive" and history and needs_context(question):
            standalone = self.llm.condense(question, history)
        answer = self.chain().invoke({
            "question": question, "standalone": standalone, "k": k or self.settings.top_k,
            "t0": t0, "on_token": on_token, "mode": mode or self.settings.answer_mode,
            "doc_ids": None if doc_ids is None else frozenset(doc_ids),
        })
        log.info(
            "ask q=%r standalone=%r mode=%s refused=%s latency_ms=%.0f retrieved=%s cited=%s",
            question, standalone, answer.mode, answer.refused, answer.latency_ms,
            ",".join(f"{sc.chunk.file}#{sc.chunk.seq}:{sc.score:.3f}" for sc in answer.retrieved),
            ",".join(f"{c.file}@{c.start_char}" for c in answer.citations),
        )
        return answer


def user_turns(history: Any) -> list[str]:
    """The user's questions of a conversation given as strings, `(role, text)` pairs, LangChain
    messages or `{"role", "content"}` dicts (the forms LangChain code passes history in)."""
    turns = []
    for item in history or []:
        if isinstance(item, str):
            turns.append(item)
            continue
        if isinstance(item, dict):
            role, text = item.get("role"), item.get("content")
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            role, text = item
        else:
            role, text = getattr(item, "type", None), getattr(item, "content", None)
        if role in ("human", "user") and isinstance(text, str):
            turns.append(text)
    return turns


def build(settings: Settings, *, embeddings: BundledEmbeddings | None = None) -> Chatbot:
    """Every part of the product, made once and handed to the `Chatbot`: the bundled model, the
    index (opened on first use), the chunker (its tokenizer loaded on first use), the retriever,
    the extractive answerer and, in LLM mode, the LLM client. `embeddings`: a model already
    loaded (tests and benchmarks share one). A misconfigured endpoint or a broken prompt fails
    here, at start-up."""
    embeddings = embeddings or BundledEmbeddings(threads=settings.embed_threads, batch_size=settings.embed_batch)
    store = Store(settings, embeddings)
    chunker = Chunker(lambda: offline_encoding(TOKEN_ENCODING, settings.cache_dir / "tiktoken"),
                      settings.chunk_tokens, settings.chunk_overlap_tokens)
    retriever = Retriever(store, embeddings, settings.top_k, mode=settings.retrieval,
                          candidates=settings.retrieval_candidates)
    extractive = ExtractiveAnswerer(embeddings, settings.max_citations, Steps(settings.steps_off),
                                    reader=Reader(), min_confidence=settings.min_confidence)
    llm = None
    if settings.answer_mode == "llm":
        from chatbot.answering.llm import LLMAnswerer  # the openai SDK takes seconds: only LLM mode pays

        llm = LLMAnswerer(settings)
    return Chatbot(settings, embeddings=embeddings, store=store, chunker=chunker, retriever=retriever,
                   extractive=extractive, llm=llm)
