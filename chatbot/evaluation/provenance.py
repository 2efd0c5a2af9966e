"""What produced an eval run: code version (git commit, dirty tree), model, settings, prompts."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from chatbot.config import EMBEDDING_MODEL, Settings


def git_state(cwd: Path | None = None) -> tuple[str, bool | None]:
    """(commit of HEAD, whether the work tree has uncommitted changes); ("unknown", None) outside git."""
    where = cwd or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False,
                              cwd=where, timeout=10)
        if head.returncode != 0 or not head.stdout.strip():
            return "unknown", None
        status = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain"], capture_output=True,
                                text=True, check=False, cwd=where, timeout=30)
        return head.stdout.strip(), (bool(status.stdout.strip()) if status.returncode == 0 else None)
    except (OSError, subprocess.SubprocessError):
        return "unknown", None


def provenance(settings: Settings, prompts: dict[str, str]) -> dict[str, Any]:
    """What produced a run: code version, the settings that shape answers, model and prompts."""
    commit, dirty = git_state()
    return {
        "commit": commit, "dirty": dirty, "embedding_model": EMBEDDING_MODEL,
        "answer_mode": settings.answer_mode, "retrieval": settings.retrieval, "top_k": settings.top_k,
        "chunk_tokens": settings.chunk_tokens, "chunk_overlap_tokens": settings.chunk_overlap_tokens,
        "llm_model": settings.llm_model if settings.answer_mode == "llm" else None,
        "prompts": prompts,
    }
