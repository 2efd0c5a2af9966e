"""The extractive answerer (the offline default) and refusal.

It reads the ranked chunks sentence by sentence, scores each sentence as an answer to the
question (IDF-weighted term coverage, an English word in another form counting for less; the
kind of answer wanted, the chunk's rank, and for a passage in the other language its embedding
similarity), then quotes the best supported one, cut down to the clauses that carry the
answer, and adds further quotes (up to `max_citations`, 2 by default) only when they bring
something new (another document, a missing question term) within the length budget. A
question that asks for several ("which companies", 哪些) prefers a sentence that enumerates
them and keeps the whole list when it is cut; one that asks what a thing is called (叫什么,
"the name of") prefers a sentence that gives a name, quoted or after 叫作. A sentence is no
support when its answers are about something else than asked: the document's date line,
another place in a ranking, a numbered kin of the asked thing ("Splatoon 1 ... in 2015" for
Splatoon 2), the office of another body ("Apple CEO" for Nintendo's), the other end of an
event (when it ended, for when it began), a list of works that names the asked one among
others, or a file that lacks the question's year.
It refuses when the best evidence is weak by signals that do not depend on passage length, and
when no close sentence holds the kind of answer asked for (quoting the topic is no answer): a
time for "when", a place for "where", a figure of the asked kind for "how many" (money for a
GDP, a length for how long a bridge is), and for "who" a name in an English sentence or the
relation asked (谁创立的: 创立) in a Chinese one. Before refusing it reads further passages in
the other language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from chatbot.answering.citations import Evidence, defuse_markers
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.retrieval.question import Question, asks_publication, asks_role, parts, relation_terms, stated_relation
from chatbot.retrieval.spans import (
    answer_spans,
    figures_of_other_years,
    full_date,
    measure_match,
    number_forms,
    office_of_another_body,
    other_variant,
    places,
    stamp,
    states_relation,
    wanted_match,
)
from chatbot.text import lexicon
from chatbot.text.chunking import Span, split_sentences
from chatbot.text.terms import han_bigrams, tokenize, with_parts
from chatbot.types import ScoredChunk

REFUSAL = {
    "en": "The documents do not answer this question.",
    "zh": "文档中没有找到这个问题的答案。",
}
BUDGET = {"en": 300, "zh": 150}  # characters of quoted text in one answer

_GLUED_END = re.compile(r"(?<=[a-z0-9)\]])[.!?][”’\"]?(?=[A-Z][a-z])")
_ASKS = re.compile(r"[?？]\s*$")
# A sentence that asks with a full stop ("有人开始想想GPT-4会是什么样的了。"): a question word or
# particle in its last clause; one earlier ("无论问什么，...都能回答。") leaves it a statement
_WONDERS = re.compile(r"(?:什么|怎么|吗|呢)[^，,；;：:“”]*$")
_ENDS_SENTENCE = re.compile(r"[。！？.!?]$")
_MENU_SEPARATOR = re.compile(r"\s+[·•]\s+|\s*[|｜]\s*")
_NAME_AND = re.compile(r"and\s+[A-Z]")
_ENDS_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*$")
_CLAUSE_END = re.compile(r"[，,；;：:、]\s*|\s+[–—-]\s+|\s(?=(?:and|which|while|but|whereas|including)\s)")
# A quoted name or slogan ("four strong, two excellent, three competitive") is one clause: its
# commas are not cut points. Only a quote that closes soon counts, so a stray mark cuts nothing.
_STAMP_WITHIN = 300  # characters from the start of a document where its date line may stand
# A short sentence before a longer one is read as its heading ("Strengthen exchange
# activities." over "... no less than one activity every quarter"): within a line of text
# (60 lost that seeds answer; 80 and 100 gave the same answers on both packs)
_HEADING = 80
_REFERS_BACK = re.compile(r"(?:it|its|this|these|they|their|he|she|his|her)\b|(?:该|其|它|他|她|此)", re.I)
_QUOTED = re.compile(r"“[^“”]{1,80}”|「[^「」]{1,80}」|『[^『』]{1,80}』|《[^《》]{1,80}》|\"[^\"]{1,80}\"")


@dataclass
class Sentence:
    evidence: Evidence
    rank: int  # of its chunk in the ranking, 0 = best
    terms: set[str]
    context: frozenset[str] = frozenset()  # the previous sentence's terms, when this one refers back to it or it is a heading
    stamp: bool = False  # the document's date line, near its start
    coverage: float = 0.0
    similarity: float = 0.0
    wanted: bool = False
    answers: frozenset[str] = frozenset()  # the answer-like spans it holds (names, dates, figures)
    support: int = 0  # other retrieved files that hold one of them too
    counts: bool = False  # a figure followed by what the question counts ("7436名本科生", "10 stations")
    kin: bool = False  # its answers are about another of the asked thing's kin ("Splatoon 1" for "Splatoon 2")
    words_met: int = 0  # in the other language: the question's words (not numbers) met through the lexicon
    score: float = 0.0


@dataclass
class Draft:
    """What an answerer proposes; the app turns it into an Answer with checked citations."""

    text: str
    evidence: list[Evidence]
    refused: bool
    related: list[Evidence] = field(default_factory=list)
    notice: str = ""


def _terms(text: str) -> set[str]:
    """A sentence's terms, hyphenated words also by their parts ("award-winning" answers "winning")."""
    return with_parts(tokenize(text))


def _in_other_forms(asked: Iterable[str], terms: set[str]) -> set[str]:
    """The asked English words that `terms` hold only in another form ("released" for "release",
    "winning" for "won")."""
    forms = {_stem(t) for t in terms if t.isascii() and t.isalpha()}
    return {t for t in asked if t not in terms and t.isascii() and t.isalpha() and _stem(t) in forms}


# the verb forms `lexicon.norm` cannot undo; a noun of the doer ("winner") is not one of them
_IRREGULAR = {"won": "win", "wins": "win", "winning": "win", "bought": "buy", "sold": "sell", "made": "make",
              "held": "hold", "began": "begin", "begun": "begin", "led": "lead", "took": "take",
              "taken": "take", "became": "become"}


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """An English word as `_in_other_forms` compares it."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    base = lexicon.norm(word)
    if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "aeiousl":
        base = base[:-1]  # "stopping", "planned"
    return base


def _split_glued(text: str, spans: list[Span]) -> list[Span]:
    """Also cut where a sentence end lost its space ("(association).We will ...", "by 2022.We
    will", "330 billion yuan.”The plan"), common in text pasted from web pages; abbreviations
    ("U.S.", "No.1") and decimals do not match."""
    out: list[Span] = []
    for sp in spans:
        pos = sp.start
        for m in _GLUED_END.finditer(text, sp.start, sp.end):
            out.append(Span(pos, m.end()))
            pos = m.end()
        out.append(Span(pos, sp.end))
    return out


def _must_show(q: Question, s: Sentence) -> bool:
    """Whether a sentence must hold the kind of answer asked for to answer at all: a date, a
    figure or a place; for "who", a name when the sentence is English (capitals show names
    there) and the relation asked when it is Chinese (a name there gives no sign of itself)."""
    if q.wants == "who":
        return s.evidence.chunk.lang == "en" or bool(relation_terms(q))
    return q.wants in ("date", "number", "where")


def _shows(q: Question, s: Sentence) -> bool:
    """Whether a sentence holds the kind of answer asked for: a GDP is a sum of money, not any
    figure, and 2022's box office not 2021's; 零壹空间是谁创立的 is answered by a sentence that
    says 创立, and "who was named" not by one saying who will be."""
    relation = relation_terms(q) if s.evidence.chunk.lang == "zh" else ()
    if relation:
        return all(states_relation(t, s.evidence.quote) or t in s.context for t in relation)
    quote = s.evidence.quote
    if q.wants == "who" and _NOT_YET.search(quote) and not _FUTURE_Q.search(q.text):
        return False  # "one of the finalists will be named ...": who it was, it does not say yet
    stated = stated_relation(q) if s.evidence.chunk.lang == "en" else None
    if stated:
        said = stated.search(quote)
        if not _says(stated, s):
            return False  # "a case study on the 2017 French presidential election" does not say who won
        if said and asks_role(q) and not _names_role(q, quote, stated):
            return False  # "the leading role of the chairman of the alliance" names no chairman
    return s.wanted and measure_match(q, quote) and not figures_of_other_years(q, quote, s.evidence.chunk.text)


def _says(stated: re.Pattern[str], s: Sentence) -> bool:
    """Whether a sentence, or the one it refers back to, says the verb or office asked about."""
    return bool(stated.search(s.evidence.quote)) or any(stated.fullmatch(t) for t in s.context)


def _names_role(q: Question, text: str, stated: re.Pattern[str]) -> bool:
    """Whether a sentence names someone beside the role asked for ("director, Francis Ford
    Coppola", "Facebook CEO Mark Zuckerberg"): within a few words of it. A single capitalised
    word opening the sentence is not taken for a name ("Give full play to ... the chairman")."""
    names = [(a, b) for a, b in answer_spans(q, text, works=True)
             if " " in text[a:b] or text[:a].strip(_OPENING)]
    roles = [(m.start(), m.end()) for m in stated.finditer(text)]
    return any(len(_WORD.findall(text[min(b, d):max(a, c)])) <= _ROLE_GAP_WORDS
               for a, b in names for c, d in roles)


_ROLE_GAP_WORDS = 4
_WORD = re.compile(r"\w+")
_OPENING = " \"'“‘([-–—…."


# A choice still to come, in a sentence, and a question about the future (which it may answer)
_NOT_YET = re.compile(r"\bwill be (?:named|announced|awarded|chosen|selected|revealed|crowned|elected|decided)\b", re.I)
_FUTURE_Q = re.compile(r"\bwill\b", re.I)


class ExtractiveAnswerer:
    """Quotes the sentence(s) of the ranked chunks that best answer the question."""

    # Evidence thresholds, calibrated on the seeds pack and rgb-dev (see evals/README.md).
    min_coverage = 0.25
    min_similarity = 0.25
    min_cross_coverage = 0.4  # through the lexicon, which matches more loosely than the words themselves
    min_cross_words = 2  # ... and of at least two of the question's words, numbers aside
    cross_lang_chunks = 4
    agreement_bonus = 0.25  # of the weaker of lexicon coverage and similarity, across languages (0.5: same answers)
    wanted_bonus = 0.15  # a sentence holding the kind of answer asked for (a date, a number, a name)
    context_weight = 0.7  # coverage counted through the sentence a pronoun refers to (0.8 added false refusals)
    full_date_bonus = 0.05  # "when": a day, month and year over a year alone
    support_bonus = 0.1  # per other file that states the same name, date or figure (at most two)
    wanted_window = 0.7  # of the best score, where a sentence holding the wanted answer is looked for
    office_bonus = 0.05  # "which official": a name in apposition with an office (0.1 lost an rgb-dev answer)
    counted_bonus = 0.1  # "how many X": a figure that counts X over one that counts something else
    list_bonus = 0.1  # "which companies", 哪些: a sentence that names several over one that names one
    # an asked English word met only in another form ("released" for "release", "winning" for
    # "won", "industrial" for "industry") counts for this share of its weight: the form is
    # weaker evidence than the word (half its weight, or all of it, lost answers on both packs)
    form_weight = 0.3
    look_at = 2  # the best-scoring sentences that may carry the answer when a better one lacks support
    # ... and any scoring within this share of the best (0.7 to 0.85 gave the same answers on
    # both packs; 0.6 cut rgb-dev rejection from 0.17 to 0.12)
    close_ratio = 0.8

    def __init__(self, embeddings: BundledEmbeddings, max_citations: int = 2) -> None:
        self.embeddings = embeddings
        self.max_citations = max_citations

    def sentences(self, ranked: Sequence[ScoredChunk], first_rank: int = 0) -> list[Sentence]:
        out: list[Sentence] = []
        for rank, sc in enumerate(ranked, first_rank):
            c = sc.chunk
            previous: set[str] = set()
            last = ""
            for span in _split_glued(c.text, split_sentences(c.text)):
                ev = Evidence(c, c.start_char + span.start, c.start_char + span.end)
                before, previous = previous, _terms(ev.quote)
                heading, last = last, ev.quote
                if c.seq == 0 and span.start == 0 and ev.quote == c.title and not _ENDS_SENTENCE.search(c.title):
                    continue  # a headline restates the topic; the body carries the facts
                if _ASKS.search(ev.quote) or _is_menu(ev.quote) or _WONDERS.search(ev.quote):
                    continue  # a question in a document (an FAQ heading, a headline, a wondering) or a menu answers nothing
                under_heading = 0 < len(heading) <= _HEADING and len(ev.quote) > len(heading)
                context = frozenset(before) if _REFERS_BACK.match(ev.quote) or under_heading else frozenset()
                date = stamp(ev.quote) if c.seq == 0 and span.start < _STAMP_WITHIN else None
                if date is not None:  # quote the date alone ("2022-06-11", not "2022-06-11 0 By")
                    ev = Evidence(c, ev.start_char + date[0], ev.start_char + date[1])
                out.append(Sentence(ev, rank, previous, context, stamp=date is not None))
        return out

    def score(self, q: Question, sents: list[Sentence], idf: dict[str, float], qvec: np.ndarray | None,
              cross_ranks: int | None = None) -> None:
        """Score every sentence; those of the first `cross_ranks` chunks (default
        `cross_lang_chunks`) in the other language also by embedding similarity."""
        weights = {t: idf.get(t, 1.0) for t in q.terms}
        total = sum(weights.values()) or 1.0
        q_bigrams = han_bigrams(q.text) if q.lang == "zh" else set()
        cross_ranks = self.cross_lang_chunks if cross_ranks is None else cross_ranks
        cross = [s for s in sents if s.evidence.chunk.lang != q.lang and s.rank < cross_ranks and not s.similarity]
        if cross and qvec is not None:
            vecs = self.embeddings.embed_array([s.evidence.quote for s in cross])
            for s, sim in zip(cross, vecs @ qvec):
                s.similarity = float(sim)
        found_in: list[list[tuple[int, int]]] = []  # each sentence's answer-like spans
        naming = asks_name(q)
        for s in sents:
            quote = s.evidence.quote
            if s.evidence.chunk.lang != q.lang:  # the question's words, through the lexicon
                words = lexicon.en_words(s.terms)
                met = [t for t in weights if lexicon.meets(t, words, quote)]
                cov = sum(weights[t] for t in met) / total
                s.words_met = sum(not t.isdigit() for t in met)
            else:
                # a Chinese term also counts inside a longer word ("罚" in "罚款"): jieba does not
                # cut every text alike
                present = s.terms | {t for t in weights if t in quote} if q.lang == "zh" else s.terms
                cov = self._covered(q, weights, present) / total
                if s.context:  # "It was released on ...": what "it" is, the sentence before says
                    cov = max(cov, self.context_weight * self._covered(q, weights, present | s.context) / total)
                if q_bigrams:
                    cov = max(cov, len(q_bigrams & han_bigrams(quote)) / len(q_bigrams))
            s.coverage = cov
            if naming:
                found = given_names(q, quote)
                s.answers = frozenset()  # a name asked for is no answer other files back: the topic's kin have names too
            else:
                found = answer_spans(q, quote, works=True)
                s.answers = frozenset(quote[a:b].lower() for a, b in found if b - a > 1)
            found_in.append(found)
            s.kin = other_variant(q, quote, found)
        files_with = _files_with_answers(sents)
        counting = q.wants == "number" and bool(_HOW_MANY.search(q.text))
        listing = bool(_ASKS_LIST.search(q.text))
        office = _asks_office_holder(q)
        if asks_publication(q):  # the date line answers for the whole document
            for s in sents:
                if s.stamp:
                    s.coverage = max((o.coverage for o in sents if o.evidence.chunk.doc_id == s.evidence.chunk.doc_id
                                      and not o.stamp), default=0.0)
        for s, found in zip(sents, found_in):
            enumerates = listing and _lists(s.evidence.quote, found)
            # for "哪些企业", items between 、 are the names asked for, though none looks like one
            s.wanted = wanted_match(q, s.evidence.quote, found) or enumerates
            s.counts = counting and _counts_asked(q, s.evidence.quote, found)
            s.support = max((len(files_with[a] - {s.evidence.chunk.doc_id}) for a in s.answers), default=0)
            novel = any(t not in weights for t in s.terms if len(t) > 1 or t.isdigit())
            # in the other language, a sentence both the lexicon and the embedding vouch for
            # outranks one only the embedding does (similarity is 0 in the question's language)
            lexical, dense = s.coverage, 1.6 * s.similarity
            evidence = max(lexical, dense) + self.agreement_bonus * min(lexical, dense)
            s.score = (evidence + (self.wanted_bonus if s.wanted else 0.0) + 0.12 / (1 + s.rank)
                       + self.support_bonus * min(s.support, 2) + (self.counted_bonus if s.counts else 0.0)
                       + (self.list_bonus if enumerates else 0.0)
                       + (self.full_date_bonus if q.wants == "date" and full_date(s.evidence.quote) else 0.0)
                       + (self.office_bonus if office and _OFFICE_HOLDER.search(s.evidence.quote) else 0.0)
                       - (0.0 if novel else 0.3) - (0.05 if len(s.evidence.quote) > 400 else 0.0))

    def _covered(self, q: Question, weights: dict[str, float], present: set[str]) -> float:
        """The weight of the asked terms in `present`, an English word met only in another form
        counting for `form_weight` of its own."""
        forms = _in_other_forms(weights, present) if q.lang == "en" else set()
        return (sum(w for t, w in weights.items() if t in present)
                + self.form_weight * sum(w for t, w in weights.items() if t in forms))

    def supported(self, q: Question, s: Sentence, ranked: Sequence[ScoredChunk] = ()) -> bool:
        if s.stamp and not asks_publication(q):
            return False  # a date line says when the document was published, and nothing else
        if s.kin:
            return False  # "Splatoon 1 ... released in 2015" does not say when Splatoon 2 was
        if q.numbers:  # a year or figure in the question must appear in what we read of that file
            doc = s.evidence.chunk.doc_id
            seen = " ".join([s.evidence.chunk.title, s.evidence.chunk.text]
                            + [sc.chunk.text for sc in ranked if sc.chunk.doc_id == doc]).replace(",", "")
            if not all(number_forms(n).search(seen) for n in q.numbers):
                return False
        if office_of_another_body(q, s.evidence.quote):
            return False  # "Apple CEO Tim Cook" does not say who Nintendo's CEO is
        if q.wants == "date" and _other_end(q.text, s.evidence.quote):
            return False  # "6月5日，法网结束男单决赛" does not say when it began
        if _among_titles(q, s.evidence.quote):
            return False  # "五一档有《长空之王》《人生路不熟》《倒数说爱你》...": one of a list says nothing of it alone
        asked_places = places(q.text)
        if asked_places and (stated := places(s.evidence.quote)) and not asked_places & stated:
            return False  # "which company ranked first" is not answered by who ranked 4th and 6th
        if s.evidence.chunk.lang == q.lang:
            return s.coverage >= self.min_coverage or s.similarity >= self.min_similarity
        # a year and one loosely glossed word are not evidence ("2022 World Cup History." for
        # 2022年超级碗冠军是谁: 碗 "bowl; cup")
        if s.words_met < min(self.min_cross_words, sum(not t.isdigit() for t in q.terms)):
            return False
        return s.coverage >= self.min_cross_coverage or s.similarity >= self.min_similarity

    def _pick(self, q: Question, sents: list[Sentence], ranked: Sequence[ScoredChunk]) -> Sentence | None:
        """The first supported one of the `look_at` best-scoring sentences (sorted already) and
        any that score nearly as well, one that holds the date or figure asked for before one
        that does not, and a whole date (day, month and year) before a part of one."""
        close = [s for s in sents[self.look_at :] if s.score >= self.close_ratio * sents[0].score]
        ok = [s for s in sents[: self.look_at] + close if self.supported(q, s, ranked)]
        if q.wants in ("date", "number"):  # stable: score order otherwise
            ok.sort(key=lambda s: (not s.wanted, q.wants == "date" and not full_date(s.evidence.quote)))
        return ok[0] if ok else None

    def _wanted_near(self, q: Question, best: Sentence, sents: list[Sentence],
                     ranked: Sequence[ScoredChunk]) -> Sentence:
        """A best sentence that only restates the topic gives way to a close one holding the kind
        of answer asked for."""
        for s in sents:
            if s.score < self.wanted_window * best.score:
                break
            if _shows(q, s) and self.supported(q, s, ranked):
                return s
        return best

    def answer(self, q: Question, ranked: Sequence[ScoredChunk], qvec: np.ndarray | None = None,
               idf: dict[str, float] | None = None, further: Sequence[ScoredChunk] = ()) -> Draft:
        """`further`: passages in the other language below the top k, read only before refusing."""
        sents = self.sentences(ranked)
        if not sents:
            return Draft(REFUSAL[q.lang], [], True)
        two = self._answer_parts(q, sents, ranked, qvec, idf or {})
        if two is not None:
            return two
        sents, best = self._score_and_pick(q, sents, ranked, qvec, idf or {})
        if best is None and any(s.evidence.chunk.lang != q.lang for s in sents):
            # before refusing, read every passage in the other language by similarity (the
            # retriever's other-language slot lies below the chunks read that way at first)
            sents, best = self._score_and_pick(q, sents, ranked, qvec, idf or {}, cross_ranks=len(ranked))
        if best is None and further:
            # ... and then the retriever's next passages in the other language: its ranking, fitted
            # mostly on one language, leaves the one that answers below the top k too often
            sents = sents + self.sentences(further, first_rank=len(ranked))
            ranked = [*ranked, *further]
            sents, best = self._score_and_pick(q, sents, ranked, qvec, idf or {}, cross_ranks=len(ranked))
        if best is not None and _must_show(q, best) and not _shows(q, best):
            best = self._wanted_near(q, best, sents, ranked)
            if not _shows(q, best):
                best = None  # "when / how many / where / who" and no close sentence says one: the topic is no answer
        if best is None:
            related = [s.evidence for s in _one_per_file([s for s in sents if not s.stamp])[: self.max_citations]]
            return Draft(REFUSAL[q.lang], [], True, related=related)
        budget = BUDGET.get(q.lang, 300)
        # the first quote may use the whole budget: cutting it to leave room for a second one
        # lost the answer-bearing clause more often than the second quote found one
        first = self.shorten(q, best.evidence, budget, idf, qvec)
        # each group: a quote, then the same words in other files (one text, several markers)
        groups, heads = [[first]], [best.evidence]
        used, covered = len(first.quote), set(best.terms)
        settled = self._settled(q, best)
        naming = asks_name(q)
        stated = stated_relation(q)
        # the sentences scored above the first quote were passed over for it (unsupported, no
        # answer of the asked kind, a vaguer date): they are no further quotes either
        for s in sents[next(i for i, s in enumerate(sents) if s is best) + 1 :]:
            n_cited = sum(map(len, groups))
            if n_cited >= self.max_citations or s.score < 0.7 * best.score or used >= budget - 40:
                break
            if any(_overlap(s.evidence, ev) for g in groups for ev in g) or not self.supported(q, s, ranked):
                continue
            same = next((i for i, h in enumerate(heads) if h.quote == s.evidence.quote), None)
            if same is not None:  # another file says it word for word: cite it beside the first
                shown = groups[same][0]
                lead = shown.start_char - heads[same].start_char
                start = s.evidence.start_char + lead
                groups[same].append(Evidence(s.evidence.chunk, start, start + len(shown.quote)))
                used += 1
                continue
            if (q.wants or naming) and not s.wanted:
                continue  # a further quote must hold the kind of answer asked for, not only its topic
            if stated and s.evidence.chunk.lang == "en" and not _says(stated, s):
                continue  # ... and for "who won / who is the CEO of", say it as the first quote must
            if settled and _another_answer(best, s):
                continue  # a second file already vouches for the first answer: no rival beside it
            if settled and q.wants == "date" and _vaguer_date(best, s):
                continue  # "In 2015 when it first released, I ..." beside "on April 29, 2015"
            adds_terms = any(t in s.terms and t not in covered for t in q.terms)
            other_file = all(s.evidence.chunk.doc_id != ev.chunk.doc_id for g in groups for ev in g)
            if adds_terms or other_file:
                room = budget - used - 2  # the spaces around the marker before it count too
                ev = self.shorten(q, s.evidence, room, idf, qvec)
                if len(ev.quote) <= room:
                    groups.append([ev])
                    heads.append(s.evidence)
                    used += len(ev.quote) + 2
                    covered |= s.terms
        return _draft(groups)

    @staticmethod
    def _settled(q: Question, best: Sentence) -> bool:
        """Whether the first quote answers a one-answer question so that no rival answer need
        stand beside it: it shows the kind asked for, in full (a whole date; a name or place
        other than the question's words), and another retrieved file holds that answer too."""
        if q.wants not in ("who", "date", "number", "where") or _ASKS_LIST.search(q.text):
            return False
        if best.support < 1 or not _shows(q, best):
            return False
        if q.wants == "date":
            return full_date(best.evidence.quote)
        if q.wants in ("who", "where"):
            asked = set(q.terms)
            return any(not (_terms(a) & asked) for a in best.answers)
        return True

    def _score_and_pick(self, q: Question, sents: list[Sentence], ranked: Sequence[ScoredChunk],
                        qvec: np.ndarray | None, idf: dict[str, float],
                        cross_ranks: int | None = None) -> tuple[list[Sentence], Sentence | None]:
        """The sentences scored for `q`, best first (a new list; ties keep the given order), and
        the one to quote (None: refuse)."""
        self.score(q, sents, idf, qvec, cross_ranks)
        ordered = sorted(sents, key=lambda s: s.score, reverse=True)
        return ordered, self._pick(q, ordered, ranked)

    def _answer_parts(self, q: Question, sents: list[Sentence], ranked: Sequence[ScoredChunk],
                      qvec: np.ndarray | None, idf: dict[str, float]) -> Draft | None:
        """A question that asks two things gets a quote for each ("Which company ..., and how fast
        did its revenue grow?"), when each part alone has a supported sentence and they differ."""
        subs = parts(q)
        if not subs:
            return None
        picks: list[Sentence] = []
        for sub in subs:
            _, best = self._score_and_pick(sub, sents, ranked, qvec, idf)
            if best is None or any(_overlap(best.evidence, p.evidence) for p in picks):
                return None
            picks.append(best)
        budget = BUDGET.get(q.lang, 300)
        room = budget // 2 - 2
        chosen = [self.shorten(sub, s.evidence, room, idf, qvec) for sub, s in zip(subs, picks)]
        if sum(len(ev.quote) for ev in chosen) + 2 > budget:
            return None
        return _draft([[ev] for ev in chosen])

    def shorten(self, q: Question, ev: Evidence, budget: int, idf: dict[str, float] | None,
                qvec: np.ndarray | None) -> Evidence:
        """`shorten`, judging clauses of a passage in the other language by embedding similarity
        (the question's words cannot match them)."""
        if len(ev.quote) <= budget or ev.chunk.lang == q.lang or qvec is None:
            return shorten(q, ev, budget, idf)
        texts = [ev.quote[p.start : p.end] for p in clauses(ev.quote)]
        sims = [float(x) for x in self.embeddings.embed_array(texts) @ qvec]
        return shorten(q, ev, budget, idf, clause_relevance=sims)


def clauses(text: str) -> list[Span]:
    """Clause spans of one sentence (cut after commas, semicolons, colons and before 'and ...',
    never inside a short quotation or a name)."""
    spans: list[Span] = []
    pos = 0
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    for m in _CLAUSE_END.finditer(text):
        if any(a < m.start() < b for a, b in quoted):
            continue
        if m.group().isspace() and _NAME_AND.match(text, m.end()) and _ENDS_CAPITALISED.search(text, 0, m.start()):
            continue  # "Bureau of Industry and Information Technology": one name, not two clauses
        if m.end() > pos:
            spans.append(Span(pos, m.end()))
            pos = m.end()
    if pos < len(text):
        spans.append(Span(pos, len(text)))
    return [s for s in spans if text[s.start : s.end].strip()]


def shorten(q: Question, ev: Evidence, budget: int, idf: dict[str, float] | None = None,
            clause_relevance: Sequence[float] | None = None) -> Evidence:
    """The contiguous run of clauses within `budget` characters that best answers the question.

    It must keep the answer-bearing part (a wanted name, number or date) where there is one,
    not merely the densest run of question words. `clause_relevance`, one score per clause,
    replaces the question-word coverage where the words cannot match (another language).
    """
    quote = ev.quote
    if len(quote) <= budget:
        return ev
    parts = clauses(quote)
    weights = {t: (idf or {}).get(t, 1.0) for t in q.terms}
    total = sum(weights.values()) or 1.0
    clause_terms = [set(tokenize(quote[p.start : p.end])) & set(weights) for p in parts]
    # a clause holds the answer when it holds the kind asked for: a GDP's sum of money, not any figure
    clause_wanted = [wanted_match(q, quote[p.start : p.end], answer_spans(q, quote[p.start : p.end], works=True))
                     and measure_match(q, quote[p.start : p.end]) for p in parts]
    office = _asks_office_holder(q)
    # each further clause holding an answer: for "which companies" it is one more of the list
    each = 0.05 if _ASKS_LIST.search(q.text) else 0.03
    best: tuple[float, int, int] | None = None
    for i in range(len(parts)):
        terms: set[str] = set()
        for j in range(i, len(parts)):
            length = parts[j].end - parts[i].start
            if length > budget:
                break
            terms |= clause_terms[j]
            wanted = sum(clause_wanted[i : j + 1])
            # question words covered, the wanted kind of answer (more of it for lists), brevity
            if clause_relevance is not None:
                relevance = max(clause_relevance[i : j + 1])
            else:
                relevance = sum(weights[t] for t in terms) / total
            value = relevance + (1.0 if wanted else 0.0) + each * wanted - 0.0005 * length
            if office and _OFFICE_HOLDER.search(quote, parts[i].start, parts[j].end):
                value += 0.5  # "which official": the office holder, not the list that follows
            if best is None or value > best[0]:
                best = (value, i, j)
    if best is None:  # even one clause is too long: keep its start, cut at a space
        end = quote.rfind(" ", 0, budget)
        end = end if end > budget // 2 else budget
        start, stop = 0, end
    else:
        start, stop = parts[best[1]].start, parts[best[2]].end
    piece = quote[start:stop]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip().rstrip("，,；;：:、")
    begin = ev.start_char + start + lead
    return Evidence(ev.chunk, begin, begin + len(piece))


def _draft(groups: list[list[Evidence]]) -> Draft:
    """The answer text: each group's quote once, then a marker for it and for each other file
    that says the same words ("A [1] [2] B [3]")."""
    chosen: list[Evidence] = []
    parts: list[str] = []
    for g in groups:
        marks = " ".join(f"[{len(chosen) + i}]" for i in range(1, len(g) + 1))
        parts.append(f"{defuse_markers(g[0].quote)} {marks}")
        chosen.extend(g)
    return Draft(" ".join(parts), chosen, False)


# An office holder: a question about one ("which official", "who is the CEO"), and a name in
# apposition with an office in a passage ("Zhao Zhanwei, secretary and director of ...")
_OFFICE = (r"official|officer|secretary|director(?:-general)?|mayor|governor|minister|chairman|chairwoman|chair"
           r"|president|ceo|head|chief|commissioner|manager|founder|leader")
_ZH_OFFICE = "市长|书记|局长|主任|主席|总裁|董事长|部长|省长"
_OFFICE_Q = re.compile(rf"\b(?:{_OFFICE})s?\b|{_ZH_OFFICE}|官员", re.I)
_OFFICE_HOLDER = re.compile(  # case matters for the name, not for the office
    rf"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+,\s+(?i:the\s+)?(?i:(?:deputy|vice|former|acting|executive)[\s-]+)?(?i:{_OFFICE})\b"
    rf"|\b(?i:{_OFFICE})\s+[A-Z][a-z]+\s+[A-Z][a-z]+\b"
    rf"|(?:{_ZH_OFFICE})[\u4e00-\u9fff]{{2,3}}(?=[，,、]?(?:介绍|表示|说|指出|通报|颁发|出席))")


def _is_menu(text: str) -> bool:
    """A run of short items between " · " or "|" (a menu, a table of contents, a row of tags:
    "三体(动画)编辑 · 播放平台 · 配音员 · 集数 ..."): navigation, not a statement. A name's middle
    dot ("凯尔·内斯") has no spaces around it, and a table row ("| 2021 | 104 家 |") holds figures."""
    items = [p.strip() for p in _MENU_SEPARATOR.split(text) if p.strip()]
    return (len(items) >= 3 and sorted(len(p) for p in items)[len(items) // 2] <= 12
            and not any(ch.isdigit() for ch in text))


# A question that asks what something is called ("北京冬奥会吉祥物叫什么", "What is the name of
# Microsoft's AR headset?") and no other kind of answer
_ASKS_NAME = re.compile(r"叫什么|叫做什么|叫作什么|名字|名称|什么名|\bname of\b|\bwhat(?:'s|\s+is|\s+was|\s+are|\s+were)\s+"
                        r"(?:[\w'’-]+\s+){1,6}?(?:called|named)\b", re.I)
# A name as a passage gives one: in quotation marks, or after 叫作 / 名为 ("名字叫作拉伊卜"); a title in
# 《》 names a work or a rule (《海军舰艇命名规定》), not what a thing is called
_GIVEN_NAME = re.compile(r"(?<=[“「『\"])[^“”「」『』\"]{1,30}(?=[”」』\"])"
                         r"|(?<=叫作|叫做|名为|名叫|称为|取名)[\u4e00-\u9fff·]{2,8}|(?<=命名为)[\u4e00-\u9fff·]{2,8}")


def asks_name(q: Question) -> bool:
    """Whether a question asks what something is called, and for no other kind of answer."""
    return not q.wants and bool(_ASKS_NAME.search(q.text))


def given_names(q: Question, text: str) -> list[tuple[int, int]]:
    """For a question that asks what something is called, the names text gives that are not the
    question's own words: quoted, or after 叫作 / 名为, and in English a run of capitalised words
    (the topic's own name, "2022北京冬奥会和冬残奥会" for 北京冬奥会吉祥物叫什么, is no answer)."""
    found = [(m.start(), m.end()) for m in _GIVEN_NAME.finditer(text)]
    if text.isascii():
        found += answer_spans(replace(q, wants="who"), text)
    asked = _naming_words(q)
    return sorted((a, b) for a, b in set(found) if not any(t in text[a:b].lower() for t in asked))


def _naming_words(q: Question) -> list[str]:
    """The question's words that can be part of a name or a title: neither numbers nor single
    characters."""
    return [t for t in q.terms if len(t) > 1 and not t.isdigit()]


# Works listed one after another ("《长空之王》《人生路不熟》《倒数说爱你》", "《A》、《B》和《C》")
_TITLE_RUN = re.compile(r"(?:《[^《》]{1,30}》\s*[、，,和与及]?\s*){3,}")


def _among_titles(q: Question, text: str) -> bool:
    """Whether text names the work asked about only as one of a list of three or more works, and
    the question does not ask for several."""
    if q.lang != "zh" or _ASKS_LIST.search(q.text) or "《" not in text:
        return False
    asked = _naming_words(q)
    runs = [m.group() for m in _TITLE_RUN.finditer(text)]
    return any(t in run for t in asked for run in runs)


# The start or the end of an event, as a question asks for it and a sentence dates it
_STARTS = re.compile(r"开始|开幕|(?<!公)开赛|开播|首播|开启"  # not 公开赛, "an open (tournament)"
                     r"|\b(?:start|starts|started|begin|begins|began|(?-i:open)|opens|opened|premiered?|kick(?:s|ed)? off)\b", re.I)
_ENDS = re.compile(r"结束|闭幕|落幕|收官|截止|\b(?:end|ends|ended|closes|closed|concluded?|concludes)\b", re.I)


# A span of dates gives both ends ("5月1日至5月10日截止", "from May 1 until May 10")
_DATE_RANGE = re.compile(r"\d\s*[日号月年]?\s*(?:至|到|～|~|—|–)\s*\d|\bfrom\b[^.;]{1,40}\b(?:to|until|through)\b", re.I)


def _other_end(question: str, text: str) -> bool:
    """Whether text dates only the other end of what the question asks the start or end of
    ("法网结束男单决赛" for 法网开始时间); a span of dates gives both."""
    if _DATE_RANGE.search(text):
        return False
    for asked, other in ((_STARTS, _ENDS), (_ENDS, _STARTS)):
        if asked.search(question) and not other.search(question):
            return bool(other.search(text)) and not asked.search(text)
    return False


def _asks_office_holder(q: Question) -> bool:
    return q.wants == "who" and bool(_OFFICE_Q.search(q.text))


# A question that asks for several ("Which companies won ...?", "洛阳前瞻谋划了哪些未来产业?")
_ASKS_LIST = re.compile(r"\b(?:which|what)\s+(?:(?!(?:is|was|has|does)\b)[a-z-]+\s+)?(?!(?:is|was|has|does|kinds?|types?)\b)"
                        r"[a-z]+(?<!ss)s\b|哪些", re.I)


_LIST_GAP = re.compile(r"\s*(?:[,，、;；]\s*(?:and\s+|or\s+)?|\s(?:and|or)\s+|和|及|与)\s*")


def _lists(text: str, found: list[tuple[int, int]]) -> bool:
    """Whether a sentence enumerates: four names in a row with only commas or "and" between
    them ("CITIC Heavy Industry, China Yituo, ... and China Che"; three may be a name, its
    office and its bureau), or items between 、."""
    if text.count("、") >= 2:
        return True
    run = 1
    for (_, end), (start, _) in zip(found, found[1:]):
        run = run + 1 if _LIST_GAP.fullmatch(text, end, start) else 1
        if run >= 4:
            return True
    return False


_HOW_MANY = re.compile(r"\bhow (many|much)\b|多少|几", re.I)  # a count, not a rank or a rate
_COUNTED_WITHIN = {"zh": 6, "en": 24}  # characters after a figure where the counted thing is named


def _counts_asked(q: Question, text: str, found: list[tuple[int, int]]) -> bool:
    """Whether one of the figures is followed closely by a word of the question (its unit or the
    thing counted: "7436名本科生" for "录取了多少名本科生")."""
    width = _COUNTED_WITHIN.get(q.lang, 24)
    asked = set(q.terms)
    for _, end in found:
        after = text[end : end + width]
        if q.lang == "zh":
            if any(t in after for t in asked if not t[:1].isdigit()):
                return True
        elif asked & with_parts(tokenize(after)[:3]):
            return True
    return False


def _files_with_answers(sents: list[Sentence]) -> dict[str, set[str]]:
    """Each answer-like span of the retrieved sentences, with the files that state it: when
    several sources give the same name, date or figure, that one is likely the answer."""
    out: dict[str, set[str]] = {}
    for s in sents:
        for a in s.answers:
            out.setdefault(a, set()).add(s.evidence.chunk.doc_id)
    return out


def _another_answer(first: Sentence, s: Sentence) -> bool:
    """Whether s offers answers the first quote does not: none of its answer spans is in the
    first sentence, nor any of the first one's in s."""
    one, other = first.evidence.quote.lower(), s.evidence.quote.lower()
    return bool(s.answers) and not any(a in one for a in s.answers) and not any(a in other for a in first.answers)


def _vaguer_date(first: Sentence, s: Sentence) -> bool:
    """Whether s only restates, less fully, dates the first quote gives (its year, its day
    without the year), giving no whole date of its own."""
    one = first.evidence.quote.lower()
    return bool(s.answers) and all(a in one for a in s.answers) and not full_date(s.evidence.quote)


def _overlap(a: Evidence, b: Evidence) -> bool:
    return a.chunk.doc_id == b.chunk.doc_id and a.start_char < b.end_char and b.start_char < a.end_char


def _one_per_file(sents: list[Sentence]) -> list[Sentence]:
    seen: set[str] = set()
    out = []
    for s in sents:
        if s.evidence.chunk.doc_id not in seen:
            seen.add(s.evidence.chunk.doc_id)
            out.append(s)
    return out
