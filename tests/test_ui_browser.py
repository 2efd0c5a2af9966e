"""The web chat as a person uses it: headless Chromium (Debian's) driven by Playwright.

One server per module on a private copy of the seeded index (uploads and removals change it),
plus one with CHATBOT_AUTH set; both start together. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import web_server
from web_server import ARTIFACTS, BROWSER_MARKS, Server

MEDALS = "Which enterprises received medals at Luoyang's landmark high-end equipment ceremony?"
AUTH = ("alice", "s3cret-pw")
# A document that tries to run code: it must show as text, and nothing may run.
HOSTILE = (
    "Zorblat Works\n\n"
    "The Zorblat reactor in Kaifeng produces 40 megawatts of power. "
    '<script>window.__pwned = "script"; alert("pwned")</script> '
    '<img src=x onerror="window.__pwned = \'img\'"> **not bold** [link](javascript:alert(1))\n'
)

pytestmark = BROWSER_MARKS


def _start(data_dir: Path, name: str, **env_extra: str) -> Server:
    return web_server.start(data_dir, ARTIFACTS / f"serve-{name}.log", CHATBOT_MAX_FILE_MB="1", **env_extra)


@pytest.fixture(scope="module")
def servers(seeded_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    ARTIFACTS.mkdir(exist_ok=True)
    base = tmp_path_factory.mktemp("ui")
    shutil.copytree(seeded_data_dir, base / "open")
    shutil.copytree(seeded_data_dir, base / "auth")
    started = {"open": _start(base / "open", "open"),
               "auth": _start(base / "auth", "auth", CHATBOT_AUTH=":".join(AUTH))}
    try:
        for s in started.values():
            web_server.wait_ready(s)
        yield started
    finally:
        web_server.stop(started.values())


@pytest.fixture(scope="module")
def server(servers: dict[str, Server]) -> Server:
    return servers["open"]


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    pg.goto(server.url)
    pg.locator("#question textarea").wait_for(timeout=60_000)
    yield pg
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def ask(page: Any, question: str, n_answers: int) -> Any:
    """Type a question, wait for the n-th finished answer, return its locator."""
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    done = page.locator("#chat .msg-a:has(.msg-meta), #chat .msg-a.error")
    done.nth(n_answers - 1).wait_for(timeout=60_000)
    return done.nth(n_answers - 1)


def feedback_rows(server: Server) -> list[dict[str, Any]]:
    path = server.data_dir / "feedback.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


# -- answering and citations -------------------------------------------------------------------


def test_answer_streams_and_its_marker_opens_the_highlighted_passage(page: Any) -> None:
    # record every length the answer bubble has while it arrives
    page.evaluate("""() => {
        window.__lengths = [];
        new MutationObserver(() => {
            const msgs = document.querySelectorAll('#chat .msg-a');
            if (msgs.length) window.__lengths.push(msgs[msgs.length - 1].innerText.length);
        }).observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true});
    }""")
    answer = ask(page, MEDALS, 1)
    lengths = page.evaluate("() => window.__lengths")
    growing = sorted(set(lengths))
    assert len(growing) >= 5, f"the answer did not stream: lengths seen {lengths}"
    assert "Luoyang" in answer.inner_text() and "Landmark High-end Equipment" in answer.inner_text()
    assert "000_9e53f5965d956f18.txt" in (answer.locator("a.cite-chip").first.get_attribute("title") or "")
    assert "extractive mode" in answer.inner_text()
    assert "extractive mode" in page.locator("#sources .mode-badge").inner_text()

    marker = answer.locator("a.cite-ref:not(.cite-chip)").first  # the [1] inside the answer text
    assert marker.inner_text() == "[1]"
    marker.click()
    mark = page.locator("#docview mark.source-mark")
    mark.wait_for(timeout=15_000)
    quote = page.locator("#sources .cite.source blockquote").first.inner_text()
    assert mark.inner_text().strip() == quote.strip()
    assert "Landmark High-end Equipment" in page.locator("#docview .docview-head").inner_text()
    page.wait_for_function("""() => {
        const m = document.querySelector('#docview mark.source-mark');
        const box = document.querySelector('#docview .doc-text').getBoundingClientRect();
        const r = m.getBoundingClientRect();
        return r.top >= box.top && r.bottom <= box.bottom && r.top >= 0 && r.bottom <= window.innerHeight;
    }""", timeout=10_000)  # scrolled into view inside the document pane and the window
    # the document pane holds the whole document, not just the quote
    assert len(page.locator("#docview .doc-text").inner_text()) > 3 * len(quote)
    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"))

    # a second citation replaces the highlight
    answer.locator("a.cite-ref:not(.cite-chip)").nth(1).click()
    page.locator('#docview mark[data-for="0:c:2"]').wait_for(timeout=15_000)
    assert page.locator("#docview mark").count() == 1


def test_follow_up_uses_the_conversation(page: Any, server: Server) -> None:
    ask(page, "Which bearing maker in Luoyang grew its business revenue by over 50% on the year?", 1)
    second = ask(page, "What growth rate did it reportedly reach?", 2)
    assert second.locator("a.cite-ref").count() >= 1
    log = server.log.read_text(encoding="utf-8")
    rewritten = [line for line in log.splitlines() if "q='What growth rate did it reportedly reach?'" in line]
    assert rewritten and "bearing" in rewritten[-1].split("standalone=")[1], rewritten
    # the first answer keeps its own, still working citations
    page.locator("#chat .msg-a").first.locator("a.cite-ref").first.click()
    page.locator('#docview mark[data-for="0:c:1"]').wait_for(timeout=15_000)


def test_sessions_keep_their_own_history(browser: Any, server: Server, page: Any) -> None:
    ask(page, MEDALS, 1)
    other = browser.new_page()
    other.goto(server.url)
    other.locator("#question textarea").wait_for(timeout=60_000)
    ask(other, "What is Luoyang's bearing industry doing?", 1)
    assert other.locator("#chat .msg-q").count() == 1
    assert page.locator("#chat .msg-q").count() == 1
    assert "Luoyang's landmark" in page.locator("#chat").inner_text()
    assert "Luoyang's landmark" not in other.locator("#chat").inner_text()
    other.close()


def test_refusal_looks_like_a_refusal_and_related_passages_differ(page: Any) -> None:
    answer = ask(page, "What is the capital of Peru?", 1)
    assert "refusal" in (answer.get_attribute("class") or "")
    assert "Not answered from the documents" in answer.inner_text()
    assert page.locator("#sources .cite.source").count() == 0
    related = page.locator("#sources .cite.related")
    assert related.count() >= 1
    assert related.first.evaluate("e => getComputedStyle(e).borderLeftStyle") == "dashed"
    related.first.click()
    mark = page.locator("#docview mark.related-mark")
    mark.wait_for(timeout=15_000)
    assert mark.evaluate("e => getComputedStyle(e).backgroundColor") != "rgb(253, 224, 71)"  # not the citation yellow


# -- feedback and export --------------------------------------------------------------------------


def test_one_rating_per_answer_lands_in_the_log(page: Any, server: Server) -> None:
    before = len(feedback_rows(server))
    ask(page, MEDALS, 1)
    page.locator("#fb-comment textarea").fill("exactly what I needed")
    page.locator("#chat button[aria-label='Like']").first.click()  # the thumbs on the message itself
    page.locator("#fb-status").get_by_text("rated helpful").wait_for(timeout=15_000)
    rows = feedback_rows(server)[before:]
    assert [r["rating"] for r in rows] == ["up"] and rows[0]["comment"] == "exactly what I needed"
    assert rows[0]["question"] == MEDALS and "[1]" in rows[0]["answer"] and rows[0]["answer_id"]
    assert rows[0]["citations"][0]["file"] == "000_9e53f5965d956f18.txt" and rows[0]["time"]
    page.locator("#chat button[aria-label='Liked']").first.click()  # clicked again: taken back
    page.locator("#fb-status").get_by_text("removed").wait_for(timeout=15_000)
    deadline = time.monotonic() + 15
    while len(feedback_rows(server)) > before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(feedback_rows(server)) == before


def test_export_downloads_the_conversation_as_markdown(page: Any) -> None:
    ask(page, MEDALS, 1)
    with page.expect_download(timeout=15_000) as info:
        page.locator("#export").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert info.value.suggested_filename.endswith(".md")
    assert f"## 1. {MEDALS}" in text
    assert "- [1] Luoyang, Henan Selected the First Ten Landmark High-end Equipment (`000_9e53f5965d956f18.txt`" in text


# -- documents ------------------------------------------------------------------------------


def test_upload_ask_remove_and_hostile_html_stays_text(page: Any, server: Server, tmp_path: Path) -> None:
    from doc_factory import make_docx

    hostile = tmp_path / "zorblat.md"
    hostile.write_text(HOSTILE, encoding="utf-8")
    docx = tmp_path / "quarry report.docx"
    docx.write_bytes(make_docx(["Quarry report", "The Wuzhen quarry ships 800 tonnes of granite every week."]))
    big = tmp_path / "big.txt"
    big.write_bytes(b"Too big. " * 114_000)  # 1.03 MB: over the 1 MB limit, under Gradio's transport cap

    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files([str(hostile), str(docx), str(big)])
    status = page.locator("#upload-status")
    # the final status, not the progress lines ("indexing big.txt (3/3)…") shown while it works
    status.get_by_text("over the 1 MB limit").first.wait_for(timeout=60_000)
    text = status.inner_text()
    assert "zorblat.md" in text and "quarry report.docx" in text, text
    assert "over the 1 MB limit" in text
    table = page.locator("#doclist")
    table.get_by_text("zorblat.md").wait_for(timeout=10_000)
    assert "quarry report.docx" in table.inner_text()
    assert sorted(p.name for p in (server.data_dir / "uploads").iterdir()) == ["quarry report.docx", "zorblat.md"]

    page.get_by_role("tab", name="Chat").click()
    answer = ask(page, "How many megawatts does the Zorblat reactor produce?", 1)
    assert "40 megawatts" in answer.inner_text()
    page.locator("#sources").get_by_text("Zorblat Works").first.wait_for()
    answer.locator("a.cite-ref:not(.cite-chip)").first.click()
    page.locator("#docview mark").wait_for(timeout=15_000)
    shown = page.locator("#docview .doc-text").inner_text()
    assert '<script>window.__pwned = "script"; alert("pwned")</script>' in shown
    assert "<img src=x onerror=" in shown and "**not bold**" in shown
    assert page.locator("#docview script, #docview img, #chat img[src='x']").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []  # type: ignore[attr-defined]
    second = ask(page, "How much granite does the Wuzhen quarry ship?", 2)
    assert "800 tonnes" in second.inner_text()

    page.get_by_role("tab", name="Documents").click()
    page.locator("#remove-pick input").click()
    page.get_by_role("option", name="zorblat.md", exact=False).click()
    page.locator("#remove").click()
    page.locator("#remove-status").get_by_text("removed zorblat.md").wait_for(timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#doclist').innerText.includes('zorblat.md')", timeout=10_000)
    assert not (server.data_dir / "uploads" / "zorblat.md").exists()
    page.get_by_role("tab", name="Chat").click()
    third = ask(page, "How many megawatts does the Zorblat reactor produce?", 3)
    assert "zorblat.md" not in third.inner_text()


# -- the HTTP API and the login ----------------------------------------------------------------


def test_api_returns_answer_and_citations_as_data(server: Server) -> None:
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    result = client.predict(MEDALS, 4, api_name="/ask")
    assert result["refused"] is False and "[1]" in result["answer"]
    assert result["citations"][0]["file"] == "000_9e53f5965d956f18.txt"
    c = result["citations"][0]
    assert set(c) >= {"n", "file", "title", "quote", "start_char", "end_char"} and c["n"] == 1
    assert result["mode"] == "extractive" and result["question"] == MEDALS
    assert "error" in client.predict("   ", api_name="/ask")


def test_auth_refuses_page_and_api_without_login(servers: dict[str, Server], browser: Any) -> None:
    from gradio_client import Client

    server = servers["auth"]
    for path in ("config", "gradio_api/info"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server.url + path, timeout=10)
        assert err.value.code == 401
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises ValueError or httpx errors by version
        Client(server.url, verbose=False).predict(MEDALS, api_name="/ask")
    with pytest.raises(Exception):  # noqa: B017
        Client(server.url, auth=(AUTH[0], "wrong"), verbose=False)
    logged_in = Client(server.url, auth=AUTH, verbose=False).predict(MEDALS, api_name="/ask")
    assert logged_in["citations"][0]["file"] == "000_9e53f5965d956f18.txt"

    page = browser.new_page()
    page.goto(server.url)
    page.locator("input[type=password]").wait_for(timeout=30_000)
    assert page.locator("#question").count() == 0
    page.locator("input[type=text], input:not([type])").first.fill(AUTH[0])
    page.locator("input[type=password]").fill(AUTH[1])
    page.locator("button[type=submit], button:has-text('Login')").first.click()
    page.locator("#question textarea").wait_for(timeout=60_000)
    page.close()
