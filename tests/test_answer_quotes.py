"""How the extractive answerer quotes: where a sentence ends, how a long one is cut down to the
clauses that carry the answer, what may stand beside the first quote, and that every marker of
an answer opens a verbatim quote.

A sentence is cut only when it is longer than the answer's budget (300 characters in English, 150
in Chinese), so the cutting tests write long sentences on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from passages import ask, cited

from chatbot.answering.citations import check, markers
from chatbot.app import Chatbot, build
from chatbot.index.embeddings import BundledEmbeddings

BAKERIES = ("Goldcrust, Oven Hill, Crumb Works, Seaside Mills, Rye House, Millstone, Harbour Bakes, "
            "the Old Oven Company, Sunrise Breads and the Kingston Flour Company")
# an office holder, then a long list of winners: longer than the budget
AWARDED = ("Lee Hart, secretary and director of the party group of the Kingston Bureau of Trade and Commerce, "
           f"awarded golden loaf medals for 10 prize-winning bakeries such as {BAKERIES}.")


# -- cutting a long sentence ------------------------------------------------------------------------

def test_a_cut_keeps_the_clause_with_the_figure_of_the_asked_kind(embeddings: BundledEmbeddings) -> None:
    """What made a sentence answer a GDP question is its sum of money: the cut must show it, not a
    clause with some other figure that shares more of the question's words."""
    text = ("Reporters learned from the Kingston bureau that Kingston introduced 17 tasks in its 2022 plan, "
            "covering farm machinery, bearings, robots, new materials, new energy, shipping, logistics and trade, "
            "and several more fields that the city's planners have named in their yearly report, "
            "and the city aims in September to promote its industrial cluster scale to 330 billion yuan.")
    assert len(text) > 300
    draft = ask(embeddings, "What was Kingston's GDP in 2022?", text)
    assert "330 billion yuan" in draft.evidence[0].quote, draft.text


def test_a_long_list_is_cut_to_keep_its_items_with_the_words_that_introduce_them(
        embeddings: BundledEmbeddings) -> None:
    """For "which companies", the whole sentence while it fits twice the cap; past that, the whole
    list with the words that introduce it, not the office holder before it; with room for part of
    the list only, the question's words come before more names."""
    question = "Which companies won the golden loaf medals?"
    listed = ("Ada Moss, who directs the trade bureau of the city and has led it for many years, awarded golden "
              "loaf medals for 10 prize-winning companies such as Goldcrust Bakery Group, Oven Hill Breads, Crumb "
              "Works Company, Seaside Mills, Rye House Bakers, Millstone Foods, Harbour Bakes, the Old Oven Company, "
              "Sunrise Breads and the Kingston Flour Company.")
    assert len(listed) > 300
    assert ask(embeddings, question, listed).evidence[0].quote == listed
    listed = listed.replace("for many years", "for many years " + "and has opened its new harbour office, " * 7)
    assert len(listed) > 600
    whole = ask(embeddings, question, listed).evidence[0]
    assert whole.quote.startswith("awarded golden loaf medals") and whole.quote.endswith("Kingston Flour Company."), whole
    assert listed[whole.start_char : whole.end_char] == whole.quote
    more = ", ".join(f"{name} Bakery No. {n}" for n in range(1, 6) for name in ("Bay", "Northwind", "Crumbly", "Dough"))
    longer = listed.replace("such as", f"such as {more}, Bread Street and")
    assert len(longer) - longer.index("awarded") > 600  # a list question may quote twice the cap
    part = ask(embeddings, question, longer).evidence[0]
    assert part.quote.startswith("awarded golden loaf medals") and 300 < len(part.quote) <= 600, part.quote


def test_a_list_question_quotes_the_whole_list_up_to_twice_the_cap(embeddings: BundledEmbeddings) -> None:
    """"Which companies": a complete list is the answer, so the quote may run to twice the usual
    300 characters; a question for one thing keeps the usual cap."""
    names = ", ".join(f"{name} Bakery No. {n}" for n in range(1, 3) for name in ("Bay", "Northwind", "Crumbly", "Dough"))
    text = (f"At the ceremony on June 16 the trade bureau awarded golden loaf medals to 12 bakeries: {names}, "
            "Goldcrust, Oven Hill, Crumb Works and the Kingston Flour Company, which were chosen by a jury.")
    assert 300 < len(text) < 600
    listed = ask(embeddings, "Which bakeries were awarded golden loaf medals?", text)
    assert "Bay Bakery No. 1" in listed.text and "Kingston Flour Company" in listed.text, listed.text
    one = ask(embeddings, "On what date did the trade bureau award the golden loaf medals?", text)
    assert "June 16" in one.text and len(one.evidence[0].quote) <= 300, one.text


def test_a_cut_quote_never_starts_with_a_dangling_conjunction(embeddings: BundledEmbeddings) -> None:
    """"and encourage bakers ..." leans on the clause before it: a quote cut from a long sentence
    starts where it reads on its own."""
    text = ("In order to recognise the achievements of the bakeries of the harbour district in the field of "
            "slow-fermented rye bread and encourage the bakers to continue to carry out innovation in their ovens, "
            "the Kingston Bureau of Trade and Commerce held the first golden loaf licensing ceremony on June 16 "
            "in the old harbour hall, before an audience of four hundred guests and jurors.")
    assert len(text) > 300
    for question in ("Which bureau held the golden loaf licensing ceremony?", "When was the golden loaf ceremony held?"):
        quote = ask(embeddings, question, text).evidence[0].quote
        assert not quote.lower().startswith(("and ", "which ", "but ")), quote
        assert text[text.index(quote) : text.index(quote) + len(quote)] == quote


def test_a_quoted_slogan_is_never_cut_at_its_own_commas(embeddings: BundledEmbeddings) -> None:
    text = ("The city will improve its work layout, streamline approvals for new plants and new berths, widen the "
            "roads to the harbour, train more dock workers, and strive to achieve the goal of “four strong, two "
            "excellent, three competitive”, officials said on Monday at a long press conference in the harbour hall.")
    assert len(text) > 300
    draft = ask(embeddings, "What goal will the city strive to achieve?", text)
    assert "“four strong, two excellent, three competitive”" in draft.text, draft.text


def test_a_quotation_mark_that_never_closes_protects_nothing(embeddings: BundledEmbeddings) -> None:
    """A stray opening mark does not make the rest of the sentence one clause: the cut still finds
    the clause that answers, far from the sentence's start."""
    text = ("Officials will improve the work “layout, streamline approvals for new plants and new berths, widen the "
            "roads to the harbour, train more dock workers, open two schools, rebuild the fish market, plant trees "
            "along the river, repair the old lighthouse and the sea wall, pave the market square, and the city will "
            "strive to achieve the goal of full employment, officials said on Monday at a long press conference.")
    assert text.index("full employment") > 300
    draft = ask(embeddings, "What goal will the city strive to achieve?", text)
    assert "goal of full employment" in draft.text, draft.text


def test_an_and_inside_a_name_is_not_a_cut_point(embeddings: BundledEmbeddings) -> None:
    """"Bureau of Trade and Commerce" is one name: the cut keeps it whole."""
    text = ("Kingston Bureau of Trade and Commerce held the golden loaf ceremony on June 16 in the old harbour hall, "
            "and awarded the medals, and Goldcrust and Oven Hill took part, together with many guests from the "
            "bakers' guild, the flour mills, the harbour board, the schools and the press, who stayed until late.")
    assert len(text) > 300
    draft = ask(embeddings, "When was the golden loaf ceremony held?", text)
    assert draft.evidence[0].quote.startswith("Kingston Bureau of Trade and Commerce held"), draft.text


def test_a_long_passage_in_the_other_language_is_cut_by_how_similar_each_clause_is(
        embeddings: BundledEmbeddings) -> None:
    """A Chinese question's words cannot meet an English passage's clauses: the embedding judges
    them, so the clause about smart factories is kept, not another with a figure."""
    text = ("The city held 3 press conferences on Tuesday, officials counted 40,000 visitors at the spring fair, "
            "the harbour handled 2 million containers in May, the mayor of Suzhou said 96 smart factories had been "
            "built, more than planned, while 5 new parks opened along the river and 12 schools were rebuilt, "
            "officials said.")
    assert len(text) > 300
    draft = ask(embeddings, "苏州建了多少家智能工厂？", text)
    assert "96 smart factories" in draft.text and len(draft.evidence[0].quote) <= 300, draft.text


# -- what may stand beside the first quote ----------------------------------------------------------

def test_a_sentence_passed_over_for_the_first_quote_is_no_further_quote(embeddings: BundledEmbeddings) -> None:
    """Sentences that scored above the first quote were passed over for it (here: they say who
    will choose, not who directed): they do not come back beside it."""
    draft = ask(embeddings, "Who directed the harbour film The Lighthouse Keeper?",
                "The director of the harbour film The Lighthouse Keeper will be named by Orchard Pictures.",
                "The director of the harbour film The Lighthouse Keeper will be chosen by Ines Varga.",
                "Mara Holt directed the film The Lighthouse Keeper.")
    assert cited(draft) == ["c"], draft.text


@pytest.mark.parametrize(("question", "first", "left_out", "vouches"), [
    # a rival answer
    ("Which team won the most medals at the 2019 Harbour Regatta?",
     "Northwind Rowers won the most medals at the 2019 Harbour Regatta, 14 in all.",
     "The Kingston crew won the most sculling medals at the 2019 Harbour Regatta.",
     "Northwind Rowers topped the medal table of the 2019 Harbour Regatta."),
], ids=["rival"])
def test_a_first_answer_another_file_vouches_for_needs_no_rival_quote_beside_it(
        embeddings: BundledEmbeddings, question: str, first: str, left_out: str, vouches: str) -> None:
    alone = ask(embeddings, question, first, left_out)
    assert cited(alone) == ["a", "b"], alone.text  # no second source: both stand
    vouched = ask(embeddings, question, first, left_out, vouches)
    assert cited(vouched)[:1] == ["a"] and "b" not in cited(vouched), vouched.text


# -- citations hold for any question ----------------------------------------------------------------

@pytest.fixture(scope="module")
def seeded_bot(seeded_data_dir: Path) -> Chatbot:
    return build(make_settings(seeded_data_dir))


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
