"""Eval packs: read `questions.jsonl`, check every row before anything is indexed, order conversations.

A pack with bad rows is refused as a whole, with one `FILE:LINE: reason` per bad row, so a pack
author fixes them all in one go instead of one per run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.errors import ChatbotError

MAX_LISTED = 50  # bad rows named in the message; a wrong file given as a pack can have thousands


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    lang: str
    question: str
    answers: tuple[str, ...]
    gold_files: tuple[str, ...]
    answerable: bool
    category: str = ""
    conversation: str = ""  # questions sharing it form one conversation, asked in `turn` order
    turn: int = 1

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> EvalQuestion:
        """A question from a row that `row_problems` passed."""
        return cls(
            id=str(obj["id"]), lang=str(obj.get("lang") or "en"), question=str(obj["question"]),
            answers=tuple(obj.get("answers") or ()), gold_files=tuple(obj.get("gold_files") or ()),
            answerable=bool(obj.get("answerable", True)), category=str(obj.get("category") or ""),
            conversation=str(obj.get("conversation") or ""), turn=int(obj.get("turn") or 1),
        )


class PackError(ChatbotError):
    """The pack cannot be run as it is; the message lists what to fix."""


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _strings(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list):  # a bare string would be read as a list of its characters
        return f'"{key}" must be a list of strings, not {_kind(value)}'
    bad = [v for v in value if not isinstance(v, str)]
    return f'"{key}" must be a list of strings; it holds {_kind(bad[0])}' if bad else None


def row_problems(obj: Any) -> list[str]:
    """What is wrong with one parsed row of questions.jsonl (empty when it is a valid question)."""
    if not isinstance(obj, dict):
        return [f"{_kind(obj)} where a question object {{\"id\": ..., \"question\": ...}} is expected"]
    out = []
    qid = obj.get("id")
    if "id" not in obj:
        out.append('no "id"')
    elif isinstance(qid, bool) or not isinstance(qid, (str, int)):
        out.append(f'"id" must be a string or a whole number, not {_kind(qid)}')
    elif not str(qid).strip():
        out.append('"id" is empty')
    question = obj.get("question")
    if "question" not in obj:
        out.append('no "question"')
    elif not isinstance(question, str):
        out.append(f'"question" must be a string, not {_kind(question)}')
    elif not question.strip():
        out.append('"question" is empty')
    for key in ("lang", "category", "conversation"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            out.append(f'"{key}" must be a string, not {_kind(obj[key])}')
    out += [p for p in (_strings(obj, "answers"), _strings(obj, "gold_files")) if p]
    if "answerable" in obj and not isinstance(obj["answerable"], bool):
        out.append(f'"answerable" must be true or false, not {_kind(obj["answerable"])}')  # "false" would be true
    turn = obj.get("turn")
    if turn is not None and (isinstance(turn, bool) or not isinstance(turn, int) or turn < 1):
        out.append(f'"turn" must be a whole number from 1, not {json.dumps(turn, ensure_ascii=False)}')
    return out


def _parse(raw: bytes) -> tuple[Any, str | None]:
    """(row, None) or (None, why the line is no JSON object)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); save the file as UTF-8"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg} at column {exc.colno})"


def _cross_row_problems(rows: list[tuple[int, EvalQuestion]]) -> list[tuple[int, str]]:
    """Duplicate ids, and conversations whose turns do not count 1, 2, 3 ..."""
    out = []
    first_line: dict[str, int] = {}
    for lineno, q in rows:
        if q.id in first_line:
            out.append((lineno, f"id {q.id!r} is already used on line {first_line[q.id]}; give every question its own id"))
        first_line.setdefault(q.id, lineno)
    convs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for lineno, q in rows:
        if q.conversation:
            convs[q.conversation].append((q.turn, lineno))
    for conv, turns in convs.items():
        got = sorted(t for t, _ in turns)
        if got != list(range(1, len(got) + 1)):
            lines = ", ".join(str(n) for _, n in sorted(turns, key=lambda tl: tl[1]))
            out.append((min(n for _, n in turns),
                        f"conversation {conv!r} has turns {got} (lines {lines}); number its questions 1, 2, 3 ... "
                        "without gaps or repeats"))
    return out


def load_pack(pack: Path) -> list[EvalQuestion]:
    """Every question of the pack, or a PackError listing every bad row as FILE:LINE: reason."""
    qfile = pack / "questions.jsonl"
    if not (pack / "corpus").is_dir() or not qfile.is_file():
        raise PackError(f"{pack} is not an eval pack: it needs corpus/ and questions.jsonl (see evals/README.md).")
    try:
        data = qfile.read_bytes()
    except OSError as exc:
        raise PackError(f"Cannot read {qfile}: {exc.strerror or exc}. Check its permissions.") from exc
    problems: list[tuple[int, str]] = []
    rows: list[tuple[int, EvalQuestion]] = []
    for lineno, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), 1):
        if not raw.strip():
            continue
        obj, why = _parse(raw)
        found = [why] if why else row_problems(obj)
        problems += [(lineno, p) for p in found]
        if not found:
            rows.append((lineno, EvalQuestion.from_json(obj)))
    problems += _cross_row_problems(rows)
    if problems:
        problems.sort(key=lambda p: p[0])
        listed = [f"  {qfile}:{n}: {p}" for n, p in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            listed.append(f"  ... and {len(problems) - MAX_LISTED} more")
        bad_lines = len({n for n, _ in problems})
        raise PackError(f"{qfile} has {bad_lines} bad row{'s' * (bad_lines != 1)}; nothing was indexed or written. "
                        "Fix them (the format is in evals/README.md) and run again:\n" + "\n".join(listed))
    if not rows:
        raise PackError(f"{qfile} holds no questions. Add one JSON object a line (the format is in evals/README.md).")
    return [q for _, q in rows]


def histories(questions: list[EvalQuestion]) -> dict[str, list[str]]:
    """For each question id, the earlier questions of its conversation, oldest first."""
    convs: dict[str, list[EvalQuestion]] = defaultdict(list)
    for q in questions:
        if q.conversation:
            convs[q.conversation].append(q)
    out: dict[str, list[str]] = {}
    for q in questions:
        earlier = sorted((p for p in convs.get(q.conversation, []) if p.turn < q.turn), key=lambda p: p.turn)
        out[q.id] = [p.question for p in earlier] if q.conversation else []
    return out
