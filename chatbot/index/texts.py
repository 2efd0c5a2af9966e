"""The normalized text of every indexed file, one file each in `DATA_DIR/texts/` (embedded mode).

A chunk's text is not stored in Chroma: it is the slice `[start_char, end_char)` of its file's
text here, checked against a CRC-32 kept in the chunk's metadata, so a chunk whose file was
rewritten under it (a reader beside a running ingest) is left out, never quoted wrongly. Texts
are kept in memory, least recently used first, while their file on disk is unchanged.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

from chatbot.index.datadir import replace_file

log = logging.getLogger(__name__)
TEXT_CACHE_FILES = 512  # normalized file texts kept in memory for chunk slices


def crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


class TextFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        # doc_id -> (file stamp, normalized text), least recently used first
        self._cache: OrderedDict[str, tuple[tuple[int, int, int], str]] = OrderedDict()

    def path(self, doc_id: str) -> Path:
        return self.folder / f"{doc_id}.txt"

    def write(self, doc_id: str, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        replace_file(self.path(doc_id), text)

    def remove(self, doc_id: str) -> None:
        self.path(doc_id).unlink(missing_ok=True)

    def read(self, doc_id: str) -> str:
        return self.path(doc_id).read_text(encoding="utf-8")

    def doc_ids(self) -> set[str]:
        return {p.stem for p in self.folder.glob("*.txt")} if self.folder.is_dir() else set()

    def cached(self, doc_id: str, *, warn: bool = True) -> str | None:
        """A file's normalized text, from memory while the file is unchanged; None when missing
        (`warn`: say so in the log, as a reader that needed it does)."""
        path = self.path(doc_id)
        try:
            st = path.stat()
        except FileNotFoundError:
            if warn:
                log.warning("text of doc_id=%s missing from %s; its chunks are skipped. Run `chatbot check "
                            "--repair` (or `chatbot ingest`) to restore it", doc_id, self.folder)
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._cache.get(doc_id)
            if hit is not None and hit[0] == stamp:
                self._cache.move_to_end(doc_id)
                return hit[1]
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        with self._lock:
            self._cache[doc_id] = (stamp, text)
            while len(self._cache) > TEXT_CACHE_FILES:
                self._cache.popitem(last=False)
        return text

    def slice(self, doc_id: str, start: int, end: int, expected_crc: object) -> str | None:
        """The chunk text at [start, end) of a file, or None when it no longer matches its CRC."""
        text = self.cached(doc_id)
        if text is None:
            return None
        piece = text[start:end]
        if crc(piece) != expected_crc:
            log.info("chunk skipped doc_id=%s: its text changed under it (an ingest is running, or "
                     "the text file was damaged: `chatbot check` tells)", doc_id)
            return None
        return piece
