"""Compare two eval runs (their output folders): metric deltas, settings changed, questions that flipped.

Flipped questions are listed from the *fit* split only; *check* questions that flipped are counted,
never shown (as in the report: check is read in aggregate only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatbot.errors import ChatbotError
from chatbot.evaluation.evals import check_out
from chatbot.evaluation.scoring import HIGHER_IS_BETTER, LOWER_IS_BETTER, fmt, passed, row_split, scopes

COMPARED = ["pass_rate", *HIGHER_IS_BETTER, *LOWER_IS_BETTER, "latency_p50_ms", "latency_p95_ms"]
_LOWER = {*LOWER_IS_BETTER, "latency_p50_ms", "latency_p95_ms"}
PROVENANCE_KEYS = ("commit", "dirty", "embedding_model", "answer_mode", "retrieval", "top_k", "chunk_tokens",
                   "chunk_overlap_tokens", "llm_model", "prompts", "settings")


def load_run(out: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    results, metrics = out / "results.jsonl", out / "metrics.json"
    if not results.is_file() or not metrics.is_file():
        raise ChatbotError(f"{out} holds no eval run (results.jsonl and metrics.json). "
                           f"Run `chatbot eval --pack PACK --out {out}` first.")
    try:
        rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
        return rows, json.loads(metrics.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or not JSON
        raise ChatbotError(f"{out} holds a damaged eval run ({exc}). "
                           f"Run `chatbot eval --pack PACK --out {out}` again.") from exc


def delta(name: str, old: Any, new: Any) -> tuple[float | None, str]:
    """(new - old, "better" / "worse" / "same" / "") for one metric."""
    if not isinstance(old, (int, float)) or not isinstance(new, (int, float)):
        return None, ""
    d = round(new - old, 4)
    if d == 0:
        return 0.0, "same"
    if name.startswith("latency"):
        return d, "slower" if d > 0 else "faster"
    return d, "worse" if (d > 0) == (name in _LOWER) else "better"


def flips(old_rows: list[dict[str, Any]], new_rows: list[dict[str, Any]]) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Questions by id whose result changed (pass->fail, fail->pass) or whose answer changed with the same result."""
    old = {r["id"]: r for r in old_rows}
    out: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {"pass->fail": [], "fail->pass": [],
                                                                    "answer changed": []}
    for r in new_rows:
        o = old.get(r["id"])
        if o is None:
            continue
        was, now = passed(o), passed(r)
        if was and not now:
            out["pass->fail"].append((o, r))
        elif now and not was:
            out["fail->pass"].append((o, r))
        elif o["answer"] != r["answer"]:
            out["answer changed"].append((o, r))
    return out


def _provenance_changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    changes = []
    for key in PROVENANCE_KEYS:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changes += [(f"{key}.{k}", a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            changes.append((key, a, b))
    return changes


def _md(text: Any, limit: int = 160) -> str:
    s = str(text).replace("\n", " ").replace("|", "\\|")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _answer(r: dict[str, Any]) -> str:
    return "(refused)" if r["refused"] else _md(r["answer"])


def render_compare(old_dir: Path, new_dir: Path, brief: bool = False) -> str:
    """The comparison as Markdown; `brief` keeps only overall metrics and the flipped questions."""
    old_rows, old_m = load_run(old_dir)
    new_rows, new_m = load_run(new_dir)
    old_meta, new_meta = old_m.get("meta", {}), new_m.get("meta", {})
    lines = [f"# Eval comparison: {old_dir} -> {new_dir}", ""]
    if old_meta.get("pack") != new_meta.get("pack"):
        lines += [f"**Different packs**: {old_meta.get('pack')} vs {new_meta.get('pack')}.", ""]
    changes = _provenance_changes(old_meta, new_meta)
    lines += ["## What changed in the run", ""]
    lines += [f"- {k}: `{json.dumps(a, ensure_ascii=False)}` -> `{json.dumps(b, ensure_ascii=False)}`"
              for k, a, b in changes] or ["- nothing recorded differs (same commit and settings)"]
    if old_meta.get("dirty") or new_meta.get("dirty"):
        lines.append("- a run had uncommitted changes: the code may differ even where the commit is the same")
    lines += ["", "## Metrics", "", "| scope | metric | old | new | delta | |", "|---|---|---|---|---|---|"]
    old_scopes = dict(scopes(old_m))
    moved = 0
    for scope, new in scopes(new_m):
        old = old_scopes.get(scope, {})
        for name in COMPARED:
            d, verdict = delta(name, old.get(name), new.get(name))
            if scope != "overall" and (brief or verdict in ("same", "", "faster", "slower")):
                continue  # the splits list only real moves; overall lists everything
            moved += verdict in ("better", "worse")
            lines.append(f"| {scope} | {name} | {fmt(old.get(name), name)} | {fmt(new.get(name), name)} | "
                         f"{'' if d is None else f'{d:+g}'} | {verdict} |")
    flipped = flips(old_rows, new_rows)
    for kind in ("pass->fail", "fail->pass") if brief else ("pass->fail", "fail->pass", "answer changed"):
        pairs = [(o, r) for o, r in flipped[kind] if row_split(r) != "check"]
        hidden = len(flipped[kind]) - len(pairs)
        lines += ["", f"## {kind} ({len(flipped[kind])})", ""]
        if hidden:
            lines += [f"{hidden} of them in the check split, not listed.", ""]
        if not pairs:
            lines.append("none" if not hidden else "none in the fit split")
            continue
        lines += ["| id | category | lang | question | old answer | new answer | gold rank old -> new |",
                  "|---|---|---|---|---|---|---|"]
        for o, r in pairs:
            lines.append(f"| {r['id']} | {r.get('category', '')} | {r.get('lang', '')} | {_md(r['question'])} | "
                         f"{_answer(o)} | {_answer(r)} | {o.get('gold_rank') or '–'} -> {r.get('gold_rank') or '–'} |")
    old_ids, new_ids = {r["id"] for r in old_rows}, {r["id"] for r in new_rows}
    if old_ids != new_ids:
        lines += ["", f"Only in old: {', '.join(sorted(old_ids - new_ids)) or 'none'}; "
                      f"only in new: {', '.join(sorted(new_ids - old_ids)) or 'none'}."]
    summary = (f"{len(flipped['fail->pass'])} fixed, {len(flipped['pass->fail'])} broken, "
               f"{len(flipped['answer changed'])} answers changed with the same result; {moved} metric moves")
    lines[1:1] = ["", f"**{summary}**"]
    return "\n".join(lines) + "\n"


def run_compare(old_dir: Path, new_dir: Path, out: Path | None, summary: Path | None = None) -> int:
    """Print the brief comparison and write the full one to OUT/compare.md (OUT: `out`, or the new
    run's folder). `summary`: also write the brief one, as printed, to that file (a pull-request
    comment: overall metrics and the questions that flipped)."""
    if out is not None:
        check_out(out)
    if summary is not None and summary.is_dir():
        raise ChatbotError(f"--compare-out {summary} is a folder. Give a file name, e.g. {summary / 'compare.md'}.")
    target = (out or new_dir) / "compare.md"
    brief = render_compare(old_dir, new_dir, brief=True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_compare(old_dir, new_dir), encoding="utf-8")
        if summary is not None:
            summary.parent.mkdir(parents=True, exist_ok=True)
            summary.write_text(brief, encoding="utf-8")
    except OSError as exc:
        raise ChatbotError(f"Cannot write the comparison ({exc.filename or target}): {exc.strerror or exc}. "
                           "Give another --out or --compare-out.") from exc
    print(brief)
    print(f"wrote {target} (with the moves per language and category, and answers that changed)"
          + (f" and {summary} (the summary above)" if summary is not None else ""))
    return 0
