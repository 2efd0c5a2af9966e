"""Small synthetic passages for the tests of the retriever and the extractive answerer.

Each test writes the few sentences its rule needs; these helpers make them into chunks (one per
file, named "a", "b", ... in the order given) and ask the answerer through its public entry point,
`ExtractiveAnswerer.answer`, the way the app does: the ranked chunks, the question's vector, an IDF.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.answering.extractive import Draft, ExtractiveAnswerer
from chatbot.index.embeddings import BundledEmbeddings
from chatbot.retrieval.question import Question
from chatbot.text.loaders import detect_lang
from chatbot.types import Chunk, ScoredChunk


def chunk(name: str, text: str, lang: str | None = None, *, title: str | None = None, seq: int = 0) -> Chunk:
    """One chunk that is a whole file `name`.txt; its language detected as the loader does."""
    return Chunk(id=f"{name}-{seq}", doc_id=name, file=f"{name}.txt", title=name if title is None else title,
                 text=text, start_char=0, end_char=len(text), lang=lang or detect_lang(text), seq=seq)


def ranked(*texts: str, names: Sequence[str] | None = None) -> list[ScoredChunk]:
    """The texts as ranked chunks, best first: "a", "b", ... unless `names` are given."""
    names = names or [chr(97 + i) for i in range(len(texts))]
    return [ScoredChunk(chunk(name, text), score=float(len(texts) - i)) for i, (name, text) in enumerate(zip(names, texts))]


def ask(embeddings: BundledEmbeddings, question: str, *texts: str | ScoredChunk,
        idf: dict[str, float] | None = None, max_citations: int = 2) -> Draft:
    """The answerer's draft for `question` over the texts (strings become chunks "a", "b", ... ranked
    in the order given; a ScoredChunk is taken as it is)."""
    q = Question.parse(question)
    chunks = [t if isinstance(t, ScoredChunk) else ScoredChunk(chunk(chr(97 + i), t), float(len(texts) - i))
              for i, t in enumerate(texts)]
    answerer = ExtractiveAnswerer(embeddings, max_citations=max_citations)
    return answerer.answer(q, chunks, embeddings.embed_array([q.text])[0], idf or {})


def cited(draft: Draft) -> list[str]:
    """The files a draft quotes, by name, in the order quoted."""
    return [ev.chunk.doc_id for ev in draft.evidence]
