"""Offline-first, citation-backed Q&A over a folder of documents."""

__version__ = "0.1.0"
