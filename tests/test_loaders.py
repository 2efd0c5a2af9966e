"""Files to normalized text: decoding, refusals with reasons, normalization, title, language."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chatbot.errors import LoadError
from chatbot.text.loaders import SUPPORTED_SUFFIXES, detect_lang, load_file, normalize

MB = 1_000_000
ZH = "洛阳是国家重点建设的老工业基地。近年来，制造业转型升级连续四年受到激励！"
EN = "Luoyang is an old industrial base.\nIts bearing industry keeps going strong."


def load(path: Path, max_bytes: int = 20 * MB):
    return load_file(path, path.name, max_bytes)


def write(tmp_path: Path, raw: bytes, name: str = "doc.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


# -- decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(ZH.encode("utf-8"), ZH, id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + ZH.encode("utf-8"), ZH, id="utf-8-bom"),
        pytest.param(ZH.encode("gbk"), ZH, id="gbk"),
        # 𠀀 and € exist in GB18030 but not in GBK
        pytest.param(("𠀀字与€符号。" + ZH).encode("gb18030"), "𠀀字与€符号。" + ZH, id="gb18030"),
        pytest.param(b"\xff\xfe" + ZH.encode("utf-16-le"), ZH, id="utf-16-le-bom-zh"),
        pytest.param(b"\xfe\xff" + ZH.encode("utf-16-be"), ZH, id="utf-16-be-bom-zh"),
        pytest.param(b"\xff\xfe" + EN.encode("utf-16-le"), EN, id="utf-16-le-bom-en"),
        pytest.param(b"\xfe\xff" + EN.encode("utf-16-be"), EN, id="utf-16-be-bom-en"),
        # a non-ASCII letter makes the bytes invalid UTF-8, so the UTF-16 guess is reached
        pytest.param("Café in Luoyang.\nSecond line.".encode("utf-16-le"), "Café in Luoyang.\nSecond line.",
                     id="utf-16-le-no-bom-latin1"),
    ],
)
def test_decodes_supported_encodings(tmp_path: Path, raw: bytes, expected: str) -> None:
    doc = load(write(tmp_path, raw))
    assert doc.text == expected
    assert "\ufeff" not in doc.text


def test_decodes_utf16_le_without_bom_ascii_text(tmp_path: Path) -> None:
    doc = load(write(tmp_path, EN.encode("utf-16-le")))
    assert doc.text == EN


def test_sha256_is_of_the_raw_bytes(tmp_path: Path) -> None:
    import hashlib

    raw = ZH.encode("gbk")
    assert load(write(tmp_path, raw)).sha256 == hashlib.sha256(raw).hexdigest()


# -- refusals ---------------------------------------------------------------------------------


def _reason(path: Path, max_bytes: int = 20 * MB) -> str:
    with pytest.raises(LoadError) as info:
        load(path, max_bytes)
    assert info.value.path == str(path.resolve()) or info.value.path == str(path)
    assert str(info.value) == f"skipped {info.value.path}: {info.value.reason}"
    return info.value.reason


def test_empty_file_is_refused(tmp_path: Path) -> None:
    assert "empty" in _reason(write(tmp_path, b""))


def test_whitespace_only_file_is_refused(tmp_path: Path) -> None:
    assert "empty" in _reason(write(tmp_path, b"  \n\t \r\n   \n"))


def test_invisible_characters_only_file_is_refused(tmp_path: Path) -> None:
    assert "no text" in _reason(write(tmp_path, "\u200b\u200d\n\u00ad".encode()))


def test_binary_file_is_refused(tmp_path: Path) -> None:
    rng = random.Random(7)
    raw = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(4000)) + b"\x00" * 16
    assert "binary" in _reason(write(tmp_path, raw, "image.txt"))


def test_mostly_control_characters_is_refused_as_binary(tmp_path: Path) -> None:
    raw = bytes(range(1, 32)) * 50  # valid UTF-8, but not text
    assert "binary" in _reason(write(tmp_path, raw))


def test_undecodable_bytes_are_refused_with_the_fix(tmp_path: Path) -> None:
    reason = _reason(write(tmp_path, b"plain start \xff\xfe\xff\x80 and an end"))
    assert "cannot decode" in reason
    assert "UTF-8" in reason  # says what to save it as


def test_oversized_file_is_refused_with_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path, b"Luoyang bearings. " * 90_000)  # 1.62 MB
    reason = _reason(path, max_bytes=1 * MB)
    assert "too large" in reason
    assert "1.6 MB" in reason
    assert "1.0 MB limit" in reason
    assert "CHATBOT_MAX_FILE_MB" in reason


def test_file_at_the_limit_is_accepted(tmp_path: Path) -> None:
    raw = b"Luoyang bearings. " * 100
    assert load(write(tmp_path, raw), max_bytes=len(raw)).text.startswith("Luoyang")


@pytest.mark.parametrize("name", ["slides.pptx", "sheet.csv", "README"])
def test_unsupported_suffix_is_refused(tmp_path: Path, name: str) -> None:
    reason = _reason(write(tmp_path, b"Perfectly good text.", name))
    assert "unsupported type" in reason
    assert (Path(name).suffix or "(none)") in reason
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in reason


@pytest.mark.parametrize("name", ["notes.md", "NOTES.MD", "notes.markdown", "notes.TXT"])
def test_supported_suffixes_in_any_case(tmp_path: Path, name: str) -> None:
    assert load(write(tmp_path, b"# Notes\n\nSome text.", name)).title == "Notes"


# -- normalization --------------------------------------------------------------------------


def test_crlf_and_cr_become_lf(tmp_path: Path) -> None:
    doc = load(write(tmp_path, b"line one\r\nline two\rline three\n"))
    assert doc.text == "line one\nline two\nline three"


def test_zero_width_and_soft_hyphen_removed(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "Luo\u200byang in\u200c\u200d\u2060dus\u00adtry \ufeffbase".encode()))
    assert doc.text == "Luoyang industry base"


def test_control_characters_removed_but_tabs_kept(tmp_path: Path) -> None:
    doc = load(write(tmp_path, b"A bell\x07 rings here\x1b, then\ta tab, and a delete\x7f at the end."))
    assert doc.text == "A bell rings here, then\ta tab, and a delete at the end."


def test_text_is_nfc(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "Cafe\u0301 and re\u0301sume\u0301".encode()))
    assert doc.text == "Caf\u00e9 and r\u00e9sum\u00e9"


def test_trailing_spaces_and_blank_runs_collapse() -> None:
    assert normalize("  a  \n\n\n\n b\t \n") == "a\n\n b"


# -- title and language -----------------------------------------------------------------------


def test_title_from_markdown_heading(tmp_path: Path) -> None:
    doc = load(write(tmp_path, b"\n\n## Bearing Industry Report \n\nBody text.", "report.md"))
    assert doc.title == "Bearing Industry Report"
    assert doc.file == "report.md"


def test_title_is_first_line_when_no_heading(tmp_path: Path) -> None:
    assert load(write(tmp_path, ZH.encode())).title == ZH


@pytest.mark.parametrize(
    ("name", "lang"),
    [
        ("000_9e53f5965d956f18.txt", "en"),
        ("001_012aab4d7e564c44.txt", "zh"),
        ("002_9fdb3933422ab15d.txt", "en"),
        ("003_66e51e5d6c67a0d0.txt", "en"),
        ("004_e82685cb10df071e.txt", "en"),
    ],
)
def test_seed_language(seeds_dir: Path, name: str, lang: str) -> None:
    doc = load(seeds_dir / name)
    assert doc.lang == lang
    assert doc.title and "\n" not in doc.title


def test_detect_lang_mixed_text() -> None:
    assert detect_lang("洛阳市 Luoyang") == "zh"  # one character weighs about three letters
    assert detect_lang("The Luoyang Bearing Research Institute (洛阳) reported growth") == "en"
    assert detect_lang("12345 ...") == "en"


# -- PDF, Word and HTML ---------------------------------------------------------------------


def test_pdf_text_and_title_are_extracted(tmp_path: Path) -> None:
    from doc_factory import make_pdf

    doc = load(write(tmp_path, make_pdf(["Luoyang bearings (LYC) lead.", "Exports grew 12%."], title="Bearings"), "b.pdf"))
    assert doc.title == "Bearings"
    assert doc.text == "Luoyang bearings (LYC) lead.\nExports grew 12%."


def test_pdf_without_title_uses_first_line(tmp_path: Path) -> None:
    from doc_factory import make_pdf

    assert load(write(tmp_path, make_pdf(["First line", "second"]), "x.PDF")).title == "First line"


@pytest.mark.parametrize(("raw", "reason"), [
    (b"%PDF-1.7\n", "cannot read this PDF"),
    (b"not a pdf at all", "cannot read this PDF"),
])
def test_broken_pdf_is_refused_with_the_fix(tmp_path: Path, raw: bytes, reason: str) -> None:
    assert reason in _reason(write(tmp_path, raw, "broken.pdf"))


def test_pdf_without_text_says_it_needs_ocr(tmp_path: Path) -> None:
    from doc_factory import make_pdf

    assert "OCR" in _reason(write(tmp_path, make_pdf([]), "scan.pdf"))


def test_docx_paragraphs_tables_and_title(tmp_path: Path) -> None:
    from doc_factory import make_docx

    raw = make_docx(["Henan report", ZH], title="河南报告", table=[["city", "output"], ["Luoyang", "12%"]])
    doc = load(write(tmp_path, raw, "r.docx"))
    assert doc.title == "河南报告"
    assert doc.text == f"Henan report\n\n{ZH}\n\ncity | output\n\nLuoyang | 12%"
    assert doc.lang == "zh"


def test_broken_docx_is_refused(tmp_path: Path) -> None:
    assert "cannot read this Word file" in _reason(write(tmp_path, b"PK\x03\x04 nonsense", "bad.docx"))


def test_html_keeps_text_drops_scripts_and_styles(tmp_path: Path) -> None:
    raw = (b"<!doctype html><html><head><title>Luoyang &amp; bearings</title>"
           b"<script>window.pwned = 1</script><style>p { color: red }</style></head>"
           b"<body><h1>Bearings</h1><p>LYC makes <b>bearings</b> &lt;script&gt; tags are text.</p>"
           b"<ul><li>one</li><li>two</li></ul><script>alert(1)</script></body></html>")
    doc = load(write(tmp_path, raw, "page.html"))
    assert doc.title == "Luoyang & bearings"
    assert doc.text == "Bearings\n\nLYC makes bearings <script> tags are text.\n\none\n\ntwo"
    assert "pwned" not in doc.text and "alert" not in doc.text and "color" not in doc.text


def test_html_in_gbk_and_unclosed_head(tmp_path: Path) -> None:
    raw = f"<html><head><title>标题<body><p>{ZH}</p>".encode("gbk")
    doc = load(write(tmp_path, raw, "zh.htm"))
    assert doc.text == ZH
