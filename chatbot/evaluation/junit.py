"""An eval run as JUnit XML (`chatbot eval --junit FILE`), the format CI systems display as tests.

One test case per question, named by its id (class name `PACK.SPLIT.LANG`, time its latency): it
passes when the question passed (an accepted answer, or a refusal of an unanswerable question);
otherwise a `<failure>` whose message says how it failed and whose text holds the question, the
expected answers, the answer and its citations; a question that failed to run is an `<error>`
with its message. The metrics gate is one more test case (`PACK.gate`, "metrics gate"): a
`<failure>` listing the metrics below the baseline, or `<skipped>` when no baseline was given.

As in the reports, *check* questions are counted, never read one by one
(`chatbot.evaluation.split`): their failures say only how they failed (a wrong answer, a false
refusal, an answered unanswerable question), not what was asked or answered. An error is shown
whatever its split: it says what broke, not what was answered.

Built with `xml.etree.ElementTree`, which escapes text; characters XML 1.0 cannot hold (control
characters a document may carry) become U+FFFD, so the file always parses.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from chatbot.errors import ChatbotError
from chatbot.evaluation.scoring import passed, row_split

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
PROPERTIES = ("pack", "commit", "dirty", "answer_mode", "retrieval", "top_k", "embedding_model", "llm_model")


def _x(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def how_failed(row: dict[str, Any]) -> str:
    """Why a question that ran did not pass, in a few words."""
    if not row["answerable"]:
        return "answered a question the documents do not answer (expected a refusal)"
    if row["refused"]:
        return "refused a question the documents answer"
    return "the answer holds none of the expected answers"


def failure_text(row: dict[str, Any]) -> str:
    """The question, what was expected, the answer and its citations, for a person reading CI."""
    lines = [f"question: {row['question']}"]
    if row.get("history"):
        lines.append("asked after: " + " / ".join(row["history"]))
    expected = row.get("expected") or []
    lines.append("expected: " + (" | ".join(expected) if expected else "a refusal (unanswerable)"))
    lines.append("answer: " + ("(refused) " if row["refused"] else "") + str(row["answer"]))
    for c in row.get("citations") or []:
        where = f" chars {c['start_char']}-{c['end_char']}" if "start_char" in c else ""
        lines.append(f"  [{c.get('n', '?')}] {c['file']}{where}: {c['quote']}")
    if not row.get("citations"):
        lines.append("  (no citations)")
    lines.append(f"gold files: {', '.join(row.get('gold_files') or []) or 'none'}; "
                 f"retrieved: {', '.join(row.get('retrieved') or []) or 'none'}; gold rank: {row.get('gold_rank') or '-'}")
    return "\n".join(lines)


def _question_case(suite: ET.Element, pack: str, row: dict[str, Any]) -> str:
    """Add one question's test case; returns "pass", "failure" or "error"."""
    split = row_split(row) or "all"
    case = ET.SubElement(suite, "testcase", classname=_x(f"{pack}.{split}.{row.get('lang') or 'unknown'}"),
                         name=_x(row["id"]), time=f"{(row.get('latency_ms') or 0) / 1000:.3f}")
    if row.get("error"):
        error = ET.SubElement(case, "error", message=_x(row["error"]), type=_x(str(row["error"]).split(":", 1)[0]))
        error.text = _x(f"question {row['id']} failed to run: {row['error']}")
        return "error"
    if passed(row):
        return "pass"
    why = how_failed(row)
    failure = ET.SubElement(case, "failure", type=_x(row.get("category") or "question"))
    if split == "check":
        failure.set("message", _x(f"{why} (check split: counted, not shown)"))
        failure.text = ("A check question: the check split counts in the aggregates only, so that what is "
                        "chosen by reading the fit questions is judged on answers nobody read.")
    else:
        failure.set("message", _x(f"{why}: {row['question']}"))
        failure.text = _x(failure_text(row))
    return "failure"


def render_junit(rows: list[dict[str, Any]], metrics: dict[str, Any], gate_failures: list[str] | None,
                 baseline: str | None = None) -> str:
    """The run as JUnit XML: one suite (the pack) of one case per question plus the gate's case.
    `gate_failures`: what the gate found (empty: passed), None when no baseline was given."""
    meta = metrics.get("meta", {})
    pack = str(meta.get("pack") or "eval")
    suite = ET.Element("testsuite", name=_x(pack))
    props = ET.SubElement(suite, "properties")
    for key in PROPERTIES:
        if meta.get(key) is not None:
            ET.SubElement(props, "property", name=key, value=_x(meta[key]))
    if baseline is not None:
        ET.SubElement(props, "property", name="baseline", value=_x(baseline))
    outcomes = [_question_case(suite, pack, r) for r in rows]
    gate_case = ET.SubElement(suite, "testcase", classname=_x(f"{pack}.gate"), name="metrics gate", time="0.000")
    if gate_failures is None:
        ET.SubElement(gate_case, "skipped", message="no --baseline given: nothing to gate on")
    elif gate_failures:
        failure = ET.SubElement(gate_case, "failure", type="regression",
                                message=_x(f"REGRESSION against {baseline} ({len(gate_failures)}): {gate_failures[0]}"))
        failure.text = _x("\n".join(gate_failures))
    outcomes.append("skipped" if gate_failures is None else "failure" if gate_failures else "pass")
    counts = {"tests": str(len(outcomes)), "failures": str(outcomes.count("failure")),
              "errors": str(outcomes.count("error")), "skipped": str(outcomes.count("skipped")),
              "time": f"{sum((r.get('latency_ms') or 0) for r in rows) / 1000:.3f}"}
    for key, value in counts.items():
        suite.set(key, value)
    root = ET.Element("testsuites", {"name": _x(f"chatbot eval {pack}"), **counts})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def check_junit_path(path: Path) -> None:
    """Refuse, before anything runs, a --junit path that is a folder or cannot be written."""
    if path.is_dir():
        raise ChatbotError(f"--junit {path} is a folder. Give a file name for the JUnit XML, e.g. {path / 'eval.xml'}.")
    nearest = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    if not nearest.is_dir():
        raise ChatbotError(f"--junit {path} cannot be made: {nearest} is a file. Give a path in a folder.")
    if (path.exists() and not _writable(path)) or (not path.exists() and not _writable(nearest)):
        raise ChatbotError(f"--junit {path} cannot be written. Give a file in a folder you can write to.")


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0))


def write_junit(path: Path, xml: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(xml, encoding="utf-8")
    except OSError as exc:
        raise ChatbotError(f"Cannot write the JUnit XML to {path}: {exc.strerror or exc}. "
                           "Free some space or give another --junit, and run again.") from exc
