"""The `chatbot` command: ingest, ask, serve, eval. ChatbotError becomes a clean exit here."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.types import Answer


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chatbot", description="Cited answers from your documents, offline.")
    p.add_argument("-v", "--verbose", action="store_true", help="log one line per step to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    ing = sub.add_parser("ingest", help="index files (incremental)")
    ing.add_argument("paths", nargs="*", type=Path, help="files or folders (default: seeds/)")
    ing.add_argument("--rebuild", action="store_true", help="drop the index and build it again")
    ing.add_argument("--follow-links", action="store_true",
                     help="also index files that symlinks inside the folders point to outside them")

    chk = sub.add_parser("check", help="verify that manifest, Chroma, keyword index and texts agree")
    chk.add_argument("--repair", action="store_true", help="mend what disagrees (embeds only what is lost)")
    chk.add_argument("--quick", action="store_true", help="skip the per-chunk quote and source-file checks")

    ask = sub.add_parser("ask", help="answer one question with citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("-k", type=int, default=None, help="number of passages to read")

    srv = sub.add_parser("serve", help="open the web chat")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=7860)

    ev = sub.add_parser("eval", help="run an eval pack and write a report, or compare two runs")
    ev.add_argument("--pack", type=Path, default=Path("evals/seeds"))
    ev.add_argument("--out", type=Path, default=None,
                    help="where results, metrics and reports go (default eval-out; with --compare: NEW_OUT)")
    ev.add_argument("--baseline", type=Path, default=None, help="baseline JSON to gate on (exit 2 on a drop)")
    ev.add_argument("--judge", action="store_true",
                    help="also grade answers with an LLM judge (needs an endpoint; reported apart, not gated)")
    ev.add_argument("--compare", nargs=2, type=Path, metavar=("OLD_OUT", "NEW_OUT"), default=None,
                    help="compare two earlier runs' output folders instead of running; writes compare.md")
    return p


def _print_answer(answer: Answer) -> None:
    print(answer.answer)
    if answer.notice:
        print(f"\n({answer.notice})")
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"  [{c.n}] {c.file} — {c.title} (chars {c.start_char}-{c.end_char})")
            print(f"      “{c.quote}”")
    elif answer.related:
        print("\nRelated passages (they do not answer the question):")
        for c in answer.related:
            print(f"  - {c.file} — {c.title}: “{c.quote[:160]}”")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for noisy in ("httpx", "chromadb", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = Settings()
        return _run(args, settings)
    except ChatbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.app import build

    if args.command == "ingest":
        bot = build(settings)
        paths = args.paths or [Path("seeds")]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise ChatbotError(f"Not found: {', '.join(missing)}. Give existing files or folders.")
        report = bot.ingest(
            paths, rebuild=args.rebuild, progress=sys.stderr.isatty(), follow_links=args.follow_links,
            on_skip=lambda path, reason: print(f"skipped {path}: {reason}", file=sys.stderr),
        )
        for line in report.repaired:
            print(f"repaired: {line}")
        for file, reason in report.withdrawn:
            print(f"removed {file}: {reason}")
        print(report.summary())
        print(f"index: {settings.data_dir} ({bot.store().count()} chunks from {len(bot.documents())} files)")
        return 0
    if args.command == "check":
        result = build(settings).check(fix=args.repair, deep=not args.quick)
        for line in result.lines():
            print(line)
        if not result.ok and not args.repair:
            print("Run `chatbot check --repair` to mend it.", file=sys.stderr)
        return 0 if result.ok else 1
    if args.command == "ask":
        answer = build(settings).ask(args.question, k=args.k)
        if args.json:
            print(json.dumps(answer.as_dict(), ensure_ascii=False))
        else:
            _print_answer(answer)
        return 0
    if args.command == "serve":
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from chatbot.ui import serve

        serve(build(settings), host=args.host, port=args.port)
        return 0
    if args.command == "eval":
        if args.compare:
            if args.baseline or args.judge:
                raise ChatbotError("--compare reads two finished runs; --baseline and --judge apply to a new run. "
                                   "Run the eval with them first, then compare.")
            from chatbot.compare import run_compare

            return run_compare(args.compare[0], args.compare[1], args.out)
        from chatbot.evals import run_eval

        return run_eval(settings, args.pack, args.out or Path("eval-out"), args.baseline, judge=args.judge)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
