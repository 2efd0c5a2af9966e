"""Which sentence the extractive answerer quotes first, of several that could answer.

The question's words weigh most (a word in another form less than the word itself, a Chinese
word also inside a longer one), then the kind of answer asked for and how fully a sentence gives
it (the figure that counts what was asked, a whole date, a list for "which ...s", a name for
"what is it called"), what the sentence refers back to, and what other files confirm. Each test
sets sentences that differ in one of these and checks which one is quoted.
"""

from __future__ import annotations

from passages import ask, cited

from chatbot.index.embeddings import BundledEmbeddings

# -- the question's words ---------------------------------------------------------------------------

def test_a_chinese_question_word_counts_inside_a_longer_word_of_the_passage(embeddings: BundledEmbeddings) -> None:
    """jieba keeps "罚款" whole in a passage while the question's "被罚了" gives "罚": the fine is
    the sentence about the penalty, not the one above it about revenue."""
    draft = ask(embeddings, "恒远公司被罚了多少钱", "恒远公司今年的营收达到3420万元。", "监管部门对恒远公司处以罚款2100万元。")
    assert cited(draft)[:1] == ["b"] and "2100" in draft.text, draft.text


def test_an_asked_word_in_another_form_counts_for_less_than_the_word(embeddings: BundledEmbeddings) -> None:
    """"was winning best picture" answers "Which film won Best Picture" before a sentence that only
    names the ceremony; a form ("release") counts, but less than the word ("released"); a noun of
    the doer ("winner") is no form of the verb."""
    draft = ask(embeddings, "Which film won Best Picture at the 12th Harbour Film Awards?",
                "The 12th Harbour Film Awards honored the best picture and the best actors of 2019. "
                "At the 12th Harbour Film Awards, The Lighthouse Keeper was winning best picture.")
    assert not draft.refused and draft.evidence[0].quote.startswith("At the 12th"), draft.text
    question = "When was the Skyhopper game released?"
    exact = ask(embeddings, question, "The Skyhopper game release was in May. The Skyhopper game was released in May.")
    assert exact.evidence[0].quote == "The Skyhopper game was released in May.", exact.text
    form = ask(embeddings, question, "The Skyhopper game was out in May. The Skyhopper game release was in May.")
    assert form.evidence[0].quote == "The Skyhopper game release was in May.", form.text
    winning = ask(embeddings, "Which crew won the Harbour Cup?",
                  "The Harbour Cup winner was the Blue crew. The Harbour Cup winning crew was Northwind.")
    assert winning.evidence[0].quote == "The Harbour Cup winning crew was Northwind.", winning.text
    planned = ask(embeddings, "When is the harbour bridge planned to open?",
                  "The harbour bridge may open in 2025. The harbour bridge plan is to open in 2026.")
    assert planned.evidence[0].quote == "The harbour bridge plan is to open in 2026.", planned.text


# -- the kind of answer, and how fully a sentence gives it ------------------------------------------

def test_how_many_prefers_the_figure_that_counts_what_was_asked(embeddings: BundledEmbeddings) -> None:
    """"28个省份" is a figure in a sentence about the students, "5210名本科生" counts them."""
    zh = ask(embeddings, "港城大学2022年录取了多少名本科生？", "港城大学2022年录取的本科生来自28个省份。港城大学2022年共录取5210名本科生。")
    assert zh.evidence[0].quote == "港城大学2022年共录取5210名本科生。", zh.text
    en = ask(embeddings, "How many stations does Line 6 have?",
             "Line 6 stations were built over 4 years by the city. Line 6 has 31 stations.")
    assert en.evidence[0].quote == "Line 6 has 31 stations.", en.text
    # a rank is not a count: "9 busiest lines" is no better an answer to where Line 6 ranks
    rank = ask(embeddings, "Where did Line 6 rank among the city's lines?",
               "Line 6 ranked 3rd by riders among the city's lines. Line 6 ranked among the city's 9 busiest lines.")
    assert rank.evidence[0].quote == "Line 6 ranked 3rd by riders among the city's lines.", rank.text


def test_of_two_supported_sentences_the_one_with_the_asked_date_answers(embeddings: BundledEmbeddings) -> None:
    draft = ask(embeddings, "When did the Harbour Cup final take place?",
                "Fans argued where the Harbour Cup final would take place: in the new stadium.",
                "The Harbour Cup final was on 12 May 2021.")
    assert cited(draft)[:1] == ["b"], draft.text


def test_a_question_asking_what_a_thing_is_called_wants_a_name_not_the_topics_own(
        embeddings: BundledEmbeddings) -> None:
    """A name given in quotation marks or after 叫作 answers 叫什么; the event's own name in quotation
    marks does not, and a sentence naming nothing is no further quote."""
    question = "港城运动会吉祥物叫什么"
    draft = ask(embeddings, question, "2018年9月，林晓参加“2022港城运动会”吉祥物全球征集活动。",
                "港城运动会吉祥物的征集活动吸引了很多人参加。", "港城运动会吉祥物“海宝宝”，以海豚为原型进行设计创作。")
    assert cited(draft)[:1] == ["c"], draft.text
    called = ask(embeddings, question, "港城运动会吉祥物的征集活动吸引了很多人参加。", "港城运动会吉祥物的名字叫作海宝宝。")
    assert cited(called)[:1] == ["b"], called.text
    en = ask(embeddings, "What is the name of the Harbour Games mascot?",
             "The Harbour Games mascot contest drew many entries from local schools.",
             "The Harbour Games mascot is a dolphin named Splash.")
    assert cited(en)[:1] == ["b"], en.text


# -- what a sentence refers back to -----------------------------------------------------------------

def test_a_sentence_that_refers_back_is_covered_through_the_one_before(embeddings: BundledEmbeddings) -> None:
    """"It was released on ..." holds only one of the question's words, yet answers when the sentence
    before names the rest (a long sentence, so not as a heading)."""
    draft = ask(embeddings, "When was the Skyhopper 2 platformer released by Lumen?",
                "Skyhopper 1 was released in 2016 and Skyhopper 2 players still meet.",
                "Skyhopper 2 is a platformer by Lumen in which a small bird flies over seven islands to find its nest. "
                "It was released on March 9, 2018.")
    assert not draft.refused and draft.evidence[0].quote == "It was released on March 9, 2018.", draft.text


def test_a_sentence_under_a_short_heading_is_covered_through_the_heading(embeddings: BundledEmbeddings) -> None:
    """A plan's item names its topic in a heading sentence and its content in the next one; a long
    sentence before is no heading."""
    question = "How often do the guilds hold exchange activities?"
    content = "Based on the common needs of member companies, we will organize no less than one activity every quarter."
    draft = ask(embeddings, question, f"Strengthen guild exchange activities. {content}")
    assert not draft.refused and "every quarter" in draft.text, draft.text
    long_first = "The guilds held many exchange meetings last year with partners from several provinces."
    assert ask(embeddings, question, f"{long_first} {content}").evidence[0].quote == long_first


# -- what other files say ---------------------------------------------------------------------------

def test_a_name_that_several_sources_state_is_preferred(embeddings: BundledEmbeddings) -> None:
    """Corroboration: the same name in other retrieved files counts for it."""
    draft = ask(embeddings, "Who won the 2020 Harbour Cup final?",
                "The 2020 Harbour Cup final was won by Anna Berg after a long match.",
                "The 2020 Harbour Cup final was won by Clara Holt in straight sets.",
                "Clara Holt lifted the trophy in front of a full stadium.",
                "Fans cheered for Clara Holt all week long.")
    assert not draft.refused and cited(draft)[0] == "b", draft.text
