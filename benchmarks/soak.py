"""Soak: one `chatbot serve`, two CLI ingest loops and 10 API sessions on one embedded data dir.

    .venv/bin/python benchmarks/soak.py [--seconds 600] [--sessions 10] [--out benchmarks/results-soak.json]

Issue 27's acceptance run, in `make bench` (not in CI: it takes ten minutes). It indexes `seeds/`
into a temporary data dir, starts `chatbot serve` on it, then for `--seconds`:
- two writer loops, each with its own folder, add a file, edit one (its figure changes) and remove
  one per round, then run `chatbot ingest FOLDER` (a run refused because the other loop's ingest
  holds the lock is retried, and counted apart: that refusal is the documented behaviour);
- `--sessions` `gradio_client` sessions ask the seeds questions and questions about the loops'
  files through `api_name="/ask"`, back to back.
Every citation is checked: its quote must be the normalized text at its offsets of a version of
that file that existed. At the end the loops' folders are ingested once more, and it reports
errors (exceptions, `error` fields, failed ingests), lost documents (files on disk that the
index does not list, or listed files that are gone), stale answers (a file's current figure not
found when asked after the end) and mismatched quotes, and runs `chatbot check`. Target: zero
of each, and `chatbot check` consistent. Figures, not pass/fail; the exit code is 1 when a
target is missed, so a person running it sees it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import serving  # noqa: E402
from bench_load import OFFLINE_ENV, percentile, rss_mb  # noqa: E402

from chatbot.text.loaders import load_bytes, load_file  # noqa: E402 - after the path set-up

WORDS = "amber basalt cobalt dune ember fjord garnet harbor indigo jasper kelp lumen marble nickel onyx".split()
BUSY = "Another ingest is running"


class Versions:
    """Every normalized text each file name has had, so a quote can be checked against the
    version it was cut from, whichever it was."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._texts: dict[str, list[str]] = defaultdict(list)
        self.current: dict[str, tuple[str, int]] = {}  # file -> (plant token, current figure)

    def add(self, name: str, raw: bytes) -> None:
        text = load_bytes(raw, Path("/x") / name, name).text
        with self._lock:
            self._texts[name].append(text)

    def matches(self, name: str, start: int, end: int, quote: str) -> bool:
        with self._lock:
            return any(t[start:end] == quote for t in self._texts.get(name, []))


class Writer(threading.Thread):
    """Adds, edits and removes files in its folder, then ingests it, until told to stop."""

    def __init__(self, n: int, folder: Path, chatbot: str, env: dict[str, str], versions: Versions,
                 stop: threading.Event) -> None:
        super().__init__(name=f"writer-{n}", daemon=True)
        self.n, self.folder, self.chatbot, self.env, self.versions, self.stop = n, folder, chatbot, env, versions, stop
        self.rng = random.Random(n)
        self.made = 0
        self.rounds = self.busy = 0
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []
        self.ingest_s: list[float] = []

    def write(self, name: str, token: str, figure: int) -> None:
        raw = (f"Plant report {name}\n\nThe {token} plant of loop {self.n} produced {figure} units this "
               f"quarter. Its workers said the {token} line ran two shifts.\n").encode()
        self.versions.add(name, raw)
        (self.folder / name).write_bytes(raw)
        self.versions.current[name] = (token, figure)

    def new_file(self) -> None:
        self.made += 1
        name = f"w{self.n}_{self.made:04d}.txt"
        self.write(name, f"{self.rng.choice(WORDS)}{self.n}x{self.made}", self.rng.randrange(100, 99999))

    def run(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(6):
            self.new_file()
        while not self.stop.is_set():
            self.new_file()
            mine = sorted(p.name for p in self.folder.glob("*.txt"))
            token, _ = self.versions.current[edit := self.rng.choice(mine)]
            self.write(edit, token, self.rng.randrange(100, 99999))
            if len(mine) > 4:
                gone = self.rng.choice([m for m in mine if m != edit])
                (self.folder / gone).unlink()
                self.versions.current.pop(gone, None)
            self.ingest()
            self.rounds += 1

    def ingest(self) -> bool:
        while True:
            t0 = time.perf_counter()
            result = subprocess.run([self.chatbot, "ingest", str(self.folder)], env=self.env, cwd=REPO,
                                    capture_output=True, text=True, check=False)
            if result.returncode == 0:
                self.ingest_s.append(time.perf_counter() - t0)
                return True
            if BUSY in result.stderr:
                self.busy += 1
                time.sleep(self.rng.uniform(0.2, 1.0))
                continue
            self.errors[f"ingest exit {result.returncode}"] += 1
            self.samples.append(result.stderr[-400:])
            return False


class Session(threading.Thread):
    """One API user asking seeds questions and questions about the writers' files."""

    def __init__(self, n: int, url: str, questions: list[str], versions: Versions, stop: threading.Event) -> None:
        super().__init__(name=f"session-{n}", daemon=True)
        self.n, self.url, self.questions, self.versions, self.stop = n, url, questions, versions, stop
        self.rng = random.Random(100 + n)
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []
        self.citations = self.bad_quotes = 0

    def question(self) -> str:
        current = list(self.versions.current.items())
        if current and self.rng.random() < 0.5:
            _, (token, _) = self.rng.choice(current)
            return f"How many units did the {token} plant produce?"
        return self.rng.choice(self.questions)

    def run(self) -> None:
        from gradio_client import Client

        try:
            client = Client(self.url, verbose=False, analytics_enabled=False, download_files=False)
        except Exception as exc:  # noqa: BLE001 - a figure to report
            self.errors[f"connect: {type(exc).__name__}"] += 1
            return
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                result = client.predict(self.question(), 0, api_name="/ask")
            except Exception as exc:  # noqa: BLE001 - counted
                self.errors[type(exc).__name__] += 1
                self.samples.append(repr(exc)[:300])
                continue
            self.latencies.append((time.perf_counter() - t0) * 1000)
            self.check(result)

    def check(self, result: Any) -> None:
        if not isinstance(result, dict) or "error" in result:
            self.errors["error field" if isinstance(result, dict) else "not an object"] += 1
            self.samples.append(json.dumps(result, ensure_ascii=False)[:300])
            return
        for c in result.get("citations", []):
            self.citations += 1
            if not self.versions.matches(c["file"], c["start_char"], c["end_char"], c["quote"]):
                self.bad_quotes += 1
                self.samples.append(f"mismatched quote {c['file']}@{c['start_char']}: {c['quote'][:120]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results-soak.json")
    args = p.parse_args()

    chatbot = str(Path(sys.executable).with_name("chatbot"))
    questions = [json.loads(line)["question"] for line in (REPO / "evals/seeds/questions.jsonl")
                 .read_text(encoding="utf-8").splitlines() if line.strip()]
    versions = Versions()
    for seed in sorted((REPO / "seeds").glob("*.txt")):
        versions.add(seed.name, seed.read_bytes())
        assert versions.matches(seed.name, 0, 10, load_file(seed, seed.name, 10**9).text[:10])
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(OFFLINE_ENV, CHATBOT_DATA_DIR=str(tmp / "data"))
    os.environ.update(OFFLINE_ENV)
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([chatbot, "ingest", str(REPO / "seeds")], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        port = serving.free_port()
        url = f"http://127.0.0.1:{port}/"
        log = (tmp / "serve.log").open("wb")
        server = subprocess.Popen([chatbot, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        serving.wait_for_http(server, url, lambda: (tmp / "serve.log").read_text(), poll=0.5)
        print(f"server up at {url}; soaking for {args.seconds:.0f} s", flush=True)
        stop = threading.Event()
        writers = [Writer(n, tmp / f"loop{n}", chatbot, env, versions, stop) for n in range(2)]
        sessions = [Session(n, url, questions, versions, stop) for n in range(args.sessions)]
        started = time.perf_counter()
        for t in [*writers, *sessions]:
            t.start()
        peak = 0.0
        while time.perf_counter() - started < args.seconds:
            time.sleep(2.0)
            peak = max(peak, rss_mb(server.pid))
        stop.set()
        for t in [*writers, *sessions]:
            t.join(timeout=300)
        elapsed = time.perf_counter() - started

        # settle: the loops' last edits indexed, then the index compared with the folders
        for w in writers:
            w.ingest()
        manifest = json.loads((tmp / "data" / "manifest.json").read_text(encoding="utf-8"))
        indexed = {e["file"] for e in manifest["files"].values()}
        on_disk = {s.name for s in (REPO / "seeds").glob("*.txt")} | {p.name for w in writers
                                                                      for p in w.folder.glob("*.txt")}
        lost = sorted(on_disk - indexed)
        phantom = sorted(indexed - on_disk)
        from gradio_client import Client

        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        stale = []
        for name, (token, figure) in sorted(versions.current.items()):
            if not name.startswith("w"):
                continue
            result = client.predict(f"How many units did the {token} plant produce?", 0, api_name="/ask")
            if str(figure) not in str(result.get("answer", "")):
                stale.append(f"{name}: asked for {figure}, got {str(result.get('answer'))[:120]}")
        check = subprocess.run([chatbot, "check"], env=env, cwd=REPO, capture_output=True, text=True, check=False)
        server_alive = server.poll() is None
    finally:
        if server is not None:
            serving.stop(server)
        shutil.rmtree(tmp, ignore_errors=True)

    errors: Counter[str] = Counter()
    for t in [*writers, *sessions]:
        errors.update(t.errors)
    latencies = [x for s in sessions for x in s.latencies]
    results = {
        "benchmark": "soak",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg": os.getloadavg()},
        "setup": {"seconds": args.seconds, "sessions": args.sessions, "writers": len(writers),
                  "server": "chatbot serve, embedded Chroma, extractive mode"},
        "elapsed_s": round(elapsed, 1),
        "answered": len(latencies),
        "citations_checked": sum(s.citations for s in sessions),
        "mismatched_quotes": sum(s.bad_quotes for s in sessions),
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "ingest_rounds": sum(w.rounds for w in writers),
        "ingest_busy_retries": sum(w.busy for w in writers),
        "ingest_s_p50": round(percentile([x for w in writers for x in w.ingest_s], 0.5), 2),
        "files_made": sum(w.made for w in writers),
        "lost_documents": lost,
        "phantom_documents": phantom,
        "stale_answers": stale,
        "latency_ms_p50": round(percentile(latencies, 0.5)),
        "latency_ms_p95": round(percentile(latencies, 0.95)),
        "server_peak_rss_mb": round(peak),
        "server_alive": server_alive,
        "check_exit": check.returncode,
        "check_last_line": (check.stdout.strip().splitlines() or [""])[-1],
        "samples": [x for t in [*writers, *sessions] for x in t.samples][:10],
    }
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in results.items() if k != "samples"}, indent=2, ensure_ascii=False))
    ok = (not results["errors"] and not lost and not phantom and not stale and not results["mismatched_quotes"]
          and check.returncode == 0 and server_alive)
    print("soak: " + ("all targets met" if ok else "TARGETS MISSED (see samples in " + str(args.out) + ")"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
