"""SVG plots for the eval report: bars, a histogram, the refusal confusion, and the two confidence
plots (a reliability diagram and a risk-coverage curve). Each is one inline <svg> string with its
text escaped, so report.html stays one self-contained file."""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

COLORS = ["#3b6fb6", "#e08a2c", "#4b9a5a", "#b04a4a"]


def esc(text: Any) -> str:
    """Text for HTML and SVG: every &, <, >, " and ' escaped."""
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
             f'aria-label="{esc(title)}"><title>{esc(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
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
                         f'fill="{COLORS[si % len(COLORS)]}"><title>{esc(label)} {esc(series[si])}: {v:.3f}</title></rect>')
        parts.append(f'<text x="{x0 + (gw - 10) / 2:.1f}" y="{top + plot_h + 14}" font-size="10" '
                     f'text-anchor="middle">{esc(label)}</text>')
    for si, name in enumerate(series):
        x = left + si * 110
        parts.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{COLORS[si % len(COLORS)]}"/>'
                     f'<text x="{x + 14}" y="{height - 7}" font-size="11">{esc(name)}</text>')
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
             f'aria-label="{esc(title)}"><title>{esc(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{esc(title)}</text>',
             f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>']
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        a, b = lo + i * step, lo + (i + 1) * step
        parts.append(f'<rect x="{left + i * bw + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bw - 2:.1f}" '
                     f'height="{h:.1f}" fill="{COLORS[0]}"><title>{a:.0f}–{b:.0f} {esc(unit)}: {c}</title></rect>')
    for i in range(0, bins + 1, max(1, bins // 4)):
        x = left + i * bw
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">'
                     f'{lo + i * step:.0f}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 6}" font-size="11" text-anchor="end">{esc(unit)}</text></svg>')
    return "".join(parts)


def confusion_matrix(title: str, conf: Counter[tuple[str, bool]], width: int = 360, height: int = 170) -> str:
    """2x2 grid: answerable / unanswerable questions against answered / refused."""
    cell_w, cell_h, left, top = 100, 50, 120, 44
    total = sum(conf.values()) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(title)}"><title>{esc(title)}</title>',
             f'<text x="4" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
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


Point = tuple[float, float, str]  # x and y in [0, 1], and the tooltip
MAX_DOTS = 80


def xy_plot(title: str, series: list[tuple[str, list[Point]]], xlabel: str, ylabel: str, *,
            diagonal: bool = False, marks: list[tuple[str, float, float]] | None = None,
            width: int = 360, height: int = 300) -> str:
    """Lines with dots on a unit square, one colour per series; `diagonal` draws y = x (perfect
    calibration); `marks` are single points drawn as open diamonds (where the run stands)."""
    left, right, top, bottom = 44, 12, 28, 56
    pw, ph = width - left - right, height - top - bottom

    def xy(x: float, y: float) -> tuple[float, float]:
        return left + pw * max(0.0, min(1.0, x)), top + ph * (1 - max(0.0, min(1.0, y)))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(title)}"><title>{esc(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x, y = xy(tick, tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{tick:g}</text>'
                     f'<text x="{x:.1f}" y="{top + ph + 14}" font-size="10" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>'
                 f'<text x="{left + pw / 2}" y="{top + ph + 30}" font-size="11" text-anchor="middle">{esc(xlabel)}</text>'
                 f'<text x="12" y="{top + ph / 2}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2})">{esc(ylabel)}</text>')
    if diagonal:
        (x0, y0), (x1, y1) = xy(0, 0), xy(1, 1)
        parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#999" stroke-dasharray="4 3"/>')
    for si, (name, points) in enumerate(series):
        color = COLORS[si % len(COLORS)]
        coords = [(*xy(x, y), tip) for x, y, tip in points]
        if len(coords) > 1:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="'
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords) + '"/>')
        if len(coords) <= MAX_DOTS:  # past that, dots hide the line (and weigh a lot): the line alone
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{esc(name)}: {esc(tip)}</title>'
                      '</circle>' for x, y, tip in coords]
        parts.append(f'<rect x="{left + si * 90}" y="{height - 16}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + si * 90 + 14}" y="{height - 7}" font-size="11">{esc(name)}</text>')
    for si, (name, mx, my) in enumerate(marks or []):
        x, y = xy(mx, my)
        parts.append(f'<path d="M{x:.1f} {y - 6:.1f} L{x + 6:.1f} {y:.1f} L{x:.1f} {y + 6:.1f} L{x - 6:.1f} {y:.1f} Z" '
                     f'fill="none" stroke="{COLORS[si % len(COLORS)]}" stroke-width="2">'
                     f'<title>{esc(name)}: coverage {mx:.3f}, risk {my:.3f}</title></path>')
    parts.append("</svg>")
    return "".join(parts)


def reliability_diagram(title: str, by_series: list[tuple[str, dict[str, Any]]]) -> str:
    """Share answered correctly against mean confidence, per non-empty bin of each series'
    `calibration.curves`; on the dashed diagonal a confidence means what it says."""
    series = [(name, [(b["confidence"], b["accuracy"],
                       f'{b["lo"]:g}–{b["hi"]:g}: {b["n"]} answers, mean confidence {b["confidence"]:.3f}, '
                       f'right {b["accuracy"]:.3f}') for b in c["reliability"] if b["n"]])
              for name, c in by_series]
    return xy_plot(title, series, "confidence", "share answered correctly", diagonal=True)


def risk_coverage_plot(title: str, by_series: list[tuple[str, dict[str, Any]]]) -> str:
    """Risk (share of answers not right) against coverage (share answered) as the confidence
    threshold falls; a diamond marks where each series' run stands (what it refused)."""
    series = [(name, [(p["coverage"], p["risk"], f'confidence ≥ {p["threshold"]:g}: coverage {p["coverage"]:.3f}, '
                       f'risk {p["risk"]:.3f}') for p in c["risk_coverage"]]) for name, c in by_series]
    marks = [(f"{name} as run", c["operating_point"]["coverage"], c["operating_point"]["risk"])
             for name, c in by_series if c.get("operating_point")]
    return xy_plot(title, series, "coverage (share answered)", "risk (share of answers not right)", marks=marks)
