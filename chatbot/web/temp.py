"""The web server's temporary files: where they live, how much they may hold, when they go.

Gradio keeps every uploaded file, and every file it serves (conversation exports), in its cache
folder, `GRADIO_TEMP_DIR` (by default `/tmp/gradio`, outside the data dir), and deletes nothing
unless told. `chatbot serve` points it at `$CHATBOT_DATA_DIR/tmp/gradio`. Files older than
`CHATBOT_UPLOAD_CACHE_MINUTES` go: at start-up (leftovers of a server that was killed), every
`SWEEP_EVERY_S` while it runs, and, through Gradio's own `delete_cache`, the files this server
made when it stops (on Ctrl-C, and on SIGTERM, which `ui.serve` turns into the same clean stop).
The size cap is enforced on the upload route (`ui_guard`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread

from chatbot.config import Settings

log = logging.getLogger(__name__)

# How often old files are looked for. An abandoned upload outlives its age by at most this much;
# a sweep walks the folder once, which is cheap at the sizes the cap allows.
SWEEP_EVERY_S = 300.0


def gradio_dir(settings: Settings) -> Path:
    return (settings.data_dir / "tmp" / "gradio").resolve()


def use_data_dir(settings: Settings) -> Path:
    """Point Gradio's cache at `$DATA_DIR/tmp/gradio` and return it.

    Gradio 6.31 reads `GRADIO_TEMP_DIR` when a `Blocks` is built (its cache), when its server app
    is built (where `/gradio_api/upload` writes) and on every request that names a file (the
    check that the file is in the cache), so this runs before `make_app`. A few module constants
    read it at import (video and MCP helpers this app does not use).
    """
    path = gradio_dir(settings)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(path)
    return path


def used_bytes(root: Path) -> int:
    """Total size of the files under `root` (symlinks not followed); 0 when it does not exist."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:  # deleted while we looked: it no longer counts
                continue
    return total


def sweep(root: Path, max_age_s: float, *, empty_dirs: bool = False) -> int:
    """Delete the files under `root` last modified more than `max_age_s` ago; return the bytes freed.

    `empty_dirs` also removes folders left empty (only at start-up: while the server runs, Gradio
    may be about to move an upload into an existing empty folder).
    """
    cutoff = time.time() - max_age_s
    freed = 0
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = Path(folder) / name
            try:
                stat = path.lstat()
                if stat.st_mtime < cutoff:
                    path.unlink()
                    freed += stat.st_size
            except FileNotFoundError:
                continue
            except OSError as exc:  # one file we cannot delete must not stop the sweep
                log.warning("sweep: cannot delete %s: %s", path, exc)
        if empty_dirs and Path(folder) != root:
            try:
                os.rmdir(folder)
            except OSError:  # not empty
                pass
    if freed:
        log.info("sweep root=%s freed_bytes=%d max_age_s=%g", root, freed, max_age_s)
    return freed


def periodic_sweep(root: Path, max_age_s: float, every_s: float = SWEEP_EVERY_S,
                   ) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A server lifespan that sweeps `root` every `every_s` seconds while the server runs."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(every_s)
                try:
                    await anyio.to_thread.run_sync(sweep, root, max_age_s)
                except Exception:  # noqa: BLE001 - the next sweep tries again; the server goes on
                    log.exception("sweep of %s failed", root)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    return lifespan
