"""Which files an ingest reads: the given files and folders walked, each file once.

The policy (README, "What gets indexed"):
- A file is identified by its resolved path: the same file reached twice (a path given twice, a
  folder given with its own subfolder, a symlink beside its target) is read once.
- Symbolic links that lead out of the given folders are not followed unless `follow_links`: a
  link in a folder of notes must not index `/etc/passwd`. A path given on the command line is
  followed, since it was named on purpose. With `follow_links`, a linked folder is walked once.
- Hidden files and folders (a name starting with ".") are passed over silently, as before.
- Everything else that is not read says why: a link loop, a broken link, a FIFO, socket or
  device (opening a FIFO would hang the ingest), a link out of the folders, an alias.
- The type is read from the resolved file's name, not from the link's.

Each file also keeps where it was found (`at`: the link itself, for a link), so that when the
link disappears the next ingest of that folder removes what it pointed to.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Found:
    path: Path  # the resolved file: what is read, and its identity
    display: str  # the name shown: relative to the folder it was found in
    at: Path  # absolute path where it was found (the link, for a link), not resolved
    skip: str = ""  # why it is not read ("" when it is)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _resolve(path: Path) -> tuple[Path | None, str]:
    """The target of a path, or None and why it has none."""
    try:
        return path.resolve(strict=True), ""
    except RuntimeError:  # Python < 3.13 raises this for a loop
        return None, "symlink loop"
    except FileNotFoundError:
        return None, "broken symlink (its target does not exist)"
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            return None, "symlink loop"
        return None, f"cannot resolve: {exc.strerror or exc}"


def roots_of(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(as given but absolute, resolved) for each existing path, a path inside another given
    folder folded into it, duplicates dropped, in the order given."""
    out: list[tuple[Path, Path]] = []
    for p in paths:
        given = Path(os.path.abspath(p))
        real, _ = _resolve(given)
        if real is None or any(real == r for _, r in out):
            continue
        out.append((given, real))
    folders = [r for _, r in out if r.is_dir()]
    return [(g, r) for g, r in out if not any(r != f and r.is_relative_to(f) for f in folders)]


def discover(paths: Iterable[Path], *, follow_links: bool = False) -> Iterator[Found]:
    """Every file under the given paths, once, with a reason for each one not read."""
    roots = roots_of(paths)
    inside = [r for _, r in roots if r.is_dir()]
    seen: dict[Path, str] = {}  # resolved file -> display name it was read as
    walked: set[Path] = set()

    def emit(real: Path, display: str, at: Path) -> Found:
        if real in seen:
            return Found(real, display, at, f"same file as {seen[real]}; indexed once")
        seen[real] = display
        return Found(real, display, at)

    def regular(real: Path, display: str, at: Path) -> Found:
        try:
            mode = os.stat(real).st_mode
        except OSError as exc:
            return Found(real, display, at, f"cannot read: {exc.strerror or exc}")
        if not stat.S_ISREG(mode):
            return Found(real, display, at, f"{_kind(mode)}, not a document")
        return emit(real, display, at)

    def walk(folder: Path, prefix: str) -> Iterator[Found]:
        real_folder = folder.resolve()
        if real_folder in walked:
            return
        walked.add(real_folder)
        for dirpath, dirnames, filenames in os.walk(folder):  # never follows a linked folder itself
            dirnames.sort()
            here = Path(dirpath)
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                at = here / name
                yield from one(at, prefix + at.relative_to(folder).as_posix())
            for name in sorted(dirnames):  # after the files here: a file is named by its shortest way in
                link = here / name
                if not name.startswith(".") and link.is_symlink():
                    yield from linked_folder(link, prefix + link.relative_to(folder).as_posix())
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (here / d).is_symlink())

    def linked_folder(link: Path, display: str) -> Iterator[Found]:
        real, why = _resolve(link)
        if real is None:
            yield Found(link, display, link, why)
        elif _inside(real, inside):
            return  # a second way into a folder being walked: its files come through their own path
        elif not follow_links:
            yield Found(real, display, link, f"symlink to a folder outside the given folders ({real}); "
                        "--follow-links indexes it")
        elif real.is_dir():
            yield from walk(link, display + "/")

    def one(at: Path, display: str) -> Iterator[Found]:
        try:
            mode = os.lstat(at).st_mode
        except OSError as exc:
            yield Found(at, display, at, f"cannot read: {exc.strerror or exc}")
            return
        if not stat.S_ISLNK(mode):
            yield regular(at.resolve(), display, at)
            return
        real, why = _resolve(at)
        if real is None:
            yield Found(at, display, at, why)
        elif _inside(real, inside):
            # an alias of a file in the folders: read once, through its own path
            yield Found(real, display, at, f"symlink to {real}, which is indexed under its own name")
        elif not follow_links:
            yield Found(real, display, at, f"symlink to a file outside the given folders ({real}); "
                        "--follow-links indexes it")
        else:
            yield regular(real, display, at)

    # files named on their own first would be marked "same file" when their folder is walked;
    # folders go first, so a folder's files carry names relative to it
    for given, real in sorted(roots, key=lambda gr: not gr[1].is_dir()):
        if real.is_dir():
            yield from walk(given, "")
        else:
            yield regular(real, given.name, given)
