"""The feedback log: one JSON object a line (time, question, answer, citations, rating, comment)."""

from __future__ import annotations

import json
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


def record_feedback(path: Path, answer: dict[str, Any], rating: str, comment: str = "") -> dict[str, Any]:
    """Append a rating ("up"/"down") of one answer (`Answer.as_dict()` plus its question)."""
    if rating not in ("up", "down"):
        raise ChatbotError(f"rating must be 'up' or 'down', not {rating!r}")
    return append_feedback(path, {
        "question": answer.get("question", ""), "answer": answer.get("answer", ""),
        "citations": answer.get("citations", []), "mode": answer.get("mode", ""),
        "refused": answer.get("refused", False), "rating": rating, "comment": comment.strip(),
    })


def read_feedback(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
