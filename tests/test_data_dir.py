"""One data directory, many writers (issue 27): processes beside each other, files that change
under the index, a damaged or full disk, symlinks. Each test is a reproduction that failed before.

Real parts: `chatbot` subprocesses and in-process Chatbots on temp data dirs, the bundled model,
Chroma on disk, a real tmpfs for the full disk where this machine lets a test mount one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_ingest import MEDALS_Q, SEED_FILES, assert_consistent

from chatbot.app import Chatbot, build
from chatbot.config import Settings
from chatbot.errors import DiskFullError, IndexDamagedError
from chatbot.index.embeddings import BundledEmbeddings

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS = REPO_ROOT / "seeds"
QUIZ = "The quizzleberry orchard harvested 777 tonnes."
QUIZ_Q = "How many tonnes did the quizzleberry orchard harvest?"
SECRET = "The secret launch code is 8675309."
SECRET_Q = "What is the secret launch code?"


def cli(data_dir: Path, *args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("CHATBOT_", "OPENAI_")) and k != "TIKTOKEN_CACHE_DIR"}
    full.update(CHATBOT_DATA_DIR=str(data_dir), ANONYMIZED_TELEMETRY="False", HF_HUB_OFFLINE="1", **env)
    return subprocess.run([sys.executable, "-m", "chatbot.cli", *args], cwd=REPO_ROOT, env=full,
                          capture_output=True, text=True, timeout=timeout, check=False)


def clean_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.fixture
def seeded_copy(seeded_data_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded index, never opened in this process before."""
    dst = tmp_path / f"data-{uuid.uuid4().hex[:8]}"
    shutil.copytree(seeded_data_dir, dst)
    return dst


@pytest.fixture
def bot_on(embeddings: BundledEmbeddings) -> Callable[..., Chatbot]:
    def make(data_dir: Path, **overrides: object) -> Chatbot:
        return build(Settings(data_dir=data_dir, _env_file=None, **overrides), embeddings=embeddings)  # type: ignore[call-arg]

    return make


# -- 1. a running app and a CLI ingest on one data dir ---------------------------------------------


def test_a_running_app_sees_a_cli_ingest_and_its_writes_lose_nothing(
        seeded_copy: Path, tmp_path: Path, bot_on: Callable[..., Chatbot]) -> None:
    """The server kept the manifest it loaded at start: its next upload reconciled the CLI's
    file away, a Remove rewrote the manifest without it, and every question failed with Chroma's
    'Error finding id' until a restart. Now each process reloads when another one wrote."""
    server = bot_on(seeded_copy)
    assert not server.ask(MEDALS_Q).refused  # the server has the index loaded, as `serve` does
    new = tmp_path / "n"
    new.mkdir()
    (new / "q.txt").write_text(QUIZ, encoding="utf-8")
    assert cli(seeded_copy, "ingest", str(new)).returncode == 0

    answer = server.ask(QUIZ_Q)
    assert not answer.refused and answer.citations[0].file == "q.txt"
    assert "q.txt" in [d.file for d in server.documents()]

    upload = tmp_path / "up.txt"
    upload.write_text("The wibblefrob factory employs 313 workers.", encoding="utf-8")
    server.add_upload(upload, "up.txt")
    server.remove_document(SEED_FILES[1])
    files = {d.file for d in server.documents()}
    assert {"q.txt", "up.txt"} <= files and SEED_FILES[1] not in files

    # another process removes a file the server has cached chunks of: no stale id reaches Chroma
    (new / "q.txt").unlink()
    assert cli(seeded_copy, "ingest", str(new)).returncode == 0
    assert all(c.file != "q.txt" for c in server.ask(QUIZ_Q).citations)
    assert not server.ask(MEDALS_Q).refused
    result = cli(seeded_copy, "check")
    assert result.returncode == 0 and "consistent" in result.stdout, result.stdout + result.stderr
    assert_consistent(server)


def test_questions_while_another_process_ingests_and_edits_all_answer(
        seeded_copy: Path, tmp_path: Path, bot_on: Callable[..., Chatbot]) -> None:
    """Questions from three threads while a CLI process adds, edits and removes files: none fails,
    and every quote is its file's text at its offsets."""
    server = bot_on(seeded_copy)
    server.ask(MEDALS_Q)
    folder = tmp_path / "churn"
    folder.mkdir()
    stop = threading.Event()
    errors: list[BaseException] = []
    answered = [0]

    def ask_loop() -> None:
        while not stop.is_set():
            try:
                for q in (MEDALS_Q, QUIZ_Q):
                    with server.store().reading():  # the answer and the texts it quotes, as of one moment
                        a = server.ask(q)
                        for c in a.citations:
                            assert server.document_text(c.doc_id)[c.start_char : c.end_char] == c.quote
                    answered[0] += 1
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
                return

    threads = [threading.Thread(target=ask_loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for round_ in range(3):
            for i in range(4):
                (folder / f"f{i}.txt").write_text(f"{QUIZ} Round {round_} of file {i} says {round_ * 10 + i}.",
                                                  encoding="utf-8")
            if round_ == 2:
                (folder / "f0.txt").unlink()
            result = cli(seeded_copy, "ingest", str(folder))
            assert result.returncode == 0, result.stderr
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert answered[0] > 0
    assert sorted(d.file for d in server.documents() if d.file.startswith("f")) == ["f1.txt", "f2.txt", "f3.txt"]
    assert cli(seeded_copy, "check").returncode == 0


# -- 2. a file that can no longer be read takes its old text out -----------------------------------


@pytest.mark.parametrize("damage", ["emptied", "binary", "undecodable", "unreadable"])
def test_a_file_that_turns_unreadable_takes_its_old_text_out_of_the_index(
        damage: str, tmp_path: Path, bot_on: Callable[..., Chatbot], monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    secret = folder / "s.txt"
    secret.write_text(SECRET, encoding="utf-8")
    (folder / "keep.txt").write_text(QUIZ, encoding="utf-8")
    bot = bot_on(tmp_path / "data")
    bot.ingest([folder], progress=False)
    assert "8675309" in bot.ask(SECRET_Q).answer

    if damage == "emptied":
        secret.write_bytes(b"")
    elif damage == "binary":
        secret.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    elif damage == "undecodable":
        secret.write_bytes(b"\x81\x30" * 5 + b"\xff\xfe\xfd" * 50)
    else:  # root ignores file modes, so the read itself is made to fail as a chmod 000 would
        real = Path.read_bytes
        monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(PermissionError(
            errno.EACCES, "Permission denied")) if self == secret.resolve() else real(self))
    report = bot.ingest([folder], progress=False)

    assert [f for f, _ in report.withdrawn] == ["s.txt"] and report.removed == ["s.txt"]
    assert "taken out of the index" in report.skipped[0][1]
    assert "no longer readable" in report.summary()
    assert "8675309" not in bot.ask(SECRET_Q).answer
    assert all("8675309" not in c.quote for c in bot.ask(SECRET_Q).related)
    assert [d.file for d in bot.documents()] == ["keep.txt"]
    assert_consistent(bot)


def test_a_redacted_file_through_the_cli_says_its_old_version_went(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "s.txt").write_text(SECRET, encoding="utf-8")
    (folder / "keep.txt").write_text(QUIZ, encoding="utf-8")
    data = tmp_path / "data"
    assert cli(data, "ingest", str(folder)).returncode == 0
    (folder / "s.txt").write_bytes(b"")
    result = cli(data, "ingest", str(folder))
    assert result.returncode == 0
    assert "removed s.txt: empty file" in result.stdout
    assert "1 removed (1 no longer readable)" in result.stdout
    answer = json.loads(cli(data, "ask", SECRET_Q, "--json").stdout)
    assert "8675309" not in json.dumps(answer)


# -- 4. a damaged data dir: a clear error naming the fix, or a repair -------------------------------


DAMAGE = {
    "chroma deleted": lambda d: shutil.rmtree(d / "chroma"),
    "keyword index deleted": lambda d: [p.unlink() for p in d.glob("keyword.sqlite*")],
    "texts deleted": lambda d: shutil.rmtree(d / "texts"),
    "manifest truncated": lambda d: (d / "manifest.json").write_bytes((d / "manifest.json").read_bytes()[:100]),
    "keyword index garbage": lambda d: ([p.unlink() for p in d.glob("keyword.sqlite-*")],
                                        (d / "keyword.sqlite").write_bytes(os.urandom(8192))),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_data_dir_refuses_to_answer_then_the_next_ingest_repairs_it(seeded_copy: Path, damage: str) -> None:
    DAMAGE[damage](seeded_copy)
    clean_error(cli(seeded_copy, "ask", MEDALS_Q), "is damaged", "chatbot check --repair", "chatbot ingest")
    check = cli(seeded_copy, "check")
    assert check.returncode == 1 and "INCONSISTENT" in check.stdout and "problem:" in check.stdout

    ingest = cli(seeded_copy, "ingest", str(SEEDS))
    assert ingest.returncode == 0, ingest.stderr
    assert "repaired:" in ingest.stdout and "5 unchanged" in ingest.stdout
    # only vectors that were lost are embedded again
    embedded = 33 if damage == "chroma deleted" else 0
    assert f"{embedded} chunks embedded" in ingest.stdout or damage == "chroma deleted", ingest.stdout
    check = cli(seeded_copy, "check")
    assert check.returncode == 0 and check.stdout.strip().endswith("consistent"), check.stdout
    answer = json.loads(cli(seeded_copy, "ask", MEDALS_Q, "--json").stdout)
    assert not answer["refused"] and "CITIC Heavy Industry" in answer["answer"]


def test_check_repair_mends_without_embedding_what_is_intact(seeded_copy: Path) -> None:
    """A damaged keyword index, one lost text and a stray chunk: `check --repair` fixes all three
    and embeds nothing, since every vector is still in Chroma."""
    texts = sorted((seeded_copy / "texts").glob("*.txt"))
    texts[0].unlink()
    [p.unlink() for p in seeded_copy.glob("keyword.sqlite-*")]
    (seeded_copy / "keyword.sqlite").write_bytes(b"not a database" * 100)
    result = cli(seeded_copy, "check", "--repair")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chunks embedded" in result.stdout and "keyword.sqlite.damaged" in result.stdout
    assert result.stdout.strip().endswith("consistent")
    assert (seeded_copy / "keyword.sqlite.damaged").exists()


def test_check_finds_a_text_that_no_longer_matches_its_chunks(seeded_copy: Path) -> None:
    """A quote must be what the file says: an edited text file (here a figure changed in place)
    is found by the per-chunk CRC, and repaired from the unchanged source file."""
    manifest = json.loads((seeded_copy / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["files"].values() if e["file"] == SEED_FILES[0])
    path = seeded_copy / "texts" / f"{entry['doc_id']}.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("10", "99", 1), encoding="utf-8")
    result = cli(seeded_copy, "check")
    assert result.returncode == 1 and "no longer match their chunks" in result.stdout and SEED_FILES[0] in result.stdout
    repaired = cli(seeded_copy, "check", "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert path.read_text(encoding="utf-8") == text


def test_check_notes_changed_and_vanished_sources_without_calling_them_damage(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.txt").write_text(QUIZ, encoding="utf-8")
    (folder / "b.txt").write_text(SECRET, encoding="utf-8")
    data = tmp_path / "data"
    cli(data, "ingest", str(folder))
    (folder / "a.txt").write_text(QUIZ + " Later more.", encoding="utf-8")
    (folder / "b.txt").unlink()
    result = cli(data, "check")
    assert result.returncode == 0, result.stdout
    assert "note: 1 files changed since they were indexed" in result.stdout
    assert "note: 1 indexed files no longer exist" in result.stdout


def _read_only_bind(path: Path, mount: Path) -> bool:
    mount.mkdir()
    ok = subprocess.run(["mount", "--bind", str(path), str(mount)], capture_output=True).returncode == 0
    if ok and subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], capture_output=True).returncode == 0:
        return True
    if ok:
        subprocess.run(["umount", str(mount)], capture_output=True)
    return False


def test_a_read_only_data_dir_gives_a_clear_error(seeded_copy: Path, tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    if not _read_only_bind(seeded_copy, mount):
        pytest.skip("this machine does not let the test mount a read-only bind of a folder")
    try:
        result = cli(mount, "ask", MEDALS_Q)
        clean_error(result, "is read-only", "CHATBOT_DATA_DIR")
        clean_error(cli(mount, "ingest", str(SEEDS)), "is read-only")
    finally:
        subprocess.run(["umount", str(mount)], check=False)


# -- 5. a full disk ------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("this machine does not let the test mount a tmpfs (the injected-error tests still run)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_an_ingest_that_fills_a_real_disk_stops_cleanly_and_the_index_still_answers(
        small_disk: Path, tmp_path: Path) -> None:
    data = small_disk / "data"
    env = {"CHATBOT_MIN_FREE_MB": "0.5"}
    assert cli(data, "ingest", str(SEEDS), **env).returncode == 0
    many = tmp_path / "many"
    many.mkdir()
    for i in range(600):
        (many / f"f{i:04d}.txt").write_text(f"Report {i} of the zq{i}x works. " + "Steel output grew. " * 40,
                                            encoding="utf-8")
    result = cli(data, "ingest", str(many), **env)
    clean_error(result, "nearly full", "Nothing indexed so far was lost", "CHATBOT_DATA_DIR")
    assert not [p.name for p in data.rglob("*") if ".tmp" in p.name], "no temp file is left behind"
    answer = json.loads(cli(data, "ask", MEDALS_Q, "--json", **env).stdout)
    assert not answer["refused"]
    assert cli(data, "check", **env).returncode == 0


TEMP_FILES = {"the text file": ".txt.tmp", "the manifest": ".manifest.json.tmp"}


@pytest.mark.parametrize("where", ["the text file", "the manifest", "the keyword index", "Chroma"])
def test_a_full_disk_at_any_write_of_an_update_keeps_the_previous_index(
        where: str, seeded_copy: Path, tmp_path: Path, bot_on: Callable[..., Chatbot],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC injected where a real disk would hit it during an incremental ingest that updates a
    file: the ingest stops with DiskFullError, no temp file is left, and the index answers as
    before, the old version of the updated file included."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    bot = bot_on(seeded_copy)
    bot.ingest([corpus], progress=False)
    before = bot.ask(MEDALS_Q)
    medals = corpus / SEED_FILES[0]
    medals.write_text(medals.read_text(encoding="utf-8") + "\n\nA later paragraph about zorblat bearings.",
                      encoding="utf-8")
    (corpus / "new.txt").write_text(QUIZ, encoding="utf-8")

    if where in TEMP_FILES:  # the temp file is half written when the disk fills
        real_write = Path.write_text
        failed = []

        def write_text(self: Path, data: str, *args: object, **kwargs: object) -> int:
            if TEMP_FILES[where] in self.name and not failed:  # once: taking the batch back frees room
                failed.append(self)
                real_write(self, data[: len(data) // 2], encoding="utf-8")
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(self, data, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "write_text", write_text)
    elif where == "the keyword index":
        def add(*_a: object) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr("chatbot.index.keyword.KeywordIndex.add", add)
    else:
        def upsert(*_a: object, **_k: object) -> None:
            raise RuntimeError("error returned from database: (code: 13) database or disk is full")

        monkeypatch.setattr(type(bot.store().collection), "upsert", upsert)
    with pytest.raises(DiskFullError, match="is full|nearly full"):
        bot.ingest([corpus], progress=False)
    monkeypatch.undo()
    assert not [p.name for p in seeded_copy.rglob("*") if ".tmp" in p.name]
    after = bot.ask(MEDALS_Q)
    assert after.answer == before.answer and [c.quote for c in after.citations] == [c.quote for c in before.citations]
    fresh = bot_on(seeded_copy)
    assert fresh.ask(MEDALS_Q).answer == before.answer
    assert "new.txt" not in [d.file for d in fresh.documents()]
    assert fresh.check().ok
    report = fresh.ingest([corpus], progress=False)  # with room again it goes on where it stopped
    assert "new.txt" in report.added and SEED_FILES[0] in report.updated
    assert_consistent(fresh)


# -- 6. symlinks and overlapping paths -----------------------------------------------------------------


def test_the_same_file_given_twice_or_through_overlapping_folders_is_indexed_once(
        tmp_path: Path, bot_on: Callable[..., Chatbot]) -> None:
    c = tmp_path / "c"
    (c / "sub").mkdir(parents=True)
    (c / "x.txt").write_text(QUIZ, encoding="utf-8")
    (c / "sub" / "y.txt").write_text(SECRET, encoding="utf-8")
    (c / "alias.txt").symlink_to(c / "x.txt")
    bot = bot_on(tmp_path / "data")
    report = bot.ingest([c / "x.txt", c / "x.txt"], progress=False)
    assert report.added == ["x.txt"]
    report = bot.ingest([c, c / "sub", c / "x.txt"], progress=False)
    assert sorted(report.added) == ["sub/y.txt"] and report.unchanged == ["x.txt"]
    assert [(Path(p).name, "indexed under its own name" in why) for p, why in report.skipped] == [("alias.txt", True)]
    assert sorted(d.file for d in bot.documents()) == ["sub/y.txt", "x.txt"]
    assert_consistent(bot)


def test_links_out_of_the_folder_are_not_followed_unless_asked_and_leave_with_the_link(
        tmp_path: Path, bot_on: Callable[..., Chatbot]) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:The root account is named toor here.", encoding="utf-8")
    (outside / "notes.txt").write_text(SECRET, encoding="utf-8")
    c = tmp_path / "c"
    c.mkdir()
    (c / "x.txt").write_text(QUIZ, encoding="utf-8")
    (c / "passwd.txt").symlink_to(outside / "passwd")  # the type is read from the target's name
    (c / "notes.txt").symlink_to(outside / "notes.txt")
    (c / "linked").symlink_to(outside, target_is_directory=True)
    bot = bot_on(tmp_path / "data")

    report = bot.ingest([c], progress=False)
    assert report.added == ["x.txt"]
    reasons = dict(report.skipped)
    assert all("--follow-links" in why for why in reasons.values()) and len(reasons) == 3

    report = bot.ingest([c], progress=False, follow_links=True)
    assert sorted(report.added) == ["notes.txt"], report  # linked/notes.txt is the same file: once
    assert "unsupported type" in dict(report.skipped)[str(outside / "passwd")]
    assert "8675309" in bot.ask(SECRET_Q).answer

    (c / "notes.txt").unlink()
    report = bot.ingest([c], progress=False)
    assert report.removed == ["notes.txt"], "the file a vanished link pointed to leaves the index"
    assert "8675309" not in bot.ask(SECRET_Q).answer
    assert_consistent(bot)


def test_loops_broken_links_and_fifos_are_skipped_with_a_reason(tmp_path: Path, bot_on: Callable[..., Chatbot]) -> None:
    c = tmp_path / "c"
    c.mkdir()
    (c / "x.txt").write_text(QUIZ, encoding="utf-8")
    (c / "a.txt").symlink_to(c / "b.txt")
    (c / "b.txt").symlink_to(c / "a.txt")
    (c / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    os.mkfifo(c / "pipe.txt")  # opening it would block the ingest forever
    (c / "sub").mkdir()
    (c / "sub" / "up").symlink_to(c, target_is_directory=True)  # a loop through a folder link
    bot = bot_on(tmp_path / "data")
    for follow in (False, True):
        report = bot.ingest([c], progress=False, follow_links=follow)
        reasons = {Path(p).name: why for p, why in report.skipped}
        assert reasons["a.txt"] == reasons["b.txt"] == "symlink loop"
        assert "broken symlink" in reasons["dangling.txt"]
        assert "FIFO" in reasons["pipe.txt"]
    assert [d.file for d in bot.documents()] == ["x.txt"]


# -- 7. a file deleted while the ingest runs ------------------------------------------------------------


def test_a_file_deleted_while_the_ingest_runs_is_skipped_and_the_rest_indexed(
        tmp_path: Path, bot_on: Callable[..., Chatbot], monkeypatch: pytest.MonkeyPatch) -> None:
    """`path.stat()` of a file found by the walk but deleted before it was read raised
    FileNotFoundError outside the guard and aborted the whole ingest."""
    c = tmp_path / "c"
    c.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (c / name).write_text(f"{QUIZ} File {name}.", encoding="utf-8")
    bot = bot_on(tmp_path / "data")
    bot.ingest([c], progress=False)
    for name in ("a.txt", "b.txt", "c.txt"):
        (c / name).write_text(f"{QUIZ} File {name}, second edition.", encoding="utf-8")
    from chatbot.ingest import ingestor as ingest_module

    real = ingest_module.discover

    def discover_then_delete(*args: object, **kwargs: object) -> Iterator[object]:
        found = list(real(*args, **kwargs))  # type: ignore[arg-type]
        (c / "b.txt").unlink()
        return iter(found)

    monkeypatch.setattr(ingest_module, "discover", discover_then_delete)
    report = bot.ingest([c], progress=False)
    assert sorted(report.updated) == ["a.txt", "c.txt"]
    assert [(Path(p).name, why) for p, why in report.skipped] == [
        ("b.txt", "vanished while the ingest ran; its earlier version is taken out of the index")]
    assert sorted(d.file for d in bot.documents()) == ["a.txt", "c.txt"]
    assert_consistent(bot)


def test_a_damaged_index_is_an_error_in_process_too(seeded_copy: Path, bot_on: Callable[..., Chatbot]) -> None:
    shutil.rmtree(seeded_copy / "texts")
    with pytest.raises(IndexDamagedError, match="texts/ holds 0 of the 5"):
        bot_on(seeded_copy).ask(MEDALS_Q)
