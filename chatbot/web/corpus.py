"""The first screen: what the index holds, and example questions drawn from it.

The examples are made from the indexed documents' own titles, one question per document,
and each is kept only when the answerer answers it from that document, so a click always
shows a cited answer. They are computed once per set of documents (an upload or a removal
makes new ones) and cost one extractive answer each (a few milliseconds).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from chatbot.errors import ChatbotError

log = logging.getLogger(__name__)
MAX_EXAMPLES = 4
MAX_TRIED = 8  # documents tried for examples, largest first, the languages taken in turn
MAX_TITLE = 100  # characters of a title used in a question
LANG_NAMES = {"zh": "Chinese", "en": "English"}


def question_for(title: str, lang: str) -> str:
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        title = title[:MAX_TITLE].rsplit(" ", 1)[0] if lang == "en" else title[:MAX_TITLE]
    return f"《{title}》说了什么？" if lang == "zh" else f"What does “{title}” report?"


def _candidates(entries: Sequence[Any]) -> list[Any]:
    """Documents to try, largest first, alternating between languages."""
    by_lang: dict[str, list[Any]] = {}
    for e in sorted(entries, key=lambda e: (-len(e.chunk_ids), e.file)):
        by_lang.setdefault(e.lang, []).append(e)
    out: list[Any] = []
    while any(by_lang.values()) and len(out) < MAX_TRIED:
        for lang in sorted(by_lang):
            if by_lang[lang]:
                out.append(by_lang[lang].pop(0))
    return out[:MAX_TRIED]


class Examples:
    """Example questions for a corpus, cached by its set of documents."""

    def __init__(self, ask: Callable[[str], Any]) -> None:
        self._ask = ask
        self._lock = threading.Lock()
        self._key: tuple[str, ...] = ()
        self._questions: list[str] = []

    def for_entries(self, entries: Sequence[Any]) -> list[str]:
        key = tuple(sorted(e.sha256 for e in entries))
        with self._lock:
            if key != self._key or not key:
                self._questions = self._make(entries)
                self._key = key
            return list(self._questions)

    def _make(self, entries: Sequence[Any]) -> list[str]:
        out: list[str] = []
        for e in _candidates(entries):
            q = question_for(e.title, e.lang)
            try:
                answer = self._ask(q)
            except ChatbotError as exc:
                log.info("example question skipped q=%r: %s", q, exc)
                continue
            if not answer.refused and any(c.doc_id == e.doc_id for c in answer.citations):
                out.append(q)
            if len(out) == MAX_EXAMPLES:
                break
        return out


def corpus_html(entries: Sequence[Any], examples: Sequence[str]) -> str:
    """Number of documents, their titles and languages, and the example questions as buttons."""
    if not entries:
        return "<p class='meta'>No documents are indexed yet. Add some on the Documents tab.</p>"
    langs: dict[str, int] = {}
    for e in entries:
        langs[e.lang] = langs.get(e.lang, 0) + 1
    summary = ", ".join(f"{n} in {LANG_NAMES.get(lang, lang)}" for lang, n in sorted(langs.items()))
    shown = entries[:12]
    items = "".join(
        f'<li><span title="{html.escape(e.file, quote=True)}">{html.escape(e.title)}</span> '
        f'<span class="meta">({LANG_NAMES.get(e.lang, e.lang)})</span></li>' for e in shown
    )
    more = f"<li class='meta'>… and {len(entries) - len(shown)} more (Documents tab)</li>" if len(entries) > len(shown) else ""
    parts = [f'<p><b>{len(entries)} document{"" if len(entries) == 1 else "s"}</b> indexed ({summary}):</p>',
             f'<ul class="corpus-docs">{items}{more}</ul>']
    if examples:
        buttons = "".join(f'<button type="button" class="example-q" data-q="{html.escape(q, quote=True)}">'
                          f"{html.escape(q)}</button>" for q in examples)
        parts.append(f'<p><b>Try one</b> (made from the documents):</p><div class="examples">{buttons}</div>')
    return "".join(parts)


def summary(entries: Sequence[Any], examples: Callable[[Sequence[Any]], list[str]]) -> str:
    try:
        return corpus_html(entries, examples(entries))
    except ChatbotError as exc:
        return f"<p class='meta'>{html.escape(str(exc))}</p>"
