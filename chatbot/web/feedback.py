"""The feedback log: one JSON object a line (time, question, answer, citations, rating, comment).

A rating from the chat carries the answer's id (`answer_id`): rating the same answer again
replaces its line, and taking the rating back removes it, so one answer has at most one rating.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from chatbot.errors import ChatbotError

_LOCK = threading.Lock()


def append_feedback(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Append one record, stamped with the UTC time; lines from concurrent users never interleave."""
    row = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record}
    line = json.dumps(row, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, path.open("a", encoding="utf-8") as out:
        out.write(line)
    return row


def record_feedback(path: Path, answer: dict[str, Any], rating: str | None, comment: str = "",
                    answer_id: str | None = None) -> dict[str, Any] | None:
    """Record a rating ("up"/"down") of one answer (`Answer.as_dict()` plus its question).
    With `answer_id`, an earlier rating of that answer is replaced (rating None: removed)."""
    if rating not in ("up", "down") and not (rating is None and answer_id):
        raise ChatbotError(f"rating must be 'up' or 'down', not {rating!r}")
    if answer_id:
        _drop(path, answer_id)
    if rating is None:
        return None
    row: dict[str, Any] = {
        "question": answer.get("question", ""), "answer": answer.get("answer", ""),
        "citations": answer.get("citations", []), "mode": answer.get("mode", ""),
        "refused": answer.get("refused", False), "rating": rating, "comment": comment.strip(),
    }
    if answer_id:
        row["answer_id"] = answer_id
    return append_feedback(path, row)


def _drop(path: Path, answer_id: str) -> None:
    """Rewrite the log without the lines of `answer_id` (a temp file renamed over it)."""
    with _LOCK:
        if not path.exists():
            return
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not line.strip() or json.loads(line).get("answer_id") != answer_id]
        if len(kept) == len(lines):
            return
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, path)


def read_feedback(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
