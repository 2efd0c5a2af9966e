"""Small frozen records passed between the layers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadedDoc:
    """A file turned into normalized text."""

    source: str  # absolute path, the key of the manifest
    file: str  # display name, relative to the ingested folder
    title: str
    text: str  # normalized text; every offset refers to it
    lang: str  # "zh" or "en"
    sha256: str  # of the raw bytes


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

    def metadata(self) -> dict[str, str | int]:
        return {
            "doc_id": self.doc_id,
            "file": self.file,
            "title": self.title,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "lang": self.lang,
            "seq": self.seq,
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

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "file": self.file,
            "title": self.title,
            "chunk_id": self.chunk_id,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "quote": self.quote,
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
