"""The error tree. Every message says what failed and what to do next."""

from __future__ import annotations


class ChatbotError(Exception):
    """Base of every error the CLI and UI turn into a clean message."""


class ConfigError(ChatbotError):
    """A setting is missing or invalid."""


class IndexMissingError(ChatbotError):
    """There is nothing to search yet."""

    def __init__(self, data_dir: str) -> None:
        super().__init__(
            f"No index found in {data_dir}. Build it first with `chatbot ingest` "
            "(indexes seeds/) or `chatbot ingest PATH ...`."
        )


class IndexMismatchError(ChatbotError):
    """The index on disk was built with other settings than the current ones."""


class IndexDamagedError(ChatbotError):
    """The index on disk is incomplete or unreadable; the message names the repair."""


class DataDirError(ChatbotError):
    """The data directory cannot be used as it is (read-only, not a directory)."""


class DiskFullError(DataDirError):
    """The disk holding the data directory is (nearly) full; nothing indexed was lost."""


class IngestBusyError(ChatbotError):
    """Another process is already ingesting into the same data directory."""


class QuestionError(ChatbotError):
    """A question cannot be asked as it is (empty, or over the length limit)."""


class LoadError(ChatbotError):
    """A file cannot be indexed; `reason` says why in a few words."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"skipped {path}: {reason}")
        self.path = path
        self.reason = reason


class StoreUnavailableError(ChatbotError):
    """The Chroma server cannot be reached."""


class LLMError(ChatbotError):
    """The OpenAI-compatible endpoint failed after retries."""


class PromptError(ChatbotError):
    """A prompt file is missing or lacks a declared placeholder."""
