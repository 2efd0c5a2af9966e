"""Files to normalized text, with a title and a language (PDF, Word and HTML via `extract`).

The normalized text is the single reference for every offset the product hands out:
citations quote it at [start_char, end_char).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from chatbot.errors import LoadError
from chatbot.text.encoding import decode
from chatbot.text.extract import EXTRACTORS
from chatbot.types import LoadedDoc

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, *EXTRACTORS)

# Zero-width and other invisible characters that break matching and offsets.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def normalize(text: str) -> str:
    """NFC, unix newlines, no invisible or control characters, no trailing spaces."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    text = _CONTROL.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


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
    extractor = EXTRACTORS.get(source.suffix.lower())
    title = ""
    if extractor is not None:
        text, title = extractor(raw, name)
    else:
        text = decode(raw, name)
        if _looks_binary(text):
            raise LoadError(name, "binary file (mostly control characters), not text")
    text = normalize(text)
    if not text:
        raise LoadError(name, "no text after removing whitespace and control characters")
    return LoadedDoc(
        source=name,
        file=display_name,
        title=" ".join(title.split())[:200] or extract_title(text, Path(display_name).stem),
        text=text,
        lang=detect_lang(text),
        sha256=hashlib.sha256(raw).hexdigest(),
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
