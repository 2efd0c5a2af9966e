"""Eval reports: report.md and a self-contained report.html with inline SVG plots.

Pure functions of (rows, metrics) as written to results.jsonl and metrics.json. Every piece of
text that comes from a pack, a document or a model is escaped; the HTML loads nothing.

Questions are listed one by one only from the *fit* split: *check* questions count in the
aggregates and nowhere else, so that what is chosen by reading answers is judged on answers
nobody read (`chatbot.evaluation.split`). Errors are listed from both, id and message only.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from chatbot.evaluation.plots import bar_chart, confusion_matrix, histogram, reliability_diagram, risk_coverage_plot
from chatbot.evaluation.plots import esc as _e
from chatbot.evaluation.scoring import fmt, passed, row_split, scopes

HEADLINE = ["n", "pass_rate", "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
            "citation_recall", "refusal_rate", "false_refusal_rate", "invalid_citations", "auroc", "ece", "errors",
            "latency_p50_ms", "latency_p95_ms"]
CONFIDENCE = ["auroc", "auroc_answerable", "auroc_answered", "ece"]
SHOWN_SPLITS = ("fit", "check")
JUDGED = ["n_judged", "faithfulness", "answer_relevance", "judge_pass_rate", "judge_errors"]


def _md(text: Any, limit: int | None = None) -> str:
    s = str(text).replace("\n", " ").replace("|", "\\|")
    return s if limit is None or len(s) <= limit else s[: limit - 1] + "…"


def provenance_line(meta: dict[str, Any]) -> str:
    dirty = {True: " (uncommitted changes)", False: "", None: ""}.get(meta.get("dirty"), "")
    prompts = ", ".join(f"{k}={v}" for k, v in (meta.get("prompts") or {}).items()) or "none (extractive)"
    return (f"commit {meta.get('commit', 'unknown')}{dirty}; answer mode {meta.get('answer_mode')}, "
            f"retrieval {meta.get('retrieval')}, k={meta.get('top_k')}, chunks {meta.get('chunk_tokens')}"
            f"/{meta.get('chunk_overlap_tokens')} tokens; embedding model {meta.get('embedding_model')}; "
            f"prompts: {prompts}")


def _ok(row: dict[str, Any]) -> str:
    return "ERROR" if row.get("error") else "pass" if passed(row) else "FAIL"


def _got(row: dict[str, Any]) -> str:
    """What the question got, for the Markdown report: its error, a refusal, or the answer."""
    if row.get("error"):
        return f"an error: {_md(row['error'], 300)}"
    return "a refusal" if row["refused"] else "“" + _md(row["answer"], 200) + "”"


def _retrieved(row: dict[str, Any]) -> list[tuple[str, float | None, bool]]:
    scores = row.get("file_scores") or []
    gold = set(row.get("gold_files") or [])
    return [(f, scores[i] if i < len(scores) else None, f in gold) for i, f in enumerate(row["retrieved"])]


def listed(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The rows that may be read one by one (all but check), and how many check rows are hidden."""
    shown = [r for r in rows if row_split(r) != "check"]
    return shown, len(rows) - len(shown)


def hidden_note(hidden: int) -> str:
    return (f"{hidden} check question{'s are' if hidden != 1 else ' is'} not listed: the check split counts in the "
            "aggregates only, so that what is chosen by reading the fit questions is judged on answers nobody read.")


def _curves(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    cal = metrics.get("calibration") or {}
    return [(s, cal[s]) for s in SHOWN_SPLITS if cal.get(s)]


def _confidence_scopes(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    split = metrics.get("by_split", {})
    return [("overall", metrics["overall"])] + [(f"split={s}", split[s]["overall"]) for s in SHOWN_SPLITS if s in split]


NO_CONFIDENCE = ("No answer in this run carries a confidence (a run from before answers had one), so there is "
                 "no AUROC, calibration error, reliability diagram or risk-coverage curve.")
CONFIDENCE_NOTE = ("auroc: confidence against answered correctly (answerable, not refused, an accepted answer in "
                   "it) over every question with a confidence (a refusal's is 0: it shows no answer); "
                   "auroc_answerable: the same over answerable questions; auroc_answered: over the answers shown "
                   "only; ece: |mean confidence - share right| over 10 equal-width bins, weighted by size.")


def _risk_at(points: list[dict[str, float]], coverage: float) -> float | None:
    return next((p["risk"] for p in points if p["coverage"] >= coverage), None)


def _confidence_markdown(metrics: dict[str, Any]) -> list[str]:
    curves = _curves(metrics)
    lines = ["", "## Confidence", ""]
    if not (metrics.get("calibration") or {}).get("overall"):
        return lines + [NO_CONFIDENCE]
    lines += [CONFIDENCE_NOTE, "", "| scope | " + " | ".join(CONFIDENCE) + " |", "|" + "---|" * (len(CONFIDENCE) + 1)]
    lines += [f"| {name} | " + " | ".join(fmt(m.get(c)) for c in CONFIDENCE) + " |"
              for name, m in _confidence_scopes(metrics)]
    lines += ["", "Reliability (n, mean confidence, share right per bin):", "",
              "| confidence | " + " | ".join(name for name, _ in curves) + " |", "|---|" + "---|" * len(curves)]
    for i, b in enumerate(curves[0][1]["reliability"] if curves else []):
        cells = [c["reliability"][i] for _, c in curves]
        lines.append(f"| {b['lo']:g}–{b['hi']:g} | " + " | ".join(
            f"{c['n']}, {fmt(c['confidence'])}, {fmt(c['accuracy'])}" if c["n"] else "0" for c in cells) + " |")
    lines += ["", "Risk-coverage (risk: share of answers not right when answering the most confident share):", "",
              "| split | risk at 25% | 50% | 75% | 100% | as run: coverage, risk |", "|---|---|---|---|---|---|"]
    for name, c in curves:
        op = c.get("operating_point")
        lines.append(f"| {name} | " + " | ".join(fmt(_risk_at(c["risk_coverage"], x)) for x in (0.25, 0.5, 0.75, 1.0))
                     + f" | {fmt(op['coverage']) + ', ' + fmt(op['risk']) if op else '–'} |")
    return lines


# -- markdown ---------------------------------------------------------------------------------


def render_markdown(rows: list[dict[str, Any]], metrics: dict[str, Any]) -> str:
    meta = metrics.get("meta", {})
    lines = [f"# Eval report: {meta.get('pack', '')}", "", provenance_line(meta), "",
             "## Metrics (deterministic)", "",
             "| scope | " + " | ".join(HEADLINE) + " |", "|" + "---|" * (len(HEADLINE) + 1)]
    for name, m in scopes(metrics):
        lines.append(f"| {name} | " + " | ".join(fmt(m.get(c), c) for c in HEADLINE) + " |")
    judged = metrics.get("judged")
    if judged:
        lines += ["", f"## Judged by an LLM (not gated; prompt {judged.get('prompt')}, model {judged.get('model')})",
                  "", "| scope | " + " | ".join(JUDGED) + " |", "|" + "---|" * (len(JUDGED) + 1)]
        for name, m in [("overall", judged["overall"])] + [(f"lang={k}", v) for k, v in judged.get("by_lang", {}).items()]:
            lines.append(f"| {name} | " + " | ".join(fmt(m.get(c)) for c in JUDGED) + " |")
    lines += _confidence_markdown(metrics)
    n_ans = sum(r["answerable"] for r in rows)
    conf = _confusion(rows)
    lines += ["", "## Refusals", "", "| | answered | refused |", "|---|---|---|",
              f"| answerable ({n_ans}) | {conf['answerable', False]} | {conf['answerable', True]} |",
              f"| unanswerable ({len(rows) - n_ans}) | {conf['unanswerable', False]} | {conf['unanswerable', True]} |"]
    errors = [r for r in rows if r.get("error")]
    if errors:
        lines += ["", f"{len(errors)} question{'s' * (len(errors) != 1)} failed to run and are counted as answered "
                  "above (neither correct nor refused); see Errors below."]
    shown, hidden = listed(rows)
    lines += ["", "## Questions", ""] + ([hidden_note(hidden), ""] if hidden else []) + [
              "| id | result | category | lang | gold rank | confidence | latency ms | question | answer | citations | "
              "retrieved (score, * = gold) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in shown:
        question = r["question"] if not r.get("history") else f"(after: {' / '.join(r['history'])}) {r['question']}"
        cites = "; ".join(f"[{c.get('n', i)}] {c['file']}: {c['quote']}" for i, c in enumerate(r["citations"], 1))
        retrieved = ", ".join(f"{f} ({fmt(s)}){'*' if g else ''}" for f, s, g in _retrieved(r))
        result = _ok(r) + (f", judge {'pass' if r['judge'].get('passed') else 'fail'}" if r.get("judge") else "")
        answer = f"error: {r['error']}" if r.get("error") else r["answer"]
        lines.append(f"| {r['id']} | {result} | {r['category']} | {r['lang']} | {r['gold_rank'] or '–'} | "
                     f"{fmt(r.get('confidence'))} | {r['latency_ms']} | {_md(question, 300)} | {_md(answer, 300)} | {_md(cites, 300)} | "
                     f"{_md(retrieved)} |")
    failures = [r for r in shown if not passed(r)]
    hidden_failures = sum(not passed(r) for r in rows) - len(failures)
    if failures or hidden_failures:
        lines += ["", "## Failures", ""] + ([f"{hidden_failures} more in the check split, not listed.", ""]
                                            if hidden_failures else [])
        for r in failures:
            want = "a refusal" if not r["answerable"] else " or ".join(f"“{a}”" for a in r.get("expected", []))
            lines.append(f"- **{r['id']}** ({r['category']}, {r['lang']}): {_md(r['question'], 300)} — expected {want}; "
                         f"got {_got(r)}")
    if errors:
        lines += ["", "## Errors", "", "Questions that failed to run, in either split (what broke, not what was "
                  "answered); the run went on without them.", ""]
        lines += [f"- **{r['id']}**: {_md(r['error'], 500)}" for r in errors]
    return "\n".join(lines) + "\n"


def _confusion(rows: list[dict[str, Any]]) -> Counter[tuple[str, bool]]:
    c: Counter[tuple[str, bool]] = Counter()
    for r in rows:
        c["answerable" if r["answerable"] else "unanswerable", bool(r["refused"])] += 1
    return c


# -- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}
th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td.res{background:#f6d5d5;font-weight:bold} tr.pass td.res{background:#dcefdc}
tr.error td.res{background:#b04a4a;color:#fff} .err{color:#b04a4a;font-family:monospace}
.wide{overflow-x:auto} .plots{display:flex;flex-wrap:wrap;gap:1em} .muted{color:#777} .gold{font-weight:bold}
ul{margin:0;padding-left:1.2em} q{font-style:italic}
#onlyfail:checked ~ table.questions tr.pass{display:none}
"""


def _metric_table(items: list[tuple[str, dict[str, Any]]], cols: list[str]) -> str:
    head = "<tr><th>scope</th>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr>"
    body = "".join("<tr><td>" + _e(name) + "</td>" + "".join(f'<td class="num">{_e(fmt(m.get(c), c))}</td>' for c in cols)
                   + "</tr>" for name, m in items)
    return f"<div class='wide'><table>{head}{body}</table></div>"


def _question_row(r: dict[str, Any]) -> str:
    ok = passed(r)
    hist = "".join(f'<div class="muted">earlier: {_e(h)}</div>' for h in r.get("history") or [])
    expected = ("a refusal" if not r["answerable"] else " or ".join(f"“{a}”" for a in r.get("expected", [])))
    cites = "".join(f'<li>[{_e(c.get("n", i))}] {_e(c["file"])}: <q>{_e(c["quote"])}</q></li>'
                    for i, c in enumerate(r["citations"], 1))
    retrieved = "".join(f'<li class="{"gold" if g else ""}">{_e(f)} <span class="muted">{_e(fmt(s))}</span>'
                        f'{" ★" if g else ""}</li>' for f, s, g in _retrieved(r))
    judge = ""
    if r.get("judge"):
        j = r["judge"]
        verdict = "error" if j.get("error") else ("pass" if j.get("passed") else "fail")
        reasons = "".join(f"<li>{_e(x)}</li>" for x in j.get("reasons", []))
        judge = f'<div class="muted">judge: {_e(verdict)}</div><ul>{reasons}</ul>'
    answer = (f'<span class="err">error: {_e(r["error"])}</span>' if r.get("error")
              else f'{_e(r["answer"])}{" <b>(refused)</b>" if r["refused"] else ""}{judge}')
    cls = "pass" if ok else "fail error" if r.get("error") else "fail"
    return (f'<tr class="{cls}" id="q-{_e(r["id"])}"><td>{_e(r["id"])}</td>'
            f'<td class="res">{_ok(r)}</td><td>{_e(r["category"])}<br>{_e(r["lang"])}</td>'
            f'<td>{hist}{_e(r["question"])}<div class="muted">expected: {_e(expected)}</div></td>'
            f'<td>{answer}</td>'
            f'<td><ul>{cites}</ul></td><td><ul>{retrieved}</ul></td>'
            f'<td class="num">{_e(r["gold_rank"] or "–")}</td><td class="num">{_e(fmt(r.get("confidence")))}</td>'
            f'<td class="num">{_e(r["latency_ms"])}</td></tr>')


def render_html(rows: list[dict[str, Any]], metrics: dict[str, Any]) -> str:
    meta = metrics.get("meta", {})
    cats = metrics.get("by_category", {}) or metrics.get("by_lang", {})
    cat_plot = bar_chart("Per category: pass rate and hit@5",
                         [(k, [v.get("pass_rate"), v.get("hit@5")]) for k, v in cats.items()],
                         ["pass rate", "hit@5"], width=max(420, 90 * len(cats) + 60))
    lang_plot = bar_chart("Per language: accuracy, hit@1, refusal rate",
                          [(k, [v.get("accuracy"), v.get("hit@1"), v.get("refusal_rate")])
                           for k, v in metrics.get("by_lang", {}).items()],
                          ["accuracy", "hit@1", "refusal rate"], width=360)
    lat_plot = histogram("Latency per question", [float(r["latency_ms"]) for r in rows if not r.get("error")], "ms")
    conf_plot = confusion_matrix("Refusals", _confusion(rows))
    curves = _curves(metrics)
    confidence_html = "<h2>Confidence</h2>" + (
        f"<p class='muted'>{_e(CONFIDENCE_NOTE)}</p>" + _metric_table(_confidence_scopes(metrics), CONFIDENCE)
        + "<div class='plots'>" + reliability_diagram("Reliability: confidence against share right", curves)
        + risk_coverage_plot("Risk against coverage", curves) + "</div>"
        if curves else f"<p class='muted'>{_e(NO_CONFIDENCE)}</p>")
    judged = metrics.get("judged")
    judged_html = ""
    if judged:
        judged_html = (f"<h2>Judged by an LLM</h2><p class='muted'>Not gated; needs an endpoint. Prompt "
                       f"{_e(judged.get('prompt'))}, model {_e(judged.get('model'))}.</p>"
                       + _metric_table([("overall", judged["overall"])]
                                       + [(f"lang={k}", v) for k, v in judged.get("by_lang", {}).items()], JUDGED))
    shown, hidden = listed(rows)
    n_fail = sum(not passed(r) for r in shown)
    n_err = sum(bool(r.get("error")) for r in shown)
    table_head = ("<tr><th>id</th><th>result</th><th>category</th><th>question</th><th>answer</th>"
                  "<th>citations</th><th>retrieved files (score; ★ gold)</th><th>gold rank</th><th>confidence</th>"
                  "<th>ms</th></tr>")
    errors = [r for r in rows if r.get("error") and row_split(r) == "check"]
    hidden_html = (f"<p class='muted'>{_e(hidden_note(hidden))}</p>" if hidden else "") + (
        "<p>Check questions that failed to run: " + ", ".join(f"{_e(r['id'])} ({_e(r['error'])})" for r in errors)
        + "</p>" if errors else "")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Eval report: {_e(meta.get('pack', ''))}</title><style>{_CSS}</style></head><body>"
        f"<h1>Eval report: {_e(meta.get('pack', ''))}</h1><p>{_e(provenance_line(meta))}</p>"
        f"<details><summary>run details</summary><pre>{_e(json.dumps(meta, ensure_ascii=False, indent=2))}</pre></details>"
        "<h2>Metrics (deterministic)</h2>" + _metric_table(scopes(metrics), HEADLINE)
        + f"<div class='plots'>{cat_plot}{lang_plot}{lat_plot}{conf_plot}</div>" + confidence_html + judged_html
        + f"<h2>Questions ({len(shown)}, {n_fail} failing{f', {n_err} of them with an error' if n_err else ''})</h2>"
        + hidden_html + "<input type='checkbox' id='onlyfail'><label for='onlyfail'> show failures only</label>"
        f"<table class='questions'>{table_head}" + "".join(_question_row(r) for r in shown) + "</table>"
        "</body></html>\n"
    )
