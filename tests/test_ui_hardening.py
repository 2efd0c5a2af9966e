"""The web surface under abuse (issue 27, items 8 to 11), over real HTTP against `chatbot serve`.

Three servers on private copies of the seeded index start together: `open` (no login, uploads
on, a 3 MB upload cache), `locked` (CHATBOT_AUTH, uploads off, 3 failed logins per 3 s) and
`stopped` (defaults; one test stops it).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import web_server
from web_server import Server, call_event, client, component_id, event_index, load_index

from chatbot.app import build
from chatbot.config import Settings
from chatbot.errors import ConfigError
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.web.temp import periodic_sweep, sweep, used_bytes
from chatbot.web.ui import ChatUI

AUTH = ("alice", "s3cret-pw")
FACT = b"Zorblat Works\n\nThe Zorblat reactor in Kaifeng produces 40 megawatts of power since 1987.\n"
JUNK = ["*", "🙂🎉👍", "\u200b\u200b\u200b", "?!  ..."]
HUGE = "medals" * 875_000  # 5.25 MB, one unbroken word
# What a client without a login may reach on the locked server, and nothing more (reasons in
# chatbot/web/guard.py OPEN_ROUTES and docs/web-ui.md)
OPEN_WITHOUT_LOGIN = {("GET", "/"), ("HEAD", "/"), ("POST", "/login"), ("POST", "/login/"), ("GET", "/logout"),
                      ("GET", "/assets/{path}"), ("GET", "/static/{path}"), ("GET", "/theme.css"),
                      ("GET", "/favicon.ico"), ("GET", "/gradio_api/startup-events")}
OLD_S = 2 * 3600  # older than the default upload_cache_minutes (60)


@pytest.fixture(scope="module")
def servers(seeded_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    base = tmp_path_factory.mktemp("hardening")
    for name in ("open", "locked", "stopped"):
        shutil.copytree(seeded_data_dir, base / name)
    cache = base / "open" / "tmp" / "gradio"  # what a killed server left: one old file, one fresh
    (cache / "deadbeef").mkdir(parents=True)
    (cache / "deadbeef" / "left.txt").write_bytes(b"x" * 1000)
    os.utime(cache / "deadbeef" / "left.txt", (time.time() - OLD_S, time.time() - OLD_S))
    (cache / "fresh.txt").write_bytes(b"y" * 1000)
    started = {
        "open": web_server.start(base / "open", base / "open.log", CHATBOT_MAX_FILE_MB="1",
                                 CHATBOT_UPLOAD_CACHE_MB="3"),
        "locked": web_server.start(base / "locked", base / "locked.log", CHATBOT_AUTH=":".join(AUTH),
                                   CHATBOT_ALLOW_UPLOADS="false", CHATBOT_LOGIN_MAX_FAILURES="3",
                                   CHATBOT_LOGIN_WINDOW_S="3"),
        "stopped": web_server.start(base / "stopped", base / "stopped.log"),
    }
    try:
        for s in started.values():
            web_server.wait_ready(s)
        yield started
    finally:
        web_server.stop(started.values())


@pytest.fixture(scope="module")
def open_server(servers: dict[str, Server]) -> Server:
    return servers["open"]


@pytest.fixture(scope="module")
def locked(servers: dict[str, Server]) -> Server:
    return servers["locked"]


@pytest.fixture
def ui(seeded_data_dir: Path, embeddings: BundledEmbeddings) -> ChatUI:
    settings = Settings(data_dir=seeded_data_dir, _env_file=None)  # type: ignore[call-arg]
    return ChatUI(build(settings, embeddings=embeddings))


def last_reply(ui: ChatUI, question: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The chat and the session's turns after the chat handler has answered `question`."""
    *_, (_box, chat, turns, *_rest) = list(ui.respond(question, [], [], "extractive", 6))
    return chat, turns


# -- 8 and 9: questions too long, or with nothing to search ---------------------------------------


def test_chat_refuses_a_megabyte_question_with_the_fix_and_echoes_only_its_start(ui: ChatUI) -> None:
    t0 = time.perf_counter()
    chat, turns = last_reply(ui, HUGE)
    assert time.perf_counter() - t0 < 5
    assert 'class="msg-a error"' in chat[-1]["content"]
    assert "5,250,000 characters" in chat[-1]["content"] and "CHATBOT_MAX_QUESTION_CHARS" in chat[-1]["content"]
    # the page and the session keep a few hundred characters of it, not five megabytes
    assert len(chat[0]["content"]) < 1000 and "(5,250,000 characters)" in chat[0]["content"]
    assert len(turns[0]["question"]) < 1000


@pytest.mark.parametrize("question", JUNK)
def test_chat_refuses_a_question_with_nothing_to_search(ui: ChatUI, question: str) -> None:
    chat, turns = last_reply(ui, question)
    assert "refusal" in chat[-1]["content"] and "no words or numbers to search for" in chat[-1]["content"]
    assert turns[-1]["refused"] is True and turns[-1]["citations"] == [] and "[1]" not in chat[-1]["content"]


def test_api_refuses_a_multi_megabyte_question_at_once(open_server: Server) -> None:
    from gradio_client import Client

    api = Client(open_server.url, verbose=False)
    t0 = time.perf_counter()
    result = api.predict(HUGE, api_name="/ask")
    assert time.perf_counter() - t0 < 10  # about 0.3 s here; 95 s of CPU before the limit
    assert "5,250,000 characters long; the limit is 4,000 (CHATBOT_MAX_QUESTION_CHARS)" in result["error"]
    assert len(result["question"]) < 1000, "a refused question is not sent back whole"
    for question in JUNK:
        result = api.predict(question, api_name="/ask")
        assert result["refused"] is True and "no words or numbers to search for" in result["answer"]
        assert result["citations"] == []
    api.close()  # its heartbeat stream would hold the server's clean stop for seconds


# -- 10: Gradio's upload cache: under the data dir, capped, cleaned ------------------------------


def upload(c: Any, name: str, body: bytes) -> Any:
    return c.post("/gradio_api/upload", files={"files": (name, body)})


def test_upload_cache_lives_under_the_data_dir_and_a_killed_servers_leftovers_go(open_server: Server) -> None:
    cache = (open_server.data_dir / "tmp" / "gradio").resolve()
    r = upload(client(open_server), "note.md", FACT)
    assert r.status_code == 200, r.text
    stored = Path(r.json()[0])
    assert stored.is_relative_to(cache) and stored.read_bytes() == FACT
    assert not (cache / "deadbeef").exists(), "an old file of an earlier run is swept at start-up"
    assert (cache / "fresh.txt").exists(), "a recent one stays"
    stored.unlink()


def test_an_upload_past_the_cache_cap_is_refused_with_the_fix(open_server: Server) -> None:
    cache = open_server.data_dir / "tmp" / "gradio"
    c = client(open_server)
    accepted, refusal = [], None
    for i in range(6):  # 1 MB each against a 3 MB cap (Gradio's per-file transport cap is 1.1 MB here)
        r = upload(c, f"part{i}.txt", os.urandom(1_000_000))
        if r.status_code != 200:
            refusal = r
            break
        accepted.append(Path(r.json()[0]))
        assert used_bytes(cache) <= 3e6
    assert refusal is not None and refusal.status_code == 413, "the cache took more than its cap"
    assert 1 <= len(accepted) <= 2
    detail = refusal.json()["detail"]
    assert "upload space is full" in detail and "CHATBOT_UPLOAD_CACHE_MB" in detail, detail
    assert used_bytes(cache) <= 3e6
    for path in accepted:  # make room again for the other tests
        path.unlink()
    assert upload(c, "again.txt", FACT).status_code == 200


def test_upload_event_deletes_its_temp_file_and_exports_stay_in_the_data_dir(open_server: Server) -> None:
    cache = (open_server.data_dir / "tmp" / "gradio").resolve()
    c = client(open_server)
    config = c.get("/config").json()
    tmp = upload(c, "zorblat.md", FACT).json()[0]
    done = call_event(c, event_index(config, "upload", "upload"),  # type: ignore[arg-type]
                      [[{"path": tmp, "orig_name": "zorblat.md", "meta": {"_type": "gradio.FileData"}}]])
    assert done["success"] and "**indexed** zorblat\\.md" in done["output"]["data"][0], done
    assert (open_server.data_dir / "uploads" / "zorblat.md").read_bytes() == FACT
    assert not Path(tmp).exists(), "the upload's temp copy goes once it is handled"

    asked = call_event(c, event_index(config, "ask", "click"),  # type: ignore[arg-type]
                       ["How many megawatts does the Zorblat reactor produce?", [], None, "extractive", 6, None])
    export = next(d["value"]["path"] for d in asked["output"]["data"] if isinstance(d, dict) and "value" in d)
    assert Path(export).is_relative_to(cache) and "40 megawatts" in Path(export).read_text(encoding="utf-8")


def test_sigterm_stops_the_server_cleanly_and_its_temp_files_go(servers: dict[str, Server]) -> None:
    server = servers["stopped"]
    c = client(server)
    config = c.get("/config").json()
    tmp = Path(upload(c, "pending.md", FACT).json()[0])  # an upload no event picked up (yet)
    asked = call_event(c, event_index(config, "ask", "click"),  # type: ignore[arg-type]
                       ["Which enterprises received medals?", [], None, "extractive", 6, None])
    export = Path(next(d["value"]["path"] for d in asked["output"]["data"] if isinstance(d, dict) and "value" in d))
    c.close()
    assert tmp.exists() and export.exists()
    server.proc.terminate()  # what docker stop and systemd send
    assert server.proc.wait(timeout=30) == 0
    assert not tmp.exists() and not export.exists(), "Gradio's shutdown deletes the files this server made"


def test_a_cache_too_small_for_one_upload_is_refused_at_start(
        seeded_data_dir: Path, embeddings: BundledEmbeddings, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatbot.web.page import serve

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(seeded_data_dir.parent / "unused"))  # restored after the test
    settings = Settings(data_dir=seeded_data_dir, max_file_mb=20, upload_cache_mb=10, _env_file=None)  # type: ignore[call-arg]
    raised: list[BaseException] = []

    def run() -> None:  # in a thread: a serve that does not refuse would block here, not hang the suite
        try:
            serve(build(settings, embeddings=embeddings), port=web_server.free_port())
        except BaseException as exc:  # noqa: BLE001 - handed to the assertion below
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert raised and isinstance(raised[0], ConfigError), raised or "serve started"
    assert re.search(r"CHATBOT_UPLOAD_CACHE_MB \(10\) leaves no room.*at least 22", str(raised[0]))


def test_sweep_deletes_old_files_only(tmp_path: Path) -> None:
    old, new = tmp_path / "a" / "old.txt", tmp_path / "b" / "new.txt"
    for path in (old, new):
        path.parent.mkdir()
        path.write_bytes(b"z" * 500)
    os.utime(old, (time.time() - OLD_S, time.time() - OLD_S))
    assert used_bytes(tmp_path) == 1000
    assert sweep(tmp_path, 3600) == 500
    assert not old.exists() and new.exists() and (tmp_path / "a").is_dir()
    assert sweep(tmp_path, 3600, empty_dirs=True) == 0 and not (tmp_path / "a").exists()
    assert used_bytes(tmp_path / "missing") == 0

    async def run_server_for_a_moment() -> None:
        async with periodic_sweep(tmp_path, max_age_s=0.2, every_s=0.1)(None):
            await asyncio.sleep(0.6)

    asyncio.run(run_server_for_a_moment())
    assert not new.exists(), "the running server's sweep deletes files past their age"


# -- 11: login, routes open without one, events by fn_index ---------------------------------------


def test_every_route_needs_a_login_but_the_login_page(locked: Server) -> None:
    paths = client(locked, login=AUTH).get("/openapi.json").json()["paths"]  # the app's every route
    routes = {(m.upper(), p) for p, ops in paths.items() for m in ops} | {("GET", "/openapi.json")}
    assert len(routes) > 60 and ("POST", "/gradio_api/cancel") in routes
    anon = client(locked)
    reachable = set()
    for method, path in sorted(routes - OPEN_WITHOUT_LOGIN):
        url = re.sub(r"\{[^}]+\}", "0", path)
        try:
            status = anon.request(method, url, json={} if method == "POST" else None, timeout=5).status_code
        except Exception as exc:  # noqa: BLE001 - a stream that stays open (heartbeat) answered
            status = type(exc).__name__
        if status != 401:
            reachable.add((method, path, status))
    assert not reachable, f"answered without a login: {sorted(reachable)}"
    assert anon.post("/gradio_api/cancel", json={"session_hash": "x", "fn_index": 0, "event_id": "y"}).status_code == 401
    page = anon.get("/").text  # the login form: no components, documents or answers
    assert '"auth_required":true' in page and '"components":[]' in page and "000_9e53f5965d956f18" not in page
    assert anon.get("/assets/..%2fconfig").status_code == 403  # an open prefix reaches only its file handler


def test_failed_logins_are_throttled_per_client(locked: Server) -> None:
    attacker, neighbour = client(locked, address="127.0.0.2"), client(locked, address="127.0.0.3")
    wrong = {"username": AUTH[0], "password": "guess"}
    t0 = time.monotonic()
    codes = [attacker.post("/login", data=wrong).status_code for _ in range(40)]
    assert codes[:3] == [400] * 3 and set(codes[3:]) == {429}, codes
    refused = attacker.post("/login", data={"username": AUTH[0], "password": AUTH[1]})
    assert refused.status_code == 429, "the right password too, or guessing could go on"
    assert 1 <= int(refused.headers["retry-after"]) <= 3 and "Too many failed logins" in refused.json()["detail"]
    assert neighbour.post("/login", data={"username": AUTH[0], "password": AUTH[1]}).status_code == 200
    time.sleep(max(0.0, t0 + 3.2 - time.monotonic()))  # the window (3 s) passes
    assert attacker.post("/login", data={"username": AUTH[0], "password": AUTH[1]}).status_code == 200


def test_a_successful_login_clears_the_count(locked: Server) -> None:
    user = client(locked, address="127.0.0.4")
    wrong, right = {"username": AUTH[0], "password": "typo"}, {"username": AUTH[0], "password": AUTH[1]}
    codes = [user.post("/login", data=data).status_code for data in (wrong, wrong, right, wrong, wrong, right)]
    assert codes == [400, 400, 200, 400, 400, 200]


def test_uploads_off_means_no_upload_or_remove_event_and_a_refused_upload_route(locked: Server) -> None:
    c = client(locked, login=AUTH)
    config = c.get("/config").json()
    assert component_id(config, "upload") is None and component_id(config, "remove") is None
    assert component_id(config, "uploads-off") is not None  # the page says so
    before = (locked.data_dir / "manifest.json").read_text(encoding="utf-8")
    session = "s" + uuid.uuid4().hex[:10]
    loaded = call_event(c, load_index(config), [], session)  # type: ignore[arg-type]
    doc = loaded["output"]["data"][1]["choices"][0][1]  # a doc_id this session may pick
    for i, dep in enumerate(config["dependencies"]):  # every event of the page, called by number
        if not dep.get("api_name"):  # with the doc_id as its first input
            n = len(dep["inputs"])
            call_event(c, i, ([doc] + [None] * n)[:n], session)
    assert (locked.data_dir / "manifest.json").read_text(encoding="utf-8") == before
    r = c.post("/gradio_api/upload", files={"files": ("x.md", FACT)})
    assert r.status_code == 403 and "CHATBOT_ALLOW_UPLOADS" in r.json()["detail"]


def test_with_uploads_on_any_client_of_the_page_can_remove_by_fn_index(open_server: Server) -> None:
    """Why CHATBOT_ALLOW_UPLOADS exists: `api_visibility="private"` only hides an event from the
    API docs; the page's events answer any client that names them (docs/web-ui.md)."""
    c = client(open_server)
    config = c.get("/config").json()
    session = "s" + uuid.uuid4().hex[:10]
    loaded = call_event(c, load_index(config), [], session)  # type: ignore[arg-type]
    doc = next(value for label, value in loaded["output"]["data"][1]["choices"] if label.startswith("003_"))
    done = call_event(c, event_index(config, "remove", "click"), [doc], session)  # type: ignore[arg-type]
    assert done["success"] and done["output"]["data"][0].startswith("**removed** 003"), done
    assert "003_66e51e5d6c67a0d0.txt" not in (open_server.data_dir / "manifest.json").read_text(encoding="utf-8")
