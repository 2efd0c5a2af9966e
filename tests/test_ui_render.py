"""The chat's markup: escaped text, clickable markers, exact highlights, the Markdown export."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.web import render as r
from chatbot.web.ui import parse_auth

DOC = "Title\n\nIntro <script>window.pwned = 1</script> text. Paris is the capital [1] of France & more.\nEnd."


def record(**over: Any) -> dict[str, Any]:
    start = DOC.index("Paris")
    end = DOC.index(" & more")
    base = {
        "question": "What is the <b>capital</b>?", "answer": "Paris is the capital [1] of France <img src=x onerror=alert(1)> [1]",
        "refused": False, "mode": "extractive", "latency_ms": 12.0, "notice": "",
        "citations": [{"n": 1, "file": "f<x>.txt", "title": "T", "chunk_id": "c", "doc_id": "d",
                       "start_char": start, "end_char": end, "quote": DOC[start:end]}],
        "related": [],
    }
    return {**base, **over}


def test_answer_markup_escapes_text_and_links_known_markers() -> None:
    html = r.answer_html(record(answer="A <img src=x onerror=alert(1)> claim [1] and a stray [7]."), turn=3)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count('class="cite-ref cref-3-c-1"') == 1  # the in-text marker
    assert "cref-3-c-1" in html.split("msg-sources")[1]  # and the chip under the answer
    assert "[7]" in html and "cref-3-c-7" not in html
    assert "\n" not in html, "a blank line would end the HTML block and let Markdown in"
    assert "extractive mode" in html


def test_streamed_pieces_join_to_the_whole_answer() -> None:
    rec = record()
    pieces = r.answer_pieces(rec, 0)
    assert len(pieces) > 5
    whole = r.answer_html(rec, 0)
    assert whole.startswith(r.answer_html(rec, 0, "".join(pieces), done=False)[: -len("</div>")])


def test_refusal_looks_like_a_refusal() -> None:
    rel = record()["citations"]
    html = r.answer_html(record(answer="The documents do not answer this question.", refused=True, citations=[],
                                related=rel), turn=0)
    assert 'class="msg-a refusal"' in html and "Not answered from the documents" in html
    panel = r.sources_html(record(refused=True, citations=[], related=rel), 0)
    assert 'class="cite related"' in panel and "do NOT support" in panel and 'class="cite source"' not in panel


def test_document_highlight_is_exactly_the_cited_span() -> None:
    c = record()["citations"][0]
    html = r.document_html(c, DOC, "0:c:1", "c")
    marked = re.search(r'<mark class="focus source-mark" data-for="0:c:1">(.*?)</mark>', html, re.S)
    assert marked and marked.group(1) == "Paris is the capital [1] of France"
    assert "<script>" not in html and "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html
    assert "f&lt;x&gt;.txt" in html


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=80), st.data())
def test_highlight_unescapes_to_the_document(text: str, data: st.DataObject) -> None:
    import html as h

    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    c = {"n": 1, "file": "f", "title": "t", "start_char": start, "end_char": end, "quote": text[start:end]}
    out = r.document_html(c, text, "0:c:1", "c")
    body = out.split('aria-label="Text of the cited document">', 1)[1].rsplit("</div>", 1)[0]
    mark = re.search(r"<mark[^>]*>(.*?)</mark>", body, re.S)
    assert mark and h.unescape(mark.group(1)) == text[start:end]
    assert h.unescape(re.sub(r"</?mark[^>]*>", "", body)) == text
    assert "<" not in re.sub(r"</?mark[^>]*>", "", body)


def test_find_cited_and_bad_refs() -> None:
    turns = [record()]
    assert r.find_cited(turns, "0:c:1")["file"] == "f<x>.txt"  # type: ignore[index]
    for bad in ("", "0:c:2", "1:c:1", "x:y", "0:r:1", "-9:c:1:2"):
        assert r.find_cited(turns, bad) is None


def test_export_markdown_has_questions_answers_and_citations() -> None:
    md = r.export_markdown([record(), {"question": "broken?", "error": "No index found"},
                            record(question="Peru?", answer="The documents do not answer this question.",
                                   refused=True, citations=[], related=record()["citations"])])
    assert "## 1. What is the <b>capital</b>?" in md
    assert "- [1] T (`f<x>.txt`, chars" in md and "> Paris is the capital [1] of France" in md
    assert "## 2. broken?" in md and "Error: No index found" in md
    assert "**Not answered from the documents.**" in md and "Related passages (not support)" in md


def test_parse_auth() -> None:
    assert parse_auth(None) is None
    assert parse_auth("alice:s3:cret") == ("alice", "s3:cret")
    import pytest

    from chatbot.errors import ConfigError

    for bad in ("alice", "alice:", ":pw"):
        with pytest.raises(ConfigError, match="user:password"):
            parse_auth(bad)


def test_status_text_shows_names_literally() -> None:
    out = r.md_text("we<img src=x onerror=alert(1)> [x](javascript:1) *a* file_1.txt")
    assert "<" not in out and "\\[x\\]\\(javascript:1\\)" in out and "\\*a\\*" in out and "file\\_1\\.txt" in out


def test_chinese_answers_stream_character_by_character() -> None:
    rec = record(answer="洛阳市举行高端装备颁奖仪式，中信重工获奖 [1]。", question="洛阳？")
    pieces = r.answer_pieces(rec, 0)
    assert len(pieces) > 15 and "".join(pieces).startswith("洛阳市")


def test_citations_show_the_title_with_the_file_on_hover_and_are_links() -> None:
    html = r.answer_html(record(), turn=0)
    chip = re.search(r'<a class="cite-ref cite-chip cref-0-c-1" href="#source-0-1" title="T \(f&lt;x&gt;.txt\)">\[1\] T</a>',
                     html)
    assert chip, html
    assert 'href="#source-0-1"' in html.split("msg-sources")[0]  # the in-text [1] is a real link too
    panel = r.sources_html(record(), 0)
    assert '<span title="f&lt;x&gt;.txt">T</span>' in panel


def test_copy_text_is_the_plain_export_of_one_answer() -> None:
    rec = record()
    text = r.turn_markdown(rec)
    assert text.startswith("Q: What is the <b>capital</b>?") and "Paris is the capital [1]" in text
    assert "- [1] T (`f<x>.txt`, chars" in text and "<a " not in text
    html = r.answer_html(rec, 0)
    hidden = re.search(r'<span class="copy-text">(.*?)</span>', html)
    import html as h

    assert hidden and h.unescape(hidden.group(1).replace("<br>", "\n")) == text


def test_a_quote_in_the_other_language_is_labelled_and_glossed() -> None:
    zh = "洛阳市举行高端装备颁奖仪式。"
    c = {**record()["citations"][0], "quote": zh, "start_char": 0, "end_char": len(zh)}
    panel = r.sources_html(record(question="Which ceremony was held in Luoyang?", citations=[c]), 0)
    assert '<span class="lang-label" lang="en">Chinese</span>' in panel
    assert 'class="gloss" data-gloss="洛阳市: Luoyang' in panel
    same = r.sources_html(record(question="洛阳举行了什么仪式？", citations=[c]), 0)
    assert "lang-label" not in same and "gloss" not in same
    doc = r.document_html(c, zh + " rest", "0:c:1", "c", "Which ceremony was held in Luoyang?")
    assert "Chinese" in doc and 'data-gloss="高端: high-end"' in doc and "docview-close" in doc
