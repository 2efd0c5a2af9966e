"""The pure citation functions: number, defuse, validate and renumber [n] markers."""

from __future__ import annotations

import pytest

from chatbot.answering.citations import (
    Evidence,
    check,
    defuse_markers,
    keep_valid_markers,
    markers,
    number_context,
    renumber,
    to_citation,
)
from chatbot.types import Chunk, Citation

DOC = (
    "Luoyang bearing industry will keep going strong.\n\n"
    "The report names Luoyang in many places. Output grew 12% year-on-year.\n"
    "洛阳放大制造业优势。老工业基地华丽转型。"
)
TEXTS = {"doc-a": DOC}


def chunk(start: int, end: int, *, cid: str = "c1", doc_id: str = "doc-a", file: str = "a.txt") -> Chunk:
    return Chunk(id=cid, doc_id=doc_id, file=file, title="Bearings", text=DOC[start:end],
                 start_char=start, end_char=end, lang="en", seq=0)


def span_of(sentence: str) -> tuple[int, int]:
    start = DOC.index(sentence)
    return start, start + len(sentence)


def cite(n: int, sentence: str, c: Chunk | None = None) -> Citation:
    c = c or chunk(0, len(DOC))
    return to_citation(n, Evidence(c, *span_of(sentence)))


# -- Evidence and to_citation -----------------------------------------------------------------


def test_evidence_quote_uses_absolute_offsets_into_a_chunk_that_starts_late() -> None:
    c = chunk(50, len(DOC))  # a chunk that starts mid-document
    start, end = span_of("Output grew 12% year-on-year.")
    assert Evidence(c, start, end).quote == "Output grew 12% year-on-year."


def test_to_citation_maps_chunk_and_span() -> None:
    c = chunk(50, len(DOC), cid="chunk-7", file="reports/a.txt")
    start, end = span_of("洛阳放大制造业优势。")
    cit = to_citation(2, Evidence(c, start, end))
    assert cit == Citation(n=2, file="reports/a.txt", title="Bearings", chunk_id="chunk-7", doc_id="doc-a",
                           start_char=start, end_char=end, quote="洛阳放大制造业优势。")
    assert DOC[cit.start_char : cit.end_char] == cit.quote
    assert set(cit.as_dict()) >= {"n", "file", "title", "quote", "start_char", "end_char"}


# -- markers, defuse ----------------------------------------------------------------------------


def test_markers_in_order_with_repeats() -> None:
    assert markers("a [2] b [10] c [2] d [x] e [1234]") == [2, 10, 2]


def test_defuse_markers_makes_quoted_footnotes_inert() -> None:
    quoted = "As reported [11], output grew [3]."
    defused = defuse_markers(quoted)
    assert defused == "As reported ［11］, output grew ［3］."
    assert markers(defused) == []


def test_defuse_leaves_other_brackets_alone() -> None:
    assert defuse_markers("see [a] and [1a] and (1)") == "see [a] and [1a] and (1)"


# -- keep_valid_markers -------------------------------------------------------------------------


def test_keep_valid_markers_drops_unknown_numbers_and_tidies_spaces() -> None:
    text, dropped = keep_valid_markers("Output grew [1] [4]. Luoyang leads [2] [9] ,and more [1].", {1, 2})
    assert text == "Output grew [1]. Luoyang leads [2],and more [1]."
    assert dropped == [4, 9]


def test_keep_valid_markers_chinese_punctuation() -> None:
    text, dropped = keep_valid_markers("洛阳放大制造业优势 [3]。转型 [1]", {1})
    assert text == "洛阳放大制造业优势。转型 [1]"
    assert dropped == [3]


def test_keep_valid_markers_nothing_to_drop() -> None:
    assert keep_valid_markers("Fine [1].", {1}) == ("Fine [1].", [])


# -- renumber -----------------------------------------------------------------------------------


def test_renumber_in_order_of_first_mention() -> None:
    c1 = cite(1, "Luoyang bearing industry will keep going strong.")
    c2 = cite(2, "The report names Luoyang in many places.")
    c3 = cite(3, "Output grew 12% year-on-year.")
    text, cits = renumber("Growth [3]. Named [1]. Again growth [3].", [c1, c2, c3])
    assert text == "Growth [1]. Named [2]. Again growth [1]."
    assert [(c.n, c.quote) for c in cits] == [(1, c3.quote), (2, c1.quote)]  # c2 never mentioned: dropped
    assert cits[0].start_char == c3.start_char and cits[0].chunk_id == c3.chunk_id


def test_renumber_removes_markers_without_citation() -> None:
    c1 = cite(1, "Output grew 12% year-on-year.")
    text, cits = renumber("Grew [1] a lot [7].", [c1])
    assert text == "Grew [1] a lot."
    assert [c.n for c in cits] == [1]
    assert check(text, cits, TEXTS.__getitem__) == []


def test_renumber_with_no_markers_drops_every_citation() -> None:
    assert renumber("No markers here.", [cite(1, "Output grew 12% year-on-year.")]) == ("No markers here.", ())


def test_renumber_keeps_a_literal_zero_marker_out() -> None:
    """Unknown markers become [0] internally; a real [0] in the text must not survive either."""
    c1 = cite(1, "Output grew 12% year-on-year.")
    text, cits = renumber("Grew [1] see [0].", [c1])
    assert markers(text) == [1]
    assert check(text, cits, TEXTS.__getitem__) == []


# -- check --------------------------------------------------------------------------------------


def test_check_accepts_verbatim_quotes() -> None:
    cits = [cite(1, "Output grew 12% year-on-year."), cite(2, "老工业基地华丽转型。")]
    assert check("Output grew [1]. 转型 [2].", cits, TEXTS.__getitem__) == []


def test_check_reports_marker_without_citation() -> None:
    problems = check("Grew [1] and [5].", [cite(1, "Output grew 12% year-on-year.")], TEXTS.__getitem__)
    assert problems == ["marker [5] has no citation"]


def test_check_reports_quote_that_is_not_the_source_text() -> None:
    good = cite(1, "Output grew 12% year-on-year.")
    shifted = Citation(**{**good.__dict__, "start_char": good.start_char + 1, "end_char": good.end_char + 1})
    edited = Citation(**{**good.__dict__, "quote": "Output grew 15% year-on-year."})
    for bad in (shifted, edited):
        problems = check("Grew [1].", [bad], TEXTS.__getitem__)
        assert len(problems) == 1 and "quote is not the text of a.txt" in problems[0]


def test_check_reports_empty_quote() -> None:
    empty = Citation(n=1, file="a.txt", title="t", chunk_id="c", doc_id="doc-a", start_char=3, end_char=3, quote="")
    assert check("x [1]", [empty], TEXTS.__getitem__) == ["citation [1] has an empty quote"]


def test_check_ignores_defused_markers_in_quotes() -> None:
    answer = defuse_markers("As reported [11].") + " [1]"
    assert check(answer, [cite(1, "Output grew 12% year-on-year.")], TEXTS.__getitem__) == []


# -- number_context -----------------------------------------------------------------------------


def test_number_context_numbers_and_fences_each_chunk() -> None:
    a = chunk(0, 48, cid="a")
    b = Chunk(id="b", doc_id="doc-b", file="b.md", title="Other", text="Body with <<<fence>>> inside.",
              start_char=0, end_char=29, lang="en", seq=0)
    ctx = number_context([a, b])
    assert ctx == (
        "[1] source: a.txt — Bearings\n<<<\nLuoyang bearing industry will keep going strong.\n>>>"
        "\n\n"
        "[2] source: b.md — Other\n<<<\nBody with ‹‹‹fence››› inside.\n>>>"
    )
    assert markers(ctx) == [1, 2]


def test_number_context_empty() -> None:
    assert number_context([]) == ""


@pytest.mark.parametrize("n", [1, 2, 3])
def test_number_context_block_count(n: int) -> None:
    ctx = number_context([chunk(0, 48, cid=f"c{i}") for i in range(n)])
    assert ctx.count("<<<\n") == n and ctx.count("\n>>>") == n
