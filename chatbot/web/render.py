"""HTML and Markdown for the web chat; pure functions of answer records and document text.

Every piece of document or answer text goes through `html.escape` before it meets markup, so
HTML inside a document is shown as text and never runs. Chat messages are a single HTML block
without blank lines: Markdown then leaves their content alone (no `*`, `#` or links from
document text), and the only markup in them is ours.

A turn record is `Answer.as_dict()` plus `question` and each citation's `doc_id`; the UI keeps
one per question in the session state. Clickable elements carry a ref `TURN:KIND:N` (KIND is
`c` for a citation, `r` for a related passage): as `data-ref` in the source panel, and as the
class `cref-TURN-KIND-N` in chat messages (whose sanitizer drops data attributes). A small
script sends the ref to the server, which answers with `document_html` for it.
"""

from __future__ import annotations

import html
import re
import time
from typing import Any

from chatbot.text.loaders import detect_lang
from chatbot.types import Answer, Citation, Place, where
from chatbot.web.gloss import glossed

MARKER = re.compile(r"\[(\d+)\]")
# a streamed piece: one Chinese character (Chinese has no spaces to cut at), or a word and its spaces
_WIDE = "\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"  # CJK characters and their punctuation
PIECE = re.compile(rf"[{_WIDE}]|[^\s{_WIDE}]+\s*|\s+")
LANG_NAMES = {"zh": "Chinese", "en": "English"}
DOC_WINDOW = 200_000  # characters shown around a citation in very long documents
MODE_LABELS = {"extractive": "extractive mode (quotes, no paraphrase)", "llm": "LLM mode"}


def _cite_dict(c: Citation) -> dict[str, Any]:
    return {**c.as_dict(), "doc_id": c.doc_id}


def turn_record(answer: Answer) -> dict[str, Any]:
    """What the session keeps of an answer: the API dict plus question and doc ids."""
    record = answer.as_dict()
    record["question"] = answer.question
    record["citations"] = [_cite_dict(c) for c in answer.citations]
    record["related"] = [_cite_dict(c) for c in answer.related]
    return record


def _esc(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$])")


def md_text(text: str) -> str:
    """Text to show inside Markdown (status lines with file names): no markup, no HTML."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("\n", " ")


def user_html(question: str) -> str:
    return f'<div class="msg-q">{_esc(question)}</div>'


def _cite_link(turn: int, c: dict[str, Any], text: str, extra: str = "") -> str:
    """A clickable [n]: a real link (so Tab reaches it), its ref in the class (see above), the
    document's title and file name on hover."""
    hover = html.escape(f"{c['title']} ({c['file']})", quote=True)
    return (f'<a class="cite-ref{extra} cref-{turn}-c-{c["n"]}" href="#source-{turn}-{c["n"]}" '
            f'title="{hover}">{text}</a>')


def answer_pieces(record: dict[str, Any], turn: int) -> list[str]:
    """The answer as escaped HTML pieces (words, Chinese characters and markers), to stream;
    join them for the whole."""
    known = {c["n"]: c for c in record.get("citations", [])}
    pieces: list[str] = []
    pos = 0
    text = record["answer"]
    for m in MARKER.finditer(text):
        pieces += [_esc(w) for w in PIECE.findall(text[pos : m.start()])]
        n = int(m.group(1))
        pieces.append(_cite_link(turn, known[n], f"[{n}]") if n in known else _esc(m.group(0)))
        pos = m.end()
    pieces += [_esc(w) for w in PIECE.findall(text[pos:])]
    return pieces


def _mode_line(record: dict[str, Any]) -> str:
    mode = MODE_LABELS.get(record.get("mode", ""), record.get("mode", ""))
    confidence = record.get("confidence")
    sure = ""
    if isinstance(confidence, (int, float)) and not record.get("refused"):  # a refusal shows no answer to rate
        sure = (f' · <span class="confidence" title="the trained reader\'s probability that this answer is right">'
                f"confidence {float(confidence):.0%}</span>")
    return f'<span class="msg-meta">answered in {html.escape(mode)}{sure} · {record.get("latency_ms", 0):.0f} ms</span>'


def answer_html(record: dict[str, Any], turn: int, body: str | None = None, done: bool = True) -> str:
    """One assistant message. `body` is a partial answer while streaming."""
    body = "".join(answer_pieces(record, turn)) if body is None else body
    if record.get("refused"):
        head = '<span class="refusal-label">Not answered from the documents</span><br>'
        inner = f'<div class="msg-a refusal">{head}{body}'
    else:
        inner = f'<div class="msg-a">{body}'
    if done:
        if record.get("citations"):
            refs = " ".join(_cite_link(turn, c, f'[{c["n"]}] {html.escape(c["title"])}', " cite-chip")
                            for c in record["citations"])
            inner += f'<div class="msg-sources">Sources: {refs}</div>'
        elif record.get("related"):
            inner += '<div class="msg-sources">Closest passages are listed as related, not as sources.</div>'
        if record.get("notice"):
            inner += f'<div class="msg-notice">Note: {_esc(record["notice"])}</div>'
        inner += _mode_line(record)
        # the copy button copies this plain text (the export of this one answer), not the markup
        inner += (f'<a class="copy-answer" href="#copy-{turn}" title="Copy the answer and its sources as text">Copy</a>'
                  f'<span class="copy-text">{_esc(turn_markdown(record))}</span>')
    return inner + "</div>"


def error_html(message: str) -> str:
    return f'<div class="msg-a error"><b>Error:</b> {_esc(message)}</div>'


def streaming_html(partial: str) -> str:
    """Raw streamed LLM text: shown escaped, markers become links when the answer is checked."""
    return f'<div class="msg-a streaming">{_esc(partial)}<span class="cursor">▍</span></div>'


def _where(c: dict[str, Any]) -> str:
    """ "p. 3" or the section, as HTML beside a citation's title; "" when the file has neither."""
    label = where(c.get("page"), c.get("section"))
    return f' <span class="where">· {html.escape(label)}</span>' if label else ""


def lang_label(quote: str, question: str) -> str:
    """A label naming the quote's language when it is not the question's, else nothing."""
    lang = detect_lang(quote)
    if not question or lang == detect_lang(question):
        return ""
    return f' <span class="lang-label" lang="en">{LANG_NAMES.get(lang, lang)}</span>'


def _quote_html(quote: str, question: str) -> str:
    """A quote, escaped; a Chinese one asked about in English has each word's gloss on hover."""
    if detect_lang(quote) == "zh" and question and detect_lang(question) == "en":
        return glossed(quote)
    return html.escape(quote)


def _cite_block(c: dict[str, Any], turn: int, kind: str, question: str = "") -> str:
    label = f"[{c['n']}]" if kind == "c" else "related"
    return (
        f'<div class="cite {"source" if kind == "c" else "related"}" data-ref="{turn}:{kind}:{c["n"]}" '
        f'role="button" tabindex="0" id="source-{turn}-{c["n"]}-{kind}">'
        f'<div class="cite-head"><b>{label}</b> <span title="{html.escape(c["file"], quote=True)}">'
        f'{html.escape(c["title"])}</span>{_where(c)}{lang_label(c["quote"], question)} '
        f'<span class="span">chars {c["start_char"]}–{c["end_char"]}</span></div>'
        f"<blockquote>{_quote_html(c['quote'], question)}</blockquote></div>"
    )


def sources_html(record: dict[str, Any] | None, turn: int) -> str:
    if record is None:
        return "<p class='meta'>Sources of the last answer appear here. Click a [n] to open the passage.</p>"
    if "error" in record:
        return f"<p class='meta'>{_esc(record['error'])}</p>"
    mode = MODE_LABELS.get(record.get("mode", ""), record.get("mode", ""))
    parts = [f'<p class="mode-badge">Answered in <b>{html.escape(mode)}</b></p>']
    if record.get("citations"):
        parts.append("<h4>Sources (they support the answer)</h4>")
        parts += [_cite_block(c, turn, "c", record.get("question", "")) for c in record["citations"]]
    if record.get("related"):
        parts.append("<h4 class='related-head'>Related passages (they do NOT support an answer)</h4>")
        parts += [_cite_block(c, turn, "r", record.get("question", "")) for c in record["related"]]
    if not record.get("citations") and not record.get("related"):
        parts.append("<p class='meta'>No passages to show.</p>")
    return "\n".join(parts)


def find_cited(turns: list[dict[str, Any]], ref: str) -> dict[str, Any] | None:
    """The citation (or related passage) a `TURN:KIND:N` ref points at, or None."""
    try:
        t, kind, n = ref.split(":")
        record = turns[int(t)]
    except (ValueError, IndexError):
        return None
    items = record.get("citations" if kind == "c" else "related", [])
    return next((c for c in items if str(c["n"]) == n), None)


def page_bounds(places: tuple[Place, ...], page: object, n_chars: int) -> tuple[int, int] | None:
    """[start, end) of a PDF page in its file's normalized text; None when the map lacks it."""
    start = next((p.start for p in places if page and p.page == page), None)
    if start is None:
        return None
    return start, next((p.start for p in places if p.start > start), n_chars)


def document_html(c: dict[str, Any], text: str, ref: str, kind: str, question: str = "",
                  places: tuple[Place, ...] = ()) -> str:
    """The cited document with [start_char, end_char) in a <mark>; split first, then escape.
    A PDF citation with a page map opens at its page: that page's text (and all of the quote).
    A close button leads back to the answer (on a phone the pane covers the chat). `question`:
    the passage is labelled with its language when it is not the question's, and a Chinese
    passage asked about in English has each word's gloss on hover."""
    start, end = int(c["start_char"]), int(c["end_char"])
    lo, hi = 0, len(text)
    page = page_bounds(places, c.get("page"), len(text))
    if page is not None:
        lo, hi = min(page[0], start), max(page[1], end)
    elif len(text) > DOC_WINDOW:  # very long documents: a window around the passage
        lo, hi = max(0, start - DOC_WINDOW // 2), min(len(text), end + DOC_WINDOW // 2)
    before, span, after = text[lo:start], text[start:end], text[end:hi]
    cls = "focus source-mark" if kind == "c" else "focus related-mark"
    label = f"[{c['n']}]" if kind == "c" else "related passage"
    return (
        f'<div class="docview-head"><button class="docview-close" type="button" aria-label="Close the document '
        f'and return to the answer">✕ Back to the answer</button><b>{html.escape(label)}</b> '
        f'<span class="doc-title" title="{html.escape(c["file"], quote=True)}">{html.escape(c["title"])}</span>'
        f'{_where(c)}{lang_label(span, question)} <span class="span">{html.escape(c["file"])} · chars {start}–{end}</span></div>'
        f'<div class="doc-text" tabindex="0" role="region" aria-label="Text of the cited document">'
        f'{"… " if lo and page is None else ""}{html.escape(before)}'
        f'<mark class="{cls}" data-for="{html.escape(ref)}">{_quote_html(span, question)}</mark>'
        f'{html.escape(after)}{" …" if hi < len(text) and page is None else ""}</div>'
    )


def export_markdown(turns: list[dict[str, Any]]) -> str:
    """The conversation with its citations, as a Markdown file."""
    out = [f"# Conversation with the documents\n\nExported {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n"]
    for i, record in enumerate(turns, 1):
        out.append(f"## {i}. {record.get('question', '')}\n")
        out += _answer_md(record)
    return "\n".join(out)


def turn_markdown(record: dict[str, Any]) -> str:
    """One answer as plain text: the question, the answer with its [n] markers and the sources,
    as in the export (what the copy button copies)."""
    return "\n".join([f"Q: {record.get('question', '')}\n", *_answer_md(record)]).strip() + "\n"


def _answer_md(record: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "error" in record:
        out.append(f"Error: {record['error']}\n")
    else:
        if record.get("refused"):
            out.append("**Not answered from the documents.**\n")
        out.append(record["answer"] + "\n")
        if record.get("notice"):
            out.append(f"_{record['notice']}_\n")
        out.append(f"_Answered in {record.get('mode', '')} mode._\n")
        if record.get("citations"):
            out.append("Sources:\n")
            for c in record["citations"]:
                quote = " ".join(c["quote"].split())
                place = where(c.get("page"), c.get("section"))
                out.append(f"- [{c['n']}] {c['title']}{f', {place}' if place else ''} (`{c['file']}`, "
                           f"chars {c['start_char']}–{c['end_char']})\n"
                           f"  > {quote}\n")
        if record.get("related"):
            out.append("Related passages (not support):\n")
            for c in record["related"]:
                out.append(f"- {c['title']} (`{c['file']}`): “{' '.join(c['quote'].split())[:200]}”\n")
    return out


def documents_rows(entries: list[Any]) -> list[list[Any]]:
    return [[e.file, e.title, e.lang, len(e.chunk_ids), e.n_chars] for e in entries]
