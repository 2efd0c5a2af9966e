"""Text to token-sized chunks: exact offsets, token limits, sentence ends, coverage, stable ids."""

from __future__ import annotations

import hashlib
import random
import re
import socket
from collections.abc import Sequence
from pathlib import Path

import pytest
import tiktoken
import tiktoken.registry
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chatbot.config import TOKEN_ENCODING
from chatbot.text.chunking import Chunker, offline_encoding, split_sentences
from chatbot.text.loaders import load_file, normalize
from chatbot.types import Chunk, LoadedDoc

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
SEED_NAMES = sorted(p.name for p in (Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))

# What may end a chunk: a sentence ender (closing quotes after it allowed), or a line end.
_ENDERS = "。！？；!?….;"
_CLOSERS = "”’」』）)\"'"
# An independent, deliberately loose notion of a sentence boundary, to find the sentence a cut fell in.
_BOUNDARY = re.compile(r"[。！？；!?…]+[”’」』）)\"']*|[.;][”’\"')]*(?=\s)|\n")


@pytest.fixture(scope="module")
def encoding(tmp_path_factory: pytest.TempPathFactory) -> tiktoken.Encoding:
    return offline_encoding(TOKEN_ENCODING, tmp_path_factory.mktemp("tiktoken"))


def make_doc(text: str, source: str = "/corpus/doc.txt", lang: str = "en") -> LoadedDoc:
    return LoadedDoc(source=source, file=Path(source).name, title="t", text=text, lang=lang, sha256="0" * 64)


def n_tokens(encoding: tiktoken.Encoding, text: str) -> int:
    return len(encoding.encode_ordinary(text))


def assert_exact_and_covering(text: str, chunks: Sequence[Chunk]) -> None:
    """Each chunk is the text at its offsets; together they cover the text (overlap allowed)."""
    assert chunks, "no chunks"
    for seq, c in enumerate(chunks):
        assert c.text == text[c.start_char : c.end_char]
        assert c.text and c.text == c.text.strip()
        assert c.seq == seq
    assert chunks[0].start_char == 0
    assert chunks[-1].end_char == len(text)
    for a, b in zip(chunks, chunks[1:]):
        assert a.start_char < b.start_char and a.end_char <= b.end_char, (a, b)
        gap = text[a.end_char : b.start_char]
        assert b.start_char <= a.end_char or not gap.strip(), f"text lost between chunks: {gap!r}"


def assert_each_chunk_adds_text(chunks: Sequence[Chunk]) -> None:
    """No chunk lies inside its predecessor (it would be a redundant, duplicate search hit)."""
    for a, b in zip(chunks, chunks[1:]):
        assert b.end_char > a.end_char, (
            f"chunk {b.seq} {b.start_char}:{b.end_char} lies inside chunk {a.seq} {a.start_char}:{a.end_char}"
        )


def ends_at_sentence_end(text: str, end: int) -> bool:
    if end == len(text) or text[end] == "\n":
        return True
    tail = text[:end].rstrip(_CLOSERS)
    return bool(tail) and tail[-1] in _ENDERS


def enclosing_sentence(text: str, pos: int) -> str:
    start = 0
    for m in _BOUNDARY.finditer(text, 0, pos):
        start = m.end()
    m = _BOUNDARY.search(text, pos)
    return text[start : m.end() if m else len(text)]


# -- the seeds at the default settings -------------------------------------------------------


@pytest.fixture(scope="module", params=SEED_NAMES)
def seed_doc(request: pytest.FixtureRequest, seeds_dir: Path) -> LoadedDoc:
    return load_file(seeds_dir / request.param, request.param, 20_000_000)


@pytest.fixture(scope="module")
def chunker(encoding: tiktoken.Encoding) -> Chunker:
    return Chunker(encoding, max_tokens=200, overlap_tokens=40)  # the Settings defaults


def test_seed_chunks_are_exact_and_cover_the_text(seed_doc: LoadedDoc, chunker: Chunker) -> None:
    assert_exact_and_covering(seed_doc.text, chunker.chunk(seed_doc, "doc"))


def test_seed_chunks_within_token_limit(seed_doc: LoadedDoc, chunker: Chunker, encoding: tiktoken.Encoding) -> None:
    for c in chunker.chunk(seed_doc, "doc"):
        assert n_tokens(encoding, c.text) <= 200, c.text


def test_seed_chunks_end_at_sentence_ends(seed_doc: LoadedDoc, chunker: Chunker, encoding: tiktoken.Encoding) -> None:
    text = seed_doc.text
    for c in chunker.chunk(seed_doc, "doc"):
        if not ends_at_sentence_end(text, c.end_char):
            # allowed only where one sentence alone is longer than a chunk and had to be cut
            sentence = enclosing_sentence(text, c.end_char)
            assert n_tokens(encoding, sentence) > 200, f"chunk ends mid-sentence: ...{c.text[-40:]!r}"


def test_seed_chunks_carry_file_title_and_language(seed_doc: LoadedDoc, chunker: Chunker) -> None:
    chunks = chunker.chunk(seed_doc, "doc-1")
    assert {(c.doc_id, c.file, c.title, c.lang) for c in chunks} == {
        ("doc-1", seed_doc.file, seed_doc.title, seed_doc.lang)
    }
    assert len({c.id for c in chunks}) == len(chunks)


def test_overlap_is_whole_sentences_within_the_overlap_budget(encoding: tiktoken.Encoding) -> None:
    sentences = [f"Sentence number {i} talks about the bearing industry." for i in range(40)]
    text = " ".join(sentences)
    chunks = Chunker(encoding, 64, 24).chunk(make_doc(text), "doc")
    assert_exact_and_covering(text, chunks)
    starts = {text.index(s) for s in sentences}
    for a, b in zip(chunks, chunks[1:]):
        assert b.start_char in starts  # overlap starts at a sentence start
        shared = text[b.start_char : a.end_char]
        assert shared, "consecutive chunks share no sentence"
        assert n_tokens(encoding, shared) <= 24


_REDUNDANT_CHUNK_BUG = (
    "BUG chunking.Chunker.chunk: after a chunk it steps back over sentences worth <= "
    "overlap_tokens; when the next sentence does not fit beside them, the new chunk holds only "
    "that overlap, a span inside the previous chunk (a duplicate search hit). Seed 002 at the "
    "default 200/40: chunk 1 = 85:100 lies inside chunk 0 = 0:100"
)


def test_short_sentence_before_a_long_one_makes_no_redundant_chunk(encoding: tiktoken.Encoding) -> None:
    """A sentence kept as overlap must not become a chunk of its own inside the previous chunk."""
    long_1 = "The bearing industry in Luoyang grew " + "and grew " * 60 + "this year."  # 131 tokens
    short = "Exports rose sharply in the first half of the year."  # 11 tokens: fits the 40-token overlap
    long_2 = "The city plans new clusters for " + "bearings, machines, " * 46 + "and tractors."  # 194 tokens
    text = " ".join([long_1, short, long_2])
    chunks = Chunker(encoding, 200, 40).chunk(make_doc(text), "doc")
    assert_exact_and_covering(text, chunks)
    assert n_tokens(encoding, short + " " + long_2) > 200  # the premise: they cannot share a chunk
    assert_each_chunk_adds_text(chunks)


def test_seed_002_has_no_redundant_chunk(seeds_dir: Path, chunker: Chunker) -> None:
    name = "002_9fdb3933422ab15d.txt"
    assert_each_chunk_adds_text(chunker.chunk(load_file(seeds_dir / name, name, 20_000_000), "doc"))


def test_seed_001_within_a_smaller_token_limit(seeds_dir: Path, encoding: tiktoken.Encoding) -> None:
    """Regression: the limit holds for the chunk text, newlines between sentences included."""
    name = "001_012aab4d7e564c44.txt"
    doc = load_file(seeds_dir / name, name, 20_000_000)
    for c in Chunker(encoding, max_tokens=86, overlap_tokens=0).chunk(doc, "doc"):
        assert n_tokens(encoding, c.text) <= 86, c.text


# -- ids --------------------------------------------------------------------------------------


def test_ids_are_stable_across_runs(seed_doc: LoadedDoc, encoding: tiktoken.Encoding) -> None:
    first = [c.id for c in Chunker(encoding, 200, 40).chunk(seed_doc, "doc")]
    second = [c.id for c in Chunker(encoding, 200, 40).chunk(seed_doc, "doc")]
    assert first == second


def test_ids_differ_when_the_path_differs(seed_doc: LoadedDoc, chunker: Chunker) -> None:
    moved = make_doc(seed_doc.text, source="/elsewhere/" + seed_doc.file, lang=seed_doc.lang)
    here = chunker.chunk(seed_doc, "doc")
    there = chunker.chunk(moved, "doc")
    assert [c.text for c in here] == [c.text for c in there]
    assert not {c.id for c in here} & {c.id for c in there}


def test_repeated_text_gets_distinct_ids(encoding: tiktoken.Encoding) -> None:
    text = "\n".join(["The same boilerplate sentence repeats in this file."] * 30)
    chunks = Chunker(encoding, 32, 0).chunk(make_doc(text), "doc")
    assert len({c.text for c in chunks}) < len(chunks)  # the premise: identical chunk texts
    assert len({c.id for c in chunks}) == len(chunks)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        pytest.param("It was made by WhatsApp Inc. of Mountain View, which Facebook bought.", 1, id="inc-of"),
        pytest.param("Martin Luther King Jr. was born in 1929.", 1, id="jr-was"),
        pytest.param("It opened on Jan. 5, 2020. Then it closed.", 2, id="jan-5"),
        pytest.param("He bought shares of Apple Inc. The price rose.", 2, id="inc-at-the-end"),
        pytest.param("It was cheap. and it sold out.", 2, id="lower-case-after-a-word"),
    ],
)
def test_an_abbreviation_before_a_lower_case_word_does_not_end_a_sentence(text: str, sentences: int) -> None:
    """A quote must not open inside a sentence ("of Mountain View, California, which was acquired
    by Facebook"): "Inc." before "of" abbreviates; before a capital it may still end one."""
    spans = split_sentences(text)
    assert len(spans) == sentences, [text[sp.start : sp.end] for sp in spans]


# -- very long sentences ----------------------------------------------------------------------


def _chinese_run(n: int) -> str:
    rng = random.Random(11)
    return "".join(rng.choice("洛阳制造业老工业基地转型升级高质量发展轴承产业集群") for _ in range(n))


def _english_run(n: int) -> str:
    rng = random.Random(12)
    return " ".join(rng.choice(["bearing", "industry", "Luoyang", "cluster", "growth", "the", "of"]) for _ in range(n))


@pytest.mark.parametrize(
    ("text", "max_tokens"),
    [
        pytest.param(_chinese_run(20_000), 200, id="20k-chinese-chars"),
        pytest.param(_english_run(5_000), 200, id="5k-english-words"),
        pytest.param(_chinese_run(3_000), 32, id="chinese-min-chunk"),
    ],
)
def test_single_long_sentence_is_cut_within_the_limit(
    encoding: tiktoken.Encoding, text: str, max_tokens: int
) -> None:
    chunks = Chunker(encoding, max_tokens, 40).chunk(make_doc(text), "doc")
    assert len(chunks) > 1
    assert_exact_and_covering(text, chunks)
    assert max(n_tokens(encoding, c.text) for c in chunks) <= max_tokens


def test_english_cut_prefers_word_boundaries(encoding: tiktoken.Encoding) -> None:
    text = _english_run(5_000)
    for c in Chunker(encoding, 200, 0).chunk(make_doc(text), "doc")[:-1]:
        assert text[c.end_char] == " ", f"cut inside a word: ...{text[c.end_char - 10 : c.end_char + 10]!r}"


# -- offline encoding -------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name lookup and connection fails; tiktoken's in-process cache is emptied."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})


def test_network_is_really_cut(no_network: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sanity check of the fixture: with an empty cache, plain tiktoken must fail."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))
    with pytest.raises(Exception):  # noqa: B017 - requests' ConnectionError, whatever its class
        tiktoken.get_encoding("cl100k_base")


def test_offline_encoding_without_network(no_network: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    enc = offline_encoding("cl100k_base", tmp_path / "not-used")
    assert enc.encode("hello world") == [15339, 1917]
    assert (cache / hashlib.sha1(CL100K_URL.encode()).hexdigest()).is_file()
    assert not (tmp_path / "not-used").exists()


def test_offline_encoding_seeds_the_given_cache_dir(
    no_network: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # set then delete, so that monkeypatch restores the variable offline_encoding sets
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "placeholder")
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR")
    enc = offline_encoding("cl100k_base", tmp_path / "cache")
    assert enc.encode("hello world") == [15339, 1917]
    assert (tmp_path / "cache" / hashlib.sha1(CL100K_URL.encode()).hexdigest()).is_file()


# -- property: random mixed text --------------------------------------------------------------

_PIECES = st.one_of(
    st.sampled_from(["Luoyang", "bearing", "industry", "the", "growth", "2022", "3.5", "Mr."]),
    st.text(alphabet="洛阳制造业轴承集群发展中国", min_size=1, max_size=12),
    st.sampled_from(["。", "！", "？", ".", "!", "?", ",", "，", " ", " ", " ", "\n", "\n\n"]),
)
# at least 40 pieces, so that most examples make several chunks
_TEXTS = st.lists(_PIECES, min_size=40, max_size=400).map(lambda parts: normalize("".join(parts))).filter(bool)
_PROPERTY = hsettings(
    max_examples=50, deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@_PROPERTY
@given(text=_TEXTS, max_tokens=st.sampled_from([32, 48, 64]), overlap=st.sampled_from([0, 8, 16]))
def test_random_text_offsets_exact_and_within_limit(
    encoding: tiktoken.Encoding, text: str, max_tokens: int, overlap: int
) -> None:
    chunks = Chunker(encoding, max_tokens, overlap).chunk(make_doc(text), "doc")
    assert_exact_and_covering(text, chunks)
    for c in chunks:
        assert n_tokens(encoding, c.text) <= max_tokens, c.text
