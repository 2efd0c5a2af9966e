"""Citations that point to a page (PDF) or a section (Word, Markdown, HTML headings).

The page map is made by the loaders and must survive normalization exactly: a citation's page is
the page its quote starts on, checked against pypdf's own page-by-page text of a generated PDF.
A changed page map (a paragraph restyled as a heading) re-embeds nothing, and an index written
before page maps still answers (page None) and gains them on the next ingest without embedding.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from doc_factory import make_paged_pdf, make_sectioned_docx
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.answering.citations import check
from chatbot.app import Chatbot, build
from chatbot.config import TOKEN_ENCODING, Settings
from chatbot.evaluation.evals import run_pack
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.text.chunking import Chunker, offline_encoding
from chatbot.text.loaders import load_bytes, normalize, normalize_placed
from chatbot.types import Place, place_at
from chatbot.web import render

# Synthetic passages: a ferry company's harbour notes, one topic per page or section.
PAGES = [
    ["Harbour notes of the Lakeside Ferry Company.",
     "The company was founded by Ilse Marrow in 1931.",
     "Its first boat carried letters between the two villages."],
    ["The orchard ferry first sailed from the north pier in May 1952.",
     "Tickets for the orchard ferry cost 4 crowns each."],
    [],  # a blank page: no text layer on it
    ["In winter the harbour closes when ice covers the bay.",
     "The lighthouse on Gull Point was rebuilt in 1968 after a storm."],
]
FERRY_Q = "When did the orchard ferry first sail from the north pier?"
LIGHTHOUSE_Q = "When was the lighthouse on Gull Point rebuilt?"
SECTIONS = [
    ("", ["Rules and timetables of the Lakeside Ferry Company."]),
    ("Harbour rules", ["Dogs must be kept on a lead on every pier.", "Bicycles ride free on the morning boats."]),
    ("Orchard ferry", ["The orchard ferry first sailed from the north pier in May 1952."]),
    ("Winter schedule", ["In winter the harbour closes when ice covers the bay."]),
]

BotFactory = Callable[..., Chatbot]


@pytest.fixture
def make_bot(settings_factory: Callable[..., Settings], embeddings: BundledEmbeddings) -> BotFactory:
    return lambda **overrides: build(settings_factory(**overrides), embeddings=embeddings)


@pytest.fixture
def count_embeddings(monkeypatch: pytest.MonkeyPatch, embeddings: BundledEmbeddings) -> list[int]:
    """Texts given to the embedding model from here on (one entry per call)."""
    calls: list[int] = []
    real = embeddings.embed_array

    def counting(texts: list[str]) -> Any:
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(embeddings, "embed_array", counting)
    return calls


def pypdf_pages(raw: bytes) -> list[str]:
    """Each page's text as pypdf reads it alone, spaces collapsed: the reference for 'page'."""
    from pypdf import PdfReader

    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(raw)).pages]


def page_holding(pages: list[str], quote: str) -> int:
    flat = " ".join(quote.split())
    (page,) = [i for i, text in enumerate(pages, 1) if flat in text]
    return page


# -- the map survives normalization exactly ------------------------------------------------------

_PIECE = st.text(alphabet=st.sampled_from(["a", "b", " ", "\t", "\n", "\r", "\u200b", "\ufeff", "\x00",
                                           "\x0c", "é", "e", "\u0301", "\u3000", "\x85", "\u2028"]), max_size=10)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECE, min_size=1, max_size=6))
def test_places_move_with_normalization_to_the_first_character_of_their_piece(pieces: list[str]) -> None:
    """Pieces start lines (as pages and headings do); each page with text starts exactly where its
    own normalized text stands in the normalized whole, and the whole is `normalize`'s."""
    pieces = [p + "\n" for p in pieces[:-1]] + pieces[-1:]
    starts = [sum(len(p) for p in pieces[:i]) for i in range(len(pieces))]
    text, places = normalize_placed("".join(pieces), [Place(s, page=i) for i, s in enumerate(starts, 1)])
    assert text == normalize("".join(pieces))
    with_text = [i for i, p in enumerate(pieces, 1) if normalize(p)]
    assert [p.page for p in places] == with_text
    for place in places:
        assert text.startswith(normalize(pieces[place.page - 1]), place.start)  # type: ignore[operator]


def test_every_line_of_a_long_pdf_is_on_the_page_pypdf_reads_it_from(tmp_path: Path) -> None:
    pages = [[f"Page {n} line {k}: the ferry log for day {n * 7 + k} notes calm water." for k in range(6)]
             for n in range(1, 13)]
    pages[4] = []  # a blank page in the middle
    raw = make_paged_pdf(pages)
    doc = load_bytes(raw, tmp_path / "log.pdf", "log.pdf")
    assert [p.page for p in doc.places] == [n for n in range(1, 13) if n != 5]
    reference = pypdf_pages(raw)
    for n, lines in enumerate(pages, 1):
        for line in lines:
            at = doc.text.index(line)
            assert place_at(doc.places, at).page == n == page_holding(reference, line)  # type: ignore[union-attr]
    # chunks span pages; each keeps the places within it, and its page is the one it starts on
    encoding = offline_encoding(TOKEN_ENCODING, tmp_path / "tiktoken")
    chunks = Chunker(encoding, max_tokens=120, overlap_tokens=20).chunk(doc, "d")
    assert len(chunks) > 3 and any(len(c.places) > 1 for c in chunks)
    for c in chunks:
        assert c.page == place_at(doc.places, c.start_char).page  # type: ignore[union-attr]


def test_word_markdown_and_html_headings_are_sections(tmp_path: Path) -> None:
    docx = load_bytes(make_sectioned_docx(SECTIONS), tmp_path / "rules.docx", "rules.docx")
    md = load_bytes((b"Rules of the company.\n\n# Harbour rules\nDogs on a lead.\n\n```\n# not a heading\n```\n"
                     b"## Orchard ferry ##\nIt leaves at seven forty.\n"), tmp_path / "rules.md", "rules.md")
    page = ("<html><head><title>Rules</title></head><body><p>Rules of the company.</p><h2>Harbour <b>rules</b></h2>"
            "<p>Dogs on a lead.</p><script>var h1 = 1;</script><h3>Orchard   ferry</h3><p>It leaves at seven forty.</p>"
            "</body></html>")
    html = load_bytes(page.encode(), tmp_path / "rules.html", "rules.html")
    for doc in (docx, md, html):
        assert [p.section for p in doc.places][:2] == ["Harbour rules", "Orchard ferry"], doc.places
        assert place_at(doc.places, doc.text.index("Rules")) is None  # before the first heading
        assert place_at(doc.places, doc.text.index("Dogs")).section == "Harbour rules"  # type: ignore[union-attr]
        for p in doc.places:  # a section starts at its heading's line
            assert doc.text[p.start:].lstrip("# ").startswith(p.section or "?")
    txt = load_bytes(b"# Not a section in a .txt file\nplain text", tmp_path / "a.txt", "a.txt")
    assert txt.places == ()


# -- citations carry the page or the section ------------------------------------------------------


def test_citations_carry_the_page_their_quote_starts_on(make_bot: BotFactory, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    raw = make_paged_pdf(PAGES, title="Harbour notes")
    (corpus / "harbour.pdf").write_bytes(raw)
    (corpus / "rules.docx").write_bytes(make_sectioned_docx(SECTIONS))
    bot = make_bot()
    bot.ingest([corpus], progress=False)
    reference = pypdf_pages(raw)
    for question, page in ((FERRY_Q, 2), (LIGHTHOUSE_Q, 4)):
        answer = bot.ask(question)
        cited = [c for c in answer.citations if c.file == "harbour.pdf"]
        assert cited and not answer.refused, answer.answer
        for c in cited:
            text = bot.document_text(c.doc_id)
            assert text[c.start_char : c.end_char] == c.quote  # offsets stay exact
            assert c.page == page == page_holding(reference, c.quote)
            assert c.page == place_at(bot.document_places(c.doc_id), c.start_char).page  # type: ignore[union-attr]
            assert c.section is None and c.as_dict()["page"] == page
        assert check(answer.answer, answer.citations, bot.document_text) == []
    # the lighthouse is on page 4, in a chunk that starts on page 1: the page is the quote's
    chunk = bot.store().get_chunks([c.chunk_id for c in bot.ask(LIGHTHOUSE_Q).citations])[0]
    assert chunk.page == 1
    section = [c for c in bot.ask("Which rules apply to dogs on the pier?").citations if c.file == "rules.docx"]
    assert section and section[0].section == "Harbour rules" and section[0].page is None


def test_the_ui_shows_the_page_and_opens_the_pdf_at_it(make_bot: BotFactory, tmp_path: Path) -> None:
    (tmp_path / "harbour.pdf").write_bytes(make_paged_pdf(PAGES))
    bot = make_bot()
    bot.ingest([tmp_path / "harbour.pdf"], progress=False)
    record = render.turn_record(bot.ask(FERRY_Q))
    c = record["citations"][0]
    assert "· p. 2" in render.sources_html(record, 0)
    assert ", p. 2 (`harbour.pdf`, chars" in render.export_markdown([record])
    pane = render.document_html(c, bot.document_text(c["doc_id"]), "0:c:1", "c", places=bot.document_places(c["doc_id"]))
    assert "p. 2" in pane and "orchard ferry" in pane
    assert "founded by Ilse Marrow" not in pane and "Gull Point" not in pane  # only page 2's text
    whole = render.document_html(c, bot.document_text(c["doc_id"]), "0:c:1", "c")  # no map: the whole file
    assert "founded by Ilse Marrow" in whole and "Gull Point" in whole


def test_eval_rows_carry_the_page(tmp_path: Path, settings_factory: Callable[..., Settings]) -> None:
    pack = tmp_path / "pack"
    (pack / "corpus").mkdir(parents=True)
    (pack / "corpus" / "harbour.pdf").write_bytes(make_paged_pdf(PAGES))
    question = {"id": "ferry", "lang": "en", "question": FERRY_Q, "answers": ["1952"],
                "gold_files": ["harbour.pdf"], "answerable": True}
    (pack / "questions.jsonl").write_text(json.dumps(question) + "\n", encoding="utf-8")
    rows, _ = run_pack(settings_factory(), pack)
    assert rows[0]["citations"] and {c["page"] for c in rows[0]["citations"]} == {2}
    assert all(c["section"] is None for c in rows[0]["citations"])


# -- incremental: a changed map re-embeds nothing; older indexes keep working --------------------


def test_a_restyled_heading_changes_the_sections_and_embeds_nothing(
    make_bot: BotFactory, tmp_path: Path, count_embeddings: list[int]
) -> None:
    plain = [("", ["Orchard ferry", *SECTIONS[2][1]]), *SECTIONS[3:]]  # the same words, no heading style
    path = tmp_path / "rules.docx"
    path.write_bytes(make_sectioned_docx(plain))
    bot = make_bot()
    bot.ingest([path], progress=False)
    assert count_embeddings and bot.ask(FERRY_Q).citations[0].section is None
    ids = sorted(bot.store().all_ids())
    count_embeddings.clear()
    path.write_bytes(make_sectioned_docx(SECTIONS[2:]))
    report = make_bot().ingest([path], progress=False)
    assert report.updated == ["rules.docx"] and report.chunks_added == 0 and count_embeddings == []
    assert sorted(bot.store().all_ids()) == ids
    assert make_bot().ask(FERRY_Q).citations[0].section == "Orchard ferry"


def test_an_index_without_page_maps_answers_and_gains_them_without_embedding(
    make_bot: BotFactory, tmp_path: Path, count_embeddings: list[int]
) -> None:
    path = tmp_path / "harbour.pdf"
    path.write_bytes(make_paged_pdf(PAGES))
    bot = make_bot()
    bot.ingest([path], progress=False)
    before = bot.ask(FERRY_Q)
    # write the index as a version before page maps did: no `places` in manifest or chunk metadata
    store = bot.store()
    res = store.collection.get(include=["metadatas", "embeddings"])
    store.collection.delete(ids=res["ids"])
    store.collection.add(ids=res["ids"], embeddings=res["embeddings"],
                         metadatas=[{k: v for k, v in m.items() if k != "places"} for m in res["metadatas"]])
    manifest_path = bot.settings.manifest_path
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    for entry in data["files"].values():
        del entry["places"]
    manifest_path.write_text(json.dumps(data), encoding="utf-8")
    old = make_bot()
    answer = old.ask(FERRY_Q)
    assert answer.answer == before.answer
    assert [(c.quote, c.start_char, c.page) for c in answer.citations] == [(c.quote, c.start_char, None) for c in before.citations]
    count_embeddings.clear()
    report = make_bot().ingest([path], progress=False)
    assert report.updated == ["harbour.pdf"] and report.chunks_added == 0 and count_embeddings == []
    assert make_bot().ask(FERRY_Q).citations == before.citations
    again = make_bot().ingest([path], progress=False)
    assert again.unchanged == ["harbour.pdf"]


def test_pages_reach_a_reader_through_the_chroma_server(chroma_server: Any, embeddings: BundledEmbeddings,
                                                        tmp_path: Path) -> None:
    """Server mode: the page map travels in the shared manifest and the chunks' metadata."""
    (tmp_path / "harbour.pdf").write_bytes(make_paged_pdf(PAGES))
    collection = f"pages_{uuid.uuid4().hex[:12]}"
    writer = build(chroma_server.settings(tmp_path / "w", collection), embeddings=embeddings)
    writer.ingest([tmp_path / "harbour.pdf"], progress=False)
    reader = build(chroma_server.settings(tmp_path / "r", collection), embeddings=embeddings)
    (c,) = [c for c in reader.ask(FERRY_Q).citations if c.file == "harbour.pdf"]
    assert c.page == 2 and [p.page for p in reader.document_places(c.doc_id)] == [1, 2, 4]
    again = build(chroma_server.settings(tmp_path / "a", collection), embeddings=embeddings)
    assert again.ingest([tmp_path / "harbour.pdf"], progress=False).unchanged == ["harbour.pdf"]
