"""Retrieval: the second stage's features, the other language's reserved slot, the passages
handed over for a refusal, the weight of a follow-up's own words, and the order of the list an
answer shows. Unit tests on small synthetic passages; end to end on the seeded index."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_settings
from passages import chunk

from chatbot.app import Chatbot, build
from chatbot.retrieval.question import Question
from chatbot.retrieval.rank import FEATURES, Candidate, features
from chatbot.retrieval.retrieve import CARRIED_WEIGHT, CROSS_SLOT, evidence_first, keep_other_language
from chatbot.types import Evidence, ScoredChunk

# a Chinese question whose answer only an English seed (003, Pingdingshan's high-tech zone) holds
CROSS_QUESTION = "平顶山高新区现有高新技术企业多少家？"


@pytest.fixture(scope="module")
def seeded_bot(seeded_data_dir: Path) -> Chatbot:
    return build(make_settings(seeded_data_dir))


def scored(name: str, lang: str, dense: float, score: float) -> ScoredChunk:
    text = f"text of {name}." if lang == "en" else f"{name}的文字。"
    return ScoredChunk(chunk(name, text, lang), score=score, dense=dense)


# -- the second stage's features --------------------------------------------------------------------

def test_a_figure_beside_the_question_words_counts_as_near_them() -> None:
    """The answer usually sits beside the question's words: answer_near is higher for a passage
    whose figure follows them than for one where it stands a sentence away."""
    q = Question.parse("How many piers does the Kingston ferry terminal have?")
    near = chunk("near", "The Kingston ferry terminal has 12 piers and serves boats from both banks of the river.")
    apart = chunk("apart", "The Kingston ferry terminal piers were designed by a local studio. The studio employs 12 "
                           "architects who also worked on several museums, parks and a new library downtown.")
    x = features(q, [Candidate(near, 0.5), Candidate(apart, 0.5)], {t: 1.0 for t in q.terms})
    col = FEATURES.index("answer_near")
    assert x[0, col] > x[1, col]


def test_a_passage_about_other_years_than_the_question_is_marked() -> None:
    """year_conflict: "the 2018 winner" is about another year than a question about 2019 (a
    publication stamp naming 2019 does not make it about 2019); year_missing: no year at all."""
    q = Question.parse("Who won the Golden Oar prize in 2019?")
    other = chunk("other", "Nov 4, 2019 ... Leading the field is 2018 Golden Oar winner Lena Park.")
    right = chunk("right", "Golden Oar winners: 2019 - Ana Ruiz, 2018 - Lena Park.")
    silent = chunk("silent", "The Golden Oar goes to the best rower of the season.")
    x = features(q, [Candidate(other, 0.5), Candidate(right, 0.5), Candidate(silent, 0.5)], {t: 1.0 for t in q.terms})
    conflict, missing = FEATURES.index("year_conflict"), FEATURES.index("year_missing")
    assert x[:, conflict].tolist() == [1.0, 0.0, 0.0]
    assert x[:, missing].tolist() == [0.0, 0.0, 1.0]
    undated = features(Question.parse("Who won the Golden Oar prize?"), [Candidate(other, 0.5)], {})
    assert undated[0, conflict] == undated[0, missing] == 0.0  # a question about no year marks nothing


def test_a_passage_that_says_the_quoted_phrase_verbatim_is_marked() -> None:
    q = Question.parse('What two parts make up the "twin engine" plan of the harbour?')
    said = chunk("said", "The plan rests on a new container pier and a rail link, the “twin engine” of growth.")
    apart = chunk("apart", "The harbour plan has an engine room; each twin berth has a crane.")
    x = features(q, [Candidate(said, 0.5), Candidate(apart, 0.5)], {t: 1.0 for t in q.terms})
    assert x[:, FEATURES.index("quoted")].tolist() == [1.0, 0.0]


# -- the other language's slot ----------------------------------------------------------------------

def test_the_rankers_best_other_language_passage_takes_the_reserved_slot() -> None:
    q = Question.parse("How many ferries does the harbour run?")
    ranked = [scored(f"en{i}", "en", dense=0.30 - i * 0.01, score=10 - i) for i in range(8)]
    # the ranker's choice is less similar than the shown ones; another passage in its language is
    # more similar, so the other language is on topic, and the ranker says which passage to show
    ranked += [scored("zh-ranked", "zh", dense=0.20, score=1), scored("zh-similar", "zh", dense=0.40, score=0.5)]
    top = keep_other_language(q, ranked, 6)
    assert len(top) == 6
    assert top[CROSS_SLOT].chunk.file == "zh-ranked.txt"  # by the ranker's order, not by similarity alone
    assert [sc.chunk.file for sc in top[:CROSS_SLOT]] == [f"en{i}.txt" for i in range(CROSS_SLOT)]


def test_no_slot_when_the_other_language_is_already_shown_or_less_similar() -> None:
    q = Question.parse("How many ferries does the harbour run?")
    mixed = [scored("en0", "en", 0.3, 9), scored("zh0", "zh", 0.2, 8)] + [
        scored(f"en{i}", "en", 0.3, 7 - i) for i in range(1, 8)]
    assert keep_other_language(q, mixed, 6) == mixed[:6]
    weak = [scored(f"en{i}", "en", 0.5, 9 - i) for i in range(8)] + [scored("zh0", "zh", 0.1, 0)]
    assert keep_other_language(q, weak, 6) == weak[:6]


def test_a_chinese_question_reaches_the_english_article_that_answers_it(seeded_bot: Chatbot) -> None:
    """Lexical features only match the question's language; the slot brings the English seed in."""
    found = seeded_bot.retriever.retrieve(CROSS_QUESTION)
    assert any(sc.chunk.lang == "en" for sc in found.ranked[:5]), [sc.chunk.file for sc in found.ranked]


# -- a follow-up ------------------------------------------------------------------------------------

def test_a_follow_ups_own_words_weigh_more_than_those_carried_from_earlier(seeded_bot: Chatbot) -> None:
    retriever = seeded_bot.retriever
    typed = "What growth rate did the company reach?"
    standalone = f"{typed} Xinqianglian business revenue"  # as condensed with the earlier question's words
    plain = retriever.retrieve(standalone)
    follow = retriever.retrieve(standalone, asked=typed)
    assert follow.idf["growth"] == plain.idf["growth"]
    assert follow.idf["xinqianglian"] == pytest.approx(plain.idf["xinqianglian"] * CARRIED_WEIGHT)
    assert retriever.retrieve(standalone, asked=standalone).idf == plain.idf  # not a follow-up


# -- the order an answer shows ----------------------------------------------------------------------

def test_the_passages_an_answer_quotes_go_first_in_the_order_quoted() -> None:
    ranked = [scored(f"p{i}", "en", 0.3, 9 - i) for i in range(5)]
    quotes = [Evidence(ranked[3].chunk, 0, 4), Evidence(ranked[3].chunk, 5, 9), Evidence(ranked[1].chunk, 0, 4)]
    order = [sc.chunk.file for sc in evidence_first(ranked, quotes)]
    assert order == ["p3.txt", "p1.txt", "p0.txt", "p2.txt", "p4.txt"]
    assert evidence_first(ranked, []) == ranked  # a refusal keeps the ranker's order


def test_an_answer_lists_the_passage_it_quotes_first(seeded_bot: Chatbot) -> None:
    """The ranker's lexical features prefer the Chinese articles; the English one that answers is
    listed first once the answer quotes it, and nothing the ranker found is dropped."""
    ranker_order = [sc.chunk.id for sc in seeded_bot.retriever.retrieve(CROSS_QUESTION).ranked]
    answer = seeded_bot.ask(CROSS_QUESTION)
    assert not answer.refused and answer.citations[0].file.startswith("003_")
    assert answer.retrieved[0].chunk.id == answer.citations[0].chunk_id != ranker_order[0]
    assert set(ranker_order) <= {sc.chunk.id for sc in answer.retrieved}


# -- a question scoped to some documents (the web chat's scope) -----------------------------------

def test_a_scoped_question_reads_only_the_chosen_documents_and_no_scope_reads_all(seeded_bot: Chatbot) -> None:
    question = "Which enterprises in Luoyang make bearings and equipment?"
    docs = seeded_bot.documents()
    chosen = [d.doc_id for d in docs if "bearing" in d.title.lower()]
    whole = seeded_bot.retriever.retrieve(question)
    again = seeded_bot.retriever.retrieve(question, doc_ids=None)  # no scope: as before
    assert [(sc.chunk.id, sc.score) for sc in whole.ranked] == [(sc.chunk.id, sc.score) for sc in again.ranked]
    assert len({sc.chunk.doc_id for sc in whole.ranked}) > 1
    scoped = seeded_bot.retriever.retrieve(question, doc_ids=chosen)
    assert scoped.ranked and {sc.chunk.doc_id for sc in scoped.ranked} <= set(chosen)
    answer = seeded_bot.ask(question, doc_ids=chosen)
    assert {c.doc_id for c in [*answer.citations, *answer.related]} <= set(chosen)
    assert seeded_bot.retriever.retrieve(question, doc_ids=["no-such-document"]).ranked == []
