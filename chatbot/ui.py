"""The Gradio web chat. It calls `Chatbot` only; every document text is escaped before display."""

from __future__ import annotations

import html
import logging
from typing import Any

import gradio as gr

from chatbot.app import Chatbot
from chatbot.errors import ChatbotError
from chatbot.types import Answer, Citation

log = logging.getLogger(__name__)

INTRO = (
    "Ask in English or Chinese. Answers quote the documents and cite each quote [n]; "
    "**extractive mode** picks sentences, it does not paraphrase or reason across them."
)
# System fonts only: the default theme would fetch web fonts, which fails offline.
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def _citation_html(c: Citation, kind: str) -> str:
    label = f"[{c.n}]" if kind == "source" else "related"
    return (
        f'<div class="cite {kind}" data-file="{html.escape(c.file)}">'
        f'<div class="cite-head"><b>{label}</b> {html.escape(c.file)} — {html.escape(c.title)} '
        f'<span class="span">chars {c.start_char}–{c.end_char}</span></div>'
        f"<blockquote>{html.escape(c.quote)}</blockquote></div>"
    )


def sources_html(answer: Answer) -> str:
    parts = []
    if answer.citations:
        parts.append("<h4>Sources</h4>")
        parts += [_citation_html(c, "source") for c in answer.citations]
    if answer.related:
        parts.append("<h4>Related passages (they do not support an answer)</h4>")
        parts += [_citation_html(c, "related") for c in answer.related]
    parts.append(f'<p class="meta">mode: {answer.mode} · {answer.latency_ms:.0f} ms</p>')
    return "\n".join(parts)


def message_text(answer: Answer) -> str:
    text = answer.answer
    if answer.refused:
        text = f"🚫 {text}"
    if answer.notice:
        text += f"\n\n_{answer.notice}_"
    return text


CSS = """
.cite { border-left: 3px solid #2563eb; padding: 4px 10px; margin: 8px 0; }
.cite.related { border-left: 3px dashed #9ca3af; opacity: 0.85; }
.cite blockquote { margin: 4px 0; white-space: pre-wrap; }
.cite .span, .meta { color: #6b7280; font-size: 0.85em; }
"""


def make_app(bot: Chatbot) -> gr.Blocks:
    def respond(message: str, history: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], str]:
        history = list(history or [])
        if not message or not message.strip():
            return "", history, ""
        history.append({"role": "user", "content": message})
        try:
            answer = bot.ask(message)
        except ChatbotError as exc:
            history.append({"role": "assistant", "content": f"⚠️ {exc}"})
            return "", history, ""
        history.append({"role": "assistant", "content": message_text(answer)})
        return "", history, sources_html(answer)

    with gr.Blocks(title="Document chat") as demo:
        gr.Markdown("## Document chat\n" + INTRO)
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=520, elem_id="chat")
                box = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                 elem_id="question", lines=1)
                send = gr.Button("Ask", variant="primary", elem_id="ask")
            with gr.Column(scale=2):
                sources = gr.HTML("<p class='meta'>Sources of the last answer appear here.</p>", elem_id="sources")
        box.submit(respond, [box, chat], [box, chat, sources], api_name=False)
        send.click(respond, [box, chat], [box, chat, sources], api_name=False)
    return demo


def serve(bot: Chatbot, host: str = "127.0.0.1", port: int = 7860) -> None:
    bot.warm_up()  # fail early with a clear message when there is no index; no slow first answer
    demo = make_app(bot)
    demo.queue(default_concurrency_limit=4)
    print(f"Serving on http://{host}:{port}", flush=True)
    demo.launch(server_name=host, server_port=port, theme=THEME, css=CSS, show_error=False, quiet=True)
