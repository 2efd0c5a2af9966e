"""The answer stage's own time, on top of retrieval: p50 and p90 per pack at the default top-k.

    make ablation                               # retrieves every check question once, into .train-cache/
    .venv/bin/python benchmarks/answer_stage.py [--limit 300]

Each question's retrieval (from `make ablation`'s cache) is read again by the extractive answerer
as the app runs it, with the trained reader's confidence; only `answer()` is timed, one thread.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatbot.app import build  # noqa: E402 - after the path set-up above
from chatbot.config import Settings  # noqa: E402
from chatbot.index.embeddings import BundledEmbeddings  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=ROOT / ".train-cache")
    p.add_argument("--limit", type=int, default=300, help="questions per pack")
    args = p.parse_args()
    bot = build(Settings(_env_file=None), embeddings=BundledEmbeddings(threads=1))  # type: ignore[call-arg]
    print("| pack | questions | answer stage p50 | p90 |\n|---|---|---|---|")
    for cache in sorted(args.work.glob("*.check.retrieved.pkl")):
        asked = pickle.loads(cache.read_bytes())[: args.limit]
        times = []
        for _, found in asked:
            t0 = time.perf_counter()
            bot.extractive.answer(found.question, found.ranked, found.qvec, found.idf)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"| {cache.name.split('.')[0]} | {len(times)} | {times[len(times) // 2]:.1f} ms | "
              f"{times[int(len(times) * 0.9)]:.1f} ms |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
