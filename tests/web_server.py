"""`chatbot serve` in a subprocess on loopback, and raw HTTP calls of its Gradio events.

`start` returns at once (start several, then `wait_ready` each: they boot in parallel);
`call_event` runs any event of the page by its number (`fn_index`), as any HTTP client can.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
# every browser test module: `pytestmark = BROWSER_MARKS`
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser installs it as root)"),
]


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright, closed on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    log: Path
    proc: subprocess.Popen[bytes]


def start(data_dir: Path, log: Path, **env_extra: str) -> Server:
    """`chatbot -v serve` on a free port of 127.0.0.1 over `data_dir`; output goes to `log`."""
    port = free_port()
    env = {**os.environ, "CHATBOT_DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", **env_extra}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "chatbot.cli", "-v", "serve", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}/", data_dir, log, proc)


def wait_ready(server: Server, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"chatbot serve exited with {server.proc.returncode}: {server.log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(server.url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 when a login is required)
        except OSError:
            time.sleep(0.5)
    server.proc.kill()
    pytest.fail(f"chatbot serve did not answer within {timeout:g} s")


def stop(servers: Iterable[Server]) -> None:
    servers = list(servers)
    for s in servers:
        s.proc.terminate()
    for s in servers:
        try:
            s.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            s.proc.kill()


def client(server: Server, login: tuple[str, str] | None = None, address: str = "127.0.0.1") -> httpx.Client:
    """An HTTP client from `address` (any 127.x.y.z: a distinct client to the server), logged in
    with `login` when given."""
    c = httpx.Client(base_url=server.url.rstrip("/"), timeout=30,
                     transport=httpx.HTTPTransport(local_address=address))
    if login is not None:
        r = c.post("/login", data={"username": login[0], "password": login[1]})
        assert r.status_code == 200, r.text
    return c


def component_id(config: dict[str, Any], elem_id: str) -> int | None:
    return next((c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id), None)


def event_index(config: dict[str, Any], elem_id: str, trigger: str) -> int | None:
    """The fn_index of the event `trigger` ("click", "upload", ...) of the component `elem_id`."""
    target = component_id(config, elem_id)
    return next((i for i, dep in enumerate(config["dependencies"])
                 if [target, trigger] in [list(t) for t in dep.get("targets", [])]), None)


def load_index(config: dict[str, Any]) -> int | None:
    """The fn_index of the page's load event (it fills the session's document choices)."""
    return next((i for i, dep in enumerate(config["dependencies"])
                 if any(t[1] == "load" for t in dep.get("targets", []))), None)


def call_event(c: httpx.Client, fn_index: int, data: list[Any], session: str | None = None,
               timeout: float = 60) -> dict[str, Any]:
    """Run event `fn_index` through the queue (as the page does) in `session` (a new one when
    None) and return its final message (`{"msg": "process_completed", "success": ...,
    "output": {"data": [...]}}`)."""
    session = session or uuid.uuid4().hex[:11]
    joined = c.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                    "event_data": None, "trigger_id": None})
    assert joined.status_code == 200, joined.text
    with c.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=timeout) as events:
        for line in events.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return dict(message)
    raise AssertionError(f"event {fn_index} never completed")
