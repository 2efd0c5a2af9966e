"""Asking only some documents: the choices (documents and upload batches), what a choice
means in doc ids, and the line above the question box that says what is asked."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

BATCH = "batch:"  # a choice's value that stands for an upload batch: "batch:ID,ID,..."
ALL = '<span class="scope-all">Asking all documents.</span>'


def choices(entries: Sequence[Any], batches: Sequence[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    """(label, value) for the scope picker: each upload batch of this server, then each document."""
    known = {e.doc_id for e in entries}
    out = [(label, BATCH + ",".join(ids)) for label, ids in batches if any(i in known for i in ids)]
    return out + [(f"{e.title[:70]} ({e.file})", e.doc_id) for e in entries]


def batch_label(names: Sequence[str]) -> str:
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"Upload batch {time.strftime('%H:%M:%S')}: {shown}"


def doc_ids(values: Sequence[str] | None) -> list[str] | None:
    """The doc ids a choice stands for; None when nothing is chosen (the whole index)."""
    out: list[str] = []
    for v in values or []:
        for i in (v[len(BATCH):].split(",") if v.startswith(BATCH) else [v]):
            if i and i not in out:
                out.append(i)
    return out or None


def scope_html(values: Sequence[str] | None, entries: Sequence[Any]) -> str:
    ids = doc_ids(values)
    if ids is None:
        return ALL
    by_id = {e.doc_id: e for e in entries}
    names = [html.escape(by_id[i].title[:60]) if i in by_id else "(removed document)" for i in ids]
    return (f'<span class="scope-on">Asking only {len(ids)} document{"" if len(ids) == 1 else "s"}:</span> '
            + "; ".join(names))
