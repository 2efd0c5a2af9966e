"""A PDF citation in the web chat (headless Chromium): "p. 2" beside the title, and the document
pane opened at that page, the quote marked. Its own server on an index of one generated PDF; the
screenshot (test-artifacts/ui-pdf-page.png) is the one in the README."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import web_server
from conftest import make_settings
from doc_factory import make_paged_pdf
from web_server import ARTIFACTS, BROWSER_MARKS

from chatbot.app import build
from chatbot.index.embeddings import BundledEmbeddings

# Synthetic: a ferry company's yearly report, four pages.
REPORT = [
    ["Lakeside Ferry Company", "Yearly harbour report", "",
     "The company was founded by Ilse Marrow in 1931.",
     "Its first boat carried letters between the two villages on the lake.",
     "Today it runs four boats and employs thirty-one people."],
    ["Routes", "",
     "The orchard ferry first sailed from the north pier in May 1952.",
     "It stops at the cherry orchards on the east shore and at Mill Bay.",
     "Tickets for the orchard ferry cost 4 crowns each.",
     "Bicycles ride free on the morning boats."],
    ["Winter", "",
     "In winter the harbour closes when ice covers the bay.",
     "The last boat of the season leaves in the second week of December."],
    ["The lighthouse", "",
     "The lighthouse on Gull Point was rebuilt in 1968 after a storm.",
     "Its lamp can be seen from the far end of the lake."],
]
QUESTION = "When did the orchard ferry first sail from the north pier?"

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embeddings: BundledEmbeddings) -> Iterator[web_server.Server]:
    ARTIFACTS.mkdir(exist_ok=True)
    base = tmp_path_factory.mktemp("pages-ui")
    (base / "corpus").mkdir()
    (base / "corpus" / "harbour-report.pdf").write_bytes(make_paged_pdf(REPORT, title="Yearly harbour report"))
    build(make_settings(base / "data"), embeddings=embeddings).ingest([base / "corpus"], progress=False)
    started = web_server.start(base / "data", ARTIFACTS / "serve-pages.log")
    try:
        web_server.wait_ready(started)
        yield started
    finally:
        web_server.stop([started])


@pytest.fixture
def page(browser: Any, server: web_server.Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.goto(server.url)
    pg.locator("#question textarea").wait_for(timeout=60_000)
    yield pg
    context.close()


def test_a_pdf_citation_shows_its_page_and_opens_the_pdf_at_it(page: Any) -> None:
    box = page.locator("#question textarea")
    box.fill(QUESTION)
    box.press("Enter")
    answer = page.locator("#chat .msg-a:has(.msg-meta)").first
    answer.wait_for(timeout=60_000)
    assert "May 1952" in answer.inner_text()
    head = page.locator("#sources .cite.source .cite-head").first
    assert "Yearly harbour report" in head.inner_text() and "p. 2" in head.inner_text()
    assert head.locator('span[title="harbour-report.pdf"]').count() == 1  # the file name on hover

    answer.locator("a.cite-ref:not(.cite-chip)").first.click()
    mark = page.locator("#docview mark.source-mark")
    mark.wait_for(timeout=15_000)
    assert mark.inner_text().strip() == "The orchard ferry first sailed from the north pier in May 1952."
    assert "p. 2" in page.locator("#docview .docview-head").inner_text()
    shown = page.locator("#docview .doc-text").inner_text()
    assert "Bicycles ride free" in shown and "Ilse Marrow" not in shown and "ice covers the bay" not in shown
    page.screenshot(path=str(ARTIFACTS / "ui-pdf-page.png"))
