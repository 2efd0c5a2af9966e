"""What the web UI does to the data dir: uploads with safe names, removal, the feedback log."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ingest import assert_consistent

from chatbot.app import Chatbot, build
from chatbot.config import Settings
from chatbot.errors import ChatbotError, IngestBusyError
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.ingest.ingestor import ingest_lock
from chatbot.ingest.uploads import UploadError, check_upload, checked_destination, replacing, safe_name
from chatbot.web.feedback import read_feedback, record_feedback

FACT = "Zorblat Works\n\nThe Zorblat reactor in Kaifeng produces 40 megawatts of power since 1987.\n"


@pytest.mark.parametrize(("raw", "expected"), [
    ("report.txt", "report.txt"),
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\system.ini.md", "system.ini.md"),
    ("/etc/cron.d/evil.md", "evil.md"),
    ("C:\\Users\\x\\notes.TXT", "notes.txt"),
    ("..", "upload"),
    (".hidden.md", "hidden.md"),
    ("a\x00b.txt", "ab.txt"),
    ("line\nbreak\r.txt", "linebreak.txt"),
    ("we<i>rd|na*me?.md", "we_i_rd_na_me.md"),
    ("洛阳 报告.docx", "洛阳 报告.docx"),
    ("x" * 500 + ".pdf", "x" * 116 + ".pdf"),
])
def test_safe_name(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=60))
def test_any_name_stays_a_plain_name(raw: str) -> None:
    name = safe_name(raw)
    assert name and name not in (".", "..") and not name.startswith(".")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert Path(name).name == name and not Path(name).is_absolute()


def store_upload(src: Path, name: str, uploads: Path, max_mb: float) -> Path:
    """Check, then store for good (what `Chatbot.add_upload` does once the file is indexed)."""
    dest = checked_destination(src, name, uploads, max_mb)
    with replacing(src, dest) as keep:
        keep()
    return dest


@pytest.mark.parametrize("name", ["../../../../tmp/owned.txt", "/tmp/owned.txt", "..\\owned.txt", "a/../../owned.txt",
                                  "\x00../owned.txt", "./.owned.txt"])
def test_stored_upload_stays_inside_the_upload_dir(tmp_path: Path, name: str) -> None:
    src = tmp_path / "incoming"
    src.write_text(FACT, encoding="utf-8")
    uploads = tmp_path / "data" / "uploads"
    stored = store_upload(src, name, uploads, max_mb=1)
    assert stored.parent == uploads.resolve()
    assert stored.name == "owned.txt"
    assert stored.read_text(encoding="utf-8") == FACT
    assert sorted(p.name for p in uploads.iterdir()) == ["owned.txt"]  # no temp file left
    assert not (tmp_path / "owned.txt").exists()


def test_unreadable_upload_is_refused_and_keeps_the_earlier_version(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text(FACT, encoding="utf-8")
    bad.write_bytes(b"%PDF-1.7 broken")
    store_upload(good, "report.txt", uploads, max_mb=1)
    bad_txt = tmp_path / "bad_txt"
    bad_txt.write_bytes(b"\x00\x01\x02\x03" * 100)
    with pytest.raises(UploadError, match="report.txt: binary"):
        store_upload(bad_txt, "report.txt", uploads, max_mb=1)
    with pytest.raises(UploadError, match="cannot read this PDF"):
        store_upload(bad, "report.pdf", uploads, max_mb=1)
    assert (uploads / "report.txt").read_text(encoding="utf-8") == FACT
    assert sorted(p.name for p in uploads.iterdir()) == ["report.txt"]


def test_upload_limits_say_what_to_do() -> None:
    with pytest.raises(UploadError, match=r"type \.exe is not supported.*\.pdf"):
        check_upload("setup.exe", 10, max_mb=1)
    with pytest.raises(UploadError, match=r"2\.5 MB is over the 1 MB limit.*CHATBOT_MAX_FILE_MB"):
        check_upload("big.txt", 2_500_000, max_mb=1)
    with pytest.raises(UploadError, match="empty"):
        check_upload("empty.md", 0, max_mb=1)
    check_upload("ok.docx", 999_999, max_mb=1)


# -- through the Chatbot ----------------------------------------------------------------------


@pytest.fixture
def bot(tmp_path: Path, seeded_data_dir: Path, embeddings: BundledEmbeddings,
        settings_factory: Callable[..., Settings]) -> Chatbot:
    """A private copy of the seeded index, so uploads and removals do not touch the shared one."""
    data = tmp_path / "data"
    shutil.copytree(seeded_data_dir, data)
    return build(settings_factory(data_dir=data, max_file_mb=1), embeddings=embeddings)


def test_upload_is_indexed_answered_and_removed(bot: Chatbot, tmp_path: Path) -> None:
    src = tmp_path / "tmpupload"
    src.write_text(FACT, encoding="utf-8")
    stored, report = bot.add_upload(src, "../zorblat.md")
    assert stored == (bot.uploads_dir / "zorblat.md").resolve()
    assert report.added == ["zorblat.md"] and not report.skipped
    entry = next(e for e in bot.documents() if e.file == "zorblat.md")
    answer = bot.ask("How many megawatts does the Zorblat reactor produce?")
    assert not answer.refused and answer.citations[0].file == "zorblat.md"
    assert_consistent(bot)

    removed = bot.remove_document(entry.doc_id)
    assert removed.file == "zorblat.md"
    assert "zorblat.md" not in [e.file for e in bot.documents()]
    assert not stored.exists(), "the uploaded file goes with its document"
    assert_consistent(bot)
    assert all(c.file != "zorblat.md" for c in bot.ask("How many megawatts does the Zorblat reactor produce?").citations)


def test_upload_refused_while_another_ingest_runs_keeps_the_stored_version(bot: Chatbot, tmp_path: Path) -> None:
    """Issue 27 item 3: refused with "Another ingest is running", `uploads/doc.txt` stayed v1
    in the index but became v2 on disk. Now nothing is written before the lock is held."""
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    v1.write_text("The Zorblat reactor produces 42 megawatts.", encoding="utf-8")
    v2.write_text("The Zorblat reactor produces 97 megawatts.", encoding="utf-8")
    stored, _ = bot.add_upload(v1, "doc.txt")
    with ingest_lock(bot.settings.data_dir), pytest.raises(IngestBusyError, match="Another ingest is running"):
        bot.add_upload(v2, "doc.txt")
    assert stored.read_text(encoding="utf-8") == v1.read_text(encoding="utf-8")
    assert sorted(p.name for p in bot.uploads_dir.iterdir()) == ["doc.txt"], "no temp or backup file left"
    answer = bot.ask("How many megawatts does the Zorblat reactor produce?")
    assert "42 megawatts" in answer.answer
    assert_consistent(bot)


def test_upload_the_ingest_refuses_puts_the_earlier_version_back(bot: Chatbot, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that passes the upload check but that the ingest then refuses (here: it is too
    large for the ingest's limit) leaves the earlier stored version and its index entry."""
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    v1.write_text("The Zorblat reactor produces 42 megawatts.", encoding="utf-8")
    v2.write_text("The Zorblat reactor produces 97 megawatts. " * 10, encoding="utf-8")
    stored, _ = bot.add_upload(v1, "doc.txt")
    monkeypatch.setattr(bot.settings, "max_file_mb", 0.0001)  # the ingest's own size check refuses v2
    monkeypatch.setattr("chatbot.ingest.uploads.check_upload", lambda *a: None)
    _, report = bot.add_upload(v2, "doc.txt")
    assert report.skipped and "too large" in report.skipped[0][1]
    assert stored.read_text(encoding="utf-8") == v1.read_text(encoding="utf-8")
    assert sorted(p.name for p in bot.uploads_dir.iterdir()) == ["doc.txt"]
    assert "42 megawatts" in bot.ask("How many megawatts does the Zorblat reactor produce?").answer
    assert_consistent(bot)


def test_remove_by_name_and_unknown_names(bot: Chatbot) -> None:
    first = bot.documents()[0]
    assert bot.remove_document(first.file).doc_id == first.doc_id
    with pytest.raises(ChatbotError, match="No indexed document"):
        bot.remove_document(first.file)
    assert len(bot.documents()) == 4
    assert_consistent(bot)


def test_feedback_log_lines_from_concurrent_users(bot: Chatbot) -> None:
    record = {**bot.ask("Which enterprises received medals at Luoyang's ceremony?").as_dict(), "question": "q?"}

    def rate(i: int) -> None:
        for j in range(20):
            record_feedback(bot.feedback_path, record, "up" if (i + j) % 2 else "down", f"comment {i}-{j} " + "x" * 2000)

    threads = [threading.Thread(target=rate, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = read_feedback(bot.feedback_path)
    assert len(rows) == 80
    assert {r["rating"] for r in rows} == {"up", "down"}
    row = rows[0]
    assert set(row) >= {"time", "question", "answer", "citations", "rating", "comment"}
    assert row["question"] == "q?" and row["citations"][0]["quote"]
    assert json.loads(bot.feedback_path.read_text(encoding="utf-8").splitlines()[-1])["comment"].startswith("comment")
    with pytest.raises(ChatbotError, match="rating"):
        record_feedback(bot.feedback_path, record, "meh")
