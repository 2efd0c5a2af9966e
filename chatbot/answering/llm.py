"""The LLM answerer: the one home of the OpenAI-compatible endpoint (via langchain-openai).

It numbers the ranked chunks as fenced, quoted context, asks the model for an answer with
`[n]` markers, and checks the reply: unknown markers are dropped, each remaining marker is
tied to the sentence of its chunk that best matches the answer sentence carrying it (so every
quote is verbatim document text), and markers are renumbered 1..k. A reply that cites nothing
raises `LLMError`, and so does every endpoint failure after bounded retries: the caller then
falls back to the extractive answer. No openai or httpx exception leaves this module.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

import openai
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from chatbot.answering.citations import MARKER, Evidence, keep_valid_markers, number_context
from chatbot.answering.draft import REFUSAL, Draft
from chatbot.answering.prompts import Prompt, load_prompt
from chatbot.config import Settings
from chatbot.errors import ConfigError, LLMError
from chatbot.retrieval.question import Question
from chatbot.text.chunking import Span, split_sentences
from chatbot.text.terms import is_stop, tokenize
from chatbot.types import Chunk, ScoredChunk

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NOT_IN_DOCUMENTS = "NOT_IN_DOCUMENTS"
NO_KEY = "not-needed"  # local servers (llama.cpp, vLLM, Ollama) take any key
BACKOFF_S = 0.25  # first pause between attempts; doubles each time
BACKOFF_MAX_S = 2.0
CONDENSE_HISTORY = 6  # earlier questions shown to the condense prompt

_THINK = re.compile(r"\A\s*<think>.*?</think>", re.S)  # reasoning models' preamble
_MARKER_LIST = re.compile(r"[\[【]\s*([1-9]\d{0,2}(?:\s*[,，、]\s*[1-9]\d{0,2})*)\s*[\]】]")
_LEADING_MARKERS = re.compile(r"(?:\s*\[\d{1,3}\])+")
_REPEATED_MARKER = re.compile(r"(\[\d+\])(?:\s*\1)+")


class LLMAnswerer:
    """Answers from ranked chunks with any OpenAI-compatible chat model; cites checked sources."""

    def __init__(self, settings: Settings, prompts_dir: Path | str | None = None) -> None:
        if not settings.llm_configured:
            raise ConfigError(
                "The llm answer mode needs an endpoint: set OPENAI_API_KEY for OpenAI, or "
                "OPENAI_BASE_URL for a local server (e.g. http://127.0.0.1:8080/v1), "
                "or use CHATBOT_ANSWER_MODE=extractive."
            )
        self.settings = settings
        self.base_url = (settings.openai_base_url or DEFAULT_BASE_URL).rstrip("/")
        directory = Path(prompts_dir) if prompts_dir is not None else settings.prompts_dir
        self.answer_prompt: Prompt = load_prompt(directory, "answer")
        self.condense_prompt: Prompt = load_prompt(directory, "condense")
        self._model: ChatOpenAI | None = None
        self._lock = threading.Lock()

    @property
    def prompt_id(self) -> str:
        return self.answer_prompt.id

    def model(self) -> ChatOpenAI:
        """The chat model, built on first use (building it opens no connection)."""
        with self._lock:
            if self._model is None:
                key = self.settings.openai_api_key or SecretStr(NO_KEY)
                # Retries are ours (see _complete): the client must not retry on its own.
                self._model = ChatOpenAI(
                    model=self.settings.llm_model, api_key=key, base_url=self.base_url,
                    timeout=self.settings.llm_timeout_s, max_retries=0,
                )
            return self._model

    # -- answering --------------------------------------------------------------------------

    def answer(self, q: Question, ranked: Sequence[ScoredChunk],
               on_token: Callable[[str], None] | None = None) -> Draft:
        return self.answer_with_prompt(q, ranked, on_token)[0]

    def answer_with_prompt(self, q: Question, ranked: Sequence[ScoredChunk],
                           on_token: Callable[[str], None] | None = None) -> tuple[Draft, str]:
        """The checked Draft and the id (name@hash) of the prompt that produced it.

        `on_token` receives the reply's pieces as they arrive (raw model text: markers are
        checked and renumbered only in the returned Draft).
        """
        if not ranked:
            return Draft(REFUSAL.get(q.lang, REFUSAL["en"]), [], True), self.prompt_id
        chunks = [sc.chunk for sc in ranked]
        system, user = self.answer_prompt.split_format(question=q.text, context=number_context(chunks))
        reply = self._complete(_messages(system, user), on_token, retries=self.settings.llm_max_retries,
                               stream=True, purpose="answer")
        return self._draft(q, chunks, reply), self.prompt_id

    def _draft(self, q: Question, chunks: list[Chunk], reply: str) -> Draft:
        text = _THINK.sub("", reply).strip()
        if not text:
            raise LLMError(
                f"The model {self.settings.llm_model} at {self.base_url} returned an empty answer. "
                "Check that CHATBOT_LLM_MODEL names a chat model the server serves."
            )
        if text.strip("`\"'. \n") == NOT_IN_DOCUMENTS:
            related = _related(q, chunks, self.settings.max_citations)
            return Draft(REFUSAL.get(q.lang, REFUSAL["en"]), [], True, related=related)
        if NOT_IN_DOCUMENTS in text:  # a partial answer with the refusal token in it: keep the answer
            log.info("llm reply mixes an answer with %s; the token is removed", NOT_IN_DOCUMENTS)
            text = text.replace(NOT_IN_DOCUMENTS, "").strip()
        text = _MARKER_LIST.sub(lambda m: "".join(f"[{n}]" for n in re.split(r"\s*[,，、]\s*", m.group(1))), text)
        text, dropped = keep_valid_markers(text, set(range(1, len(chunks) + 1)))
        for n in dropped:
            log.warning("llm cited unknown source n=%d (context has %d sources); marker dropped", n, len(chunks))
        answer, evidence = cite(text, chunks)
        if not MARKER.sub("", answer).strip():
            raise LLMError(
                f"The model {self.settings.llm_model} at {self.base_url} answered with markers only "
                f"({reply[:80]!r}). Fall back to the extractive answer; a model that follows the prompt helps."
            )
        if not evidence:
            raise LLMError(
                "The model's answer cited no source from the context, so it cannot be checked "
                f"(reply: {reply[:120]!r}). Fall back to the extractive answer; a model that follows "
                "the citation rules of prompts/answer.md better helps."
            )
        return Draft(answer, evidence, False)

    def condense(self, question: str, history: list[str]) -> str:
        """Rewrite a follow-up into a standalone question; the question itself on any failure.

        One attempt only: a failed rewrite costs nothing but a little context.
        """
        past = [h.strip() for h in history if h.strip()][-CONDENSE_HISTORY:]
        if not past:
            return question
        system, user = self.condense_prompt.split_format(
            history="\n".join(f"User: {h}" for h in past), question=question)
        try:
            reply = self._complete(_messages(system, user), None, retries=0, stream=False, purpose="condense")
        except LLMError as e:
            log.warning("llm condense failed, the question is used as asked: %s", e)
            return question
        lines = [ln.strip() for ln in _THINK.sub("", reply).strip().splitlines() if ln.strip()]
        rewritten = lines[0].strip("\"'“”「」`") if lines else ""
        if not rewritten or len(rewritten) > 4 * len(question) + 200:
            return question
        return rewritten

    # -- the endpoint -----------------------------------------------------------------------

    def complete(self, system: str, user: str, *, purpose: str) -> str:
        """One reply to a system and a user message, with the same retries and errors as answers
        (the eval judge uses it: the endpoint keeps one home)."""
        return self._complete(_messages(system, user), None, retries=self.settings.llm_max_retries, stream=False,
                              purpose=purpose)

    def _complete(self, messages: list[BaseMessage], on_token: Callable[[str], None] | None, *,
                  retries: int, stream: bool, purpose: str) -> str:
        """The model's reply text, with bounded retries; LLMError on any failure.

        Timeouts, connection errors, HTTP 429 and 5xx are retried with exponential backoff
        (honouring Retry-After), but only before the first piece of text arrived (streamed
        text cannot be taken back) and within llm_timeout_s * (retries + 1) in all.
        """
        timeout = self.settings.llm_timeout_s
        t0 = time.monotonic()
        deadline = t0 + timeout * (retries + 1)
        for attempt in range(1, retries + 2):
            pieces: list[str] = []
            stream_pieces = self._pieces(messages, stream)
            try:
                for piece in stream_pieces:
                    pieces.append(piece)
                    if on_token is not None:
                        on_token(piece)
                    if time.monotonic() > deadline:
                        raise LLMError(
                            f"The model at {self.base_url} was still writing after {timeout * (retries + 1):g} s; "
                            "the answer was cut off. Raise CHATBOT_LLM_TIMEOUT_S or use a faster model."
                        )
            except _EndpointFailure as failure:
                e = failure.cause
                delay = _delay(e, attempt)
                last = attempt > retries or bool(pieces) or time.monotonic() + delay > deadline
                if not _retryable(e) or last:
                    raise self._error(e, attempt, len(pieces)) from e
                log.warning("llm %s attempt=%d failed (%s); retrying in %.2fs",
                            purpose, attempt, _describe(e), delay)
                time.sleep(delay)
                continue
            finally:
                stream_pieces.close()
            text = "".join(pieces)
            log.info("llm %s model=%s attempts=%d latency_ms=%.0f chars=%d", purpose,
                     self.settings.llm_model, attempt, (time.monotonic() - t0) * 1000, len(text))
            return text
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _pieces(self, messages: list[BaseMessage], stream: bool) -> Generator[str, None, None]:
        """The reply's text pieces; every exception of the client becomes _EndpointFailure."""
        if not stream:
            try:
                message = self.model().invoke(messages)
            except Exception as e:  # the vendor seam: nothing from openai/httpx escapes
                raise _EndpointFailure(e) from e
            yield str(message.text)
            return
        try:
            chunks = self.model().stream(messages)
        except Exception as e:  # the vendor seam, as above
            raise _EndpointFailure(e) from e
        try:
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
                except Exception as e:  # the vendor seam, as above
                    raise _EndpointFailure(e) from e
                piece = str(chunk.text)
                if piece:
                    yield piece
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # releases the HTTP response when the caller stops early

    def _error(self, e: BaseException, attempts: int, streamed: int) -> LLMError:
        where = f"the LLM endpoint at {self.base_url} (model {self.settings.llm_model})"
        tries = f" after {attempts} attempt{'s' if attempts > 1 else ''}"
        if isinstance(e, openai.APITimeoutError) or _is_timeout(e):
            msg = (f"{where} did not answer within {self.settings.llm_timeout_s:g} s{tries}. Check that the "
                   "server is up and not overloaded, or raise CHATBOT_LLM_TIMEOUT_S.")
        elif isinstance(e, openai.APIConnectionError) or _is_transport(e):
            msg = (f"Cannot connect to {where}{tries} ({_describe(e)}). Check that the server is running and "
                   "that OPENAI_BASE_URL (or CHATBOT_OPENAI_BASE_URL) points at it, e.g. http://127.0.0.1:8080/v1.")
        elif isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
            msg = (f"{where} rejected the API key (HTTP {e.status_code}). Check OPENAI_API_KEY "
                   "(or CHATBOT_OPENAI_API_KEY).")
        elif isinstance(e, openai.NotFoundError):
            msg = (f"{where} answered 404 Not Found ({_describe(e)}). Check CHATBOT_LLM_MODEL and that "
                   "OPENAI_BASE_URL ends with /v1.")
        elif isinstance(e, openai.RateLimitError):
            msg = f"{where} is rate-limiting requests (HTTP 429){tries}. Wait and ask again, or check the quota."
        elif isinstance(e, openai.APIStatusError):
            hint = ("Check the server's logs." if e.status_code >= 500
                    else "Check CHATBOT_LLM_MODEL and the server's documentation.")
            msg = f"{where} failed with HTTP {e.status_code}{tries} ({_describe(e)}). {hint}"
        else:
            msg = (f"The call to {where} failed{tries}: {_describe(e)}. Check the server and "
                   "OPENAI_BASE_URL (or CHATBOT_OPENAI_BASE_URL).")
        if streamed:
            msg = f"The answer broke off after {streamed} streamed pieces: {msg}"
        return LLMError(msg)


class _EndpointFailure(Exception):
    """Carries an exception raised by the client out of the stream generator."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _messages(system: str, user: str) -> list[BaseMessage]:
    return [SystemMessage(system), HumanMessage(user)] if system else [HumanMessage(user)]


def _is_timeout(e: BaseException) -> bool:
    return isinstance(e, TimeoutError) or "Timeout" in type(e).__name__


def _is_transport(e: BaseException) -> bool:
    """httpx/httpx2 transport errors (the client wraps most; a stream may not)."""
    return isinstance(e, ConnectionError) or any(
        cls.__name__ in ("TransportError", "NetworkError", "ProtocolError") for cls in type(e).__mro__
    )


def _retryable(e: BaseException) -> bool:
    if isinstance(e, (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)):
        return True
    if isinstance(e, openai.APIStatusError):
        return e.status_code >= 500
    return _is_timeout(e) or _is_transport(e)


def _delay(e: BaseException, attempt: int) -> float:
    backoff = min(BACKOFF_MAX_S, BACKOFF_S * 2.0 ** (attempt - 1))
    if isinstance(e, openai.APIStatusError):
        value = e.response.headers.get("retry-after")
        try:
            return max(backoff, float(value)) if value is not None else backoff
        except ValueError:  # an HTTP date: not worth parsing for a chat answer
            return backoff
    return backoff


def _describe(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# -- citations ------------------------------------------------------------------------------


def _terms(text: str) -> set[str]:
    """Content terms, English plurals folded ("capitals" meets "capital")."""
    return {t[:-1] if len(t) > 3 and t.isascii() and t.endswith("s") else t
            for t in tokenize(text) if not is_stop(t)}


def best_evidence(chunk: Chunk, terms: set[str]) -> Evidence:
    """The sentence of `chunk` sharing the most terms with `terms` (the whole chunk if none)."""
    spans = split_sentences(chunk.text) or [Span(0, len(chunk.text))]
    best, best_overlap = Span(spans[0].start, spans[-1].end), 0
    for span in spans:
        overlap = len(terms & _terms(chunk.text[span.start : span.end]))
        if overlap > best_overlap:
            best, best_overlap = span, overlap
    return Evidence(chunk, chunk.start_char + best.start, chunk.start_char + best.end)


def _claims(text: str) -> list[tuple[int, int]]:
    """Answer sentences as (start, end), each with the markers that follow it.

    "It is Paris. [1] Berlin is ... [2]" puts [1] with the first sentence, where the model
    meant it, although the sentence splitter starts the second sentence at "[1]".
    """
    claims: list[tuple[int, int]] = []
    for span in split_sentences(text):
        start = span.start
        lead = _LEADING_MARKERS.match(text, start, span.end)
        if lead and claims:
            claims[-1] = (claims[-1][0], lead.end())
            start = lead.end()
            while start < span.end and text[start].isspace():
                start += 1
        if start < span.end:
            claims.append((start, span.end))
    return claims


def cite(text: str, chunks: Sequence[Chunk]) -> tuple[str, list[Evidence]]:
    """Tie each [n] of `text` (all valid for `chunks`) to verbatim evidence; renumber 1..k.

    Each marker cites the sentence of chunk n that best matches the answer sentence carrying
    it; markers landing on the same span share a number. Returns the renumbered text and the
    evidence, evidence[i] being marker i+1.
    """
    evidence: list[Evidence] = []
    number_of: dict[tuple[str, int, int], int] = {}
    new_at: dict[int, int] = {}  # marker position -> new number
    for start, end in _claims(text):
        terms = _terms(MARKER.sub(" ", text[start:end]))
        for m in MARKER.finditer(text, start, end):
            ev = best_evidence(chunks[int(m.group(1)) - 1], terms)
            key = (ev.chunk.doc_id, ev.start_char, ev.end_char)
            if key not in number_of:
                evidence.append(ev)
                number_of[key] = len(evidence)
            new_at[m.start()] = number_of[key]
    renumbered = MARKER.sub(lambda m: f"[{new_at[m.start()]}]" if m.start() in new_at else "", text)
    return _REPEATED_MARKER.sub(r"\1", renumbered).strip(), evidence


def _related(q: Question, chunks: Sequence[Chunk], limit: int) -> list[Evidence]:
    """The closest passages for a refusal: one sentence from each of the top files."""
    terms = _terms(q.text)
    out: list[Evidence] = []
    seen: set[str] = set()
    for c in chunks:
        if c.doc_id not in seen and len(out) < limit:
            seen.add(c.doc_id)
            out.append(best_evidence(c, terms))
    return out
