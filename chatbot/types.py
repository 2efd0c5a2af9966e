"""Small frozen records passed between the layers."""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Place:
    """Where the normalized text from `start` on sits in the original file: its PDF page
    (1-based) or the heading it stands under (Word, Markdown, HTML); until the next place."""

    start: int
    page: int | None = None
    section: str | None = None


def place_at(places: Sequence[Place], offset: int) -> Place | None:
    """The place in effect at `offset` (the last one starting at or before it); None before the first."""
    i = bisect.bisect_right([p.start for p in places], offset)
    return places[i - 1] if i else None


def places_json(places: Sequence[Place]) -> str:
    """Places as compact JSON (`[[start, page, section], ...]`), for metadata that holds only scalars."""
    return json.dumps([[p.start, p.page, p.section] for p in places], ensure_ascii=False, separators=(",", ":"))


def places_from_json(value: object) -> tuple[Place, ...]:
    """`places_json` read back; "" or a missing value (an index written before places): none."""
    if not value:
        return ()
    items: Any = json.loads(value) if isinstance(value, str) else value
    return tuple(Place(int(s), None if p is None else int(p), None if h is None else str(h)) for s, p, h in items)


def where(page: object, section: object) -> str:
    """A citation's place as people write it: "p. 3" for a PDF page, the heading for a section."""
    return f"p. {page}" if page else str(section or "")


@dataclass(frozen=True)
class LoadedDoc:
    """A file turned into normalized text."""

    source: str  # absolute path, the key of the manifest
    file: str  # display name, relative to the ingested folder
    title: str
    text: str  # normalized text; every offset refers to it
    lang: str  # "zh" or "en"
    sha256: str  # of the raw bytes
    places: tuple[Place, ...] = ()  # PDF pages or headings, by start offset in `text`


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    file: str
    title: str
    text: str
    start_char: int
    end_char: int
    lang: str
    seq: int  # position of the chunk within its file
    # the file's places that apply within the chunk: the one at start_char, then any starting inside
    places: tuple[Place, ...] = ()

    @property
    def page(self) -> int | None:
        """The PDF page (1-based) the chunk starts on; None for other files and older indexes."""
        place = place_at(self.places, self.start_char)
        return place.page if place else None

    @property
    def section(self) -> str | None:
        """The heading the chunk starts under (Word, Markdown, HTML); None when there is none."""
        place = place_at(self.places, self.start_char)
        return place.section if place else None

    def metadata(self) -> dict[str, str | int]:
        return {
            "doc_id": self.doc_id,
            "file": self.file,
            "title": self.title,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "lang": self.lang,
            "seq": self.seq,
            # always written ("" for none), so a metadata update also clears places a file lost
            "places": places_json(self.places) if self.places else "",
        }


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float  # higher is better; dense cosine similarity for now
    dense: float = 0.0
    keyword: float = 0.0


@dataclass(frozen=True)
class Citation:
    n: int
    file: str
    title: str
    chunk_id: str
    doc_id: str
    start_char: int
    end_char: int
    quote: str
    page: int | None = None  # the PDF page (1-based) the quote starts on
    section: str | None = None  # the heading the quote stands under (Word, Markdown, HTML)

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "file": self.file,
            "title": self.title,
            "chunk_id": self.chunk_id,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "quote": self.quote,
            "page": self.page,
            "section": self.section,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    refused: bool
    citations: tuple[Citation, ...]
    retrieved: tuple[ScoredChunk, ...]
    mode: str
    latency_ms: float
    notice: str = ""
    related: tuple[Citation, ...] = field(default=())
    prompt: str = ""  # name@hash of the prompt that produced the answer
    # why the extractive reading quoted what it quoted, or refused (`chatbot ask --explain`)
    trace: dict[str, object] = field(default_factory=dict)
    # the calibrated probability that the answer is right (None: no reader judged it)
    confidence: float | None = None

    def retrieved_files(self) -> list[str]:
        seen: list[str] = []
        for sc in self.retrieved:
            if sc.chunk.file not in seen:
                seen.append(sc.chunk.file)
        return seen

    def as_dict(self, *, trace: bool = False) -> dict[str, object]:
        """The `chatbot ask --json` object; `trace`: with why (`--explain`)."""
        out: dict[str, object] = {
            "answer": self.answer,
            "refused": self.refused,
            "confidence": self.confidence,
            "citations": [c.as_dict() for c in self.citations],
            "retrieved": self.retrieved_files(),
            "latency_ms": round(self.latency_ms, 1),
            "mode": self.mode,
            "notice": self.notice,
            "related": [c.as_dict() for c in self.related],
            "prompt": self.prompt,
        }
        if trace:
            out["trace"] = self.trace
        return out


@dataclass(frozen=True)
class Evidence:
    """A span of a chunk proposed as support: absolute offsets into the file's normalized text."""

    chunk: Chunk
    start_char: int
    end_char: int

    @property
    def quote(self) -> str:
        c = self.chunk
        return c.text[self.start_char - c.start_char : self.end_char - c.start_char]
