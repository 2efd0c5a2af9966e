"""The web chat's handlers and its HTTP API. They call `Chatbot` only; markup comes from `render`,
the page's layout and wiring, and `serve`, from `page`.

Per browser session (gr.State): the turns of the conversation (one record per question). The
`[n]` markers and source cards carry a ref (see `render`); the page script (`assets`) puts it
in a hidden textbox and presses a hidden button, the server answers with the document, and the
script scrolls the highlighted passage into view. `api_name="ask"` is the stable HTTP API. The
chat's own events are left out of the API docs (`api_visibility="private"`), but Gradio still
runs any event of the page for a client that names it by number (`fn_index`): whoever can open
the page can call them over HTTP. So document upload and removal exist only when
`CHATBOT_ALLOW_UPLOADS` is true.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from chatbot.app import Chatbot
from chatbot.errors import ChatbotError, ConfigError
from chatbot.web import corpus
from chatbot.web import render as r
from chatbot.web import scope as sc
from chatbot.web.feedback import record_feedback

log = logging.getLogger(__name__)

INTRO = (
    "Ask in English or Chinese. Answers quote the documents and cite each quote **[n]**: click it to "
    "open the passage. **Extractive mode** picks sentences; it does not paraphrase or reason across them."
)
# System fonts only: the default theme would fetch web fonts, which fails offline. The colours
# changed from the default are the ones whose text failed WCAG AA contrast (axe-core, issue 30):
# white on orange-500 and on red-500 buttons, light-grey placeholders and "subdued" text.
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]).set(
    button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_dark="*primary_700", button_primary_background_fill_hover_dark="*primary_800",
    button_cancel_background_fill="#b91c1c", button_cancel_background_fill_hover="#991b1b",
    button_cancel_background_fill_dark="#b91c1c", button_cancel_background_fill_hover_dark="#991b1b",
    input_placeholder_color="*neutral_500", input_placeholder_color_dark="*neutral_400",
    body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_300",
    color_accent="*primary_700",  # the selected tab's text (the stylesheet keeps orange-500 in dark mode)
)
STREAM_STEPS = 30  # an extractive answer arrives in about this many pieces
STREAM_DELAY_S = 0.025
ANSWER_CONCURRENCY = 4  # answers computed at once (chat and API share it); the rest wait in the queue
MAX_BATCHES = 10  # upload batches offered as a scope
STOPPED = "Stopped before the answer was complete. Press Regenerate to ask again."
ECHO_CHARS = 300  # of a question over the length limit, the part shown back (the rest is elided)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ConfigError("CHATBOT_AUTH must look like user:password (both non-empty).")
    return user, password


class ChatUI:
    """Event handlers; the only state they share is the Chatbot (sessions keep theirs in gr.State)."""

    def __init__(self, bot: Chatbot) -> None:
        self.bot = bot
        # inside Gradio's cache: served without a copy, and deleted with the cache's other old files
        self.export_dir = Path(get_upload_folder()) / "exports"
        self.modes = ["extractive", "llm"] if bot.llm is not None else ["extractive"]
        self.examples = corpus.Examples(lambda q: bot.ask(q, mode="extractive"))
        self.batches: list[tuple[str, list[str]]] = []  # upload batches of this server, newest first
        self.stopping: set[str] = set()  # sessions whose answer in progress is to stop

    # -- answering ------------------------------------------------------------------------

    def respond(
        self, message: str, chat: list[dict[str, Any]], turns: list[dict[str, Any]], mode: str, k: float,
        scope: list[str] | None = None, request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Answer `message`, streaming it into the chat. `scope`: the picked documents or upload
        batches (`scope.doc_ids`); the turn keeps it. Until the answer is complete the turn is a
        pending record. The stop button asks this session's answer to stop (`stop`): it then
        ends with a message that says so, between two pieces of the stream."""
        session = getattr(request, "session_hash", None) or ""
        self.stopping.discard(session)
        chat, turns = list(chat or []), list(turns or [])
        message = (message or "").strip()
        if not message:
            yield "", chat, turns, gr.skip(), gr.skip(), gr.skip()
            return
        turn = len(turns)
        history = [t["question"] for t in turns if t.get("question")]
        ids = sc.doc_ids(scope)
        chat.append({"role": "user", "content": r.user_html(self._echo(message))})
        chat.append({"role": "assistant", "content": r.streaming_html("")})
        turns.append({"question": self._echo(message), "error": STOPPED, "pending": True, "scope": list(scope or [])})
        yield "", chat, turns, gr.skip(), gr.skip(), gr.skip()
        try:
            if mode == "llm" and self.bot.llm is not None:
                answer = None
                for partial, answer in self._ask_streaming(message, history, int(k), ids):
                    if session in self.stopping:
                        yield from self._stop_here(chat, turns, session)
                        return
                    if answer is None:
                        chat[-1] = {"role": "assistant", "content": r.streaming_html(partial)}
                        yield "", chat, turns, gr.skip(), gr.skip(), gr.skip()
                assert answer is not None
            else:
                answer = self.bot.ask(message, history=history, k=int(k), mode="extractive", doc_ids=ids)
        except ChatbotError as exc:
            record: dict[str, Any] = {"question": self._echo(message), "error": str(exc), "scope": list(scope or [])}
            chat[-1] = {"role": "assistant", "content": r.error_html(str(exc))}
            turns[-1] = record
            yield "", chat, turns, r.sources_html(record, turn), self._export(turns), ""
            return
        record = {**r.turn_record(answer), "id": uuid.uuid4().hex, "scope": list(scope or [])}
        if answer.mode == "extractive":  # instant: stream it in pieces so the reader sees it arrive
            pieces = r.answer_pieces(record, turn)
            step = max(1, len(pieces) // STREAM_STEPS)
            for i in range(step, len(pieces), step):
                if session in self.stopping:
                    yield from self._stop_here(chat, turns, session)
                    return
                chat[-1] = {"role": "assistant", "content": r.answer_html(record, turn, "".join(pieces[:i]), done=False)}
                yield "", chat, turns, gr.skip(), gr.skip(), gr.skip()
                time.sleep(STREAM_DELAY_S)
        turns[-1] = record
        chat[-1] = {"role": "assistant", "content": r.answer_html(record, turn)}
        yield "", chat, turns, r.sources_html(record, turn), self._export(turns), ""

    def stop(self, request: gr.Request) -> None:
        """The stop button: the session's answer in progress stops at its next piece."""
        if request is not None and request.session_hash:
            self.stopping.add(request.session_hash)

    def _stop_here(self, chat: list[dict[str, Any]], turns: list[dict[str, Any]], session: str) -> Iterator[tuple[Any, ...]]:
        self.stopping.discard(session)
        chat[-1] = {"role": "assistant", "content": r.error_html(STOPPED)}
        turns[-1] = {k: v for k, v in turns[-1].items() if k != "pending"}
        yield "", chat, turns, gr.skip(), self._export(turns), gr.skip()

    def pop_last(self, chat: list[dict[str, Any]], turns: list[dict[str, Any]]) -> tuple[Any, ...]:
        """Take the last question back (to regenerate its answer, or to edit and send it again):
        it goes back into the box, and its messages and turn leave the conversation."""
        chat, turns = list(chat or []), list(turns or [])
        if not turns:
            return gr.skip(), gr.skip(), gr.skip()
        last = turns.pop()
        return last.get("question", ""), chat[: 2 * len(turns)], turns

    def _ask_streaming(self, message: str, history: list[str], k: int,
                       ids: list[str] | None = None) -> Iterator[tuple[str, Any]]:
        """LLM mode: run `ask` in a thread and yield the text as tokens arrive, then the Answer."""
        tokens: queue.Queue[str] = queue.Queue()
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["answer"] = self.bot.ask(message, history=history, k=k, mode="llm", on_token=tokens.put,
                                                doc_ids=ids)
            except BaseException as exc:  # noqa: BLE001 - handed to the generator below
                result["error"] = exc

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        partial = ""
        while thread.is_alive() or not tokens.empty():
            try:
                partial += tokens.get(timeout=0.05)
            except queue.Empty:
                continue
            while not tokens.empty():
                partial += tokens.get_nowait()
            yield partial, None
        thread.join()
        if "error" in result:
            raise result["error"]
        yield partial, result["answer"]

    def _echo(self, question: str) -> str:
        """The question as shown back: whole, or its start when it is over the length limit (a
        refused megabyte question must not travel back to the page and into the session)."""
        if len(question) <= self.bot.settings.max_question_chars:
            return question
        return f"{question[:ECHO_CHARS]}… ({len(question):,} characters)"

    def _export(self, turns: list[dict[str, Any]]) -> Any:
        self.export_dir.mkdir(parents=True, exist_ok=True)  # a sweep may have removed it
        path = self.export_dir / f"conversation-{time.strftime('%Y%m%d-%H%M%S')}-{id(turns):x}.md"
        path.write_text(r.export_markdown(turns), encoding="utf-8")
        return gr.DownloadButton(value=str(path), interactive=True)

    def open_citation(self, ref: str, turns: list[dict[str, Any]]) -> str:
        c = r.find_cited(turns or [], ref or "")
        if c is None:
            return "<p class='meta'>That source is not part of this conversation.</p>"
        try:
            text = self.bot.document_text(c["doc_id"])
            places = self.bot.document_places(c["doc_id"]) if c.get("page") else ()
        except (OSError, ChatbotError):
            return f"<p class='meta'>{r.html.escape(c['file'])} is no longer in the index.</p>"
        question = str((turns or [])[int(ref.split(":")[0])].get("question", ""))
        return r.document_html(c, text, ref, ref.split(":")[1], question, places)

    # -- feedback ------------------------------------------------------------------------

    def like(self, data: gr.LikeData, comment: str, turns: list[dict[str, Any]]) -> tuple[Any, Any]:
        """A thumb under an answer: records, replaces (the other thumb) or takes back the
        rating of that answer, with the comment box's text; returns the status and which
        answer the comment box now comments on."""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        turn = int(index) // 2
        turns = turns or []
        if turn >= len(turns) or "error" in turns[turn]:
            return "Only an answer can be rated.", gr.skip()
        record = turns[turn]
        if data.liked in (True, "Like"):
            rating: str | None = "up"
        elif data.liked in (False, "Dislike"):
            rating = "down"
        else:  # the thumb clicked again: the rating is taken back
            rating = None
        record_feedback(self.bot.feedback_path, record, rating, comment or "", answer_id=record.get("id") or f"t{turn}")
        if rating is None:
            return f"Your rating of answer {turn + 1} was removed.", None
        word = "helpful" if rating == "up" else "not helpful"
        return (f"Saved: answer {turn + 1} rated {word}. A comment typed above is saved with it "
                "(press Save comment).", {"turn": turn, "rating": rating})

    def comment(self, text: str, rated: dict[str, Any] | None, turns: list[dict[str, Any]]) -> tuple[str, Any]:
        """Save the comment box with the last rating given (it replaces that rating's line)."""
        if not rated or rated.get("turn", 0) >= len(turns or []):
            return "Rate an answer first with a thumb under it; the comment is saved with the rating.", gr.skip()
        record = turns[rated["turn"]]
        record_feedback(self.bot.feedback_path, record, rated["rating"], text or "",
                        answer_id=record.get("id") or f"t{rated['turn']}")
        return f"Comment saved with your rating of answer {rated['turn'] + 1}.", ""

    # -- documents -----------------------------------------------------------------------

    def entries(self) -> list[Any]:
        try:
            return self.bot.documents()
        except ChatbotError:
            return []

    def doc_table(self) -> tuple[Any, Any, Any]:
        """The document list, the remove picker and the scope picker's choices."""
        entries = self.entries()
        choices = [(f"{e.file} — {e.title[:60]}", e.doc_id) for e in entries]
        return (r.documents_rows(entries), gr.Dropdown(choices=choices, value=None),
                gr.Dropdown(choices=sc.choices(entries, self.batches)))

    def first_screen(self) -> str:
        """The corpus at a glance and example questions made from it."""
        return corpus.summary(self.entries(), self.examples.for_entries)

    def upload(self, files: list[str] | None, progress: gr.Progress = gr.Progress()) -> Iterator[tuple[Any, ...]]:  # noqa: B008
        files = files or []
        lines: list[str] = []
        batch: list[tuple[str, str]] = []  # (name, doc_id) of the files indexed
        cache = Path(get_upload_folder()).resolve()
        for i, tmp in enumerate(files):
            name = Path(tmp).name
            progress(i / max(len(files), 1), desc=f"indexing {name}")
            yield "\n\n".join([*lines, f"indexing {r.md_text(name)} ({i + 1}/{len(files)})…"]), *[gr.skip()] * 4
            try:
                stored, report = self.bot.add_upload(Path(tmp), name)
                if report.skipped:
                    lines.append(f"**refused** {r.md_text(name)}: {r.md_text(report.skipped[0][1])}")
                else:
                    entry = next((e for e in self.bot.documents() if e.source == str(stored)), None)
                    chunks = len(entry.chunk_ids) if entry else 0
                    if entry:
                        batch.append((entry.file, entry.doc_id))
                    verb = "updated" if report.updated else ("unchanged" if report.unchanged else "indexed")
                    lines.append(f"**{verb}** {r.md_text(stored.name)}: {chunks} chunk{'' if chunks == 1 else 's'}")
            except ChatbotError as exc:
                lines.append(f"**refused** {r.md_text(str(exc))}")
            finally:  # stored under uploads/ or refused: Gradio's copy is not needed either way
                if Path(tmp).resolve().is_relative_to(cache):
                    Path(tmp).unlink(missing_ok=True)
        if batch:
            self.batches.insert(0, (sc.batch_label([n for n, _ in batch]), [d for _, d in batch]))
            del self.batches[MAX_BATCHES:]
        progress(1.0)
        yield ("\n\n".join(lines) or "No file."), *self.doc_table(), None  # None: empty the upload box

    def remove(self, doc_id: str | None) -> tuple[Any, ...]:
        if not doc_id:
            return "Pick a document to remove.", *self.doc_table()
        try:
            entry = self.bot.remove_document(doc_id)
        except ChatbotError as exc:
            return f"**not removed**: {r.md_text(str(exc))}", *self.doc_table()
        return f"**removed** {r.md_text(entry.file)} ({len(entry.chunk_ids)} chunks)", *self.doc_table()

    # -- HTTP API ------------------------------------------------------------------------

    def api_ask(self, question: str, k: int = 0) -> dict[str, Any]:
        """Answer one question: `{answer, refused, citations: [{n, file, title, chunk_id,
        start_char, end_char, quote, page, section}], retrieved, latency_ms, mode, notice, related, prompt,
        question}`; `k` is the number of passages to read (0: the server's default)."""
        try:
            answer = self.bot.ask(str(question or ""), k=min(max(int(k), 1), 50) if k else None)
        except (ChatbotError, ValueError, TypeError) as exc:
            return {"question": self._echo(question) if isinstance(question, str) else question, "error": str(exc)}
        return {**answer.as_dict(), "question": answer.question}


