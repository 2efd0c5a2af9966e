"""Files to normalized text, with a title and a language (PDF, Word and HTML via `extract`).

The normalized text is the single reference for every offset the product hands out:
citations quote it at [start_char, end_char).
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from chatbot.errors import LoadError
from chatbot.text.encoding import decode
from chatbot.text.extract import EXTRACTORS
from chatbot.types import LoadedDoc, Place

log = logging.getLogger(__name__)
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
MARKDOWN_SUFFIXES = (".md", ".markdown")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, *EXTRACTORS)
PLACED_SUFFIXES = (*MARKDOWN_SUFFIXES, *EXTRACTORS)  # files whose text has pages or headings

# Zero-width and other invisible characters that break matching and offsets.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def normalize(text: str) -> str:
    """NFC, unix newlines, no invisible or control characters, no trailing spaces."""
    text = _clean_lines(text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _clean_lines(text: str) -> str:
    """The line-local part of `normalize`: the same on a text and on its lines taken apart."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    text = _CONTROL.sub("", text)
    return "\n".join(line.rstrip() for line in text.split("\n"))


def normalize_placed(text: str, places: Sequence[Place]) -> tuple[str, tuple[Place, ...]]:
    """`normalize(text)`, and `places` (starting at raw offsets of `text`) moved to the offsets
    of the normalized text, where their first character that is not blank now stands.

    Exact, not estimated: a place must start a line, and the line-local steps of `normalize`
    (NFC, newlines, invisible characters, trailing spaces) give the same result on a text and on
    its line-aligned pieces, so a piece's start in the cleaned text is the sum of the cleaned
    lengths before it; only the collapse of blank lines and the final strip then move it, by
    what they remove before it. The result is checked against `normalize`; a mismatch drops
    the places (a citation then has no page) rather than give a wrong one.
    """
    marks = sorted({p.start for p in places if 0 < p.start <= len(text) and text[p.start - 1] == "\n"} | {0})
    pieces = [_clean_lines(text[a:b]) for a, b in zip(marks, [*marks[1:], len(text)])]
    starts, pos = {}, 0
    for mark, piece in zip(marks, pieces):
        starts[mark] = pos
        pos += len(piece)
    cleaned = "".join(pieces)
    runs = [(m.start() + 2, m.end()) for m in re.finditer(r"\n{3,}", cleaned)]  # what the collapse removes
    collapsed = re.sub(r"\n{3,}", "\n\n", cleaned)
    lead = len(collapsed) - len(collapsed.lstrip())
    out = collapsed.strip()
    if out != normalize(text):
        log.warning("places dropped: normalizing a text piece by piece did not give its normalized text")
        return normalize(text), ()

    def moved(p: int) -> int:
        p -= sum(max(0, min(p, b) - a) for a, b in runs)
        p = min(max(0, p - lead), len(out))
        while p < len(out) and out[p].isspace():
            p += 1
        return p

    mapped: list[Place] = []
    for place in sorted((p for p in places if p.start in starts), key=lambda p: p.start):
        new = replace(place, start=moved(starts[place.start]))
        if new.start >= len(out):
            break  # empty pages at the end: no text is on them
        if mapped and mapped[-1].start == new.start:
            mapped.pop()  # an empty page or section: the next one starts at the same character
        if not mapped or (mapped[-1].page, mapped[-1].section) != (new.page, new.section):
            mapped.append(new)
    return out, tuple(mapped)


_MD_HEADING = re.compile(r" {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_MD_FENCE = re.compile(r" {0,3}(```|~~~)")


def markdown_sections(text: str) -> tuple[Place, ...]:
    """The `#` headings of normalized Markdown text, each the section from its line on (not
    inside fenced code, where `#` starts a comment)."""
    places, pos, fence = [], 0, ""
    for line in text.split("\n"):
        m = _MD_FENCE.match(line)
        if m and (not fence or m.group(1) == fence):
            fence = "" if fence else m.group(1)
        elif not fence and (h := _MD_HEADING.match(line)):
            places.append(Place(pos, section=" ".join(h.group(2).split())[:200]))
        pos += len(line) + 1
    return tuple(places)


def detect_lang(text: str) -> str:
    """'zh' when CJK characters make up a real share of the letters, else 'en'."""
    sample = text[:5000]
    cjk = len(_CJK.findall(sample))
    latin = len(_LATIN.findall(sample))
    if cjk == 0:
        return "en"
    # one CJK character carries about as much as a short English word
    return "zh" if cjk * 3 >= latin else "en"


def extract_title(text: str, fallback: str) -> str:
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return fallback


def _looks_binary(text: str) -> bool:
    sample = text[:4000]
    if not sample:
        return False
    odd = sum(1 for ch in sample if unicodedata.category(ch) in ("Cc", "Co", "Cn", "Cs") and ch not in "\n\t\r")
    return odd / len(sample) > 0.1


def load_file(path: Path, display_name: str, max_bytes: int) -> LoadedDoc:
    """Read one file; raise LoadError with a reason the user can act on."""
    name = str(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise LoadError(name, f"unsupported type {path.suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(name, f"too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB limit; CHATBOT_MAX_FILE_MB raises it)")
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(name, f"cannot read: {exc.strerror or exc}") from exc
    return load_bytes(raw, path.resolve(), display_name)


def load_bytes(raw: bytes, source: Path, display_name: str) -> LoadedDoc:
    """Raw bytes to a LoadedDoc; PDF, Word and HTML (by the source's suffix) are extracted first."""
    name = str(source)
    if not raw.strip():
        raise LoadError(name, "empty file")
    suffix = source.suffix.lower()
    extractor = EXTRACTORS.get(suffix)
    title = ""
    places: tuple[Place, ...] = ()
    if extractor is not None:
        text, title, raw_places = extractor(raw, name)
        text, places = normalize_placed(text, raw_places)
    else:
        text = decode(raw, name)
        if _looks_binary(text):
            raise LoadError(name, "binary file (mostly control characters), not text")
        text = normalize(text)
        if suffix in MARKDOWN_SUFFIXES:
            places = markdown_sections(text)
    if not text:
        raise LoadError(name, "no text after removing whitespace and control characters")
    return LoadedDoc(
        source=name,
        file=display_name,
        title=" ".join(title.split())[:200] or extract_title(text, Path(display_name).stem),
        text=text,
        lang=detect_lang(text),
        sha256=hashlib.sha256(raw).hexdigest(),
        places=places,
    )


def discover(paths: Iterable[Path]) -> Iterator[tuple[Path, str, Path]]:
    """Yield (file, display name, root) for each supported file under the given paths.

    A directory contributes its files (recursively, hidden ones skipped) named relative to it;
    a file stands for itself, named by its base name. Unsupported files are yielded too, so
    that the loader can say why each is skipped.
    """
    for root in paths:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                rel = path.relative_to(root)
                if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                    continue
                yield path, rel.as_posix(), root
        elif root.is_file():
            yield root, root.name, root.parent
