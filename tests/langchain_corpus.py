"""A small synthetic corpus for the LangChain-facing tests: a few made-up towns in English and
Chinese, indexed once per module by `indexed_bot` (a second or two with the session's model)."""

from __future__ import annotations

from pathlib import Path

from conftest import make_settings

from chatbot.app import Chatbot, build
from chatbot.index.embeddings import BundledEmbeddings

FILES = {
    "veldmoor.txt": (
        "Veldmoor Lighthouse\n\n"
        "The lighthouse of Veldmoor was built in 1887 by the engineer Orla Brandt. "
        "Its lamp burns rapeseed oil and can be seen from twenty-two nautical miles away. "
        "Since 1961 the tower has housed a small museum of shipwrecks."
    ),
    "quarry.txt": (
        "Kessel Quarry\n\n"
        "The Kessel quarry produced blue slate for roofs across the northern provinces. "
        "In 1932 its workers founded the first cooperative of the valley, which still runs the mill. "
        "The quarry closed in 1978, and its lake is now used for diving lessons."
    ),
    "tea.txt": (
        "云岭茶园\n\n"
        "云岭茶园位于青石镇以北，种植面积约为三百二十公顷。"
        "茶园于一九九六年引进滴灌系统，春茶产量因此提高了一成半。"
        "每年四月，镇上举办采茶节，吸引游客前来参观。"
    ),
    "ferry.txt": (
        "Marrow Ferry\n\n"
        "The Marrow ferry links Veldmoor with the island of Tiel twice a day. "
        "The crossing takes forty minutes in calm weather. "
        "The current vessel, the Saltwren, entered service in 2004 and carries ninety passengers."
    ),
}


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def indexed_bot(where: Path, embeddings: BundledEmbeddings, **overrides: object) -> Chatbot:
    """A Chatbot whose data dir under `where` holds the corpus above."""
    bot = build(make_settings(where / "data", **overrides), embeddings=embeddings)
    report = bot.ingest([write_corpus(where / "corpus")], progress=False)
    assert len(report.added) == len(FILES) and not report.skipped, report.summary()
    return bot
