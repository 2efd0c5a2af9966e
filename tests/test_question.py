"""Reading a question: the kind of answer it wants, its parts, and what a sentence must say to
answer a "who" question (the relation in Chinese, the verb or office in English)."""

from __future__ import annotations

import pytest

from chatbot.retrieval.question import Question, relation_terms, stated_relation


@pytest.mark.parametrize("question, wants", [
    # "the release date of": a date, though the question opens with "what"
    ("What is the release date of the Harbour Cup video game?", "date"),
    ("When did the ferry terminal open?", "date"),
    # a measured quantity (revenue) wants a figure, without "how much"
    ("What was Acme Robotics' revenue in Q3 2021?", "number"),
    ("2024上半年苏州工业增加值增长率", "number"),  # a rate
    ("杭州湾跨海大桥主桥多长", "number"),  # a length
    ("Who chairs the harbour committee?", "who"),
    ("What is the name of the new ferry?", ""),  # a name, but no kind the spans know
    # which episode or which edition is a number, even beside 在哪里
    ("这部纪录片的终章在哪一集？", "number"),
    ("第几届博览会在哪里举办？", "number"),
    ("博览会在哪里举办？", "where"),
    # where a thing ranks is a number; where a thing is, a place
    ("And where did it rank among the provincial ports in 2022?", "number"),
    ("Where is the ferry terminal?", "where"),
    # which places are answered by names
    ("Besides Suzhou, which cities are named as the province's main textile clusters?", "who"),
    ("苏州入选了哪些省份的名单？", "who"),
    # a bare question ending in a title asks who holds it; a champion may be a film
    ("2021年国庆档票房冠军？", "who"),
    ("2024年国家男篮主教练", "who"),
    # how often wants a frequency
    ("How often does the rowing club hold open days?", "often"),
    ("读书会多久举办一次活动？", "often"),
])
def test_the_kind_of_answer_a_question_wants(question: str, wants: str) -> None:
    assert Question.parse(question).wants == wants


@pytest.mark.parametrize("question, relation", [
    ("这家合唱团是谁创办的？", ("创办",)),  # the word after 谁
    ("谁是博览会开幕式的主持人", ("主持人",)),  # 谁是X: the role, last
    ("2021年城市联赛冠军是谁", ("冠军",)),  # X是谁: the role before it
    ("2022年公开赛女单亚军", ("亚军",)),  # a bare question ending in a title
    ("《山海之间》的导演", ("导演",)),
    ("哪家企业排名第三?", ()),  # "which company": an instance answers, not a relation
    # ... but "by which company" asks who did what follows, as 谁 does
    ("这座实验室是由哪家企业投资建设的?", ("投资",)),
    ("这部纪录片由哪家公司出品？", ("出品",)),
    ("Who founded the bakery?", ()),  # English shows names: no relation term
])
def test_a_chinese_who_question_names_the_relation_a_sentence_must_state(question: str,
                                                                         relation: tuple[str, ...]) -> None:
    assert relation_terms(Question.parse(question)) == relation


@pytest.mark.parametrize("question, text, says", [
    # a result is stated by its synonyms: beat, defeated, champion
    ("Who won the 2019 city marathon?", "Lena Park defeated the defending champion", True),
    ("Who won the 2015 regatta?", "the reigning champion remains the Blue Harbour crew", True),
    # naming the event is not saying who won it
    ("Who won the 2019 city marathon?", "a study of the 2019 city marathon route", False),
    ("Who acquired the bakery chain?", "which was bought by Northwind in 2014", True),
    ("Who directed The Lighthouse Keeper?", "the Mara sisters, who direct films for television", True),
    ("Who is the CEO of Northwind in 2021?", "Northwind's chief executive Ada Moss", True),
    ("Who is the lead actress in The Lighthouse Keeper?", "The film stars Ines Varga", True),
    # a film that won prizes names no actress; a secretary and director is no chairman
    ("Who is the lead actress in The Lighthouse Keeper?", "The Lighthouse Keeper won awards for best picture", False),
    ("Who is the chairman of the Harbour Rowing Club?", "Tom Reyes, secretary and director of the club", False),
])
def test_an_english_who_question_names_the_verb_or_office_a_sentence_must_state(question: str, text: str,
                                                                                 says: bool) -> None:
    pattern = stated_relation(Question.parse(question))
    assert pattern is not None
    assert bool(pattern.search(text)) is says


@pytest.mark.parametrize("question", [
    "Who was the runner-up of the 2019 city marathon?",  # a result can be named without its word
    "Who is Ada Moss?",  # no verb and no office
    "这家合唱团是谁创办的？",  # Chinese questions state their relation through relation_terms
])
def test_some_who_questions_name_no_verb_or_office_to_look_for(question: str) -> None:
    assert stated_relation(Question.parse(question)) is None
