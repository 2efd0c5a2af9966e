"""Retrieval's other-language slot and the extractive answerer's choice of evidence."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot.answering.citations import Evidence, check, markers
from chatbot.answering.extractive import (
    REFUSAL,
    Draft,
    ExtractiveAnswerer,
    Sentence,
    _is_menu,
    _other_end,
    _shows,
    _split_glued,
    _stem,
    asks_name,
    clauses,
    given_names,
    shorten,
)
from chatbot.app import Chatbot, build
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.retrieval.question import Question, relation_terms, stated_relation
from chatbot.retrieval.rank import FEATURES, Candidate, features
from chatbot.retrieval.retrieve import CROSS_SLOT, evidence_first, keep_other_language
from chatbot.retrieval.spans import (
    answer_spans,
    figures_of_other_years,
    measure_match,
    number_forms,
    office_of_another_body,
    other_variant,
    places,
    states_relation,
    wanted_match,
)
from chatbot.text.chunking import Span
from chatbot.text.terms import tokenize, tokenize_spans
from chatbot.types import Chunk, ScoredChunk


@pytest.fixture(scope="module")
def seeded_bot(seeded_data_dir: Path) -> Chatbot:
    return build(make_settings(seeded_data_dir))


def _chunk(name: str, text: str, lang: str, seq: int = 0) -> Chunk:
    return Chunk(id=f"{name}-{seq}", doc_id=name, file=f"{name}.txt", title=name, text=text,
                 start_char=0, end_char=len(text), lang=lang, seq=seq)


def _scored(name: str, lang: str, dense: float, score: float) -> ScoredChunk:
    return ScoredChunk(_chunk(name, f"text of {name}.", lang), score=score, dense=dense)


# -- the other-language slot -----------------------------------------------------------------

def test_the_rankers_best_other_language_passage_takes_the_reserved_slot() -> None:
    q = Question.parse("How many smart factories has Luoyang built?")
    ranked = [_scored(f"en{i}", "en", dense=0.30 - i * 0.01, score=10 - i) for i in range(8)]
    # the ranker's choice is less similar than the shown ones; another passage in its language is
    # more similar, so the other language is on topic, and the ranker says which passage to show
    ranked += [_scored("zh-ranked", "zh", dense=0.20, score=1), _scored("zh-similar", "zh", dense=0.40, score=0.5)]
    top = keep_other_language(q, ranked, 6)
    assert len(top) == 6
    assert top[CROSS_SLOT].chunk.file == "zh-ranked.txt"  # by the ranker's order, not by similarity alone
    assert [sc.chunk.file for sc in top[:CROSS_SLOT]] == ["en0.txt", "en1.txt", "en2.txt", "en3.txt"][:CROSS_SLOT]


def test_no_slot_when_the_other_language_is_already_shown_or_less_similar() -> None:
    q = Question.parse("How many smart factories has Luoyang built?")
    mixed = [_scored("en0", "en", 0.3, 9), _scored("zh0", "zh", 0.2, 8)] + [
        _scored(f"en{i}", "en", 0.3, 7 - i) for i in range(1, 8)]
    assert keep_other_language(q, mixed, 6) == mixed[:6]
    weak = [_scored(f"en{i}", "en", 0.5, 9 - i) for i in range(8)] + [_scored("zh0", "zh", 0.1, 0)]
    assert keep_other_language(q, weak, 6) == weak[:6]


def test_a_chinese_question_reaches_the_english_article_that_answers_it(seeded_data_dir: Path) -> None:
    """Only 003 (English) is about Pingdingshan's high-tech zone; lexical features alone never see it."""
    found = build(make_settings(seeded_data_dir)).retriever.retrieve("平顶山高新区目前有多少家高新技术企业？")
    files = [sc.chunk.file for sc in found.ranked[:5]]
    assert any(sc.chunk.lang == "en" for sc in found.ranked[:5]), files


def test_the_passages_an_answer_quotes_go_first_in_the_order_quoted() -> None:
    ranked = [_scored(f"p{i}", "en", 0.3, 9 - i) for i in range(5)]
    further = [_scored("zh0", "zh", 0.2, 1)]
    quotes = [Evidence(ranked[3].chunk, 0, 4), Evidence(further[0].chunk, 0, 4), Evidence(ranked[3].chunk, 5, 9),
              Evidence(ranked[1].chunk, 0, 4)]
    order = [sc.chunk.file for sc in evidence_first(ranked, further, quotes)]
    assert order == ["p3.txt", "zh0.txt", "p1.txt", "p0.txt", "p2.txt", "p4.txt"]
    assert evidence_first(ranked, further, []) == ranked  # a refusal keeps the ranker's order


def test_an_answer_lists_the_passage_it_quotes_first(seeded_bot: Chatbot) -> None:
    """The ranker's lexical features prefer the Chinese articles; the English one that answers is
    listed first once the answer quotes it."""
    question = "平顶山高新区目前有多少家高新技术企业？"
    ranker_order = [sc.chunk.id for sc in seeded_bot.retriever.retrieve(question).ranked]
    answer = seeded_bot.ask(question)
    assert not answer.refused and answer.citations[0].file.startswith("003_")
    assert answer.retrieved[0].chunk.id == answer.citations[0].chunk_id != ranker_order[0]
    assert set(ranker_order) <= {sc.chunk.id for sc in answer.retrieved}


# -- question types and answer-like spans -----------------------------------------------------

@pytest.mark.parametrize("question, wants", [
    ("What is the release date of Cyberpunk 2077?", "date"),
    ("When did the plant open?", "date"),
    ("What was Tesla's revenue in Q2 2020?", "number"),
    ("2023一季度中国GDP增长率", "number"),
    ("德余高速乌江特大桥主桥多长", "number"),
    ("Who leads the alliance?", "who"),
    ("What is the name of the new battery?", ""),
    ("三体电视剧古筝行动在哪一集？", "number"),
    ("第几届大会在哪里举行？", "number"),
    ("大会在哪里举行？", "where"),
])
def test_questions_about_dates_and_quantities_ask_for_them(question: str, wants: str) -> None:
    assert Question.parse(question).wants == wants


def test_spans_carry_their_offsets_and_agree_with_tokenize() -> None:
    for text in ["北京地铁19号线共设10座车站，全长22.4千米。", "Dominic Thiem's win at the 2020 U.S. Open, 6–4."]:
        spans = tokenize_spans(text)
        assert [t for _, t in spans] == tokenize(text)
        assert all(text[p : p + len(t)].lower() == t for p, t in spans if t.isalnum() and t.isascii())
        assert all(text[p : p + len(t)] == t for p, t in spans if not t.isascii())


def test_answer_spans_skip_the_publication_stamp_and_keep_a_full_date_whole() -> None:
    q = Question.parse("When was Splatoon 2 released?")
    text = "Apr 26, 2022 ... Splatoon 2 was released on July 21, 2017, a year after June 2016."
    assert [text[a:b] for a, b in answer_spans(q, text)] == ["July 21, 2017", "June 2016"]


def test_nationality_adjectives_and_clause_openers_are_not_names() -> None:
    q = Question.parse("Who won the prize?")
    text = "It went to the Austrian author Peter Handke. Having scored twice, Jordan thanked an American coach."
    assert [text[a:b] for a, b in answer_spans(q, text)] == ["Peter Handke", "Jordan"]


def test_answer_spans_leave_out_each_questions_own_words_though_the_spans_of_a_text_are_cached() -> None:
    text = "Steve Jobs founded Apple with Steve Wozniak in 1976."
    assert [text[a:b] for a, b in answer_spans(Question.parse("Who founded Apple?"), text)] == [
        "Steve Jobs", "Steve Wozniak"]
    assert [text[a:b] for a, b in answer_spans(Question.parse("Who did Steve Jobs found Apple with?"), text)] == [
        "Steve Wozniak"]
    assert [text[a:b] for a, b in answer_spans(Question.parse("Who founded Apple?"), text)] == [
        "Steve Jobs", "Steve Wozniak"]  # the second question's words did not stick to the text


def test_a_month_alone_is_a_date_as_5yue_is_but_the_verb_may_is_not() -> None:
    q = Question.parse("When was the list announced?")
    text = "At the beginning of May the list was announced; more may follow in early June."
    assert [text[a:b] for a, b in answer_spans(q, text)] == ["beginning of May", "in early June"]
    assert answer_spans(q, "Prices may rise, and they may fall.") == []


def test_answer_spans_for_who_are_names_not_sentence_openers_or_the_question_words() -> None:
    q = Question.parse("Who won the US Open in 2020?")
    text = "With Novak Djokovic's exit on Tuesday, Dominic Thiem won the US Open. It was his first."
    assert [text[a:b] for a, b in answer_spans(q, text)] == ["Novak Djokovic", "Dominic Thiem"]


def test_a_figure_beside_the_question_words_outranks_one_far_from_them() -> None:
    """answer_near: the answer usually sits beside the question's words."""
    q = Question.parse("How many stations does Line 19 have?")
    near = _chunk("near", "Line 19 has 10 stations and runs north to south through the city centre.", "en")
    apart = _chunk("apart", "Line 19 stations were designed by a local studio. The studio employs 10 architects "
                   "who also worked on several museums, parks and a new library downtown.", "en")
    idf = {t: 1.0 for t in q.terms}
    x = features(q, [Candidate(near, 0.5), Candidate(apart, 0.5)], idf)
    col = FEATURES.index("answer_near")
    assert x[0, col] > x[1, col]


def test_a_passage_about_other_years_than_the_question_is_marked() -> None:
    """year_missing / year_conflict: "the 2018 winner" does not answer a question about 2019."""
    q = Question.parse("Who is the Maxwell Award winner in 2019?")
    other = _chunk("other", "Oct 29, 2019 ... Headlining the list is 2018 Maxwell Award winner Tua Tagovailoa.", "en")
    right = _chunk("right", "Maxwell Award recipients: 2019 - Joe Burrow, 2018 - Tua Tagovailoa.", "en")
    silent = _chunk("silent", "The Maxwell Award goes to the best college football player.", "en")
    x = features(q, [Candidate(other, 0.5), Candidate(right, 0.5), Candidate(silent, 0.5)], {t: 1.0 for t in q.terms})
    conflict, missing = FEATURES.index("year_conflict"), FEATURES.index("year_missing")
    # the stamp "Oct 29, 2019" says when the snippet was published, not what it is about
    assert x[:, conflict].tolist() == [1.0, 0.0, 0.0]
    assert x[:, missing].tolist() == [0.0, 0.0, 1.0]
    undated = features(Question.parse("Who won the Maxwell Award?"), [Candidate(other, 0.5)], {})
    assert undated[0, conflict] == undated[0, missing] == 0.0


def test_a_passage_that_says_the_quoted_phrase_verbatim_is_marked() -> None:
    q = Question.parse('What two elements make up the "dual system" of the alliances?')
    said = _chunk("said", "The plan rests on a long industrial chain and an alliance chairman “dual system”.", "en")
    apart = _chunk("apart", "The alliances form a system; each has a dual role in the city.", "en")
    x = features(q, [Candidate(said, 0.5), Candidate(apart, 0.5)], {t: 1.0 for t in q.terms})
    assert x[:, FEATURES.index("quoted")].tolist() == [1.0, 0.0]


def test_a_year_or_a_day_is_not_the_figure_a_how_much_question_asks_for() -> None:
    q = Question.parse("知网垄断被罚了多少钱")
    text = "2014年以来，知网滥用支配地位。12月26日，市场监管总局对知网罚款8760万元。"
    assert [text[a:b] for a, b in answer_spans(q, text)] == ["8760"]
    en = Question.parse("How much did Tesla earn in 2020?")
    said = "In 2019, Tesla earned $6 billion."
    assert [said[a:b] for a, b in answer_spans(en, said)] == ["6"]
    years = Question.parse("How many years did it take to build?")
    assert answer_spans(years, "It opened in 2015 after 12 years.") == [(13, 17), (24, 26)]
    # nor is the day of a date or a clock time, and a figure ends before its comma
    call = "Tesla (TSLA -3.27%) Q2 2020 Earnings Call Jul 22, 2020, 6:00 p.m.; revenue was 6,036, up 22,"
    assert [call[a:b] for a, b in answer_spans(en, call)] == ["3.27%", "6,036", "22"]
    quake = "地震发生在凌晨4时17分，震级7.8级。"
    assert [quake[a:b] for a, b in answer_spans(Question.parse("地震的震级是多少"), quake)] == ["7.8"]
    # and "第73届" says which session, unless the question asks which one
    prize = "国际足联在第73届大会上宣布，总奖金为1.1亿美元。"
    assert [prize[a:b] for a, b in answer_spans(Question.parse("女足世界杯总奖金是多少"), prize)] == ["1.1"]
    assert [prize[a:b] for a, b in answer_spans(Question.parse("宣布是在第几届大会上"), prize)] == ["73", "1.1"]


def test_a_number_with_a_leading_zero_is_a_code_not_a_quantity() -> None:
    q = Question.parse("北京地铁19号线一期总共有多少个车站")
    text = "19号线一期工程施工03合同段附近的车站；19号线一期共设10座车站，最高时速0.5公里。"
    assert [text[a:b] for a, b in answer_spans(q, text)] == ["10", "0.5"]


def test_a_number_in_the_question_is_found_however_the_passage_writes_it() -> None:
    assert number_forms("17").search("The seventeenth season of Grey's Anatomy premiered in November.")
    assert number_forms("21").search("the twenty-first edition") and number_forms("12").search("第十二届")
    assert number_forms("1,500").search("1500 jobs")
    assert not number_forms("2").search("two of them")  # a small count alone says too little
    assert not number_forms("17").search("It premiered on 7 November.")


# -- the extractive answerer -------------------------------------------------------------------

def test_a_chinese_question_term_counts_inside_a_longer_word_of_the_passage(embeddings: BundledEmbeddings) -> None:
    """jieba keeps "罚款" whole in the passage while the question's "被罚了" gives "罚"."""
    q = Question.parse("知网垄断被罚了多少钱")
    answerer = ExtractiveAnswerer(embeddings)
    sents = answerer.sentences([ScoredChunk(_chunk("a", "市场监管总局对知网处以罚款8760万元。", "zh"), 1.0)])
    answerer.score(q, sents, {t: 1.0 for t in q.terms}, None)
    assert "罚" in q.terms and "罚" not in sents[0].terms
    assert sents[0].coverage == pytest.approx(sum(t in ("知网", "罚") for t in q.terms) / len(q.terms))


@pytest.mark.parametrize("question, text, counted", [
    ("深圳大学2022年录取了多少名本科生？",
     "深圳大学2022年录取的本科生来自31个省、自治区，覆盖面广。深大迎来新生，其中包括7436名本科生。", "7436"),
    ("How many stations does Line 19 have?", "Line 19 stations were built over 4 years by the city. Line 19 has 10 stations.", "10"),
], ids=["zh", "en"])
def test_how_many_marks_the_figure_that_counts_what_was_asked(
        embeddings: BundledEmbeddings, question: str, text: str, counted: str) -> None:
    q = Question.parse(question)
    answerer = ExtractiveAnswerer(embeddings)
    sents = answerer.sentences([ScoredChunk(_chunk("a", text, q.lang), 1.0)])
    answerer.score(q, sents, {t: 1.0 for t in q.terms}, None)
    assert [s.counts for s in sents] == [False, True] and counted in sents[1].evidence.quote
    rank_only = Question.parse("Where did Line 19 rank among the lines?")  # a rank is not a count
    answerer.score(rank_only, sents, {}, None)
    assert not any(s.counts for s in sents)


def _answer_from(answerer: ExtractiveAnswerer, question: str, *texts: str, lang: str = "en") -> Draft:
    """The answer from chunks "a", "b", ... in `lang`, ranked in the order given."""
    q = Question.parse(question)
    ranked = [ScoredChunk(_chunk(chr(97 + i), text, lang), float(len(texts) - i)) for i, text in enumerate(texts)]
    return answerer.answer(q, ranked, answerer.embeddings.embed_array([q.text])[0], {})


def test_a_near_tie_may_answer_when_the_two_best_sentences_lack_the_questions_year(
        embeddings: BundledEmbeddings) -> None:
    texts = ("Athens became one of the cities to have hosted the Olympic Games twice.",
             "London became the first city to have hosted the Olympic Games three times.",
             "The 2004 Olympic Games were held in Athens, with 201 nations taking part.")
    answerer = ExtractiveAnswerer(embeddings)
    draft = _answer_from(answerer, "Which city hosted the Olympic Games in 2004?", *texts)
    assert not draft.refused and [ev.chunk.doc_id for ev in draft.evidence] == ["c"]
    answerer.close_ratio = 1.01  # only the two best: both files lack 2004, so it refuses
    assert _answer_from(answerer, "Which city hosted the Olympic Games in 2004?", *texts).refused


def test_an_asked_word_in_another_form_counts_for_less_than_the_word(embeddings: BundledEmbeddings) -> None:
    """'winning best picture' answers 'Which movie won Best Picture' before a sentence that only
    names the ceremony; a form counts for less than the word itself."""
    draft = _answer_from(ExtractiveAnswerer(embeddings), "Which movie won Best Picture at the 90th Academy Awards?",
                         "The 90th Academy Awards honored the best picture and the best actors of 2017. "
                         "At the 90th Academy Awards, The Shape of Water was winning best picture.")
    assert not draft.refused and draft.evidence[0].quote.startswith("At the 90th"), draft.text
    q = Question.parse("When was the game released?")
    answerer = ExtractiveAnswerer(embeddings)
    text = "The game was released in May. The game release was in May. The game was out in May."
    sents = answerer.sentences([ScoredChunk(_chunk("a", text, "en"), 1.0)])
    answerer.score(q, sents, {}, None)
    exact, form, neither = (s.coverage for s in sents)
    assert exact > form > neither
    assert _stem("planned") == _stem("plan") and _stem("won") == _stem("winning") and _stem("winner") != _stem("won")


@pytest.mark.parametrize(("question", "text", "kin"), [
    ("When was Splatoon 2 released?", "Splatoon 1 was released in 2015, and Splatoon 2 players still meet.", True),
    ("When was Splatoon 2 released?", "Splatoon 2 was released on July 21, 2017, two years after Splatoon 1.", False),
    # each date stands beside its own phone: the one for the 5a answers
    ("When was Pixel 5a announced?", "Google announced the Pixel 5 in October 2020 and the Pixel 5a in August 2021.", False),
    ("When was Pixel 5a announced?", "Google announced the Pixel 4a and the Pixel 5 in October 2020.", True),
    ("When was Splatoon 2 released?", "Splatoon was released in 2015.", False),  # no number: nothing to tell apart
])
def test_an_answer_about_another_of_the_asked_things_kin_is_marked(question: str, text: str, kin: bool) -> None:
    q = Question.parse(question)
    assert other_variant(q, text, answer_spans(q, text, works=True)) is kin


def test_a_date_beside_another_numbered_kin_is_not_quoted_for_the_one_asked(embeddings: BundledEmbeddings) -> None:
    draft = _answer_from(ExtractiveAnswerer(embeddings), "When was Splatoon 2 released?",
                         "Splatoon 1 was released in 2015 and is still played, so Splatoon 2 will be too.",
                         "Splatoon 2 is a shooter by Nintendo. It was released on July 21, 2017.")
    assert not draft.refused and [ev.chunk.doc_id for ev in draft.evidence] == ["b"], draft.text


@pytest.mark.parametrize(("question", "first", "left_out", "vouches"), [
    # a rival answer
    ("Which country won the most medals at the 2018 Winter Olympics?",
     "Norway won the most medals at the 2018 Winter Olympics, 39 in all.",
     "The United States won the most snowboard medals at the 2018 Winter Olympics.",
     "Norway topped the medal table of the 2018 Winter Olympics."),
    # the same date, less fully
    ("When was Xenoblade Chronicles X released in Japan?",
     "Xenoblade Chronicles X was released in Japan by Nintendo on April 29, 2015.",
     "In 2015 when Xenoblade Chronicles X was released in Japan, I was living in a small flat.",
     "Nintendo's Xenoblade Chronicles X: Japan, April 29, 2015; Europe, December 4, 2015."),
])
def test_a_first_answer_another_file_vouches_for_needs_no_rival_or_vaguer_quote_beside_it(
        embeddings: BundledEmbeddings, question: str, first: str, left_out: str, vouches: str) -> None:
    answerer = ExtractiveAnswerer(embeddings)
    alone = _answer_from(answerer, question, first, left_out)
    assert [ev.chunk.doc_id for ev in alone.evidence] == ["a", "b"], alone.text  # no second source: both stand
    vouched = _answer_from(answerer, question, first, left_out, vouches)
    cited = [ev.chunk.doc_id for ev in vouched.evidence]
    assert cited[:1] == ["a"] and "b" not in cited, vouched.text


def test_a_season_asked_by_number_is_supported_by_a_passage_that_spells_it(embeddings: BundledEmbeddings) -> None:
    draft = _answer_from(ExtractiveAnswerer(embeddings), "What is the premiere date of Grey's Anatomy Season 17?",
                         "The seventeenth season of Grey's Anatomy premiered November 12, 2020 on ABC.")
    assert not draft.refused and "November 12, 2020" in draft.text


def test_a_close_sentence_holding_the_asked_date_is_quoted_before_one_that_only_names_the_topic(
        embeddings: BundledEmbeddings) -> None:
    draft = _answer_from(ExtractiveAnswerer(embeddings), "When was Assassin's Creed Valhalla released?",
                         "Assassin's Creed Valhalla is Assassin's Creed with Vikings and longships!",
                         "Valhalla was released for PlayStation 4 and Windows on November 10, 2020.")
    assert not draft.refused and "November 10, 2020" in draft.text
    assert [ev.chunk.doc_id for ev in draft.evidence] == ["b"]


def test_a_when_question_that_no_close_sentence_dates_is_refused(embeddings: BundledEmbeddings) -> None:
    """"When was The Legend of Zelda: Ocarina of Time released?" had been answered with "The Legend
    of Zelda: Ocarina of Time 3D." A topic sentence is no answer to "when"."""
    draft = _answer_from(ExtractiveAnswerer(embeddings), "When was Assassin's Creed Valhalla released?",
                         "Assassin's Creed Valhalla is Assassin's Creed with Vikings and longships!",
                         "Valhalla was released for PlayStation 4, Windows and Stadia.")
    assert draft.refused and draft.related
    q = Question.parse("龙门实验室是哪一年成立的?")
    ranked = [ScoredChunk(_chunk("zh", "龙门实验室成立以来发布了世界首台储能模块系统。", "zh"), 1.0)]
    zh = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert zh.refused and zh.text == REFUSAL["zh"]


def test_a_menu_of_the_question_words_is_not_an_answer(embeddings: BundledEmbeddings) -> None:
    """A page's table of contents holds every question word and says nothing."""
    q = Question.parse("《三体》动画的播放平台？")
    menu = "三体(动画)编辑 · 播放平台 · 配音员 · 集数 · 歌曲 · 反响 · 参考资料"
    said = "《三体》动画播出当天，B站动画站内同时在线观看人数创下新高。"
    ranked = [ScoredChunk(_chunk("menu", menu, "zh"), 2.0), ScoredChunk(_chunk("said", said, "zh"), 1.0)]
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert draft.evidence and draft.evidence[0].chunk.doc_id == "said", draft.text
    assert not _is_menu("荷兰选手凯尔·内斯获得金牌，莉希亚·朱莲科和安娜·博格丹进入决赛。")  # a name's middle dot
    assert not _is_menu("| 洛阳 | 智能工厂 | 104家 |")  # a table row holds figures
    assert _is_menu("Home | News | Sports | Contact us")


def test_a_sentence_that_wonders_is_not_an_answer(embeddings: BundledEmbeddings) -> None:
    """"有人开始想想GPT-4会是什么样的了。" ends in a full stop but asks; what it names is no answer."""
    q = "百度推出的类ChatGPT是什么？"
    answerer = ExtractiveAnswerer(embeddings)
    assert _answer_from(answerer, q, "然后已经有人开始想想百度推出的类ChatGPT会是什么样的了。", lang="zh").refused
    draft = _answer_from(answerer, q, "无论问什么，百度推出的类ChatGPT产品文心一言都能回答。", lang="zh")
    assert not draft.refused and "文心一言" in draft.text  # 什么 before the last clause: a statement


def test_a_name_that_several_sources_state_is_preferred(embeddings: BundledEmbeddings) -> None:
    """Corroboration: the same name, date or figure in other retrieved files counts for it."""
    q = Question.parse("Who won the 2020 Harbour Cup final?")
    ranked = [
        ScoredChunk(_chunk("a", "The 2020 Harbour Cup final was won by Anna Berg after a long match.", "en"), 3.0),
        ScoredChunk(_chunk("b", "The 2020 Harbour Cup final was won by Clara Holt in straight sets.", "en"), 2.0),
        ScoredChunk(_chunk("c", "Clara Holt lifted the trophy in front of a full stadium.", "en"), 1.0),
        ScoredChunk(_chunk("d", "Fans cheered for Clara Holt all week long.", "en"), 0.9),
    ]
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert not draft.refused
    assert draft.evidence[0].chunk.file == "b.txt", draft.text

def test_a_runner_up_sentence_answers_when_the_top_one_lacks_the_asked_year(embeddings: BundledEmbeddings) -> None:
    q = Question.parse("How many robots did Acme Robotics sell in 2021?")
    wrong_year = _chunk("a", "Acme Robotics sold many robots to car makers, and robots sold well.", "en")
    right_year = _chunk("b", "In 2021 Acme Robotics sold 4,200 robots.", "en")
    ranked = [ScoredChunk(wrong_year, 2.0), ScoredChunk(right_year, 1.0)]
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert not draft.refused
    assert "4,200" in draft.text
    assert all(ev.chunk.file == "b.txt" for ev in draft.evidence)


def test_a_passage_in_the_other_language_below_the_first_four_answers_before_a_refusal(
        embeddings: BundledEmbeddings) -> None:
    """The retriever's other-language slot is the fifth chunk; when nothing above it answers,
    its sentences are read by similarity before the answerer refuses."""
    # robots, sell and 2021 meet through the lexicon, 3 of 8 words: too few without similarity
    q = Question.parse("How many industrial robots did Acme Robotics sell to carmakers in Europe in 2021?")
    filler = ["The weather in Paris was mild this spring.", "A new bridge opened over the river.",
              "The museum added a wing for modern art.", "Local farmers expect a good harvest."]
    ranked = [ScoredChunk(_chunk(f"en{i}", text, "en"), 5.0 - i) for i, text in enumerate(filler)]
    ranked.append(ScoredChunk(_chunk("zh", "2021年，艾克米机器人公司共销售四千二百台机器人。", "zh"), 0.5))
    answerer = ExtractiveAnswerer(embeddings)
    sents = answerer.sentences(ranked)
    answerer.score(q, sents, {}, embeddings.embed_array([q.text])[0])
    assert not any(answerer.supported(q, s) for s in sents)  # the first look reads the fifth chunk by words only
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert not draft.refused, draft.related
    assert [ev.chunk.file for ev in draft.evidence] == ["zh.txt"]


def test_across_languages_a_sentence_the_lexicon_also_meets_outranks_one_only_similar(
        embeddings: BundledEmbeddings) -> None:
    q = Question.parse("洛阳计划把产业集群的规模推到多少?")
    text = ("According to the plan, Luoyang will complete 7 tasks this year. "
            "Luoyang will promote its industrial clusters to a scale of 330 billion yuan.")
    answerer = ExtractiveAnswerer(embeddings)
    tasks, scale = answerer.sentences([ScoredChunk(_chunk("plan", text, "en"), 1.0)])
    tasks.similarity, scale.similarity = 0.35, 0.34  # as good as equal to the embedding
    answerer.score(q, [tasks, scale], {}, None)
    assert tasks.coverage < scale.coverage < 1.6 * tasks.similarity  # alone, similarity would decide
    assert scale.score > tasks.score


def test_a_year_and_one_loosely_glossed_word_do_not_answer_across_languages(embeddings: BundledEmbeddings) -> None:
    """碗 glosses as "bowl; cup": with the year, that alone covered half of 2022年超级碗冠军是谁 in
    "2022 World Cup History." A passage in the other language must meet two of the words."""
    q = Question.parse("2022年超级碗冠军是谁")
    qvec = embeddings.embed_array([q.text])[0]
    loose = [ScoredChunk(_chunk("en", "2022 World Cup History.", "en"), 1.0)]
    assert ExtractiveAnswerer(embeddings).answer(q, loose, qvec, {}).refused
    met = [ScoredChunk(_chunk("en", "The 2022 Super Bowl champion was the Los Angeles Rams.", "en"), 1.0)]
    draft = ExtractiveAnswerer(embeddings).answer(q, met, qvec, {})
    assert not draft.refused and "Rams" in draft.text


def test_the_next_passages_in_the_other_language_are_read_before_a_refusal(embeddings: BundledEmbeddings) -> None:
    q = Question.parse("How many industrial internet platforms does Luoyang have?")
    filler = ["The weather in Paris was mild this spring.", "A new bridge opened over the river.",
              "The museum added a wing for modern art.", "Local farmers expect a good harvest."]
    ranked = [ScoredChunk(_chunk(f"en{i}", text, "en"), 5.0 - i) for i, text in enumerate(filler)]
    below = [ScoredChunk(_chunk("zh", "目前,洛阳已建成工业互联网平台11家。", "zh"), 0.1)]
    qvec = embeddings.embed_array([q.text])[0]
    assert ExtractiveAnswerer(embeddings).answer(q, ranked, qvec, {}).refused
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, qvec, {}, further=below)
    assert not draft.refused and "11家" in draft.text
    assert [ev.chunk.file for ev in draft.evidence] == ["zh.txt"]


def test_the_retriever_hands_over_the_next_passages_in_the_other_language(seeded_bot: Chatbot) -> None:
    found = seeded_bot.retriever.retrieve("How many industrial internet platforms does Luoyang have?")
    shown = {sc.chunk.id for sc in found.ranked}
    assert found.further and len(found.further) <= 6
    assert all(sc.chunk.lang == "zh" and sc.chunk.id not in shown for sc in found.further)


def test_refuses_when_no_passage_mentions_the_asked_year(embeddings: BundledEmbeddings) -> None:
    q = Question.parse("How many robots did Acme Robotics sell in 2019?")
    ranked = [ScoredChunk(_chunk("a", "In 2021 Acme Robotics sold 4,200 robots.", "en"), 1.0)]
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert draft.refused and draft.evidence == []
    assert draft.related  # the closest passage is offered as related, not as support


def test_shortening_a_passage_in_the_other_language_uses_clause_relevance() -> None:
    text = ("The city held a press conference on Tuesday, officials praised the weather, "
            "and the mayor said 104 smart factories had been built, more than planned.")
    ev = Evidence(_chunk("e", text, "en"), 0, len(text))
    q = Question.parse("洛阳建了多少家智能工厂？")
    relevance = [0.0, 0.0, 0.9, 0.1]  # one per clause: cut after commas and before "and"
    cut = shorten(q, ev, 80, {}, clause_relevance=relevance)
    assert "104 smart factories" in cut.quote
    assert text[cut.start_char : cut.end_char] == cut.quote
    assert len(cut.quote) <= 80


def test_for_an_office_holder_the_cut_keeps_the_name_beside_the_office_not_the_list_after_it() -> None:
    text = ("Zhao Zhanwei, secretary and director of the party group of the Municipal Bureau of Industry, "
            "awarded medals to winning companies such as CITIC Heavy Industry, China Yituo, Axle Research "
            "Institute, Xinqianglian, Chenhan Technology, Northern Glass and Qingluo Base.")
    q = Question.parse("Which official handed out the medals to the winning companies?")
    cut = shorten(q, Evidence(_chunk("o", text, "en"), 0, len(text)), 180, {})
    assert cut.quote.startswith("Zhao Zhanwei, secretary"), cut.quote
    # a question about no office keeps the list of names
    names = shorten(Question.parse("Who won medals?"), Evidence(_chunk("o", text, "en"), 0, len(text)), 180, {})
    assert "Zhao" not in names.quote and "Northern Glass" in names.quote, names.quote


_AWARDED = ("Zhao Zhanwei, director of the Municipal Bureau of Industry and Information Technology, awarded "
            "medals for 10 award-winning enterprises such as CITIC Heavy Industry, China Yituo, Axle Research "
            "Institute, Xinqianglian, Chenhan Technology, Northern Glass, Qingluo Base, Luoyang Institute of "
            "Intelligent Agricultural Equipment, and China Che Luoyang Company.")


def test_a_question_asking_for_several_gets_the_sentence_that_lists_them(embeddings: BundledEmbeddings) -> None:
    """ "Which companies": of two sentences that share as many of the question's words, the one
    that enumerates names, not the one with a name, an office and a bureau."""
    speech = ("Wei Shuhong, Deputy Director-General of the Luoyang Municipal Bureau of Industry and Information "
              "Technology, hoped that the award-winning enterprises would turn their high-end equipment "
              "into industrial advantages.")
    question = "Which companies won the landmark equipment award?"
    draft = _answer_from(ExtractiveAnswerer(embeddings), question, speech, _AWARDED)
    assert not draft.refused and "China Yituo" in draft.text, draft.text
    # a question about one company does not prefer a list
    one = _answer_from(ExtractiveAnswerer(embeddings), "Which company hoped to turn its equipment into advantages?",
                       speech, _AWARDED)
    assert "Wei Shuhong" in one.text, one.text
    # in Chinese the items between 、 are the names asked for, though none looks like a name
    zh = _answer_from(ExtractiveAnswerer(embeddings), "哪些企业获奖？", "市工信局表示，获奖企业要继续创新。",
                      "获奖企业有中信重工、中国一拖、轴研所和新强联。", lang="zh")
    assert zh.text.startswith("获奖企业有中信重工"), zh.text


def test_a_long_list_is_cut_to_keep_its_items_with_the_words_that_introduce_them() -> None:
    q = Question.parse("Which companies won the landmark equipment award?")
    cut = shorten(q, Evidence(_chunk("l", _AWARDED, "en"), 0, len(_AWARDED)), 300, {})
    assert cut.quote.startswith("awarded medals") and cut.quote.endswith("China Che Luoyang Company."), cut.quote
    assert _AWARDED[cut.start_char : cut.end_char] == cut.quote
    # with room for a few clauses only, the question's words come before more names
    short = shorten(Question.parse("Which enterprises received medals at the landmark equipment ceremony?"),
                    Evidence(_chunk("l", _AWARDED, "en"), 0, len(_AWARDED)), 90, {})
    assert short.quote.startswith("awarded medals"), short.quote


def test_a_quoted_slogan_is_never_cut_at_its_own_commas() -> None:
    text = ("The city will improve its work layout, streamline approvals for new plants, and strive to "
            "achieve the goal of “four strong, two excellent, three competitive”, officials said on Monday.")
    assert [text[p.start : p.end] for p in clauses(text)][2] == (
        "and strive to achieve the goal of “four strong, two excellent, three competitive”, ")
    q = Question.parse("What goal will the city strive to achieve?")
    cut = shorten(q, Evidence(_chunk("g", text, "en"), 0, len(text)), 120, {})
    assert "four strong, two excellent, three competitive" in cut.quote
    assert text[cut.start_char : cut.end_char] == cut.quote and len(cut.quote) <= 120
    # a quotation mark that never closes protects nothing
    stray = "a stray “ mark, then more words, and the end"
    assert len(clauses(stray)) == 3


def test_a_sentence_end_that_lost_its_space_still_ends_the_sentence() -> None:
    text = ("Clusters will reach 330 billion yuan by 2022.We will improve the mechanisms (association).Then "
            "the scale grows to 5.5 billion yuan.”The plan” names the U.S. and No.1 companies.")
    assert [text[sp.start : sp.end] for sp in _split_glued(text, [Span(0, len(text))])] == [
        "Clusters will reach 330 billion yuan by 2022.", "We will improve the mechanisms (association).",
        "Then the scale grows to 5.5 billion yuan.”", "The plan” names the U.S. and No.1 companies."]


def test_an_and_inside_a_name_is_not_a_cut_point() -> None:
    text = ("Luoyang Municipal Bureau of Industry and Information Technology held the ceremony on June 16 "
            "and awarded the medals, and China Yituo and CITIC Heavy Industry took part.")
    assert [text[p.start : p.end] for p in clauses(text)] == [
        "Luoyang Municipal Bureau of Industry and Information Technology held the ceremony on June 16 ",
        "and awarded the medals, ", "and China Yituo and CITIC Heavy Industry took part."]


# -- citations hold for any question -----------------------------------------------------------

_SEED_WORDS = ["Luoyang", "bearing", "industry", "medals", "Pingdingshan", "cluster", "2022", "billion",
               "enterprises", "mayor", "洛阳", "轴承", "产业集群", "企业", "智能工厂", "多少", "哪些", "谁",
               "revenue", "year-on-year", "104", "[1]", "[99]", "?", "what", "when", "who", "how many"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(_SEED_WORDS) | st.text(min_size=1, max_size=12), min_size=1, max_size=10),
       lang_sep=st.sampled_from([" ", ""]))
def test_every_marker_maps_to_a_verbatim_quote_for_any_question(seeded_bot: Chatbot, words: list[str],
                                                                lang_sep: str) -> None:
    question = lang_sep.join(words).strip()
    if not question:
        return
    answer = seeded_bot.ask(question)
    assert check(answer.answer, answer.citations, seeded_bot.document_text) == []
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    assert set(markers(answer.answer)) == set(numbers)  # every citation is used, every marker cited
    assert answer.refused == (not answer.citations)
    assert len(answer.citations) <= 3


def test_the_same_words_in_two_files_are_quoted_once_and_cited_twice(embeddings: BundledEmbeddings) -> None:
    q = Question.parse("Who won the 2020 Harbour Cup final?")
    same = "The 2020 Harbour Cup final was won by Clara Holt in straight sets."
    ranked = [ScoredChunk(_chunk("a", same, "en"), 2.0),
              ScoredChunk(_chunk("b", "Report. " + same, "en"), 1.0)]
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert draft.text == f"{same} [1] [2]"
    assert [ev.chunk.file for ev in draft.evidence] == ["a.txt", "b.txt"]
    assert all(ev.quote == same for ev in draft.evidence)  # each marker opens its own file's words


def test_of_two_supported_sentences_the_one_with_the_asked_date_answers(embeddings: BundledEmbeddings) -> None:
    q = Question.parse("When did the Harbour Cup final take place?")
    ranked = [ScoredChunk(_chunk("a", "Fans argued where the Harbour Cup final would take place: in the new stadium.", "en"), 2.0),
              ScoredChunk(_chunk("b", "The Harbour Cup final was on 12 May 2021.", "en"), 1.0)]
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert draft.evidence[0].chunk.file == "b.txt", draft.text


def test_a_sentence_that_refers_back_is_covered_through_the_one_before(embeddings: BundledEmbeddings) -> None:
    """'It was released on ...' answers 'When was Splatoon 2 released?' when the sentence before names it."""
    q = Question.parse("When was Splatoon 2 released?")
    ranked = [ScoredChunk(_chunk("a", "Splatoon 1 was released in 2015 and Splatoon 2 players still meet.", "en"), 2.0),
              ScoredChunk(_chunk("b", "Splatoon 2 is a shooter game by Nintendo. It was released on July 21, 2017.", "en"), 1.0)]
    answerer = ExtractiveAnswerer(embeddings)
    sents = answerer.sentences(ranked)
    answerer.score(q, sents, {}, None)
    it = next(s for s in sents if s.evidence.quote.startswith("It was"))
    assert it.context and it.coverage > 0.5
    draft = answerer.answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert "July 21, 2017" in draft.text, draft.text


def test_a_sentence_under_a_short_heading_is_covered_through_the_heading(embeddings: BundledEmbeddings) -> None:
    """A plan's item names its topic in a heading sentence and its content in the next one."""
    q = Question.parse("How often do the alliances hold exchange activities?")
    text = ("Strengthen alliance exchange activities. Based on the common needs of member companies, "
            "we will organize no less than one activity every quarter.")
    ranked = [ScoredChunk(_chunk("a", text, "en"), 1.0)]
    answerer = ExtractiveAnswerer(embeddings)
    sents = answerer.sentences(ranked)
    assert sents[1].context and not sents[0].context
    draft = answerer.answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert "every quarter" in draft.text, draft.text
    # a long sentence before is no heading: its terms do not carry over
    long_first = "The alliances held many exchange activities last year with partners from several provinces."
    assert not answerer.sentences([ScoredChunk(_chunk("b", long_first + " " + text, "en"), 1.0)])[1].context


def test_full_dates_count_and_a_publication_stamp_does_not() -> None:
    from chatbot.retrieval.spans import full_date
    assert full_date("It was released on July 21, 2017.") and full_date("发布于2022年6月11日。")
    assert not full_date("It was released in 2015.") and not full_date("Apr 26, 2022 ... released in 2015")


def test_a_question_about_publication_is_answered_by_the_documents_date_line(embeddings: BundledEmbeddings) -> None:
    q = Question.parse("When was the report on the Harbour Cup published?")
    text = "Harbour Cup report\n\n2022-06-11 0 By\n\nThe Harbour Cup report describes the final and its winner."
    doc = Chunk(id="r-0", doc_id="r", file="r.txt", title="Harbour Cup report", text=text, start_char=0,
                end_char=len(text), lang="en", seq=0)
    draft = ExtractiveAnswerer(embeddings).answer(q, [ScoredChunk(doc, 1.0)], embeddings.embed_array([q.text])[0], {})
    assert draft.text.startswith("2022-06-11 [1]"), draft.text
    assert draft.evidence[0].quote == "2022-06-11"
    other = Question.parse("When was the Harbour Cup final played?")  # not about publication: no date line
    assert "2022-06-11" not in ExtractiveAnswerer(embeddings).answer(other, [ScoredChunk(doc, 1.0)], None, {}).text
    # nor does it answer anything else, though it holds the question's year
    gdp = Question.parse("What was Harbour City's GDP in 2022?")
    ranked = []
    for i, body in enumerate(["Harbour City plans to reach 330 billion yuan of industrial output in 2022.",
                              "The port of Harbour City handled 20 million containers."]):
        text = f"Harbour City report {i}\n\n2022-0{i + 4}-26 0 By\n\n{body}"
        ranked.append(ScoredChunk(Chunk(id=f"r{i}-0", doc_id=f"r{i}", file=f"r{i}.txt", title=f"Harbour City report {i}",
                                        text=text, start_char=0, end_char=len(text), lang="en", seq=0), 1.0 - i))
    draft = ExtractiveAnswerer(embeddings).answer(gdp, ranked, None, {"gdp": 4.2, "2022": 2.3, "harbour": 1.1, "city": 1.1})
    assert all(not ev.quote.startswith("2022-0") for ev in draft.evidence), draft.text
    # nor is it offered as a related passage beside a refusal
    unknown = Question.parse("What was Harbour City's population in 2022?")
    draft = ExtractiveAnswerer(embeddings).answer(unknown, ranked, None, {"population": 4.2, "2022": 0.1, "harbour": 0.1,
                                                                           "city": 0.1})
    assert draft.refused and draft.related
    assert all(not ev.quote.startswith("2022-0") for ev in draft.related), [ev.quote for ev in draft.related]


def test_where_questions_want_the_place_between_zai_and_the_verb_or_after_in() -> None:
    q = Question.parse("伊丽莎白二世的国葬将在哪里举行？")
    text = "国葬将于19日在威斯敏斯特教堂举行，当天上午结束。"
    assert q.wants == "where" and [text[a:b] for a, b in answer_spans(q, text)] == ["威斯敏斯特教堂"]
    en = Question.parse("Where were the 2004 Olympic Games held?")
    text = "The 2004 Games were held in Athens, with the final at Olympic Stadium."
    assert en.wants == "where" and [text[a:b] for a, b in answer_spans(en, text)] == ["Athens", "Olympic Stadium"]
    funeral = Question.parse("戈尔巴乔夫的葬礼将在哪里举行？")
    text = "葬礼将于周六中午12点举行，地点在莫斯科工会大厦圆柱大厅。新馆位于北京朝阳区。"
    assert [text[a:b] for a, b in answer_spans(funeral, text)] == ["莫斯科工会大厦圆柱大厅", "北京朝阳区"]


def test_a_how_much_question_that_no_close_sentence_answers_with_a_figure_is_refused(
        embeddings: BundledEmbeddings) -> None:
    """A date is no amount: "held the ceremony on June 16" does not say how much prize money came."""
    draft = _answer_from(ExtractiveAnswerer(embeddings), "How much prize money came with each landmark award?",
                         "The bureau held the landmark award ceremony on June 16.")
    assert draft.refused
    rank = _answer_from(ExtractiveAnswerer(embeddings), "Where does Luoyang rank among award-winning cities?",
                        "Luoyang is the second city among award-winning cities in Henan.")
    assert not rank.refused and "second city" in rank.text  # an ordinal answers "where ... rank"


def test_a_number_inside_a_name_or_an_ordinal_is_no_figure_for_how_much() -> None:
    """"第一座5G无人智慧矿山" says nothing about a production line's capacity."""
    q = Question.parse("生产线的年产能是多少?")
    mine = "打造了国内第一个数字矿山系统、第一座5G无人智慧矿山。"
    assert answer_spans(q, mine) == [] and not wanted_match(q, mine)
    assert answer_spans(q, "C919和3D打印") == []
    growth = "中国GDP3%的增速已快于多数经济体，产能达500万套。"
    assert [growth[a:b] for a, b in answer_spans(q, growth)] == ["3%", "500"]
    assert wanted_match(Question.parse("洛阳排第几?"), "洛阳位列全国第一位。")  # unless it asks which place
    assert not wanted_match(q, "2022年建成第一座智慧矿山") and wanted_match(q, "2022年建成两座智慧矿山")
    # the same in English: "ranked 4th" is a place, not a count, unless the question asks which place
    ranked = "Two are in Luoyang, which ranked 4th, and 117 major enterprises make the 21st list."
    assert [ranked[a:b] for a, b in answer_spans(Question.parse("How many enterprises are there?"), ranked)] == ["117"]
    assert "4" in [ranked[a:b] for a, b in answer_spans(Question.parse("Where does Luoyang rank?"), ranked)]


def test_a_sentence_about_other_places_in_a_ranking_does_not_answer_the_asked_place(
        embeddings: BundledEmbeddings) -> None:
    assert places("Which company ranked first among the top ten?") == {1}
    assert places("namely Luoyang, which ranked 4th, and Xinqianglian, which ranked 6th") == {4, 6}
    assert places("洛阳钼业排名全球企业第621位") == {621} and places("韩国队排在第16") == {16}
    assert places("the first batch of clusters") == set()  # "first" that is no place in a ranking
    ranks = "Among the top ten, namely Luoyang Bearing, which ranked 4th, and Xinqianglian, which ranked 6th."
    first = _answer_from(ExtractiveAnswerer(embeddings), "Which company ranked first among the top ten?", ranks)
    assert first.refused, first.text
    sixth = _answer_from(ExtractiveAnswerer(embeddings), "Which company ranked sixth among the top ten?", ranks)
    assert not sixth.refused and "Xinqianglian" in sixth.text


def test_a_question_about_money_a_rate_or_people_wants_a_figure_of_that_kind() -> None:
    gdp = Question.parse("What was Luoyang's GDP in 2022?")
    assert measure_match(gdp, "Luoyang's GDP reached 567.5 billion yuan.") and measure_match(gdp, "营收达$6.04")
    assert not measure_match(gdp, "Luoyang completed 17 key tasks in 2022.")
    staff = Question.parse("2022年高考报名人数")
    assert measure_match(staff, "报名人数1193万") and measure_match(staff, "共有7436名本科生")
    assert not measure_match(staff, "考试持续2天")
    rate = Question.parse("2021年我国常住人口城镇化率达到了多少？")  # 人口 names people, 率 a rate: either will do
    assert measure_match(rate, "城镇化率达到64.72%") and measure_match(Question.parse("增速是多少"), "增长了两倍")
    bridge = Question.parse("乌江特大桥主桥多长")
    assert measure_match(bridge, "主桥全长504米") and not measure_match(bridge, "吊装用了近7个小时")
    assert measure_match(Question.parse("How tall is the tower?"), "The tower is 828 m tall.")
    assert measure_match(Question.parse("How many robots were sold?"), "It sold 17.")  # no kind asked: any figure
    assert measure_match(Question.parse("腾讯投资了多少家公司"), "投资了50家公司")  # a count of companies, not money
    assert measure_match(Question.parse("人民币汇率是多少"), "1美元兑6.9元人民币")  # an exchange rate is no percentage
    assert measure_match(Question.parse("5G下载速率是多少"), "峰值达1.2Gbps")
    assert measure_match(Question.parse("What is the frame rate of the camera?"), "It records at 120 fps.")
    # how much something grew: a rate answers as well as an amount
    grew = Question.parse("By how much did the operating income grow year-on-year last year?")
    assert measure_match(grew, "a year-on-year increase of 9%") and measure_match(grew, "up 5 billion yuan")
    assert measure_match(Question.parse("去年营业收入同比增长了多少?"), "同比增长9.81%")


def test_a_cut_keeps_the_clause_with_the_figure_of_the_asked_kind() -> None:
    """What made a sentence answer a GDP question is its sum of money: the cut must show it, not
    a clause with some other figure that shares more of the question's words."""
    text = ("Reporters learned from the Luoyang bureau that Luoyang introduced 17 tasks in its 2022 plan, "
            "covering agricultural machinery, bearings, robots, new materials, new energy and logistics, "
            "and the city aims in September to promote industrial cluster scale to 330 billion yuan.")
    cut = shorten(Question.parse("What was Luoyang's GDP in 2022?"), Evidence(_chunk("g", text, "en"), 0, len(text)), 120, {})
    assert "330 billion yuan" in cut.quote, cut.quote


def test_a_figure_of_another_kind_does_not_answer_a_question_about_money_or_people(
        embeddings: BundledEmbeddings) -> None:
    """"Awarded medals for 10 award-winning enterprises such as CITIC Heavy Industry" is a figure,
    but not of employees."""
    asked = "How many employees does CITIC Heavy Industry have?"
    draft = _answer_from(ExtractiveAnswerer(embeddings), asked,
                         "The bureau awarded medals for 10 award-winning enterprises such as CITIC Heavy Industry.")
    assert draft.refused
    staffed = _answer_from(ExtractiveAnswerer(embeddings), asked,
                           "The bureau awarded medals for 10 award-winning enterprises such as CITIC Heavy Industry.",
                           "CITIC Heavy Industry has more than 5,000 employees.")
    assert not staffed.refused and "5,000 employees" in staffed.text


def test_a_where_question_that_no_close_sentence_places_is_refused(embeddings: BundledEmbeddings) -> None:
    q = Question.parse("EMNLP2022的举办地")
    ranked = [ScoredChunk(_chunk("zh", "作为全球5G领域的国际性盛会，世界5G大会2022年的举办地尚未公布。", "zh"), 1.0)]
    assert ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {}).refused
    held = [ScoredChunk(_chunk("zh", "EMNLP2022于12月在阿布扎比举行，举办地为阿布扎比国家展览中心。", "zh"), 1.0)]
    draft = ExtractiveAnswerer(embeddings).answer(q, held, embeddings.embed_array([q.text])[0], {})
    assert not draft.refused and "阿布扎比" in draft.text


def test_an_english_who_question_that_no_close_sentence_names_anyone_is_refused(
        embeddings: BundledEmbeddings) -> None:
    """"He is the alter ego of Billy Batson" names no one the question does not: no answer to
    who plays him. Chinese text shows no names, so there the sentence must state the relation
    asked instead: where the company set up does not say who founded it."""
    draft = _answer_from(ExtractiveAnswerer(embeddings), "Who will be playing Billy Batson in Shazam?",
                         "He is the alter ego of Billy Batson, a boy who says the word Shazam.")
    assert draft.refused
    named = _answer_from(ExtractiveAnswerer(embeddings), "Who will be playing Billy Batson in Shazam?",
                         "Asher Angel will be playing Billy Batson in Shazam.")
    assert not named.refused and "Asher Angel" in named.text
    later = _answer_from(ExtractiveAnswerer(embeddings), "Who was named the 2020 National Teacher of the Year?",
                         "Mrs. Rost and one of the finalists will be named the 2020 National Teacher of the Year.")
    assert later.refused  # who it was, the sentence does not say yet
    founded = "零壹空间是谁创立的？"
    assert not _answer_from(ExtractiveAnswerer(embeddings), founded, "零壹空间由舒畅创立，总部位于北京。", lang="zh").refused
    assert _answer_from(ExtractiveAnswerer(embeddings), founded, "2017年2月，零壹空间在重庆两江新区布局，成立了子公司。", lang="zh").refused
    built = "昇腾人工智能实验室是由哪家企业投资建设的?"
    assert _answer_from(ExtractiveAnswerer(embeddings), built, "昇腾人工智能实验室等一大批新项目落子布局。", lang="zh").refused
    assert not _answer_from(ExtractiveAnswerer(embeddings), built, "昇腾人工智能实验室由华为投资建设。", lang="zh").refused


def test_a_chinese_who_question_names_the_relation_a_sentence_must_state() -> None:
    assert relation_terms(Question.parse("果果合唱团是谁创办的？")) == ("创办",)
    assert relation_terms(Question.parse("谁是北京冬奥会第一棒火炬手")) == ("火炬手",)  # 谁是X: the role
    assert relation_terms(Question.parse("2022中国足协杯冠军是谁")) == ("冠军",)
    assert relation_terms(Question.parse("2023年温网女单亚军")) == ("亚军",)
    # a bare question ending in a role asks who holds it
    assert Question.parse("2023年中国男足主教练").wants == "who"
    assert relation_terms(Question.parse("《重生之门》的导演")) == ("导演",)
    assert relation_terms(Question.parse("哪家企业排名第六?")) == ()  # an instance answers "which company"
    # ... but "by which company" asks who did what follows, as 谁 does
    assert relation_terms(Question.parse("昇腾人工智能实验室是由哪家企业投资建设的?")) == ("投资",)
    assert relation_terms(Question.parse("这部电影由哪家公司出品？")) == ("出品",)
    assert relation_terms(Question.parse("Who founded the company?")) == ()  # English shows names
    # with no relation to state, a Chinese sentence must hold a name as before, not pass unread
    text = "实验室建设进展顺利。"
    which = Sentence(Evidence(_chunk("zh", text, "zh"), 0, len(text)), 0, set())
    assert not _shows(Question.parse("昇腾人工智能实验室是由哪家企业投资建设的?"), which)


def test_a_bare_role_as_a_subject_names_no_one() -> None:
    """"导演也透露" says what the director said, not who directs; "季军则是《X》" and "该剧导演郭帆表示"
    name the holder."""
    assert not states_relation("导演", "剧中王俊凯饰演的庄文杰出生于盗贼世家，导演也透露 ...")
    assert not states_relation("导演", "与其说导演在翻拍《忠犬八公》，不如说导演在拍特定年代的中国。")
    assert states_relation("季军", "排名第二的是《忠犬八公》；季军则是《超级马力欧兄弟大电影》")
    assert states_relation("导演", "该剧导演郭帆表示，续集已在筹备。")
    assert states_relation("导演", "郭帆导演表示，续集已在筹备。")
    assert states_relation("创立", "零壹空间由舒畅创立。") and not states_relation("创立", "零壹空间成立于2015年。")


def test_a_chinese_role_question_is_refused_when_the_role_names_no_one(embeddings: BundledEmbeddings) -> None:
    answerer = ExtractiveAnswerer(embeddings)
    question = "《重生之门》的导演"
    assert _answer_from(answerer, question, "《重生之门》中王俊凯饰演的庄文杰出生于盗贼世家，导演也透露了续集。", lang="zh").refused
    draft = _answer_from(answerer, question, "《重生之门》的导演是黄伟，该剧由王俊凯主演。", lang="zh")
    assert not draft.refused and "黄伟" in draft.text


def test_an_english_who_question_names_the_verb_or_office_a_sentence_must_state(embeddings: BundledEmbeddings) -> None:
    """A name is not enough in English either: "a case study on the 2017 French presidential
    election (60 million Twitter ...)" does not say who won it, and "'The Shape of Water' won
    Oscars" names no actress."""
    def says(question: str, text: str) -> bool:
        pattern = stated_relation(Question.parse(question))
        assert pattern is not None, question
        return bool(pattern.search(text))
    assert says("Who won the French Presidential Election 2017?", "Emmanuel Macron defeated Marine Le Pen")
    assert says("Who won the 2010 World Cup?", "the reigning champion remains Spain")
    assert not says("Who won the French Presidential Election 2017?", "a case study on the 2017 French election")
    assert says("Who acquired WhatsApp?", "which was bought by Facebook in 2014")
    assert says("Who directed The Avengers?", "The Russo Brothers, who direct Marvel films")
    assert says("Who is the CEO of Apple in 2021?", "Apple's chief executive Tim Cook")
    assert says("Who is the lead actress in The Shape of Water?", "The film stars Sally Hawkins")
    assert not says("Who is the lead actress in The Shape of Water?", "The Shape of Water won Oscars for best picture")
    assert not says("Who is the chairman of Luoyang Xinqianglian?", "Zhao Zhanwei, secretary and director of the bureau")
    # a result is named without its word ("France ... defeating Croatia" names the runner-up),
    # and Chinese questions name their relation through relation_terms
    assert stated_relation(Question.parse("Who was the runner-up of the 2018 World Cup?")) is None
    assert stated_relation(Question.parse("Who is Tim Cook?")) is None
    assert stated_relation(Question.parse("果果合唱团是谁创办的？")) is None
    answerer = ExtractiveAnswerer(embeddings)
    question = "Who won the French Presidential Election 2017?"
    assert _answer_from(answerer, question, "A case study on the 2017 French presidential election, by Twitter users.").refused
    won = _answer_from(answerer, question, "Emmanuel Macron won the French presidential election in 2017.")
    assert not won.refused and "Macron" in won.text


def test_an_english_role_question_needs_a_name_beside_the_role(embeddings: BundledEmbeddings) -> None:
    """"Give full play to the leading role of the chairman of the alliance" says "chairman" but
    names no chairman: a capitalised word opening a sentence is no name, and a name far from the
    role word holds some other part."""
    answerer = ExtractiveAnswerer(embeddings)
    question = "Who is the chairman of Luoyang Xinqianglian?"
    assert _answer_from(answerer, question, "Give full play to the leading role of the chairman of the "
                        "industrial alliance of Luoyang Xinqianglian and hold a meeting every quarter.").refused
    assert _answer_from(answerer, question, "The chairman of Luoyang Xinqianglian spoke at the forum, which "
                        "was opened by the city's mayor Zhang Wei.").refused
    for text, name in [("Zhao Zhanwei, chairman of Luoyang Xinqianglian, spoke at the forum.", "Zhao Zhanwei"),
                       ("Luoyang Xinqianglian chairman Zhao Zhanwei spoke at the forum.", "Zhao Zhanwei")]:
        draft = _answer_from(answerer, question, text)
        assert not draft.refused and name in draft.text, text


def test_a_figure_about_another_year_does_not_answer_how_much_in_the_asked_one(embeddings: BundledEmbeddings) -> None:
    """2021's box office is no answer to 2022's, wherever the passage repeats the figure."""
    q = Question.parse("2022年中国电影的总票房是多少")
    text = ("国家电影局2022年1月1日发布数据显示，2021年我国电影总票房达472.58亿元。"
            "市场篇：472.58亿票房，银幕总数继续保持全球第一。《满江红》以26.05亿元票房居2023年春节档票房榜榜首。")
    assert figures_of_other_years(q, "国家电影局2022年1月1日发布数据显示，2021年我国电影总票房达472.58亿元。")
    assert figures_of_other_years(q, "市场篇：472.58亿票房，银幕总数继续保持全球第一。", text)  # repeated
    assert figures_of_other_years(q, "《满江红》以26.05亿元票房居2023年春节档票房榜榜首。")  # its clause's year
    assert not figures_of_other_years(q, "市场篇：472.58亿票房，银幕总数继续保持全球第一。")  # nothing binds it
    assert not figures_of_other_years(q, "2022年全国电影总票房300.67亿元，比2021年下降36%。")
    assert not figures_of_other_years(Question.parse("2022年全国电影总票房是多少"), "In 2021 it sold 1,234 tickets")
    answerer = ExtractiveAnswerer(embeddings)
    assert _answer_from(answerer, q.text, text, lang="zh").refused
    draft = _answer_from(answerer, q.text, "2022年中国电影总票房为300.67亿元，比2021年的472.58亿元下降。", lang="zh")
    assert not draft.refused and "300.67" in draft.text


def test_a_further_quote_must_hold_the_kind_of_answer_asked_for(embeddings: BundledEmbeddings) -> None:
    q = Question.parse("How many robots did Acme Robotics sell in 2021?")
    ranked = [ScoredChunk(_chunk("a", "In 2021 Acme Robotics sold 4,200 robots.", "en"), 2.0),
              ScoredChunk(_chunk("b", "Acme Robotics robots were popular with buyers in 2021.", "en"), 1.0)]
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert [ev.chunk.file for ev in draft.evidence] == ["a.txt"], draft.text


def test_a_question_asking_what_a_thing_is_called_wants_a_name_not_the_topics_own() -> None:
    q = Question.parse("北京冬奥会吉祥物叫什么")
    assert asks_name(q) and asks_name(Question.parse("What is the name of Microsoft's AR headset?"))
    assert not asks_name(Question.parse("Who was named the 2020 National Teacher of the Year?"))  # a who question
    names = {text: [text[a:b] for a, b in given_names(q, text)] for text in (
        "北京冬奥会吉祥物“冰墩墩”，以熊猫为原型进行设计创作。",
        "它的名字叫作拉伊卜（La'eeb）。",
        "姜宇帆参加“2022北京冬奥会和冬残奥会”吉祥物全球征集活动。")}
    assert list(names.values()) == [["冰墩墩"], ["拉伊卜"], []]


def test_a_named_answer_is_quoted_before_the_topic_and_a_further_quote_must_name_one_too(
        embeddings: BundledEmbeddings) -> None:
    draft = _answer_from(ExtractiveAnswerer(embeddings), "北京冬奥会吉祥物叫什么",
                         "2018年9月，姜宇帆参加“2022北京冬奥会和冬残奥会”吉祥物全球征集活动。",
                         "北京冬奥会吉祥物的征集活动吸引了很多人参加。",
                         "北京冬奥会吉祥物“冰墩墩”，以熊猫为原型进行设计创作。", lang="zh")
    assert [ev.chunk.doc_id for ev in draft.evidence] == ["c"], draft.text


def test_a_work_named_only_in_a_list_of_works_is_no_answer_about_it(embeddings: BundledEmbeddings) -> None:
    texts = ("五一档有《长空之王》《人生路不熟》《倒数说爱你》《惊天救援》等热门电影预定。",
             "4月24日，喜剧电影《人生路不熟》在北京首映。")
    draft = _answer_from(ExtractiveAnswerer(embeddings), "人生路不熟是什么电影", *texts, lang="zh")
    assert [ev.chunk.doc_id for ev in draft.evidence] == ["b"], draft.text
    listed = _answer_from(ExtractiveAnswerer(embeddings), "五一档有哪些电影", *texts, lang="zh")
    assert [ev.chunk.doc_id for ev in listed.evidence][:1] == ["a"], listed.text  # asked for several: the list answers


def test_asked_which_place_a_bare_yi_with_a_measure_word_is_an_article_not_a_place() -> None:
    episode = Question.parse("三体电视剧古筝行动在哪一集？")
    assert not wanted_match(episode, "古筝行动是三体迷特别喜欢的一个章节。")
    assert wanted_match(episode, "古筝行动在第29集。") and wanted_match(episode, "古筝行动是第一个高潮。")
    assert wanted_match(Question.parse("古筝行动有几个章节？"), "古筝行动是一个章节。")  # a count: one


def test_a_sentence_passed_over_for_the_first_quote_is_no_further_quote(embeddings: BundledEmbeddings) -> None:
    draft = _answer_from(ExtractiveAnswerer(embeddings), "Who directed the Chinese film Hachi?",
                         "The director of the Chinese film Hachi will be named by Sony Pictures China.",
                         "The director of the Chinese film Hachi will be chosen by Joan Chen.",
                         "Xu Ang directed the film Hachi.")
    assert [ev.chunk.doc_id for ev in draft.evidence] == ["c"], draft.text  # a and b do not say who yet


def test_of_close_dated_sentences_the_one_with_a_whole_date_answers_and_the_vaguer_is_left(
        embeddings: BundledEmbeddings) -> None:
    draft = _answer_from(ExtractiveAnswerer(embeddings), "北京冬奥会开幕日期是什么时候", "本届冬奥会2月4日在中国的首都开幕。",
                         "北京冬奥会的计划进行时间是2022年2月4日至20日。", lang="zh")
    assert [ev.chunk.doc_id for ev in draft.evidence] == ["b"], draft.text


@pytest.mark.parametrize(("question", "text", "other"), [
    ("Who is the CEO of Nintendo in 2021?", "Apple CEO Tim Cook received $98 million in 2021.", True),
    ("Who is the CEO of Nintendo in 2021?", "Nintendo's CEO Doug Bowser traveled to Venezuela.", False),
    ("Who is the CEO of Nintendo in 2021?", "Satoru Iwata was the global president and CEO of Nintendo.", False),
    ("Who is the CEO of Nintendo in 2021?", "Shuntaro Furukawa, Executive Vice President of Nintendo.", False),
    ("Who is the CEO of Nintendo in 2021?", "The CEO Shuntaro Furukawa spoke in Kyoto.", False),
    ("Who is the CEO of Nintendo in 2021?", "Shuntaro Furukawa is the CEO of Nintendo Co., Ltd.", False),
    ("Who is the CEO of Nintendo in 2021?", "Doug Bowser is the CEO of Nintendo of America.", True),
    ("Who is the mayor of Luoyang?", "Xu Jinke, the mayor of Luoyang City, opened the fair.", False),
    ("Who is the president of the NFL?", "JC Tretter was re-elected as president of the NFL Players Association.", True),
    ("Who is the president of the NFL?", "The Raiders hired Sandra Douglass Morgan as their new team president.", False),
    ("Who directed Hachi?", "Apple CEO Tim Cook praised the film.", False),  # no office asked
])
def test_an_office_tied_to_another_body_does_not_answer_for_the_asked_one(question: str, text: str, other: bool) -> None:
    assert office_of_another_body(Question.parse(question), text) is other


def test_the_office_of_another_body_is_not_quoted_beside_the_asked_one(embeddings: BundledEmbeddings) -> None:
    draft = _answer_from(ExtractiveAnswerer(embeddings), "Who is the CEO of Nintendo in 2021?",
                         "In 2021 Nintendo's CEO Doug Bowser traveled to Venezuela.",
                         "Apple CEO Tim Cook received $98 million in compensation in 2021.")
    assert [ev.chunk.doc_id for ev in draft.evidence] == ["a"], draft.text


def test_a_further_quote_for_who_must_say_the_verb_or_office_asked(embeddings: BundledEmbeddings) -> None:
    draft = _answer_from(ExtractiveAnswerer(embeddings), "Who is the CEO of Facebook in 2021?",
                         "In 2021 the company Facebook hid likes on Instagram for Mark Zuckerberg.",
                         "In 2021 Facebook CEO Mark Zuckerberg spoke at Connect.")
    assert [ev.chunk.doc_id for ev in draft.evidence] == ["b"], draft.text  # a names no CEO


def test_a_date_of_the_events_other_end_does_not_answer_when_it_starts(embeddings: BundledEmbeddings) -> None:
    texts = ("北京时间6月5日，2022年法网公开赛结束男单决赛争夺。", "根据赛程安排，2022年法网正式比赛将于5月22日开始。")
    starts = _answer_from(ExtractiveAnswerer(embeddings), "2022年法网开始时间", *texts, lang="zh")
    assert [ev.chunk.doc_id for ev in starts.evidence] == ["b"], starts.text
    ends = _answer_from(ExtractiveAnswerer(embeddings), "2022年法网什么时候结束", *texts, lang="zh")
    assert [ev.chunk.doc_id for ev in ends.evidence] == ["a"], ends.text
    assert _other_end("When did the 2022 World Expo open?", "The 2022 World Expo closed on May 5.")
    assert not _other_end("When did the 2022 World Expo open?", "It opened on May 1 and ended on May 5.")
    assert not _other_end("报名什么时候开始", "报名时间为5月1日至5月10日截止。")  # a span gives both ends
    assert not _other_end("When did the 2022 World Expo open?", "It ran from May 1 until it closed on May 5.")


def test_where_a_thing_ranks_is_a_number_question() -> None:
    assert Question.parse("And where did it rank among national high-tech zones in 2021?").wants == "number"
    assert Question.parse("Where is the CATL base?").wants == "where"


def test_which_places_asks_for_names() -> None:
    """"Which places are named as clusters?" is answered by names ("Wafangdian, Yangtze River Delta")."""
    q = Question.parse("Besides Luoyang, which places are named as China's major bearing industry clusters?")
    text = "China has formed five major clusters represented by Luoyang, Wafangdian and East Zhejiang."
    assert q.wants == "who" and [text[a:b] for a, b in answer_spans(q, text)] == ["Wafangdian", "East Zhejiang"]
    assert Question.parse("平顶山入选了哪些地区的名单？").wants == "who"


def test_a_champion_question_asks_for_a_name_and_a_work_title_is_one_for_the_answerer() -> None:
    q = Question.parse("2023春节档电影票房冠军？")
    text = "《满江红》总票房破26亿，打破20项纪录。"
    assert q.wants == "who" and [text[a:b] for a, b in answer_spans(q, text, works=True)] == ["满江红"]
    assert answer_spans(q, text) == []  # the ranker's features were fitted without titles


def test_how_often_asks_for_a_frequency() -> None:
    q = Question.parse("How often are the alliances required to organize exchange activities?")
    text = "We will organize no less than one activity every quarter and a forum twice a year."
    assert q.wants == "often" and [text[a:b] for a, b in answer_spans(q, text)] == ["every quarter", "twice a year"]
    zh = Question.parse("产业联盟多久举办一次交流活动？")
    said = "联盟每季度至少开展一次活动，每两年召开一次大会。"
    assert zh.wants == "often" and [said[a:b] for a, b in answer_spans(zh, said)] == ["每季度", "每两年"]


def test_a_follow_ups_own_words_weigh_more_than_those_carried_from_earlier(seeded_bot: Chatbot) -> None:
    from chatbot.retrieval.retrieve import CARRIED_WEIGHT
    retriever = seeded_bot.retriever
    standalone = "What growth rate has it reportedly achieved? Xinqianglian business revenue"
    plain = retriever.retrieve(standalone)
    follow = retriever.retrieve(standalone, asked="What growth rate has it reportedly achieved?")
    assert follow.idf["growth"] == plain.idf["growth"]
    assert follow.idf["xinqianglian"] == plain.idf["xinqianglian"] * CARRIED_WEIGHT
    assert retriever.retrieve(standalone, asked=standalone).idf == plain.idf  # not a follow-up


def test_a_question_that_asks_two_things_is_split_only_where_both_parts_ask() -> None:
    from chatbot.retrieval.question import parts
    two = parts(Question.parse("Which bearing company won the award, and how fast did its revenue grow?"))
    assert [p.text for p in two] == ["Which bearing company won the award", "how fast did its revenue grow?"]
    assert two[1].wants == "number"
    assert parts(Question.parse("Apart from bearings, which industry appears in both plans?")) == []
    assert parts(Question.parse("Who won the 2020 Harbour Cup final?")) == []


def test_each_part_of_a_two_part_question_gets_its_own_quote(embeddings: BundledEmbeddings) -> None:
    q = Question.parse("Which company won the Harbour Cup trophy, and how many points was its winning score?")
    ranked = [ScoredChunk(_chunk("a", "Acme Robotics won the Harbour Cup trophy this year.", "en"), 2.0),
              ScoredChunk(_chunk("b", "The winning score was 42 points, a record.", "en"), 1.0)]
    draft = ExtractiveAnswerer(embeddings).answer(q, ranked, embeddings.embed_array([q.text])[0], {})
    assert [ev.chunk.file for ev in draft.evidence] == ["a.txt", "b.txt"], draft.text
    assert "Acme Robotics" in draft.text and "42 points" in draft.text
