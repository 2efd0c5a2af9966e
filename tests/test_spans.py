"""What a passage holds that could answer: answer-like spans (dates, figures, names, places,
frequencies) and the checks of a passage against what the question asks (its kind of figure)."""

from __future__ import annotations

import pytest

from chatbot.retrieval.question import Question
from chatbot.retrieval.spans import (
    answer_spans,
    full_date,
    measure_match,
    number_forms,
    stamp,
    states_relation,
    wanted_match,
)
from chatbot.text.terms import tokenize, tokenize_spans


def spans(question: str, text: str, works: bool = False) -> list[str]:
    return [text[a:b] for a, b in answer_spans(Question.parse(question), text, works=works)]


def test_token_spans_carry_their_offsets_and_agree_with_tokenize() -> None:
    for text in ["苏州轨道交通6号线共设31座车站，全长36.1千米。", "Lena Park's win at the 2019 City Marathon, 2–1."]:
        found = tokenize_spans(text)
        assert [t for _, t in found] == tokenize(text)
        assert all(text[p : p + len(t)].lower() == t for p, t in found if t.isalnum() and t.isascii())
        assert all(text[p : p + len(t)] == t for p, t in found if not t.isascii())


# -- dates ------------------------------------------------------------------------------------------

def test_a_publication_stamp_is_no_date_of_the_event_and_a_full_date_is_one_span() -> None:
    assert spans("When was the Skyhopper game released?",
                 "Mar 3, 2021 ... Skyhopper was released on August 14, 2019, a year after May 2018.") == [
        "August 14, 2019", "May 2018"]


def test_a_month_alone_is_a_date_but_the_verb_may_is_not() -> None:
    question = "When was the shortlist announced?"
    assert spans(question, "At the beginning of May the shortlist was announced; more may follow in early June.") == [
        "beginning of May", "in early June"]
    assert spans(question, "Prices may rise, and they may fall.") == []


def test_full_dates_name_day_month_and_year_and_a_publication_stamp_is_none() -> None:
    assert full_date("It was released on March 9, 2018.") and full_date("发布于2021年9月30日。")
    assert not full_date("It was released in 2016.")
    assert not full_date("Mar 3, 2021 ... released in 2016")  # the stamp says when the snippet was published


def test_a_short_line_that_is_only_a_date_is_a_documents_date_line() -> None:
    line = "2021-04-08 0 By"
    a, b = stamp(line) or (0, 0)
    assert line[a:b] == "2021-04-08"
    assert stamp("A long line about 2021-04-08 and the harbour, with more words") is None


# -- names ------------------------------------------------------------------------------------------

def test_nationality_adjectives_and_clause_openers_are_not_names() -> None:
    assert spans("Who won the award?",
                 "It went to the Danish painter Ida Holm. Having scored twice, Marco thanked a Spanish coach.") == [
        "Ida Holm", "Marco"]


def test_names_for_who_leave_out_sentence_openers_and_the_questions_own_words() -> None:
    assert spans("Who won the City Marathon in 2019?",
                 "With Ana Ruiz's exit on Tuesday, Lena Park won the City Marathon. It was her first.") == [
        "Ana Ruiz", "Lena Park"]


def test_each_question_leaves_out_its_own_words_though_the_spans_of_a_text_are_cached() -> None:
    text = "Ada Moss founded Northwind with Ben Ortiz in 1998."
    assert spans("Who founded Northwind?", text) == ["Ada Moss", "Ben Ortiz"]
    assert spans("Who did Ada Moss found Northwind with?", text) == ["Ben Ortiz"]
    assert spans("Who founded Northwind?", text) == ["Ada Moss", "Ben Ortiz"]  # the second question's words did not stick


def test_which_places_are_answered_by_the_names_beside_the_asked_one() -> None:
    assert spans("Besides Suzhou, which cities are named as the province's main textile clusters?",
                 "The province has formed four main clusters represented by Suzhou, Nantong and Shaoxing.") == [
        "Nantong", "Shaoxing"]


def test_a_work_title_names_a_champion_for_the_answerer_only() -> None:
    question, text = "2021年国庆档票房冠军？", "《山海之间》总票房破12亿，打破多项纪录。"
    assert spans(question, text, works=True) == ["山海之间"]
    assert spans(question, text) == []  # the ranker's features were fitted without titles


# -- places and frequencies -------------------------------------------------------------------------

def test_where_wants_the_place_between_zai_and_the_verb_after_in_or_at_or_after_didian_zai() -> None:
    assert spans("这届博览会将在哪里举行？", "博览会将于19日在苏州国际博览中心举行，当天下午结束。") == ["苏州国际博览中心"]
    assert spans("Where was the 2019 regatta held?",
                 "The 2019 regatta was held in Kingston, with the finish at Harbour Point.") == ["Kingston", "Harbour Point"]
    assert spans("纪念活动将在哪里举行？", "活动将于周六上午10点举行，地点在苏州市文化中心大厅。新馆位于苏州工业园区。") == [
        "苏州市文化中心大厅", "苏州工业园区"]


def test_how_often_is_answered_by_a_frequency() -> None:
    assert spans("How often does the rowing club hold open days?",
                 "The club will hold no less than one open day every month and a regatta twice a year.") == [
        "every month", "twice a year"]
    assert spans("读书会多久举办一次活动？", "读书会每月至少开展一次活动，每三年召开一次年会。") == ["每月", "每三年"]


# -- figures ----------------------------------------------------------------------------------------

def test_a_year_or_a_day_is_not_the_figure_a_how_much_question_asks_for() -> None:
    assert spans("恒远公司被罚了多少钱", "2016年以来，恒远公司多次违规。11月3日，监管部门对恒远公司罚款3420万元。") == ["3420"]
    assert spans("How much did Acme Robotics earn in 2021?", "In 2020, Acme Robotics earned $4 billion.") == ["4"]
    # unless the question counts years
    assert spans("How many years did the repairs take?", "It reopened in 2016 after 9 years.") == ["2016", "9"]


def test_a_day_of_a_date_or_a_clock_time_is_no_figure_and_a_figure_ends_before_its_comma() -> None:
    call = "Acme (ACME -2.15%) Q3 2021 Earnings Call Oct 27, 2021, 5:00 p.m.; revenue was 4,218, up 17,"
    assert spans("How much did Acme Robotics earn in 2021?", call) == ["2.15%", "4,218", "17"]
    assert spans("这次地震的震级是多少", "地震发生在凌晨3时25分，震级6.4级。") == ["6.4"]


def test_an_ordinal_says_which_session_unless_the_question_asks_which_one() -> None:
    prize = "组委会在第12届年会上宣布，总奖金为2.5亿元。"
    assert spans("这项赛事的总奖金是多少", prize) == ["2.5"]
    assert spans("宣布是在第几届年会上", prize) == ["12", "2.5"]


def test_a_number_with_a_leading_zero_is_a_code_not_a_quantity() -> None:
    assert spans("苏州轨道交通6号线一期总共有多少个车站",
                 "6号线一期工程施工05标段附近的车站；6号线一期共设31座车站，最高时速0.8公里。") == ["31", "0.8"]


def test_a_number_inside_a_name_or_an_ordinal_is_no_figure_for_how_much() -> None:
    q = Question.parse("码头的年吞吐量是多少?")
    firsts = "港口打造了国内第一个数字港口系统、第一座5G无人码头。"
    assert answer_spans(q, firsts) == [] and not wanted_match(q, firsts)
    assert answer_spans(q, "C919和3D打印") == []
    growth = "全国GDP3%的增速已快于多数经济体，吞吐量达500万箱。"
    assert [growth[a:b] for a, b in answer_spans(q, growth)] == ["3%", "500"]
    assert not wanted_match(q, "2022年建成第一座智慧码头") and wanted_match(q, "2022年建成两座智慧码头")
    assert wanted_match(Question.parse("苏州排第几?"), "苏州位列全省第一位。")  # unless it asks which place
    # the same in English: "ranked 4th" is a place, not a count, unless the question asks which place
    ranking = "Two are in Suzhou, which ranked 4th, and 117 major enterprises make the 21st list."
    assert spans("How many enterprises are there?", ranking) == ["117"]
    assert "4" in spans("Where does Suzhou rank?", ranking)


def test_asked_which_episode_a_bare_yi_with_a_measure_word_is_an_article_not_a_place() -> None:
    episode = Question.parse("这部纪录片的终章在哪一集？")
    assert not wanted_match(episode, "终章是观众特别喜欢的一个章节。")
    assert wanted_match(episode, "终章在第12集。") and wanted_match(episode, "终章是第一个高潮。")
    assert wanted_match(Question.parse("这部纪录片有几个章节？"), "这部纪录片是一个章节。")  # a count: one


def test_a_number_in_the_question_is_found_however_the_passage_writes_it() -> None:
    assert number_forms("17").search("The seventeenth edition of the fair opened in May.")
    assert number_forms("21").search("the twenty-first season") and number_forms("12").search("第十二届")
    assert number_forms("1,500").search("1500 jobs")
    assert not number_forms("2").search("two of them")  # a small count alone says too little
    assert not number_forms("17").search("It opened on 7 May.")


@pytest.mark.parametrize("question, text, kind", [
    ("What was Suzhou's GDP in 2021?", "Suzhou's GDP reached 2.27 trillion yuan.", True),  # money
    ("What was Suzhou's GDP in 2021?", "营收达$3.15", True),
    ("What was Suzhou's GDP in 2021?", "Suzhou completed 23 key projects in 2021.", False),
    ("2023年研究生报名人数", "报名人数474万", True),  # people
    ("2023年研究生报名人数", "共有2580名研究生", True),
    ("2023年研究生报名人数", "考试持续3天", False),
    ("2022年全省森林覆盖率达到了多少？", "森林覆盖率达到31.2%", True),  # a rate
    ("利润增速是多少", "利润增长了三倍", True),
    ("跨江大桥主桥多长", "主桥全长1,208米", True),  # a length
    ("跨江大桥主桥多长", "合龙用了近9个小时", False),
    ("How tall is the lighthouse?", "The lighthouse is 64 m tall.", True),
    ("How many ferries were built?", "It built 12.", True),  # no kind asked: any figure
    ("这家基金投资了多少家公司", "投资了38家公司", True),  # a count of companies, not money
    ("欧元汇率是多少", "1欧元兑7.8元人民币", True),  # an exchange rate is no percentage
    ("Wi-Fi 7下载速率是多少", "峰值达5.8Gbps", True),
    ("What is the frame rate of the drone camera?", "It records at 240 fps.", True),
    # how much something grew: a rate answers as well as an amount
    ("By how much did the port's operating income grow year-on-year last year?", "a year-on-year increase of 7%", True),
    ("By how much did the port's operating income grow year-on-year last year?", "up 3 billion yuan", True),
    ("去年营业收入同比增长了多少?", "同比增长6.35%", True),
])
def test_a_question_about_money_a_rate_people_or_a_length_wants_a_figure_of_that_kind(question: str, text: str,
                                                                                    kind: bool) -> None:
    assert measure_match(Question.parse(question), text) is kind


# -- what a passage is about ------------------------------------------------------------------------

@pytest.mark.parametrize(("term", "text", "states"), [
    ("导演", "剧中林晓饰演的陈舟出生于渔民世家，导演也透露 ...", False),  # the role as a subject that says something
    ("导演", "与其说导演在讲一个港口的故事，不如说导演在拍一代人。", False),
    ("季军", "排名第二的是《山海之间》；季军则是《远航》", True),  # 则是 names the holder
    ("导演", "该片导演周岚表示，续集已在筹备。", True),
    ("导演", "周岚导演表示，续集已在筹备。", True),
    ("创立", "这家合唱团由陈默创立。", True),
    ("创立", "这家合唱团成立于2009年。", False),
])
def test_a_bare_role_as_a_subject_names_no_one(term: str, text: str, states: bool) -> None:
    assert states_relation(term, text) is states
