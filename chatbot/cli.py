"""The `chatbot` command: ingest, ask, serve, eval. Errors become clean messages and exit codes here.

Exit codes: 0 done; 1 an error whose message names the fix; 2 a usage error (argparse).
`chatbot eval` keeps 1 for its verdict: 0 pass, 1 a metric below the baseline, 2 a broken pack or
run (an invalid pack, an unreadable baseline, `--out` an existing file, a setting that is wrong ...).

Each command is a `_add_NAME(sub)` that builds its parser and sets its handler (and, if it is not 1,
the exit code of its errors); `main` does the rest.
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import logging
import os
import re
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chatbot.config import Settings
from chatbot.errors import ChatbotError, ConfigError
from chatbot.types import Answer, where

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_EVAL_BROKEN = 2  # `chatbot eval`: 1 means "a metric dropped", so its errors take 2

_SURROGATE = re.compile("[\ud800-\udfff]")


# -- argument types: a bad value is a usage error (exit 2) that says what is allowed ------------------


def _bounds(field: str) -> tuple[int, int]:
    """(ge, le) of an integer setting, so a flag accepts what the setting accepts."""
    lo, hi = None, None
    for rule in Settings.model_fields[field].metadata:
        lo = getattr(rule, "ge", lo)
        hi = getattr(rule, "le", hi)
    assert lo is not None and hi is not None, field
    return lo, hi


def _int_in(lo: int, hi: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give {what} from {lo} to {hi}") from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"{n} is out of range; give {what} from {lo} to {hi}")
        return n

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _path(text: str) -> Path:
    """A path argument; an empty one (an unset shell variable) would silently mean the current folder."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path; give a file or folder (`.` for the current folder)")
    return Path(text)


def _text(arg: str) -> str:
    """Command-line text as valid Unicode: bytes that are not valid in the locale's encoding (which
    Python keeps as lone surrogates) become U+FFFD, so nothing downstream fails to encode them."""
    try:
        return os.fsencode(arg).decode(sys.getfilesystemencoding(), "replace")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte (only from a caller of main())
        return _SURROGATE.sub("\ufffd", arg)


# -- commands -------------------------------------------------------------------------------------


def _add_ingest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ingest", help="index files (incremental)")
    p.add_argument("paths", nargs="*", type=_path, help="files or folders (default: seeds/)")
    p.add_argument("--rebuild", action="store_true", help="drop the index and build it again")
    p.add_argument("--follow-links", action="store_true",
                   help="also index what symlinks inside the folders point to outside them")
    p.set_defaults(handler=_ingest)


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.app import build

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


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check", help="verify that manifest, Chroma, keyword index and texts agree (exit 1 if not)")
    p.add_argument("--repair", action="store_true", help="mend what disagrees (embeds only what was lost)")
    p.add_argument("--quick", action="store_true", help="skip the per-chunk quote and source-file checks")
    p.set_defaults(handler=_check)


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.app import build

    result = build(settings).check(fix=args.repair, deep=not args.quick)
    for line in result.lines():
        print(line)
    if not result.ok and not args.repair:
        print("Run `chatbot check --repair` to mend it.", file=sys.stderr)
    return 0 if result.ok else EXIT_ERROR


def _add_ask(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lo, hi = _bounds("top_k")
    p = sub.add_parser("ask", help="answer one question with citations")
    p.add_argument("question", type=_text)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--explain", action="store_true",
                   help="say why each quote was chosen, why the best others were not, and why a refusal "
                        "(with --json: the object's `trace`)")
    p.add_argument("-k", type=_int_in(lo, hi, "a number of passages"), default=None,
                   help=f"number of passages to read ({lo} to {hi}; default CHATBOT_TOP_K)")
    p.set_defaults(handler=_ask)


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from chatbot.app import build

    answer = build(settings).ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(answer.as_dict(trace=args.explain), ensure_ascii=False))
        return 0
    _print_answer(answer)
    if args.explain:
        _print_trace(answer.trace)
    return 0


def _print_trace(trace: dict[str, Any]) -> None:
    """The answer's trace as a person reads it: what fired on each sentence, and why."""
    def steps(item: dict[str, Any]) -> str:
        return "; ".join(f"{s['step']} ({s['stage']}): {s['detail']}" for s in item["steps"]) or "no step fired"

    print("\nWhy:")
    if trace.get("mode") == "llm":
        print("  (the language model wrote this answer; below is the extractive reading that ordered its sources)")
    if trace.get("refusal"):
        print(f"  Refused: {trace['refusal']}.")
    for item in trace.get("chosen", []):
        print(f"  quoted  {item['file']} chars {item['start_char']}-{item['end_char']}, score {item['score']}")
        print(f"          “{item['quote']}”\n          {steps(item)}")
    for item in trace.get("passed_over", []):
        print(f"  not quoted  {item['file']} chars {item['start_char']}-{item['end_char']}, score {item['score']}: "
              f"{item['verdict']}")
        print(f"          “{item['quote']}”\n          {steps(item)}")
    print(f"  {trace.get('sentences_read', 0)} sentences read, {trace.get('sentences_skipped', 0)} skipped as no "
          "candidate" + (f"; steps switched off: {', '.join(trace['steps_off'])}" if trace.get("steps_off") else ""))


def _print_answer(answer: Answer) -> None:
    print(answer.answer)
    if answer.notice:
        print(f"\n({answer.notice})")
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            place = where(c.page, c.section)
            print(f"  [{c.n}] {c.file} — {c.title}{f', {place}' if place else ''} (chars {c.start_char}-{c.end_char})")
            print(f"      “{c.quote}”")
    elif answer.related:
        print("\nRelated passages (they do not answer the question):")
        for c in answer.related:
            print(f"  - {c.file} — {c.title}: “{c.quote[:160]}”")


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="open the web chat")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_int_in(1, 65535, "a port"), default=7860)
    p.set_defaults(handler=_serve)


def _check_listen(host: str, port: int) -> None:
    """Fail before loading anything when HOST:PORT cannot be listened on (as the server binds it)."""
    host_fix = "Give an address of this machine with --host: 127.0.0.1 (this machine only) or 0.0.0.0 (every network)."
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except OSError as exc:
        raise ChatbotError(f"Cannot listen on {host!r}: {exc.strerror or exc}. {host_fix}") from exc
    try:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
            s.bind(address)
    except OSError as exc:
        fix = ("Pick a free port with --port, or stop the program using it." if exc.errno == errno.EADDRINUSE
               else host_fix)
        raise ChatbotError(f"Cannot listen on {host}:{port} ({exc.strerror or exc}). {fix}") from exc


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    _check_listen(args.host, args.port)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from chatbot.app import build
    from chatbot.web.page import serve

    serve(build(settings), host=args.host, port=args.port)
    return 0


def _add_eval(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "eval", help="run an eval pack and write a report, or compare two runs",
        description="Exit codes: 0 pass, 1 a metric below the baseline, 2 a broken pack or run.")
    p.add_argument("--pack", type=_path, default=Path("evals/seeds"))
    p.add_argument("--out", type=_path, default=None,
                   help="where results, metrics and reports go (default eval-out; with --compare: NEW_OUT)")
    p.add_argument("--baseline", type=_path, default=None,
                   help="baseline JSON to gate on (exit 1 when a metric drops below it)")
    p.add_argument("--judge", action="store_true",
                   help="also grade answers with an LLM judge (needs an endpoint; reported apart, not gated)")
    p.add_argument("--junit", type=_path, default=None, metavar="FILE",
                   help="also write the run as JUnit XML for CI: a test case per question, and the gate")
    p.add_argument("--compare", nargs=2, type=_path, metavar=("OLD_OUT", "NEW_OUT"), default=None,
                   help="compare two earlier runs' output folders instead of running; writes compare.md")
    p.add_argument("--compare-out", type=_path, default=None, metavar="FILE",
                   help="with --compare: also write the printed summary (Markdown) to FILE, e.g. for a pull-request comment")
    p.set_defaults(handler=_eval, error_exit=EXIT_EVAL_BROKEN)


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.compare:
        if args.baseline or args.judge or args.junit:
            raise ChatbotError("--compare reads two finished runs; --baseline, --judge and --junit apply to a new run. "
                               "Run the eval with them first, then compare.")
        from chatbot.evaluation.compare import run_compare

        return run_compare(args.compare[0], args.compare[1], args.out, args.compare_out)
    if args.compare_out:
        raise ChatbotError("--compare-out writes the summary of --compare OLD_OUT NEW_OUT; give --compare too.")
    from chatbot.evaluation.evals import run_eval

    return run_eval(settings, args.pack, args.out or Path("eval-out"), args.baseline, judge=args.judge,
                    junit=args.junit)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chatbot", description="Cited answers from your documents, offline.")
    p.add_argument("-v", "--verbose", action="store_true", help="log one line per step to stderr")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_ingest, _add_check, _add_ask, _add_serve, _add_eval):
        add(sub)
    return p


# -- the edge -------------------------------------------------------------------------------------


def _settings() -> Settings:
    """The settings, or a ConfigError naming each wrong CHATBOT_ variable as the user wrote it."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_settings_error(exc)) from exc


def _settings_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "?"
        var = name if name.isupper() else f"CHATBOT_{name.upper()}"
        got = f" (got {err['input']!r})" if isinstance(err.get("input"), (str, int, float)) else ""
        lines.append(f"{var}: {err['msg']}{got}")
    return ("invalid setting: " + "; ".join(lines)
            + ". Fix it in the environment or in .env (see the README's settings).")


def _never_fail_to_print() -> None:
    """Text that the terminal's encoding cannot show (a Chinese answer on an ASCII locale, a file
    name with undecodable bytes) is printed with backslash escapes instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    _never_fail_to_print()
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for noisy in ("httpx", "chromadb", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    error_exit: int = getattr(args, "error_exit", EXIT_ERROR)
    try:
        code: int = args.handler(args, _settings())
        return code
    except ChatbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return error_exit
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`| head`, a closed stdout): no traceback, and Python's own flush at
        # exit must not fail again; 141 is what a shell reports for a process stopped by SIGPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
