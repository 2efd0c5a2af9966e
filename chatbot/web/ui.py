"""The Gradio web chat and its HTTP API. It calls `Chatbot` only; markup comes from `ui_render`.

Per browser session (gr.State): the turns of the conversation (one record per question). The
`[n]` markers and source cards carry a ref (see `ui_render`); the page script (`ui_assets`)
puts it in a hidden textbox and presses a hidden button, the server answers with the document,
and the script scrolls the highlighted passage into view. `api_name="ask"` is the stable HTTP
API. The chat's own events are left out of the API docs (`api_visibility="private"`), but
Gradio still runs any event of the page for a client that names it by number (`fn_index`):
whoever can open the page can call them over HTTP. So document upload and removal exist only
when `CHATBOT_ALLOW_UPLOADS` is true. `serve` keeps Gradio's temporary files under the data
dir (`ui_temp`) and puts `ui_guard` in front of every request.
"""

from __future__ import annotations

import logging
import math
import queue
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from chatbot.app import Chatbot
from chatbot.errors import ChatbotError, ConfigError
from chatbot.text.loaders import SUPPORTED_SUFFIXES
from chatbot.web import render as r
from chatbot.web import temp as ui_temp
from chatbot.web.assets import CSS, PAGE_JS
from chatbot.web.feedback import record_feedback
from chatbot.web.guard import middleware

log = logging.getLogger(__name__)

INTRO = (
    "Ask in English or Chinese. Answers quote the documents and cite each quote **[n]**: click it to "
    "open the passage. **Extractive mode** picks sentences; it does not paraphrase or reason across them."
)
# System fonts only: the default theme would fetch web fonts, which fails offline.
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
STREAM_STEPS = 30  # an extractive answer arrives in about this many pieces
STREAM_DELAY_S = 0.025
ANSWER_CONCURRENCY = 4  # answers computed at once (chat and API share it); the rest wait in the queue
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

    # -- answering ------------------------------------------------------------------------

    def respond(
        self, message: str, chat: list[dict[str, Any]], turns: list[dict[str, Any]], mode: str, k: float
    ) -> Iterator[tuple[Any, ...]]:
        chat, turns = list(chat or []), list(turns or [])
        message = (message or "").strip()
        if not message:
            yield "", chat, turns, gr.skip(), gr.skip(), gr.skip()
            return
        turn = len(turns)
        history = [t["question"] for t in turns if t.get("question")]
        chat.append({"role": "user", "content": r.user_html(self._echo(message))})
        chat.append({"role": "assistant", "content": r.streaming_html("")})
        yield "", chat, turns, gr.skip(), gr.skip(), gr.skip()
        try:
            if mode == "llm" and self.bot.llm is not None:
                answer = None
                for partial, answer in self._ask_streaming(message, history, int(k)):
                    if answer is None:
                        chat[-1] = {"role": "assistant", "content": r.streaming_html(partial)}
                        yield "", chat, turns, gr.skip(), gr.skip(), gr.skip()
                assert answer is not None
            else:
                answer = self.bot.ask(message, history=history, k=int(k), mode="extractive")
        except ChatbotError as exc:
            record: dict[str, Any] = {"question": self._echo(message), "error": str(exc)}
            chat[-1] = {"role": "assistant", "content": r.error_html(str(exc))}
            turns.append(record)
            yield "", chat, turns, r.sources_html(record, turn), self._export(turns), ""
            return
        record = r.turn_record(answer)
        if answer.mode == "extractive":  # instant: stream it in pieces so the reader sees it arrive
            pieces = r.answer_pieces(record, turn)
            step = max(1, len(pieces) // STREAM_STEPS)
            for i in range(step, len(pieces), step):
                chat[-1] = {"role": "assistant", "content": r.answer_html(record, turn, "".join(pieces[:i]), done=False)}
                yield "", chat, turns, gr.skip(), gr.skip(), gr.skip()
                time.sleep(STREAM_DELAY_S)
        turns.append(record)
        chat[-1] = {"role": "assistant", "content": r.answer_html(record, turn)}
        yield "", chat, turns, r.sources_html(record, turn), self._export(turns), ""

    def _ask_streaming(self, message: str, history: list[str], k: int) -> Iterator[tuple[str, Any]]:
        """LLM mode: run `ask` in a thread and yield the text as tokens arrive, then the Answer."""
        tokens: queue.Queue[str] = queue.Queue()
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["answer"] = self.bot.ask(message, history=history, k=k, mode="llm", on_token=tokens.put)
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
        return r.document_html(c, text, ref, ref.split(":")[1], places)

    # -- feedback ------------------------------------------------------------------------

    def feedback(self, rating: str, comment: str, turns: list[dict[str, Any]], turn: int | None = None) -> tuple[str, str]:
        answered = [i for i, t in enumerate(turns or []) if "error" not in t]
        if turn is None:
            turn = answered[-1] if answered else None
        if turn is None or turn not in answered:
            return "Ask a question first; feedback rates an answer.", comment
        record_feedback(self.bot.feedback_path, turns[turn], rating, comment or "")
        return f"Thanks, your rating ({'helpful' if rating == 'up' else 'not helpful'}) was saved.", ""

    def like(self, data: gr.LikeData, comment: str, turns: list[dict[str, Any]]) -> tuple[Any, Any]:
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        if data.liked not in (True, False, "Like", "Dislike"):  # a rating taken back, or another option
            return gr.skip(), gr.skip()
        rating = "up" if data.liked in (True, "Like") else "down"
        return self.feedback(rating, comment, turns, turn=int(index) // 2)

    # -- documents -----------------------------------------------------------------------

    def doc_table(self) -> tuple[Any, Any]:
        try:
            entries = self.bot.documents()
        except ChatbotError:
            entries = []
        choices = [(f"{e.file} — {e.title[:60]}", e.doc_id) for e in entries]
        return r.documents_rows(entries), gr.Dropdown(choices=choices, value=None)

    def upload(self, files: list[str] | None, progress: gr.Progress = gr.Progress()) -> Iterator[tuple[Any, ...]]:  # noqa: B008
        files = files or []
        lines: list[str] = []
        cache = Path(get_upload_folder()).resolve()
        for i, tmp in enumerate(files):
            name = Path(tmp).name
            progress(i / max(len(files), 1), desc=f"indexing {name}")
            yield "\n\n".join([*lines, f"indexing {r.md_text(name)} ({i + 1}/{len(files)})…"]), *[gr.skip()] * 3
            try:
                stored, report = self.bot.add_upload(Path(tmp), name)
                if report.skipped:
                    lines.append(f"**refused** {r.md_text(name)}: {r.md_text(report.skipped[0][1])}")
                else:
                    chunks = next((len(e.chunk_ids) for e in self.bot.documents() if e.source == str(stored)), 0)
                    verb = "updated" if report.updated else ("unchanged" if report.unchanged else "indexed")
                    lines.append(f"**{verb}** {r.md_text(stored.name)}: {chunks} chunk{'' if chunks == 1 else 's'}")
            except ChatbotError as exc:
                lines.append(f"**refused** {r.md_text(str(exc))}")
            finally:  # stored under uploads/ or refused: Gradio's copy is not needed either way
                if Path(tmp).resolve().is_relative_to(cache):
                    Path(tmp).unlink(missing_ok=True)
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


def make_app(bot: Chatbot) -> gr.Blocks:
    ui = ChatUI(bot)
    settings = bot.settings
    # Gradio's own sweep of the files it made (uploads, served copies), and all of them at shutdown
    max_age_s = int(settings.upload_cache_minutes * 60)
    with gr.Blocks(title="Document chat", delete_cache=(int(ui_temp.SWEEP_EVERY_S), max_age_s)) as demo:
        turns = gr.State([])
        gr.Markdown("## Document chat\n" + INTRO)
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Conversation", height=520, elem_id="chat", latex_delimiters=[],
                                      feedback_options=("Like", "Dislike"), buttons=["copy"])
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                         elem_id="question", lines=1, scale=5)
                        send = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                    with gr.Row():
                        comment = gr.Textbox(placeholder="Optional comment on the last answer", show_label=False,
                                             elem_id="fb-comment", scale=4)
                        up = gr.Button("Helpful", elem_id="thumb-up", scale=0, min_width=90)
                        down = gr.Button("Not helpful", elem_id="thumb-down", scale=0, min_width=110)
                    fb_status = gr.Markdown("", elem_id="fb-status")
                    with gr.Row():
                        export = gr.DownloadButton("Export conversation (Markdown)", value=None,
                                                   interactive=False, elem_id="export", size="sm")
                        clear = gr.Button("New conversation", elem_id="clear", size="sm")
                    with gr.Accordion("Settings", open=False, elem_id="settings"):
                        mode = gr.Radio(ui.modes, value=settings.answer_mode if settings.answer_mode in ui.modes
                                        else "extractive", label="Answer mode", elem_id="mode",
                                        info=None if bot.llm else "LLM mode needs CHATBOT_ANSWER_MODE=llm and "
                                        "an OpenAI-compatible endpoint (OPENAI_BASE_URL / OPENAI_API_KEY).")
                        k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages to read (sources)",
                                      elem_id="k")
                with gr.Column(scale=2):
                    sources = gr.HTML(r.sources_html(None, 0), elem_id="sources")
                    docview = gr.HTML("", elem_id="docview")
            cite_target = gr.Textbox(visible="hidden", elem_id="cite-target")
            cite_open = gr.Button("open", visible="hidden", elem_id="cite-open")
        with gr.Tab("Documents", elem_id="documents-tab"):
            if settings.allow_uploads:
                gr.Markdown(f"Upload {', '.join(SUPPORTED_SUFFIXES)} files up to {settings.max_file_mb:g} MB each; "
                            "they are indexed at once and can be asked about.")
                uploader = gr.File(label="Upload documents", file_count="multiple",
                                   file_types=list(SUPPORTED_SUFFIXES), elem_id="upload")
                upload_status = gr.Markdown("", elem_id="upload-status")
            else:
                gr.Markdown("Uploading and removing documents is turned off on this server "
                            "(`CHATBOT_ALLOW_UPLOADS=false`).", elem_id="uploads-off")
            table = gr.Dataframe(headers=["file", "title", "language", "chunks", "characters"],
                                 interactive=False, elem_id="doclist", wrap=True)
            with gr.Row(visible=settings.allow_uploads):  # the dropdown is an output of doc_table either way
                pick = gr.Dropdown(label="Document to remove", choices=[], elem_id="remove-pick", scale=4)
                if settings.allow_uploads:
                    remove = gr.Button("Remove", variant="stop", elem_id="remove", scale=1)
            remove_status = gr.Markdown("", elem_id="remove-status")

        answer_outputs = [box, chat, turns, sources, export, docview]
        for trigger in (box.submit, send.click):
            trigger(ui.respond, [box, chat, turns, mode, k], answer_outputs, api_visibility="private",
                    concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answers")
        cite_open.click(ui.open_citation, [cite_target, turns], docview, api_visibility="private")
        up.click(lambda c, t: ui.feedback("up", c, t), [comment, turns], [fb_status, comment], api_visibility="private")
        down.click(lambda c, t: ui.feedback("down", c, t), [comment, turns], [fb_status, comment],
                   api_visibility="private")
        chat.like(ui.like, [comment, turns], [fb_status, comment], api_visibility="private")
        def fresh() -> tuple[Any, ...]:
            return [], [], r.sources_html(None, 0), "", gr.DownloadButton(value=None, interactive=False)

        clear.click(fresh, None, [chat, turns, sources, docview, export], api_visibility="private")
        chat.clear(fresh, None, [chat, turns, sources, docview, export], api_visibility="private")
        if settings.allow_uploads:  # not registered otherwise, so no client can call them by fn_index
            uploader.upload(ui.upload, uploader, [upload_status, table, pick, uploader], api_visibility="private",
                            concurrency_limit=1, concurrency_id="documents")
            remove.click(ui.remove, pick, [remove_status, table, pick], api_visibility="private",
                         concurrency_limit=1, concurrency_id="documents")
        demo.load(ui.doc_table, None, [table, pick], api_visibility="private")
        gr.api(ui.api_ask, api_name="ask", concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answers")
    return demo


def _stop_on_sigterm() -> None:
    """Docker, systemd and process managers stop a server with SIGTERM, which ends Python at once.
    Make it the same clean stop as Ctrl-C: Gradio then shuts its server down and deletes the
    temporary files it made."""

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def serve(bot: Chatbot, host: str = "127.0.0.1", port: int = 7860) -> None:
    settings = bot.settings
    auth = parse_auth(settings.auth)
    max_upload_bytes = int(settings.max_file_mb * 1.1e6)  # Gradio's cap per file, above ours: ours says why
    if settings.allow_uploads and settings.upload_cache_mb * 1e6 < max_upload_bytes:
        raise ConfigError(f"CHATBOT_UPLOAD_CACHE_MB ({settings.upload_cache_mb:g}) leaves no room for one upload of "
                          f"CHATBOT_MAX_FILE_MB ({settings.max_file_mb:g}); raise it to at least "
                          f"{math.ceil(settings.max_file_mb * 1.1):d}.")
    bot.warm_up()  # fail early with a clear message when there is no index; no slow first answer
    cache = ui_temp.use_data_dir(settings)  # before make_app: Gradio reads it when Blocks and app are built
    max_age_s = settings.upload_cache_minutes * 60
    ui_temp.sweep(cache, max_age_s, empty_dirs=True)  # what a killed server left
    demo = make_app(bot)
    demo.queue(default_concurrency_limit=ANSWER_CONCURRENCY, max_size=256)
    print(f"Serving on http://{host}:{port}" + (" (login required)" if auth else ""), flush=True)
    _stop_on_sigterm()
    demo.launch(
        server_name=host, server_port=port, theme=THEME, css=CSS, js=PAGE_JS, show_error=False, quiet=True,
        auth=auth, auth_message="Log in with the user and password set in CHATBOT_AUTH." if auth else None,
        max_file_size=max_upload_bytes, footer_links=["api"],
        app_kwargs={"middleware": middleware(settings, cache, auth_required=auth is not None),
                    "lifespan": ui_temp.periodic_sweep(cache, max_age_s)},
    )
