"""Many processes, one data directory (embedded mode): a readers-writer lock, a generation, disk room.

Readers (a question, the document list) hold the lock shared while they use the index; writers
(one batch of an ingest, a removal, a repair) hold it exclusively for the moment their write
takes, not for a whole ingest: embedding between batches runs unlocked. The lock is flock(2) on
`index.lock`, taken through a fresh file descriptor each time, so it keeps threads of one process
apart as it keeps processes apart; a writer first takes `index.turnstile`, which new readers
pass through too, so a stream of questions cannot starve it.

Every write ends by giving the data directory a new generation (the file `generation`, replaced
atomically). A process that finds another generation than the one it last saw reloads what it
keeps in memory (the manifest; Chroma's client, whose vector index lives in memory) before it
uses it: that is what lets `chatbot serve` run beside `chatbot ingest` on one directory.

One `DataDir` per directory per process (`DataDir.of(path)`), so every part of a process that
opens the directory shares the in-process half of the lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from chatbot.errors import DataDirError, DiskFullError

# errnos that mean "no room left", whatever wrote
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def no_space(exc: BaseException) -> bool:
    """Whether an exception from any layer (OS, SQLite inside Chroma) says the disk is full."""
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        return True
    text = str(exc).lower()
    return "disk is full" in text or "no space left" in text or "database or disk is full" in text


def disk_full(data_dir: Path, exc: BaseException | None = None) -> DiskFullError:
    free = _free_mb(data_dir)
    return DiskFullError(
        f"The disk holding {data_dir} is full ({free:.0f} MB free{f'; {exc}' if exc else ''}). "
        "Nothing indexed before this ingest was lost. Free some space, or point CHATBOT_DATA_DIR at a "
        "larger disk, then run the ingest again: it goes on where this one stopped."
    )


def _free_mb(path: Path) -> float:
    try:
        return shutil.disk_usage(path).free / 1e6
    except OSError:
        return float("nan")


def ensure_room(data_dir: Path, need_bytes: int, reserve_mb: float) -> None:
    """Stop before a write that would leave less than `reserve_mb` free: a disk filled to the
    last byte can break more than the write that filled it (Chroma's own files among them)."""
    free = shutil.disk_usage(data_dir).free
    if free - need_bytes < reserve_mb * 1e6:
        raise DiskFullError(
            f"The disk holding {data_dir} is nearly full: {free / 1e6:.1f} MB free, this step needs about "
            f"{need_bytes / 1e6:.1f} MB and {reserve_mb:g} MB stay in reserve (CHATBOT_MIN_FREE_MB). "
            "Nothing indexed so far was lost. Free some space, or point CHATBOT_DATA_DIR at a larger "
            "disk, then run the ingest again: it goes on where this one stopped."
        )


def replace_file(path: Path, data: str) -> None:
    """Write a file whole or not at all (a temp file beside it, then rename); never leave the
    temp file behind, not even when the disk is full."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}-{threading.get_ident()}")
    try:
        tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _InProcess:
    """A readers-writer lock for the threads of this process, re-entrant per thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None
        self._waiting = 0
        self._held = threading.local()

    def depth(self) -> tuple[int, bool]:
        return getattr(self._held, "depth", 0), getattr(self._held, "exclusive", False)

    def acquire(self, exclusive: bool) -> None:
        me = threading.get_ident()
        with self._cond:
            if exclusive:
                self._waiting += 1
                while self._writer is not None or self._readers:
                    self._cond.wait()
                self._waiting -= 1
                self._writer = me
            else:
                while self._writer is not None or self._waiting:
                    self._cond.wait()
                self._readers += 1
        self._held.depth, self._held.exclusive = 1, exclusive

    def release(self) -> None:
        with self._cond:
            if self._held.exclusive:
                self._writer = None
            else:
                self._readers -= 1
            self._cond.notify_all()
        self._held.depth, self._held.exclusive = 0, False


class DataDir:
    """The lock and generation of one data directory (embedded mode)."""

    _by_path: ClassVar[dict[Path, DataDir]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = _InProcess()

    @classmethod
    def of(cls, path: Path) -> DataDir:
        key = path.resolve()
        with cls._registry_lock:
            if key not in cls._by_path:
                cls._by_path[key] = cls(key)
            return cls._by_path[key]

    # -- the lock --------------------------------------------------------------------------

    def _open(self, name: str) -> int:
        path = self.path / name
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in READ_ONLY:
                try:  # a read-only directory can still be read; an existing lock file still locks
                    return os.open(path, os.O_RDONLY)
                except OSError:
                    raise read_only(self.path, exc) from exc
            raise

    @contextmanager
    def _flock(self, exclusive: bool) -> Iterator[None]:
        turnstile = self._open("index.turnstile")
        try:
            fcntl.flock(turnstile, fcntl.LOCK_EX)  # a waiting writer holds it: readers queue behind
            fd = self._open("index.lock")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            except BaseException:
                os.close(fd)
                raise
        finally:
            os.close(turnstile)  # closing the descriptor releases its flock
        try:
            yield
        finally:
            os.close(fd)

    @contextmanager
    def hold(self, *, exclusive_here: bool, exclusive: bool) -> Iterator[bool]:
        """Hold the lock: `exclusive_here` keeps the other threads of this process out,
        `exclusive` the other processes. Re-entrant per thread (a nested hold yields False and
        changes nothing); asking for more than an outer hold of this thread has is a bug."""
        depth, held_exclusive = self._threads.depth()
        if depth:
            if (exclusive or exclusive_here) and not held_exclusive:
                raise RuntimeError("a thread holding the data dir lock shared asked for it exclusive")
            yield False
            return
        self._threads.acquire(exclusive_here or exclusive)
        try:
            with self._flock(exclusive):
                yield True
        finally:
            self._threads.release()

    # -- the generation ----------------------------------------------------------------------

    def generation(self) -> str:
        try:
            return (self.path / "generation").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return ""

    def bump(self) -> str:
        """A new generation: other processes reload their cached state before they use it."""
        generation = uuid.uuid4().hex
        replace_file(self.path / "generation", generation)
        return generation


def read_only(data_dir: Path, exc: BaseException) -> DataDirError:
    return DataDirError(
        f"The data directory {data_dir} is read-only ({exc}). Even answering needs it writable: Chroma "
        "opens its database for writing. Make it writable, or copy it somewhere writable and point "
        "CHATBOT_DATA_DIR there."
    )
