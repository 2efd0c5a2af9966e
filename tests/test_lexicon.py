"""The Chinese-English lexicon (CC-CEDICT) that lets question words meet the other language."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.answering.extractive import ExtractiveAnswerer
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.retrieval.question import Question
from chatbot.retrieval.rank import FEATURES, Candidate, features
from chatbot.text import lexicon
from chatbot.text.terms import tokenize
from chatbot.types import Chunk, ScoredChunk


def _words(text: str) -> frozenset[str]:
    terms = tokenize(text)
    return lexicon.en_words(terms + [p for t in terms if "-" in t for p in t.split("-")])


def _chunk(name: str, text: str, lang: str) -> Chunk:
    return Chunk(id=name, doc_id=name, file=f"{name}.txt", title=name, text=text,
                 start_char=0, end_char=len(text), lang=lang, seq=0)


def test_chinese_terms_meet_their_english_glosses_plurals_included() -> None:
    text = "Luoyang's bearing makers raised revenue; small and medium enterprises grew."
    words = _words(text)
    for term in ("轴承", "洛阳", "营业收入", "中小企业", "企业"):
        assert lexicon.meets(term, words, text), term
    assert not lexicon.meets("奖牌", words, text)  # medal: not in the passage


def test_english_word_forms_meet_the_gloss_of_another_form() -> None:
    text = "The industrial output of manufacturing firms grew."
    words = _words(text)
    assert lexicon.meets("工业", words, text)  # gloss "industry"
    assert lexicon.meets("制造", words, text)  # gloss "to manufacture"
    assert lexicon.norm("industries") == lexicon.norm("industrial") == lexicon.norm("industry")
    assert not lexicon.meets("奖牌", words, text)


def test_english_terms_meet_the_chinese_words_glossed_by_them() -> None:
    text = "洛阳市长徐衣显为获奖企业颁发奖牌。"
    assert lexicon.meets("mayor", frozenset(), text)
    assert lexicon.meets("medals", frozenset(), text)
    assert not lexicon.meets("bearing", frozenset(), text)


def test_numbers_are_the_same_in_both_languages_and_compounds_meet_by_their_parts() -> None:
    text = "It built the industry's first internet platform in 2021."
    words = _words(text)
    assert lexicon.meets("2021", words, text) and not lexicon.meets("2022", words, text)
    assert lexicon.glosses("工业互联网") and lexicon.meets("工业互联网", words, text)  # not a headword: 工业 + 互联网


def test_the_passage_in_the_other_language_that_says_it_ranks_above_one_that_does_not() -> None:
    q = Question.parse("平顶山高新区有多少家高新技术企业？")
    says = _chunk("says", "At present, Pingdingshan High-tech Zone has 53 high-tech enterprises.", "en")
    other = _chunk("other", "The weather in the city was mild and many tourists came in spring.", "en")
    x = features(q, [Candidate(says, 0.3), Candidate(other, 0.3)], {t: 1.0 for t in q.terms})
    col = FEATURES.index("cross_coverage")
    assert x[0, col] > 0.5 > x[1, col]


def test_the_answerer_covers_a_sentence_in_the_other_language_through_the_lexicon(
        embeddings: BundledEmbeddings) -> None:
    """Its coverage, not only its embedding similarity, counts as evidence (and for support)."""
    q = Question.parse("平顶山高新区有多少家高新技术企业？")
    ranked = [
        ScoredChunk(_chunk("zh", "平顶山今年春天游客很多，天气温和。", "zh"), 2.0),
        ScoredChunk(_chunk("en", "Tourism grew in spring. At present, Pingdingshan High-tech Zone has 53 high-tech "
                                 "enterprises.", "en"), 1.0),
    ]
    answerer = ExtractiveAnswerer(embeddings)
    sents = answerer.sentences(ranked)
    answerer.score(q, sents, {}, embeddings.embed_array([q.text])[0])
    by_text = {s.evidence.quote: s for s in sents}
    says = by_text["At present, Pingdingshan High-tech Zone has 53 high-tech enterprises."]
    assert says.coverage >= answerer.min_cross_coverage > by_text["Tourism grew in spring."].coverage
    draft = answerer.answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert "53" in draft.text and draft.evidence[0].chunk.file == "en.txt"


def test_a_missing_or_broken_dictionary_degrades_to_no_matches_not_a_crash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "cedict.txt.gz"
    broken.write_bytes(b"not gzip at all")
    for source in (tmp_path / "missing.gz", broken):
        monkeypatch.setattr(lexicon, "_raw", None)
        monkeypatch.setattr(lexicon, "_en_zh", None)
        monkeypatch.setattr(lexicon, "_source", lambda source=source: source)
        lexicon.glosses.cache_clear()
        lexicon.renderings.cache_clear()
        with caplog.at_level("WARNING", logger="chatbot.text.lexicon"):
            assert not lexicon.meets("轴承", frozenset({"bearing"}), "bearing")
            assert not lexicon.meets("mayor", frozenset(), "洛阳市长")
        assert "lexicon could not be read" in caplog.text and "make setup" in caplog.text
        caplog.clear()
    lexicon.glosses.cache_clear()
    lexicon.renderings.cache_clear()
