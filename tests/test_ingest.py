"""Ingestion with the real model and a temp Chroma directory: incremental, consistent, guarded."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from chatbot.answering.citations import check, markers
from chatbot.app import Chatbot, build
from chatbot.config import Settings
from chatbot.errors import IndexMismatchError, IndexMissingError, IngestBusyError
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.ingest.ingestor import ingest_lock
from chatbot.types import Answer

SEED_FILES = [
    "000_9e53f5965d956f18.txt",
    "001_012aab4d7e564c44.txt",
    "002_9fdb3933422ab15d.txt",
    "003_66e51e5d6c67a0d0.txt",
    "004_e82685cb10df071e.txt",
]
MEDALS_Q = "Which enterprises received medals at Luoyang's landmark high-end equipment ceremony?"
GBK_TEXT = (
    "大熊猫基地简介\n"
    "熊猫研究基地位于成都市北郊的斧头山。\n"
    "基地目前饲养的大熊猫超过二百只，是世界上最大的圈养种群。\n"
    "每年接待的游客约有三百万人次。"
)
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(random.Random(3).randrange(256) for _ in range(3000))

BotFactory = Callable[..., Chatbot]


@pytest.fixture
def make_bot(settings_factory: Callable[..., Settings], embeddings: BundledEmbeddings) -> BotFactory:
    """`make_bot(**settings_overrides)`: a Chatbot on this test's data dir sharing the session model."""
    return lambda **overrides: build(settings_factory(**overrides), embeddings=embeddings)


@pytest.fixture
def corpus(tmp_path: Path, seeds_dir: Path) -> Path:
    """A writable copy of the seeds (the originals are read-only)."""
    dst = tmp_path / "corpus"
    dst.mkdir()
    for name in SEED_FILES:
        (dst / name).write_bytes((seeds_dir / name).read_bytes())
    return dst


def owned_ids(bot: Chatbot) -> list[str]:
    return [cid for entry in bot.store().manifest.files.values() for cid in entry.chunk_ids]


def assert_consistent(bot: Chatbot) -> None:
    """Chroma, the keyword index, the texts and the manifest (in memory and on disk) agree."""
    store = bot.store()
    ids = owned_ids(bot)
    assert len(ids) == len(set(ids)), "a chunk id is owned twice"
    assert store.all_ids() == set(ids), "Chroma ids differ from the manifest's"
    assert store.count() == len(ids)
    assert store.keywords.ids() == set(ids), "keyword index ids differ from the manifest's"
    entries = list(store.manifest.files.values())
    assert {p.stem for p in store.settings.texts_dir.glob("*.txt")} == {e.doc_id for e in entries}
    for entry in entries:
        text = bot.document_text(entry.doc_id)
        assert len(text) == entry.n_chars
        chunks = store.get_chunks(entry.chunk_ids)
        assert [c.id for c in chunks] == entry.chunk_ids, "a chunk's text cannot be read back"
        for chunk in chunks:
            assert chunk.doc_id == entry.doc_id and chunk.file == entry.file
            assert text[chunk.start_char : chunk.end_char] == chunk.text
    reopened = build(store.settings, embeddings=bot.embeddings)
    assert {e.source: e.chunk_ids for e in reopened.documents()} == {e.source: e.chunk_ids for e in entries}


def entry_for(bot: Chatbot, name: str):  # type: ignore[no-untyped-def]
    return next(e for e in bot.store().manifest.files.values() if e.file == name)


def assert_citations_exact(bot: Chatbot, answer: Answer) -> None:
    assert check(answer.answer, answer.citations, bot.document_text) == []
    for c in answer.citations:
        assert c.quote and bot.document_text(c.doc_id)[c.start_char : c.end_char] == c.quote
    assert set(markers(answer.answer)) == {c.n for c in answer.citations}


# -- a fresh ingest and an unchanged re-ingest ------------------------------------------------


def test_ingest_seeds(make_bot: BotFactory, corpus: Path) -> None:
    bot = make_bot()
    report = bot.ingest([corpus], progress=False)
    assert sorted(report.added) == SEED_FILES
    assert not (report.updated or report.unchanged or report.removed or report.skipped)
    assert report.chunks_added == len(owned_ids(bot)) == bot.store().count() > 5
    assert_consistent(bot)
    by_file = {e.file: e for e in bot.documents()}
    assert by_file["001_012aab4d7e564c44.txt"].lang == "zh"
    assert by_file["000_9e53f5965d956f18.txt"].title == (
        "Luoyang, Henan Selected the First Ten Landmark High-end Equipment"
    )
    assert "5 added" in report.summary() and f"{report.chunks_added} chunks embedded" in report.summary()


def test_reingest_unchanged_embeds_nothing(make_bot: BotFactory, corpus: Path) -> None:
    bot = make_bot()
    bot.ingest([corpus], progress=False)
    before = sorted(owned_ids(bot))
    report = bot.ingest([corpus], progress=False)
    assert report.chunks_added == 0
    assert sorted(report.unchanged) == SEED_FILES
    assert not (report.added or report.updated or report.removed or report.skipped)
    assert sorted(owned_ids(bot)) == before
    # a new process (a new Chatbot) sees the same: the manifest on disk makes it incremental
    again = make_bot().ingest([corpus], progress=False)
    assert again.chunks_added == 0 and sorted(again.unchanged) == SEED_FILES


@pytest.mark.parametrize("old_way", ["document", "metadata"])
def test_chunk_texts_come_from_the_file_texts_and_older_indexes_still_answer(
    make_bot: BotFactory, corpus: Path, old_way: str
) -> None:
    """Embedded Chroma holds no chunk texts now (each is its file's text at its offsets, checked
    by CRC); indexes written before kept them as Chroma documents, then in the metadata, and
    must still answer with the same quotes."""
    bot = make_bot()
    bot.ingest([corpus], progress=False)
    store = bot.store()
    res = store.collection.get(include=["documents", "metadatas", "embeddings"])
    assert all(doc is None for doc in res["documents"])
    assert all("text" not in meta and isinstance(meta["crc"], int) for meta in res["metadatas"])
    before = bot.ask(MEDALS_Q)
    texts = {c.id: c.text for c in store.get_chunks(res["ids"])}
    assert len(texts) == len(res["ids"])
    # rewrite every chunk an old way
    store.collection.delete(ids=res["ids"])
    metas = [{k: v for k, v in m.items() if k != "crc"} for m in res["metadatas"]]
    if old_way == "document":
        store.collection.add(ids=res["ids"], embeddings=res["embeddings"], metadatas=metas,
                             documents=[texts[i] for i in res["ids"]])
    else:
        store.collection.add(ids=res["ids"], embeddings=res["embeddings"],
                             metadatas=[m | {"text": texts[i]} for m, i in zip(metas, res["ids"])])
    old = make_bot()
    assert all("crc" not in m for m in old.store().collection.get(include=["metadatas"])["metadatas"])
    after = old.ask(MEDALS_Q)
    assert after.answer == before.answer and after.citations == before.citations
    assert after.citations and check(after.answer, after.citations, old.store().document_text) == []
    assert "000_9e53f5965d956f18.txt" in {c.file for c in after.citations}


def test_a_chunk_whose_file_changed_under_it_is_dropped_not_misquoted(make_bot: BotFactory, corpus: Path) -> None:
    """A reader beside a running ingest can meet a chunk whose file text was already replaced:
    its slice no longer matches its CRC, so it is left out rather than shown with other words."""
    bot = make_bot()
    bot.ingest([corpus], progress=False)
    store = bot.store()
    entry = entry_for(bot, "000_9e53f5965d956f18.txt")
    assert len(store.get_chunks(entry.chunk_ids)) == len(entry.chunk_ids)
    text = store.document_text(entry.doc_id)
    store.write_text(entry.doc_id, "X" + text[1:])  # same length, first chunk's first character differs
    left = store.get_chunks(entry.chunk_ids)
    assert [c.id for c in left] == entry.chunk_ids[1:]
    assert all(text[c.start_char : c.end_char] == c.text for c in left)


# -- changes to the corpus --------------------------------------------------------------------


def test_modified_file_is_updated_alone(make_bot: BotFactory, corpus: Path) -> None:
    bot = make_bot()
    bot.ingest([corpus], progress=False)
    name = "003_66e51e5d6c67a0d0.txt"
    old = entry_for(bot, name)
    others = {e.file: e.chunk_ids for e in bot.documents() if e.file != name}
    path = corpus / name
    added = "\nThe Pingdingshan cluster opened a zinc foundry in March 2023.\n"
    path.write_text(path.read_text(encoding="utf-8") + added, encoding="utf-8")

    report = bot.ingest([corpus], progress=False)

    assert report.updated == [name]
    assert sorted(report.unchanged) == sorted(others)
    assert not (report.added or report.removed or report.skipped)
    new = entry_for(bot, name)
    assert new.sha256 != old.sha256 and new.doc_id == old.doc_id
    assert report.chunks_added == len(set(new.chunk_ids) - set(old.chunk_ids)) >= 1
    assert {e.file: e.chunk_ids for e in bot.documents() if e.file != name} == others
    assert not (set(old.chunk_ids) - set(new.chunk_ids)) & bot.store().all_ids(), "stale chunks left in Chroma"
    assert "zinc foundry" in bot.document_text(new.doc_id)
    assert_consistent(bot)


def test_edit_early_in_a_file_moves_the_offsets_of_the_chunks_it_keeps(make_bot: BotFactory, corpus: Path) -> None:
    """Chunks after an edit keep their text (so their id and vector) but not their position:
    their offsets must follow the new text, or every citation from them would be misplaced."""
    bot = make_bot()
    bot.ingest([corpus], progress=False)
    name = "000_9e53f5965d956f18.txt"
    old = entry_for(bot, name)
    path = corpus / name
    text = path.read_text(encoding="utf-8")
    first_line = text.split("\n", 1)[0]
    path.write_text(text.replace(first_line, first_line + " (updated)", 1), encoding="utf-8")

    report = bot.ingest([corpus], progress=False)

    assert report.updated == [name]
    new = entry_for(bot, name)
    kept = set(old.chunk_ids) & set(new.chunk_ids)
    assert kept, "the edit should leave later chunks' texts as they were"
    new_text = bot.document_text(new.doc_id)
    chunks = bot.store().get_chunks(sorted(kept))
    assert len(chunks) == len(kept)
    for chunk in chunks:
        assert new_text[chunk.start_char : chunk.end_char] == chunk.text
        assert chunk.title == new.title
    assert_consistent(bot)
    assert_citations_exact(bot, bot.ask(MEDALS_Q))


def test_deleted_file_leaves_the_index(make_bot: BotFactory, corpus: Path) -> None:
    bot = make_bot()
    bot.ingest([corpus], progress=False)
    name = "004_e82685cb10df071e.txt"
    gone = entry_for(bot, name)
    text_file = bot.store().texts.path(gone.doc_id)
    assert text_file.exists()
    (corpus / name).unlink()

    report = bot.ingest([corpus], progress=False)

    assert report.removed == [name]
    assert sorted(report.unchanged) == [n for n in SEED_FILES if n != name]
    assert name not in {e.file for e in bot.documents()}
    assert not set(gone.chunk_ids) & bot.store().all_ids()
    assert not set(gone.chunk_ids) & bot.store().keywords.ids()
    assert not text_file.exists()
    assert_consistent(bot)


def test_bad_files_are_skipped_with_reasons_and_gbk_is_indexed(
    make_bot: BotFactory, tmp_path: Path, seeds_dir: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in SEED_FILES[:2]:
        (folder / name).write_bytes((seeds_dir / name).read_bytes())
    (folder / "empty.txt").write_bytes(b"")
    (folder / "picture.txt").write_bytes(PNG_BYTES)
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04")
    (folder / "pandas_gbk.txt").write_bytes(GBK_TEXT.encode("gbk"))
    skipped_live: list[tuple[str, str]] = []

    bot = make_bot()
    report = bot.ingest([folder], progress=False, on_skip=lambda p, r: skipped_live.append((p, r)))

    reasons = {Path(p).name: r for p, r in report.skipped}
    assert set(reasons) == {"empty.txt", "picture.txt", "slides.pptx"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["picture.txt"]
    assert "unsupported" in reasons["slides.pptx"]
    assert skipped_live == report.skipped
    assert sorted(report.added) == sorted([*SEED_FILES[:2], "pandas_gbk.txt"])
    gbk = entry_for(bot, "pandas_gbk.txt")
    assert gbk.lang == "zh"
    assert bot.document_text(gbk.doc_id) == GBK_TEXT
    assert_consistent(bot)

    assert gbk.title == "大熊猫基地简介"

    answer = bot.ask("熊猫研究基地位于哪里？")
    assert answer.retrieved_files()[0] == "pandas_gbk.txt"
    assert not answer.refused
    assert answer.citations[0].file == "pandas_gbk.txt"
    assert "成都" in answer.citations[0].quote
    assert_citations_exact(bot, answer)


def test_first_sentence_of_a_file_without_heading_can_answer(make_bot: BotFactory, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "pandas.txt").write_text(GBK_TEXT.split("\n", 1)[1], encoding="utf-8")  # no title line
    bot = make_bot()
    bot.ingest([folder], progress=False)
    answer = bot.ask("熊猫研究基地位于哪里？")
    assert not answer.refused
    assert "成都" in answer.citations[0].quote


# -- settings, rebuild, concurrency ------------------------------------------------------------


def test_other_chunk_settings_are_refused(seeded_data_dir: Path, embeddings: BundledEmbeddings,
                                          settings_factory: Callable[..., Settings]) -> None:
    bot = build(settings_factory(data_dir=seeded_data_dir, chunk_tokens=120), embeddings=embeddings)
    with pytest.raises(IndexMismatchError) as info:
        bot.ask(MEDALS_Q)
    message = str(info.value)
    assert "--rebuild" in message and "chatbot ingest" in message
    assert "chunk_tokens" in message and "200" in message and "120" in message


def test_rebuild_starts_over(make_bot: BotFactory, corpus: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.md").write_text("# Note\n\nA note about zinc foundries in Pingdingshan.\n", encoding="utf-8")
    bot = make_bot()
    bot.ingest([corpus, extra], progress=False)
    assert len(bot.documents()) == 6

    report = bot.ingest([corpus], rebuild=True, progress=False)

    assert sorted(report.added) == SEED_FILES  # everything embedded again, nothing "unchanged"
    assert not (report.unchanged or report.updated or report.skipped)
    assert sorted(e.file for e in bot.documents()) == SEED_FILES  # the extra folder is gone
    assert report.chunks_added == len(owned_ids(bot))
    assert_consistent(bot)


def test_rebuild_with_other_chunk_settings(make_bot: BotFactory, tmp_path: Path, seeds_dir: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / SEED_FILES[4]).write_bytes((seeds_dir / SEED_FILES[4]).read_bytes())
    make_bot().ingest([folder], progress=False)

    bot = make_bot(chunk_tokens=100)
    report = bot.ingest([folder], rebuild=True, progress=False)

    assert report.added == [SEED_FILES[4]]
    assert bot.store().stamp["chunk_tokens"] == 100
    assert_consistent(bot)


def test_second_ingest_at_once_is_refused(make_bot: BotFactory, tmp_path: Path, seeds_dir: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / SEED_FILES[3]).write_bytes((seeds_dir / SEED_FILES[3]).read_bytes())
    bot = make_bot()
    with ingest_lock(bot.settings.data_dir):
        with pytest.raises(IngestBusyError, match="Another ingest is running"):
            bot.ingest([folder], progress=False)
    assert bot.ingest([folder], progress=False).added == [SEED_FILES[3]]  # free again afterwards


# -- asking the seeded index ------------------------------------------------------------------


@pytest.fixture
def seeded_bot(seeded_data_dir: Path, embeddings: BundledEmbeddings,
               settings_factory: Callable[..., Settings]) -> Chatbot:
    return build(settings_factory(data_dir=seeded_data_dir), embeddings=embeddings)


def test_ask_cites_the_medal_ceremony(seeded_bot: Chatbot) -> None:
    answer = seeded_bot.ask(MEDALS_Q)
    assert not answer.refused
    assert "000_9e53f5965d956f18.txt" in {c.file for c in answer.citations}
    assert_citations_exact(seeded_bot, answer)
    assert answer.retrieved_files()[0] == "000_9e53f5965d956f18.txt"


def test_ask_names_the_medal_winners(seeded_bot: Chatbot) -> None:
    """The question asks which enterprises: the quote that names them must be in the answer."""
    answer = seeded_bot.ask(MEDALS_Q)
    assert "CITIC Heavy Industry" in answer.answer
    assert any("CITIC Heavy Industry" in c.quote for c in answer.citations)


def test_ask_outside_the_documents_is_refused(seeded_bot: Chatbot) -> None:
    answer = seeded_bot.ask("Which city is the capital of Australia?")
    assert answer.refused
    assert answer.citations == ()
    assert answer.answer and not markers(answer.answer)


def test_ask_before_ingest_says_how_to_build_the_index(make_bot: BotFactory) -> None:
    with pytest.raises(IndexMissingError, match="chatbot ingest"):
        make_bot().ask(MEDALS_Q)
