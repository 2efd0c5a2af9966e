"""The chat page: its layout, the wiring of its events, saved conversations, and `serve`.

Handlers live in `ChatUI` (`web.ui`); this module only says which component feeds which. The
chat's own events are private (`api_visibility="private"`); see `web.ui` for what that means.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from typing import Any

import gradio as gr

from chatbot.app import Chatbot
from chatbot.errors import ConfigError
from chatbot.text.loaders import SUPPORTED_SUFFIXES
from chatbot.web import render as r
from chatbot.web import scope as sc
from chatbot.web import temp as ui_temp
from chatbot.web.assets import CSS, PAGE_JS
from chatbot.web.chats import ChatStore, new_id, owner_of
from chatbot.web.guard import middleware
from chatbot.web.ui import ANSWER_CONCURRENCY, INTRO, THEME, ChatUI, parse_auth


class Conversations:
    """Saved chats of the person at the page (see `web.chats` for who that is)."""

    def __init__(self, ui: ChatUI, store: ChatStore) -> None:
        self.ui, self.store = ui, store

    @staticmethod
    def owner(browser_id: str, request: gr.Request | None) -> str | None:
        return owner_of(getattr(request, "username", None), browser_id)

    def listing(self, owner: str | None, value: str | None = None) -> Any:
        choices = [(f"{c['title']} · {time.strftime('%d %b %H:%M', time.localtime(c['updated']))}", c["id"])
                   for c in self.store.listing(owner)]
        return gr.Dropdown(choices=choices, value=value if any(v == value for _, v in choices) else None)

    def start(self, browser_id: str, request: gr.Request) -> tuple[Any, Any]:
        """Page load: give this browser its id (kept in its localStorage) and list its chats."""
        browser_id = browser_id if owner_of(None, browser_id) else new_id()
        return browser_id, self.listing(self.owner(browser_id, request))

    def save(self, turns: list[dict[str, Any]], chat_id: str, scope: list[str] | None, browser_id: str,
             request: gr.Request) -> tuple[Any, Any]:
        owner = self.owner(browser_id, request)
        done = [t for t in turns or [] if not t.get("pending")]
        chat_id = self.store.save(owner, chat_id, done, list(scope or []))
        return chat_id, self.listing(owner, chat_id)

    def open(self, chat_id: str | None, browser_id: str, request: gr.Request) -> tuple[Any, ...]:
        data = self.store.load(self.owner(browser_id, request), chat_id or "")
        if data is None:
            return (gr.skip(),) * 7 + ("That conversation is not saved here.",)
        turns = [t for t in data.get("turns", []) if not t.get("pending")]
        chat: list[dict[str, Any]] = []
        for i, t in enumerate(turns):
            chat.append({"role": "user", "content": r.user_html(str(t.get("question", "")))})
            chat.append({"role": "assistant",
                         "content": r.error_html(t["error"]) if "error" in t else r.answer_html(t, i)})
        last = len(turns) - 1
        return (chat, turns, chat_id, data.get("scope") or [], r.sources_html(turns[-1] if turns else None, last),
                "", data.get("title", ""), f"Opened “{data.get('title', '')}”.")

    def rename(self, chat_id: str | None, title: str, browser_id: str, request: gr.Request) -> tuple[Any, Any]:
        owner = self.owner(browser_id, request)
        if not self.store.rename(owner, chat_id or "", title or ""):
            return "Pick a saved conversation and type a name.", gr.skip()
        return "Renamed.", self.listing(owner, chat_id)

    def delete(self, chat_id: str | None, browser_id: str, request: gr.Request) -> tuple[Any, Any]:
        owner = self.owner(browser_id, request)
        if not self.store.delete(owner, chat_id or ""):
            return "Pick a saved conversation to delete.", gr.skip()
        return "Deleted.", self.listing(owner)


def make_app(bot: Chatbot) -> gr.Blocks:
    ui = ChatUI(bot)
    convs = Conversations(ui, ChatStore(bot.settings.data_dir / "chats"))
    settings = bot.settings
    # Gradio's own sweep of the files it made (uploads, served copies), and all of them at shutdown
    max_age_s = int(settings.upload_cache_minutes * 60)
    with gr.Blocks(title="Document chat", delete_cache=(int(ui_temp.SWEEP_EVERY_S), max_age_s)) as demo:
        turns = gr.State([])
        chat_id = gr.State("")
        rated = gr.State(None)
        browser_id = gr.BrowserState("", storage_key="chatbot-browser-id")
        gr.Markdown("## Document chat\n" + INTRO)
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    first = gr.HTML("", elem_id="corpus")
                    chat = gr.Chatbot(label="Conversation", height=520, elem_id="chat", latex_delimiters=[],
                                      feedback_options=("Like", "Dislike"), buttons=[])
                    scope = gr.Dropdown(label="Ask only these documents (none picked: all of them)", choices=[],
                                        multiselect=True, elem_id="scope")
                    scope_line = gr.HTML(sc.ALL, elem_id="scope-line")
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                         elem_id="question", lines=1, scale=5)
                        send = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                        stop = gr.Button("Stop", variant="stop", elem_id="stop", scale=0, min_width=70)
                    with gr.Row():
                        regen = gr.Button("Regenerate", elem_id="regenerate", size="sm")
                        edit = gr.Button("Edit last question", elem_id="edit-last", size="sm")
                        export = gr.DownloadButton("Export conversation (Markdown)", value=None,
                                                   interactive=False, elem_id="export", size="sm")
                        clear = gr.Button("New conversation", elem_id="clear", size="sm")
                    with gr.Row():
                        comment = gr.Textbox(placeholder="Optional comment on your rating (the thumbs under an answer)",
                                             show_label=False, elem_id="fb-comment", scale=4)
                        save_comment = gr.Button("Save comment", elem_id="fb-save", size="sm", scale=1)
                    fb_status = gr.Markdown("", elem_id="fb-status")
                    with gr.Accordion("Saved conversations", open=False, elem_id="chats"):
                        chat_list = gr.Dropdown(label="Past conversations in this browser", choices=[],
                                                elem_id="chat-list")
                        chat_name = gr.Textbox(label="Name", elem_id="chat-name")
                        with gr.Row():
                            open_chat = gr.Button("Open", elem_id="chat-open", size="sm")
                            rename_chat = gr.Button("Rename", elem_id="chat-rename", size="sm")
                            delete_chat = gr.Button("Delete", elem_id="chat-delete", size="sm", variant="stop")
                        chats_status = gr.Markdown("", elem_id="chats-status")
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

        private: dict[str, Any] = {"api_visibility": "private"}
        answer_outputs = [box, chat, turns, sources, export, docview]
        saved = [turns, chat_id, scope, browser_id]
        for trigger in (box.submit, send.click):
            trigger(ui.respond, [box, chat, turns, mode, k, scope], answer_outputs, concurrency_limit=ANSWER_CONCURRENCY,
                    concurrency_id="answers", **private).then(convs.save, saved, [chat_id, chat_list], **private)
        # both take the last question back into the box; regenerate asks it again at once
        edit.click(ui.pop_last, [chat, turns], [box, chat, turns], **private)
        regen.click(ui.pop_last, [chat, turns], [box, chat, turns], **private).then(
            ui.respond, [box, chat, turns, mode, k, scope], answer_outputs, concurrency_limit=ANSWER_CONCURRENCY,
            concurrency_id="answers", **private).then(convs.save, saved, [chat_id, chat_list], **private)
        stop.click(ui.stop, None, None, concurrency_limit=None, **private)
        cite_open.click(ui.open_citation, [cite_target, turns], docview, **private)
        chat.like(ui.like, [comment, turns], [fb_status, rated], **private)
        save_comment.click(ui.comment, [comment, rated, turns], [fb_status, comment], **private)
        comment.submit(ui.comment, [comment, rated, turns], [fb_status, comment], **private)
        scope.change(lambda v: sc.scope_html(v, ui.entries()), scope, scope_line, **private)

        def fresh() -> tuple[Any, ...]:
            return ([], [], r.sources_html(None, 0), "", gr.DownloadButton(value=None, interactive=False), "", [],
                    ui.first_screen(), None)

        fresh_outputs = [chat, turns, sources, docview, export, chat_id, scope, first, rated]
        clear.click(fresh, None, fresh_outputs, **private)
        chat.clear(fresh, None, fresh_outputs, **private)
        open_chat.click(convs.open, [chat_list, browser_id],
                        [chat, turns, chat_id, scope, sources, docview, chat_name, chats_status], **private)
        rename_chat.click(convs.rename, [chat_list, chat_name, browser_id], [chats_status, chat_list], **private)
        delete_chat.click(convs.delete, [chat_list, browser_id], [chats_status, chat_list], **private)
        doc_outputs = [table, pick, scope]
        if settings.allow_uploads:  # not registered otherwise, so no client can call them by fn_index
            uploader.upload(ui.upload, uploader, [upload_status, *doc_outputs, uploader], concurrency_limit=1,
                            concurrency_id="documents", **private)
            remove.click(ui.remove, pick, [remove_status, *doc_outputs], concurrency_limit=1,
                         concurrency_id="documents", **private)
        demo.load(ui.doc_table, None, doc_outputs, **private)  # first: tests find the document choices here
        demo.load(ui.first_screen, None, first, **private)
        demo.load(convs.start, browser_id, [browser_id, chat_list], **private)
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
