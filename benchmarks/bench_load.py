"""Load: 20 chat sessions at once against `chatbot serve` through its HTTP API, for 60 seconds.

    .venv/bin/python benchmarks/bench_load.py [--sessions 20] [--seconds 60] [--out benchmarks/results-load.json]

It indexes `seeds/` into a temporary data dir with `chatbot ingest`, starts `chatbot serve` on
127.0.0.1 (a free port), and runs one `gradio_client.Client` per session, each asking questions
from `evals/seeds/questions.jsonl` (seeded random order) through `api_name="/ask"` back to back.
It counts errors (an exception, an `error` field, or a malformed answer: target zero), checks
every citation's quote against the seed file's normalized text at its offsets, and reports
throughput, latency p50/p95/max and the server's peak RSS. Figures, not a pass/fail: nothing is
asserted about speed. The server and the temporary directory are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "benchmarks"))

import serving  # noqa: E402

from chatbot.text.loaders import load_file  # noqa: E402 - after the path set-up

OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (Linux /proc)."""
    total = 0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Session(threading.Thread):
    """One chat user: its own client, questions back to back until told to stop."""

    def __init__(self, n: int, url: str, questions: list[str], texts: dict[str, str], stop: threading.Event) -> None:
        super().__init__(name=f"session-{n}", daemon=True)
        self.n, self.url, self.texts, self.stop = n, url, texts, stop
        self.questions = questions[:]
        random.Random(n).shuffle(self.questions)
        self.latencies: list[float] = []
        self.server_ms: list[float] = []  # the answer's own latency_ms: retrieve + answer, no queueing
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []
        self.citations = self.refused = 0
        self.bad_quotes = 0

    def run(self) -> None:
        from gradio_client import Client

        try:
            client = Client(self.url, verbose=False, analytics_enabled=False, download_files=False)
        except Exception as exc:  # noqa: BLE001 - a figure to report, not a crash
            self.errors[f"connect: {type(exc).__name__}"] += 1
            self.samples.append(repr(exc)[:300])
            return
        i = 0
        while not self.stop.is_set():
            question = self.questions[i % len(self.questions)]
            i += 1
            t0 = time.perf_counter()
            try:
                result = client.predict(question, 0, api_name="/ask")
            except Exception as exc:  # noqa: BLE001
                self.errors[type(exc).__name__] += 1
                self.samples.append(repr(exc)[:300])
                continue
            elapsed = (time.perf_counter() - t0) * 1000
            problem = self.check(result)
            if problem:
                self.errors[problem] += 1
                self.samples.append(f"{problem}: {json.dumps(result, ensure_ascii=False)[:300]}")
            else:
                self.latencies.append(elapsed)
                self.server_ms.append(float(result.get("latency_ms") or 0.0))

    def check(self, result: Any) -> str:
        if not isinstance(result, dict):
            return "not a JSON object"
        if "error" in result:
            return "error field"
        if not isinstance(result.get("answer"), str) or not result["answer"]:
            return "no answer"
        self.refused += bool(result.get("refused"))
        for c in result.get("citations", []):
            self.citations += 1
            text = self.texts.get(c["file"])
            if text is None or text[c["start_char"] : c["end_char"]] != c["quote"]:
                self.bad_quotes += 1
                return "citation quote is not the file's text at its offsets"
        return ""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--questions", type=Path, default=REPO / "evals/seeds/questions.jsonl")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results-load.json")
    args = p.parse_args()

    chatbot = str(Path(sys.executable).with_name("chatbot"))
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    seeds = sorted((REPO / "seeds").glob("*.txt"))
    texts = {s.name: load_file(s, s.name, 20_000_000).text for s in seeds}
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(OFFLINE_ENV, CHATBOT_DATA_DIR=str(tmp / "data"))
    os.environ.update(OFFLINE_ENV)
    server: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        subprocess.run([chatbot, "ingest", str(REPO / "seeds")], env=env, cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        ingest_s = time.perf_counter() - t0
        port = serving.free_port()
        url = f"http://127.0.0.1:{port}/"
        log = (tmp / "serve.log").open("wb")
        t0 = time.perf_counter()
        server = subprocess.Popen([chatbot, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        serving.wait_for_http(server, url, lambda: (tmp / "serve.log").read_text(), poll=0.5)
        startup_s = time.perf_counter() - t0
        rss_idle = rss_mb(server.pid)
        print(f"indexed seeds in {ingest_s:.1f} s; server up in {startup_s:.1f} s at {url}", flush=True)

        stop = threading.Event()
        sessions = [Session(n, url, questions, texts, stop) for n in range(args.sessions)]
        load_before = os.getloadavg()
        started = time.perf_counter()
        for s in sessions:
            s.start()
        peak = rss_idle
        while time.perf_counter() - started < args.seconds:
            time.sleep(1.0)
            peak = max(peak, rss_mb(server.pid))
        stop.set()
        for s in sessions:
            s.join(timeout=120)
        elapsed = time.perf_counter() - started
        load_after = os.getloadavg()
        server_alive = server.poll() is None
    finally:
        if server is not None:
            serving.stop(server)
        shutil.rmtree(tmp, ignore_errors=True)

    latencies = [x for s in sessions for x in s.latencies]
    server_ms = [x for s in sessions for x in s.server_ms]
    errors: Counter[str] = Counter()
    for s in sessions:
        errors.update(s.errors)
    answered = len(latencies)
    results = {
        "benchmark": "load",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in load_after]},
        "setup": {"sessions": args.sessions, "seconds": args.seconds, "questions": len(questions),
                  "corpus": "seeds/ (5 files)", "api": "gradio_client predict(api_name='/ask')",
                  "server": "chatbot serve, extractive mode, default settings"},
        "answered": answered,
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "error_samples": [x for s in sessions for x in s.samples][:10],
        "throughput_per_s": round(answered / elapsed, 2),
        "latency_ms": {"p50": round(percentile(latencies, 0.50), 1), "p95": round(percentile(latencies, 0.95), 1),
                       "max": round(max(latencies, default=float("nan")), 1),
                       "mean": round(statistics.fmean(latencies), 1) if latencies else None},
        "answer_latency_ms": {"p50": round(percentile(server_ms, 0.50), 1),
                              "p95": round(percentile(server_ms, 0.95), 1)},
        "citations_checked": sum(s.citations for s in sessions),
        "citation_quote_mismatches": sum(s.bad_quotes for s in sessions),
        "refused": sum(s.refused for s in sessions),
        "server": {"startup_s": round(startup_s, 1), "rss_mb_idle": round(rss_idle), "rss_mb_peak": round(peak),
                   "alive_after": server_alive},
        "elapsed_s": round(elapsed, 1),
    }
    lat = results["latency_ms"]
    print(f"\n| sessions | seconds | answered | errors | throughput (q/s) | p50 ms | p95 ms | max ms | "
          f"peak RSS MB |\n|---|---|---|---|---|---|---|---|---|\n"
          f"| {args.sessions} | {elapsed:.0f} | {answered} | {results['errors']} | {results['throughput_per_s']} | "
          f"{lat['p50']} | {lat['p95']} | {lat['max']} | {results['server']['rss_mb_peak']} |")
    print(f"answer latency inside the server (no queueing): p50 {results['answer_latency_ms']['p50']} ms, "
          f"p95 {results['answer_latency_ms']['p95']} ms")
    print(f"citations checked: {results['citations_checked']}, quote mismatches: "
          f"{results['citation_quote_mismatches']}; load average {load_before[0]:.1f} -> {load_after[0]:.1f}")
    if errors:
        print("errors:", dict(errors), "\nfirst:", results["error_samples"][:3])
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
