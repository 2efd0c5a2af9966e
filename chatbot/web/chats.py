"""Saved conversations: one JSON file per chat under `$CHATBOT_DATA_DIR/chats/OWNER/`.

OWNER is the logged-in user when CHATBOT_AUTH is set (`user-NAME`), else the browser: a random
id the page keeps in its localStorage (`browser-ID`), so each browser lists its own chats and a
login sees its chats from any browser. A chat holds the session's turn records (answers with
their citations, as `render` reads them) and its document scope; the chat's messages are
rendered again from them when it is opened. Writes go to a temp file and are renamed, so a
reader never sees half a chat.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

_ID = re.compile(r"^[0-9a-f]{32}$")
TITLE_CHARS = 60


def owner_of(username: str | None, browser_id: str | None) -> str | None:
    """The folder name of whoever owns the chats, or None when there is no one to keep them for."""
    if username:
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", username)[:40]
        return f"user-{safe}-{hashlib.sha256(username.encode()).hexdigest()[:8]}"
    if browser_id and _ID.match(browser_id):
        return f"browser-{browser_id}"
    return None


def new_id() -> str:
    return uuid.uuid4().hex


class ChatStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, owner: str, chat_id: str) -> Path | None:
        if not _ID.match(chat_id or ""):
            return None
        return self.root / owner / f"{chat_id}.json"

    def listing(self, owner: str | None) -> list[dict[str, Any]]:
        """{id, title, updated} of the owner's chats, newest first."""
        if owner is None or not (self.root / owner).is_dir():
            return []
        out = []
        for p in (self.root / owner).glob("*.json"):
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            out.append({"id": p.stem, "title": data.get("title", ""), "updated": data.get("updated", 0)})
        return sorted(out, key=lambda c: -c["updated"])

    def load(self, owner: str | None, chat_id: str) -> dict[str, Any] | None:
        path = self._path(owner, chat_id) if owner else None
        if path is None or not path.exists():
            return None
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def save(self, owner: str | None, chat_id: str, turns: list[dict[str, Any]], scope: list[str]) -> str:
        """Write the chat (a new id when `chat_id` is empty); keeps a title given by rename."""
        if owner is None or not turns:
            return chat_id
        chat_id = chat_id if _ID.match(chat_id or "") else new_id()
        old = self.load(owner, chat_id) or {}
        first = str(turns[0].get("question", "")).strip()
        title = old.get("title") or (first[:TITLE_CHARS] + ("…" if len(first) > TITLE_CHARS else "")) or "Conversation"
        self._write(owner, chat_id, {"title": title, "updated": time.time(), "turns": turns, "scope": scope})
        return chat_id

    def rename(self, owner: str | None, chat_id: str, title: str) -> bool:
        data = self.load(owner, chat_id)
        title = " ".join(title.split())[:120]
        if data is None or not title or owner is None:
            return False
        data["title"] = title
        self._write(owner, chat_id, data)
        return True

    def delete(self, owner: str | None, chat_id: str) -> bool:
        path = self._path(owner, chat_id) if owner else None
        if path is None or not path.exists():
            return False
        path.unlink()
        return True

    def _write(self, owner: str, chat_id: str, data: dict[str, Any]) -> None:
        path = self._path(owner, chat_id)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
