"""Citations are data checked by code: number the evidence, parse [n] markers, validate quotes.

Pure functions; nothing here talks to a store or a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from chatbot.types import Chunk, Citation, Evidence, place_at

MARKER = re.compile(r"\[(\d{1,3})\]")


def to_citation(n: int, ev: Evidence) -> Citation:
    """The citation of a span; its page or section is the one its quote starts in."""
    c = ev.chunk
    place = place_at(c.places, ev.start_char)
    return Citation(
        n=n, file=c.file, title=c.title, chunk_id=c.id, doc_id=c.doc_id,
        start_char=ev.start_char, end_char=ev.end_char, quote=ev.quote,
        page=place.page if place else None, section=place.section if place else None,
    )


def number_context(chunks: Sequence[Chunk]) -> str:
    """Context blocks for a prompt: each chunk fenced and numbered [1], [2], ..."""
    blocks = []
    for i, c in enumerate(chunks, 1):
        body = c.text.replace("<<<", "‹‹‹").replace(">>>", "›››")
        blocks.append(f"[{i}] source: {c.file} — {c.title}\n<<<\n{body}\n>>>")
    return "\n\n".join(blocks)


def defuse_markers(text: str) -> str:
    """Quoted text may hold its own "[11]" (footnotes); show it so it cannot pass for a marker."""
    return MARKER.sub(lambda m: f"［{m.group(1)}］", text)


def markers(text: str) -> list[int]:
    return [int(m.group(1)) for m in MARKER.finditer(text)]


def keep_valid_markers(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Remove every [n] whose n is not in `valid`; return the text and the dropped numbers."""
    dropped: list[int] = []

    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n in valid:
            return m.group(0)
        dropped.append(n)
        return ""

    cleaned = MARKER.sub(repl, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?。，；：！？])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), dropped


def renumber(text: str, citations: Sequence[Citation]) -> tuple[str, tuple[Citation, ...]]:
    """Number citations 1..k in order of first mention; drop the ones never mentioned."""
    order: list[int] = []
    for n in markers(text):
        if n not in order:
            order.append(n)
    by_n = {c.n: c for c in citations}
    order = [n for n in order if n in by_n]
    mapping = {old: new for new, old in enumerate(order, 1)}
    new_text = MARKER.sub(lambda m: f"[{mapping.get(int(m.group(1)), 0)}]", text)
    new_text, _ = keep_valid_markers(new_text, set(mapping.values()))
    renumbered = tuple(
        Citation(**{**by_n[old].__dict__, "n": new}) for old, new in mapping.items()
    )
    return new_text, renumbered


def check(text: str, citations: Sequence[Citation], source_text: Callable[[str], str]) -> list[str]:
    """Problems with an answer's citations; empty when every marker maps to a verbatim quote."""
    problems = []
    numbers = {c.n for c in citations}
    for n in markers(text):
        if n not in numbers:
            problems.append(f"marker [{n}] has no citation")
    for c in citations:
        if not c.quote.strip():
            problems.append(f"citation [{c.n}] has an empty quote")
        elif source_text(c.doc_id)[c.start_char : c.end_char] != c.quote:
            problems.append(f"citation [{c.n}] quote is not the text of {c.file} at {c.start_char}:{c.end_char}")
    return problems
