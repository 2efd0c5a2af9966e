"""Uploaded files: checked (type, size) and stored under the data dir with a safe name.

Whatever name a browser sends (`../../etc/passwd`, `C:\\x\\y.txt`, NUL bytes, control or odd
characters) the stored file lands directly in `uploads_dir`: only the last path component is
kept, reduced to letters, digits (any script), space, dot, dash and underscore.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from chatbot.errors import ChatbotError, LoadError
from chatbot.text.loaders import SUPPORTED_SUFFIXES, load_bytes

MAX_NAME_CHARS = 120
_ODD = re.compile(r"[^\w .\-]+")  # \w is Unicode-aware: Chinese names stay readable


class UploadError(ChatbotError):
    """An uploaded file is refused; the message says why and what to do."""


def safe_name(name: str) -> str:
    """A file name that cannot leave its folder or hide: base name only, odd characters dropped."""
    name = unicodedata.normalize("NFC", name.replace("\x00", ""))
    name = re.split(r"[/\\]", name)[-1]  # the last component, for POSIX and Windows paths alike
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _ODD.sub("_", name).strip(" .")  # no leading dot (hidden, "..") and no trailing dot
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = re.sub(r"_+", "_", stem).strip("_ ")[: MAX_NAME_CHARS - len(suffix) - 1] or "upload"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def check_upload(name: str, size: int, max_mb: float) -> None:
    suffix = Path(safe_name(name)).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadError(
            f"{name}: type {suffix or '(none)'} is not supported. Upload one of: {', '.join(SUPPORTED_SUFFIXES)}."
        )
    if size > max_mb * 1e6:
        raise UploadError(
            f"{name}: {size / 1e6:.1f} MB is over the {max_mb:g} MB limit. Split the file, or raise "
            "CHATBOT_MAX_FILE_MB on the server."
        )
    if size == 0:
        raise UploadError(f"{name}: the file is empty.")


def checked_destination(src: Path, name: str, uploads_dir: Path, max_mb: float) -> Path:
    """Check an uploaded temp file (type, size, readable text) and return where it is to be
    stored. Nothing is written: a file that fails here leaves any earlier version untouched."""
    check_upload(name, src.stat().st_size, max_mb)
    uploads_dir.mkdir(parents=True, exist_ok=True)
    root = uploads_dir.resolve()
    dest = (root / safe_name(name)).resolve()
    if dest.parent != root:  # cannot happen after safe_name; checked because it is the promise
        raise UploadError(f"{name}: refused, the name points outside the upload folder.")
    try:  # read it before it replaces anything: a broken new version must not evict a good one
        load_bytes(src.read_bytes(), dest, name)
    except LoadError as exc:
        raise UploadError(f"{name}: {exc.reason}") from exc
    return dest


@contextmanager
def replacing(src: Path, dest: Path) -> Iterator[Callable[[], None]]:
    """Put `src` at `dest`, keeping the version it replaces; inside, call the function given to
    keep the new one. Unless kept (an error, a refusal), the earlier version is put back, or
    the new file removed when there was none."""
    previous = dest.with_name(f".{dest.name}.previous{os.getpid()}")
    tmp = dest.with_name(f".{dest.name}.part{os.getpid()}")
    had = dest.exists()
    kept = False

    def keep() -> None:
        nonlocal kept
        kept = True

    try:
        shutil.copyfile(src, tmp)
        if had:
            os.replace(dest, previous)
        os.replace(tmp, dest)
        yield keep
    finally:
        tmp.unlink(missing_ok=True)
        if kept:
            previous.unlink(missing_ok=True)
        elif had and previous.exists():
            os.replace(previous, dest)
        elif not had:
            dest.unlink(missing_ok=True)
