"""Chinese words in a quote, each with its CC-CEDICT gloss on hover, for an English reader.

The words are cut as the index cuts them (jieba, `tokenize_spans`); a word the dictionary lacks
is shown as it is. The gloss travels in `data-gloss` (the stylesheet shows it on hover and on
keyboard focus) and in `title`, so a screen reader and a plain tooltip have it too.
"""

from __future__ import annotations

import html
import re

from chatbot.text.lexicon import gloss
from chatbot.text.terms import tokenize_spans

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def glossed(text: str) -> str:
    """`text` escaped, its Chinese words wrapped in `<span class="gloss" data-gloss=...>`."""
    out: list[str] = []
    pos = 0
    for start, word in tokenize_spans(text):
        if not _HAN.match(word) or start < pos:
            continue
        meaning = gloss(word)
        if not meaning:
            continue
        end = start + len(word)
        if text[start:end] != word:  # tokenize lower-cases; Chinese words come back as they are
            continue
        g = html.escape(f"{word}: {meaning}", quote=True)
        out.append(html.escape(text[pos:start]))
        out.append(f'<span class="gloss" data-gloss="{g}" title="{g}">{html.escape(word)}</span>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)
