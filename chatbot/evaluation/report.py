"""Eval reports: report.md and a self-contained report.html with inline SVG plots.

Pure functions of (rows, metrics) as written to results.jsonl and metrics.json. Every piece of
text that comes from a pack, a document or a model is escaped; the HTML loads nothing.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

from chatbot.evaluation.scoring import fmt, passed, scopes

HEADLINE = ["n", "pass_rate", "hit@1", "hit@5", "mrr", "accuracy", "concise_accuracy", "citation_precision",
            "citation_recall", "refusal_rate", "false_refusal_rate", "invalid_citations", "errors",
            "latency_p50_ms", "latency_p95_ms"]
JUDGED = ["n_judged", "faithfulness", "answer_relevance", "judge_pass_rate", "judge_errors"]
COLORS = ["#3b6fb6", "#e08a2c", "#4b9a5a", "#b04a4a"]


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
    n_ans = sum(r["answerable"] for r in rows)
    conf = _confusion(rows)
    lines += ["", "## Refusals", "", "| | answered | refused |", "|---|---|---|",
              f"| answerable ({n_ans}) | {conf['answerable', False]} | {conf['answerable', True]} |",
              f"| unanswerable ({len(rows) - n_ans}) | {conf['unanswerable', False]} | {conf['unanswerable', True]} |"]
    errors = [r for r in rows if r.get("error")]
    if errors:
        lines += ["", f"{len(errors)} question{'s' * (len(errors) != 1)} failed to run and are counted as answered "
                  "above (neither correct nor refused); see Errors below."]
    lines += ["", "## Questions", "",
              "| id | result | category | lang | gold rank | latency ms | question | answer | citations | retrieved (score, * = gold) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        question = r["question"] if not r.get("history") else f"(after: {' / '.join(r['history'])}) {r['question']}"
        cites = "; ".join(f"[{c.get('n', i)}] {c['file']}: {c['quote']}" for i, c in enumerate(r["citations"], 1))
        retrieved = ", ".join(f"{f} ({fmt(s)}){'*' if g else ''}" for f, s, g in _retrieved(r))
        result = _ok(r) + (f", judge {'pass' if r['judge'].get('passed') else 'fail'}" if r.get("judge") else "")
        answer = f"error: {r['error']}" if r.get("error") else r["answer"]
        lines.append(f"| {r['id']} | {result} | {r['category']} | {r['lang']} | {r['gold_rank'] or '–'} | "
                     f"{r['latency_ms']} | {_md(question, 300)} | {_md(answer, 300)} | {_md(cites, 300)} | "
                     f"{_md(retrieved)} |")
    failures = [r for r in rows if not passed(r)]
    if failures:
        lines += ["", "## Failures", ""]
        for r in failures:
            want = "a refusal" if not r["answerable"] else " or ".join(f"“{a}”" for a in r.get("expected", []))
            lines.append(f"- **{r['id']}** ({r['category']}, {r['lang']}): {_md(r['question'], 300)} — expected {want}; "
                         f"got {_got(r)}")
    if errors:
        lines += ["", "## Errors", "", "Questions that failed to run; the run went on without them.", ""]
        lines += [f"- **{r['id']}**: {_md(r['error'], 500)}" for r in errors]
    return "\n".join(lines) + "\n"


def _confusion(rows: list[dict[str, Any]]) -> Counter[tuple[str, bool]]:
    c: Counter[tuple[str, bool]] = Counter()
    for r in rows:
        c["answerable" if r["answerable"] else "unanswerable", bool(r["refused"])] += 1
    return c


# -- SVG plots ---------------------------------------------------------------------------------


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def bar_chart(title: str, groups: list[tuple[str, list[float | None]]], series: list[str],
              width: int = 640, height: int = 240) -> str:
    """Grouped vertical bars of values in [0, 1]; one group per label, one bar per series."""
    left, bottom, top = 40, 54, 28
    plot_h = height - bottom - top
    n = max(1, len(groups))
    gw = (width - left - 10) / n
    bw = max(4.0, (gw - 10) / max(1, len(series)))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(title)}"><title>{_e(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{_e(title)}</text>']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{tick:g}</text>')
    for gi, (label, values) in enumerate(groups):
        x0 = left + gi * gw + 5
        for si, v in enumerate(values):
            x = x0 + si * bw
            if v is None:
                continue
            h = plot_h * max(0.0, min(1.0, v))
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" '
                         f'fill="{COLORS[si % len(COLORS)]}"><title>{_e(label)} {_e(series[si])}: {v:.3f}</title></rect>')
        parts.append(f'<text x="{x0 + (gw - 10) / 2:.1f}" y="{top + plot_h + 14}" font-size="10" '
                     f'text-anchor="middle">{_e(label)}</text>')
    for si, name in enumerate(series):
        x = left + si * 110
        parts.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{COLORS[si % len(COLORS)]}"/>'
                     f'<text x="{x + 14}" y="{height - 7}" font-size="11">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bin_counts(values: list[float], bins: int) -> tuple[float, float, list[int]]:
    """(lowest value, bin width, counts) for `bins` equal-width bins from min to max (max in the last)."""
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    step = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / step))] += 1
    return lo, step, counts


def histogram(title: str, values: list[float], unit: str, bins: int = 12, width: int = 640, height: int = 220) -> str:
    """Counts of `values` in `bins` equal-width bins."""
    left, bottom, top = 40, 36, 28
    plot_h = height - bottom - top
    lo, step, counts = bin_counts(values, bins)
    peak = max(counts) or 1
    bw = (width - left - 10) / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(title)}"><title>{_e(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{_e(title)}</text>',
             f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>']
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        a, b = lo + i * step, lo + (i + 1) * step
        parts.append(f'<rect x="{left + i * bw + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bw - 2:.1f}" '
                     f'height="{h:.1f}" fill="{COLORS[0]}"><title>{a:.0f}–{b:.0f} {_e(unit)}: {c}</title></rect>')
    for i in range(0, bins + 1, max(1, bins // 4)):
        x = left + i * bw
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">'
                     f'{lo + i * step:.0f}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 6}" font-size="11" text-anchor="end">{_e(unit)}</text></svg>')
    return "".join(parts)


def confusion_matrix(title: str, conf: Counter[tuple[str, bool]], width: int = 360, height: int = 170) -> str:
    """2x2 grid: answerable / unanswerable questions against answered / refused."""
    cell_w, cell_h, left, top = 100, 50, 120, 44
    total = sum(conf.values()) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(title)}"><title>{_e(title)}</title>',
             f'<text x="4" y="16" font-size="13" font-weight="bold">{_e(title)}</text>']
    for ci, col in enumerate(("answered", "refused")):
        parts.append(f'<text x="{left + ci * cell_w + cell_w / 2}" y="{top - 6}" font-size="11" '
                     f'text-anchor="middle">{col}</text>')
    for ri, kind in enumerate(("answerable", "unanswerable")):
        y = top + ri * cell_h
        parts.append(f'<text x="{left - 6}" y="{y + cell_h / 2 + 4}" font-size="11" text-anchor="end">{kind}</text>')
        for ci, refused in enumerate((False, True)):
            n = conf[kind, refused]
            good = (kind == "answerable") != refused
            color = "75,154,90" if good else "176,74,74"
            alpha = 0.15 + 0.85 * n / total
            parts.append(f'<rect x="{left + ci * cell_w}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                         f'fill="rgba({color},{alpha:.2f})"/>'
                         f'<text x="{left + ci * cell_w + cell_w / 2}" y="{y + cell_h / 2 + 5}" font-size="15" '
                         f'text-anchor="middle">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


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
            f'<td class="num">{_e(r["gold_rank"] or "–")}</td><td class="num">{_e(r["latency_ms"])}</td></tr>')


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
    judged = metrics.get("judged")
    judged_html = ""
    if judged:
        judged_html = (f"<h2>Judged by an LLM</h2><p class='muted'>Not gated; needs an endpoint. Prompt "
                       f"{_e(judged.get('prompt'))}, model {_e(judged.get('model'))}.</p>"
                       + _metric_table([("overall", judged["overall"])]
                                       + [(f"lang={k}", v) for k, v in judged.get("by_lang", {}).items()], JUDGED))
    n_fail = sum(not passed(r) for r in rows)
    n_err = sum(bool(r.get("error")) for r in rows)
    table_head = ("<tr><th>id</th><th>result</th><th>category</th><th>question</th><th>answer</th>"
                  "<th>citations</th><th>retrieved files (score; ★ gold)</th><th>gold rank</th><th>ms</th></tr>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Eval report: {_e(meta.get('pack', ''))}</title><style>{_CSS}</style></head><body>"
        f"<h1>Eval report: {_e(meta.get('pack', ''))}</h1><p>{_e(provenance_line(meta))}</p>"
        f"<details><summary>run details</summary><pre>{_e(json.dumps(meta, ensure_ascii=False, indent=2))}</pre></details>"
        "<h2>Metrics (deterministic)</h2>" + _metric_table(scopes(metrics), HEADLINE)
        + f"<div class='plots'>{cat_plot}{lang_plot}{lat_plot}{conf_plot}</div>" + judged_html
        + f"<h2>Questions ({len(rows)}, {n_fail} failing{f', {n_err} of them with an error' if n_err else ''})</h2>"
        "<input type='checkbox' id='onlyfail'><label for='onlyfail'> show failures only</label>"
        f"<table class='questions'>{table_head}" + "".join(_question_row(r) for r in rows) + "</table>"
        "</body></html>\n"
    )
