"""Bytes to text: a byte-order mark first, then UTF-8, UTF-16 without a mark, GB18030 (a superset of GBK)."""

from __future__ import annotations

from chatbot.errors import LoadError

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode(raw: bytes, path: str) -> str:
    """Bytes to str: BOMs first, then UTF-8, UTF-16 without BOM, GB18030 (a superset of GBK)."""
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec).lstrip("\ufeff")
            except UnicodeDecodeError as exc:
                raise LoadError(path, f"starts with a {codec} byte-order mark but is not {codec}") from exc
    utf16 = _guess_utf16(raw)  # first: ASCII text in UTF-16 is also valid (NUL-ridden) UTF-8
    if utf16:
        try:
            return raw.decode(utf16)
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in raw:
        raise LoadError(path, "binary file (contains NUL bytes), not text")
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise LoadError(
            path, "cannot decode as UTF-8, UTF-16 or GB18030/GBK; save it as UTF-8 and ingest again"
        ) from exc


def _guess_utf16(raw: bytes) -> str | None:
    """UTF-16 without BOM shows NUL in every other byte for ASCII-heavy text."""
    if len(raw) < 4 or len(raw) % 2:
        return None
    even, odd = raw[0::2], raw[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None
