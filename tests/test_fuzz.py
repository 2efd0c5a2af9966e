"""Property and fuzz tests of loading and chunking: whatever bytes arrive, nothing crashes.

Every input either becomes a LoadedDoc whose chunks index its normalized text exactly, cover it
and carry stable, unique ids, or is refused with a `LoadError` that names the file and says why.
No other exception may escape: one would abort a whole ingest. (tests/test_loaders.py and
tests/test_chunking.py hold the example-based cases and the random-mixed-text chunking property;
this file adds hostile bytes, encodings, invisible characters, huge lines and broken PDF/Word.)
"""

from __future__ import annotations

import io
import random
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tiktoken
from doc_factory import make_docx, make_pdf
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chatbot.app import build
from chatbot.config import TOKEN_ENCODING, Settings
from chatbot.errors import LoadError
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.text.chunking import Chunker, offline_encoding
from chatbot.text.loaders import SUPPORTED_SUFFIXES, load_bytes, load_file, normalize
from chatbot.types import LoadedDoc

MAX_BYTES = 20_000_000
INVISIBLE = set("\u200b\u200c\u200d\u2060\ufeff\u00ad")
CONTROLS = {chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127]} | {"\r"}

FUZZ = hsettings(max_examples=100, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FEW = hsettings(FUZZ, max_examples=40)


@pytest.fixture(scope="module")
def encoding(tmp_path_factory: pytest.TempPathFactory) -> tiktoken.Encoding:
    return offline_encoding(TOKEN_ENCODING, tmp_path_factory.mktemp("tiktoken"))


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """Files written by hypothesis examples (tmp_path is per test, not per example)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        yield Path(d)


# -- the invariants ---------------------------------------------------------------------------


def load_or_refuse(path: Path) -> LoadedDoc | None:
    """load_file; a refusal must be a LoadError naming the file with a reason. Anything else fails."""
    try:
        doc = load_file(path, path.name, MAX_BYTES)
    except LoadError as exc:
        assert exc.path in (str(path), str(path.resolve())), exc.path
        assert exc.reason.strip(), "a refusal without a reason"
        assert str(exc) == f"skipped {exc.path}: {exc.reason}"
        return None
    assert_normalized_doc(doc, path)
    return doc


def assert_normalized_doc(doc: LoadedDoc, path: Path) -> None:
    text = doc.text
    assert text and text == text.strip()
    assert normalize(text) == text, "normalization is not idempotent"
    assert unicodedata.is_normalized("NFC", text)
    assert not (set(text) & INVISIBLE), f"invisible characters left: {set(text) & INVISIBLE}"
    assert not (set(text) & CONTROLS), f"control characters left: {set(text) & CONTROLS}"
    assert "\n\n\n" not in text
    assert doc.lang in ("en", "zh")
    assert doc.title and "\n" not in doc.title and len(doc.title) <= 200
    assert doc.source == str(path.resolve()) and doc.file == path.name


def assert_chunks_exact(doc: LoadedDoc, encoding: tiktoken.Encoding, max_tokens: int, overlap: int) -> None:
    """Offsets index the normalized text exactly, chunks cover it, fit, and ids are stable and unique."""
    text = doc.text
    chunks = Chunker(encoding, max_tokens, overlap).chunk(doc, "doc")
    assert chunks
    for seq, c in enumerate(chunks):
        assert c.text == text[c.start_char : c.end_char] and c.text == c.text.strip() and c.text
        assert c.seq == seq and c.file == doc.file and c.lang == doc.lang
        assert len(encoding.encode_ordinary(c.text)) <= max_tokens
    assert chunks[0].start_char == 0 and chunks[-1].end_char == len(text)
    for a, b in zip(chunks, chunks[1:]):
        assert a.start_char < b.start_char and a.end_char < b.end_char
        assert b.start_char <= a.end_char or not text[a.end_char : b.start_char].strip(), "text lost between chunks"
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids), "duplicate chunk ids in one file"
    assert [c.id for c in Chunker(encoding, max_tokens, overlap).chunk(doc, "doc")] == ids, "ids are not stable"


def write(workdir: Path, raw: bytes, suffix: str = ".txt") -> Path:
    path = workdir / f"input{suffix}"
    path.write_bytes(raw)
    return path


# -- random bytes -----------------------------------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=3000), suffix=st.sampled_from([".txt", ".md"]))
@example(raw=b"\x00" * 64, suffix=".txt")
@example(raw=b"\xff\xfe\x00", suffix=".txt")  # a UTF-16 BOM with an odd byte count
@example(raw=b"\xfe\xff\xd8\x00", suffix=".txt")  # a UTF-16 BOM then a lone surrogate
@example(raw=b"\xef\xbb\xbf", suffix=".md")  # only a BOM
@example(raw=b"\xef\xbb\xbf\xff\xfe", suffix=".txt")  # UTF-8 BOM, then bytes that are not UTF-8
def test_random_bytes_load_or_are_refused(workdir: Path, encoding: tiktoken.Encoding, raw: bytes, suffix: str) -> None:
    doc = load_or_refuse(write(workdir, raw, suffix))
    if doc is not None:
        assert_chunks_exact(doc, encoding, 32, 8)


# -- text in many encodings -----------------------------------------------------------------

_ALPHABET = st.one_of(
    st.sampled_from(list("Luoyang bearings 2023 grew 12%. 洛阳轴承产业增长。！？；,，…\"”")),
    st.sampled_from(["\n", "\r\n", "\r", "\t", " ", "\u00a0", "\u2028", "\u3000", "\x85"]),
    st.sampled_from(sorted(INVISIBLE)),  # zero-width characters, soft hyphen, BOM as a character
    st.sampled_from([chr(c) for c in [*range(0, 32), 127]]),  # control characters, NUL included
    st.sampled_from(["e\u0301", "\u0301", "ﬁ", "Å", "Å"]),  # combining marks, NFC/NFKC pairs
    st.sampled_from(["😀", "𠀀", "\U0010fffd", "\ue000"]),  # astral plane, private use
    st.characters(exclude_categories=["Cs"]),  # anything else a str can hold
)
_TEXTS = st.lists(_ALPHABET, max_size=400).map("".join)
_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "gb18030", "gbk", "latin-1", "cp1252",
              "shift_jis", "big5"]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@FUZZ
@given(text=_TEXTS, codec=st.sampled_from(_ENCODINGS))
@example(text="\ufeffLuoyang\u200b bearings\x00 grew.\r\n洛阳\u00ad轴承。", codec="utf-8")
@example(text="Only\u200b\u200d\u2060 invisible \x07\x1b end", codec="utf-16")
def test_text_in_any_encoding_loads_or_is_refused(
    workdir: Path, encoding: tiktoken.Encoding, text: str, codec: str
) -> None:
    raw = text.encode(codec, errors="replace")
    doc = load_or_refuse(write(workdir, raw))
    if doc is None:
        return
    assert_chunks_exact(doc, encoding, 32, 8)
    # where the bytes are unambiguous, what comes back is exactly the normalized text
    lossless = codec in ("utf-8", "utf-8-sig", "utf-16") or (
        codec in ("gb18030", "gbk") and not _is_utf8(raw)
    )
    if lossless and "\x00" not in text and raw == text.encode(codec, errors="ignore"):
        assert doc.text == normalize(text)


@FEW
@given(parts=st.lists(st.tuples(_TEXTS, st.sampled_from(_ENCODINGS)), min_size=2, max_size=4),
       bom=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]))
def test_mixed_encodings_in_one_file_load_or_are_refused(
    workdir: Path, encoding: tiktoken.Encoding, parts: list[tuple[str, str]], bom: bytes
) -> None:
    raw = bom + b"".join(t.encode(c, errors="replace") for t, c in parts)
    doc = load_or_refuse(write(workdir, raw))
    if doc is not None:
        assert_chunks_exact(doc, encoding, 48, 16)


@FEW
@given(text=st.lists(st.sampled_from(sorted(INVISIBLE | CONTROLS | {" ", "\n", "\t", "a", "洛"})),
                     min_size=1, max_size=300).map("".join))
def test_invisible_and_control_characters_never_reach_the_text(
    workdir: Path, encoding: tiktoken.Encoding, text: str
) -> None:
    doc = load_or_refuse(write(workdir, text.encode("utf-8")))
    if doc is None:
        return
    visible = [ch for ch in text if ch not in INVISIBLE and ch not in CONTROLS and not ch.isspace()]
    assert [ch for ch in doc.text if not ch.isspace()] == visible  # only the invisible went, all else stayed
    assert_chunks_exact(doc, encoding, 32, 0)


# -- huge single lines ------------------------------------------------------------------------


def _letters(n: int) -> str:
    rng = random.Random(1)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def _hanzi(n: int) -> str:
    rng = random.Random(2)
    return "".join(rng.choice("洛阳制造业老工业基地转型升级轴承产业集群") for _ in range(n))


@pytest.mark.parametrize(
    "text",
    [
        # each of these took 40+ s to chunk before chunking.Chunker._cut_long stopped counting the
        # whole remainder of a line for every part (quadratic); now about a second
        pytest.param(_letters(300_000), id="300k-letters-no-space"),
        pytest.param(_hanzi(150_000), id="150k-hanzi-no-punctuation"),
        pytest.param(" ".join(["bearing"] * 60_000), id="one-420k-char-english-line"),
        pytest.param("=" * 200_000, id="200k-one-repeated-symbol"),
        pytest.param("\u200b".join(_letters(40_000)), id="zero-width-between-every-letter"),
        pytest.param("0" * 50_000 + "\t" + "1," * 50_000, id="digits-and-commas"),
    ],
)
def test_huge_single_line_loads_and_chunks_exactly(tmp_path: Path, encoding: tiktoken.Encoding, text: str) -> None:
    doc = load_or_refuse(write(tmp_path, text.encode("utf-8")))
    assert doc is not None
    assert "\n" not in doc.text
    assert_chunks_exact(doc, encoding, 200, 40)


# -- malformed PDF and Word files ---------------------------------------------------------------

PDF = make_pdf(["Luoyang bearings grew 12 percent in 2023.", "Tractors (and more) left the plant."],
               title="Bearing report")
DOCX = make_docx(["Luoyang bearings grew 12 percent in 2023.", "洛阳轴承产业增长。"], title="Bearing report",
                 table=[["year", "growth"], ["2023", "12%"]])

_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=12)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6)),
    st.tuples(st.just("delete"), st.tuples(st.integers(0, 10**6), st.integers(1, 300))),
    st.tuples(st.just("insert"), st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=64))),
)


def mutate(raw: bytes, mutations: list[tuple[str, object]]) -> bytes:
    b = bytearray(raw)
    for kind, arg in mutations:
        if not b:
            break
        if kind == "flip":
            for pos, value in arg:  # type: ignore[attr-defined]
                b[pos % len(b)] = value
        elif kind == "truncate":
            del b[arg % len(b) :]  # type: ignore[operator]
        elif kind == "delete":
            pos, n = arg  # type: ignore[misc]
            del b[pos % len(b) : pos % len(b) + n]
        else:
            pos, data = arg  # type: ignore[misc]
            b[pos % len(b) : pos % len(b)] = data
    return bytes(b)


def mutate_docx_parts(raw: bytes, mutations: list[tuple[str, object]], which: int) -> bytes:
    """The zip stays valid; one XML part inside it is damaged."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    xml = [i.filename for i in src.infolist() if i.filename.endswith(".xml")]
    target = xml[which % len(xml)]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, mutate(data, mutations) if info.filename == target else data)
    return out.getvalue()


def test_pdf_and_docx_are_supported() -> None:
    """The premise of the fuzz tests below: these suffixes reach an extractor, not 'unsupported'."""
    assert ".pdf" in SUPPORTED_SUFFIXES and ".docx" in SUPPORTED_SUFFIXES
    assert "Luoyang bearings grew" in load_bytes(PDF, Path("/x/a.pdf"), "a.pdf").text
    assert "洛阳轴承" in load_bytes(DOCX, Path("/x/a.docx"), "a.docx").text


@pytest.mark.parametrize("mutations", [
    pytest.param([("delete", (PDF.index(b"<< /Size 7 /Root 1 "), 19))], id="damaged-trailer-AttributeError"),
    pytest.param([("delete", (65, 2)), ("flip", [(21, 0)])], id="self-reference-LimitReachedError"),
])
def test_pdf_that_breaks_pypdf_is_refused(tmp_path: Path, mutations: list[tuple[str, object]]) -> None:
    """Regression: pypdf's own AttributeError and LimitReachedError once escaped pdf_text and
    aborted the whole ingest (found by the fuzz test below; fixed in chatbot/text/extract.py)."""
    raw = mutate(PDF, mutations)
    assert raw != PDF
    assert load_or_refuse(write(tmp_path, raw, ".pdf")) is None


@FUZZ
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=3))
def test_malformed_pdf_loads_or_is_refused(workdir: Path, encoding: tiktoken.Encoding,
                                           mutations: list[tuple[str, object]]) -> None:
    doc = load_or_refuse(write(workdir, mutate(PDF, mutations), ".pdf"))
    if doc is not None:
        assert_chunks_exact(doc, encoding, 32, 8)


def edit_docx(raw: bytes, member: str, edit: Callable[[bytes], bytes]) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, edit(data) if info.filename == member else data)
    return out.getvalue()


@pytest.mark.parametrize(("member", "old", "new"), [
    pytest.param("word/document.xml", b"w:body>", b"w:bodx>", id="no-body-AttributeError"),
    pytest.param("[Content_Types].xml", b'<Override PartName="/docProps/core.xml"', b"<Ignored",
                 id="no-core-properties-AttributeError"),
])
def test_docx_that_breaks_python_docx_is_refused(tmp_path: Path, member: str, old: bytes, new: bytes) -> None:
    raw = edit_docx(DOCX, member, lambda data: data.replace(old, new))
    assert raw != DOCX
    assert load_or_refuse(write(tmp_path, raw, ".docx")) is None


@FUZZ
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=3), inside=st.booleans(), which=st.integers(0, 20))
def test_malformed_docx_loads_or_is_refused(workdir: Path, encoding: tiktoken.Encoding,
                                            mutations: list[tuple[str, object]], inside: bool, which: int) -> None:
    raw = mutate_docx_parts(DOCX, mutations, which) if inside else mutate(DOCX, mutations)
    doc = load_or_refuse(write(workdir, raw, ".docx"))
    if doc is not None:
        assert_chunks_exact(doc, encoding, 32, 8)


@pytest.mark.parametrize("suffix", [".pdf", ".docx"])
@pytest.mark.parametrize("raw", [b"", b"   \n", b"%PDF-1.7\n", b"PK\x03\x04" + b"\x00" * 100, b"plain text, wrong suffix"])
def test_not_really_pdf_or_docx_is_refused_with_a_reason(tmp_path: Path, suffix: str, raw: bytes) -> None:
    assert load_or_refuse(write(tmp_path, raw, suffix)) is None


# -- a whole folder of hostile files through the real ingest ---------------------------------


def hostile_folder(folder: Path) -> dict[str, bytes]:
    """About 30 files: good ones in several encodings and odd names, and every kind of bad one."""
    rng = random.Random(8)
    good = "Zorblat Works\n\nThe Zorblat reactor in Kaifeng produces {n} megawatts since 1987.\n"
    files: dict[str, bytes] = {
        "utf8.txt": good.format(n=1).encode(),
        "bom.md": b"\xef\xbb\xbf" + good.format(n=2).encode(),
        "utf16.txt": good.format(n=3).encode("utf-16"),
        "gbk.txt": "开封报告\n\n开封的佐布拉特反应堆自一九八七年起发电四十兆瓦。".encode("gbk"),
        "crlf-controls.txt": ("Line one\x07\r\n" + good.format(n=4)).replace("\n", "\r\n").encode(),
        "zero\u200bwidth name.txt": "Zero\u200bwidth\u200d text about Kaifeng.".encode(),
        "洛阳 报告 (final).md": "# 洛阳\n\n洛阳轴承产业增长。".encode(),
        "-leading-dash.txt": b"A file whose name starts with a dash.",
        "x" * 200 + ".txt": b"A file with a very long name.",
        "huge-line.txt": _letters(8_000).encode(),
        "report.pdf": PDF,
        "report.docx": DOCX,
        "page.html": b"<html><head><title>Page</title><script>alert(1)</script></head><body><p>Kaifeng.</p>",
        # refused
        "empty.txt": b"",
        "blank.md": b" \r\n\t\n",
        "invisible.txt": "\u200b\u200c\ufeff\u00ad".encode(),
        "random.txt": bytes(rng.randrange(256) for _ in range(3000)),
        "nul.txt": b"\x00" * 500,
        "controls.txt": bytes(range(1, 9)) * 200,
        "bad-bom.txt": b"\xff\xfe\x00",
        "not-utf8.md": b"plain start \xff\xfe\xff\x80 and an end",
        "broken.pdf": PDF[:200],
        "broken.docx": DOCX[: len(DOCX) // 2],
        "fake.docx": b"plain text with a docx name",
        "image.png": b"\x89PNG\r\n\x1a\n",
        "noext": b"text without a suffix",
        "sheet.csv": b"a,b\n1,2\n",
    }
    for name, raw in files.items():
        (folder / name).write_bytes(raw)
    return files


def test_hostile_folder_every_file_is_indexed_or_named_with_a_reason(
    tmp_path: Path, settings_factory: Callable[..., Settings], embeddings: BundledEmbeddings
) -> None:
    from test_ingest import assert_consistent

    folder = tmp_path / "hostile"
    folder.mkdir()
    files = hostile_folder(folder)
    bot = build(settings_factory(), embeddings=embeddings)
    live: list[tuple[str, str]] = []

    report = bot.ingest([folder], progress=False, on_skip=lambda p, r: live.append((p, r)))

    skipped = {Path(p).name: r for p, r in report.skipped}
    assert live == report.skipped
    assert sorted([*report.added, *skipped]) == sorted(files), "a file was neither indexed nor named"
    assert all(r.strip() for r in skipped.values())
    for path, _ in report.skipped:
        assert Path(path).is_absolute() and Path(path).parent == folder.resolve()
    assert {"utf8.txt", "bom.md", "utf16.txt", "gbk.txt", "report.pdf", "report.docx", "page.html",
            "洛阳 报告 (final).md", "x" * 200 + ".txt"} <= set(report.added)
    assert {"empty.txt", "random.txt", "nul.txt", "broken.docx", "fake.docx", "noext"} <= set(skipped)
    assert "unsupported" in skipped["image.png"] and "unsupported" in skipped["noext"]
    assert_consistent(bot)
    # the same folder again: nothing is embedded twice, the same files are refused for the same reasons
    again = bot.ingest([folder], progress=False)
    assert again.chunks_added == 0 and sorted(again.unchanged) == sorted(report.added)
    assert {Path(p).name: r for p, r in again.skipped} == skipped
    assert_consistent(bot)
