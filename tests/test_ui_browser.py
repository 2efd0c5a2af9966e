"""The web chat as a person uses it: headless Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser installs it as root)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(seeded_data_dir: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "CHATBOT_DATA_DIR": str(seeded_data_dir),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    log = (ARTIFACTS / "serve.log")
    ARTIFACTS.mkdir(exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chatbot.cli", "serve", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"chatbot serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            proc.kill()
            pytest.fail("chatbot serve did not answer within 90 s")
        yield url
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_ask_shows_answer_with_cited_source(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    box = page.locator("#question textarea")
    box.wait_for(timeout=60_000)
    box.fill("Which enterprises received medals at Luoyang's landmark high-end equipment ceremony?")
    box.press("Enter")
    sources = page.locator("#sources")
    sources.get_by_text("000_9e53f5965d956f18.txt").first.wait_for(timeout=60_000)
    assert "[1]" in sources.inner_text()
    assert "CITIC Heavy Industry" in page.locator("#chat").inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"), full_page=True)
    page.close()
