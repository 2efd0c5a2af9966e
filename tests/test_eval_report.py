"""report.md and report.html from hand-made rows: escaping, self-containment, plots, per-question detail."""

from __future__ import annotations

import re
from typing import Any

from chatbot.evaluation.plots import bin_counts, xy_plot
from chatbot.evaluation.report import render_html, render_markdown
from chatbot.evaluation.scoring import compute_metrics, passed

EVIL = '<script>alert("x")</script>'


def make_row(id: str, *, answerable: bool = True, correct: bool = True, refused: bool = False,
             lang: str = "en", category: str = "fact", latency: float = 10.0, **extra: Any) -> dict[str, Any]:
    row = {
        "id": id, "split": "fit", "lang": lang, "category": category, "answerable": answerable, "conversation": "", "turn": 1,
        "history": [], "question": f"Question {id}?", "answer": f"Answer {id} [1]" if not refused else "No.",
        "refused": refused, "citations": [] if refused else [{"n": 1, "file": "a.txt", "quote": f"Quote {id}."}],
        "retrieved": ["a.txt", "b.txt"], "file_scores": [0.9, 0.4], "gold_files": ["a.txt"] if answerable else [],
        "expected": ["Answer"] if answerable else [], "latency_ms": latency, "gold_rank": 1 if answerable else 0,
        "correct": correct and answerable and not refused, "concise_correct": correct, "cited_gold": 0 if refused else 1,
        "cited_total": 0 if refused else 1, "invalid_citations": 0, "mode": "extractive", "prompt": "",
    }
    row.update(extra)
    row["passed"] = passed(row)
    return row


def sample() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = [
        make_row("ok-1", latency=10),
        make_row("bad-1", correct=False, latency=30, question=f"What about {EVIL}?", answer=f"{EVIL} & more [1]",
                 citations=[{"n": 1, "file": "<b>evil.txt</b>", "quote": "a < b"}]),
        make_row("un-1", answerable=False, refused=True, lang="zh", category="unanswerable", latency=50),
        make_row("un-2", answerable=False, refused=False, lang="zh", category="unanswerable", latency=20,
                 conversation="c", turn=2, history=["Earlier <i>question</i>"]),
    ]
    metrics = compute_metrics(rows)
    metrics["meta"] = {"pack": "demo<pack>", "commit": "abc", "dirty": True, "embedding_model": "m",
                       "answer_mode": "extractive", "retrieval": "ranked", "top_k": 6, "chunk_tokens": 200,
                       "chunk_overlap_tokens": 40, "prompts": {}}
    return rows, metrics


def test_bin_counts_by_hand() -> None:
    assert bin_counts([0, 10, 10, 20], 2) == (0, 10.0, [1, 3])  # the maximum falls in the last bin
    assert bin_counts([5, 5], 4)[2] == [2, 0, 0, 0]  # all equal: no zero-width bins
    assert bin_counts([], 3)[2] == [0, 0, 0]


def test_html_escapes_everything_and_loads_nothing() -> None:
    rows, metrics = sample()
    page = render_html(rows, metrics)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;evil.txt&lt;/b&gt;" in page and "a &lt; b" in page and "demo&lt;pack&gt;" in page
    assert "Earlier &lt;i&gt;question&lt;/i&gt;" in page
    # self-contained: no external resources of any kind
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page


def test_html_has_the_plots_and_one_row_per_question_with_its_result() -> None:
    rows, metrics = sample()
    page = render_html(rows, metrics)
    assert page.count("<svg") == 4  # category bars, language bars, latency histogram, refusal confusion
    assert "no AUROC, calibration error, reliability diagram" in page  # these rows carry no confidence
    assert "Latency per question" in page and "Refusals" in page and "Per category" in page
    for r in rows:
        cls = "pass" if r["passed"] else "fail"
        assert f'<tr class="{cls}" id="q-{r["id"]}">' in page
    assert "commit abc (uncommitted changes)" in page
    # retrieved files with scores, gold marked
    assert "a.txt <span class=\"muted\">0.900</span> ★" in page


def test_refusal_confusion_counts() -> None:
    rows, metrics = sample()
    text = render_markdown(rows, metrics)
    assert "| answerable (2) | 2 | 0 |" in text
    assert "| unanswerable (2) | 1 | 1 |" in text


def test_markdown_lists_metrics_questions_and_failures() -> None:
    rows, metrics = sample()
    text = render_markdown(rows, metrics)
    assert "| overall | 4 | 0.500 |" in text  # n and pass rate
    assert "| lang=zh |" in text and "| category=unanswerable |" in text and "| turn=follow-up |" in text
    assert "| bad-1 | FAIL |" in text and "| ok-1 | pass |" in text
    failures = text.split("## Failures", 1)[1]
    assert "bad-1" in failures and "un-2" in failures and "ok-1" not in failures
    assert "a.txt (0.900)*, b.txt (0.400)" in text


def rated_sample() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = [make_row("fit-ok", confidence=0.9), make_row("fit-bad", correct=False, confidence=0.6),
            make_row("check-ok", split="check", confidence=0.8, question="Hidden question one?"),
            make_row("check-bad", split="check", correct=False, confidence=0.7, answer="Hidden answer [1]"),
            make_row("check-none", split="check", answerable=False, refused=True, confidence=0.1)]
    return rows, compute_metrics(rows)


def test_check_questions_count_in_the_aggregates_but_are_never_listed() -> None:
    rows, metrics = rated_sample()
    for text in (render_markdown(rows, metrics), render_html(rows, metrics)):
        assert "fit-ok" in text and "fit-bad" in text
        assert "check-ok" not in text and "check-bad" not in text and "check-none" not in text
        assert "Hidden question one" not in text and "Hidden answer" not in text
        assert "3 check questions are not listed" in text
    text = render_markdown(rows, metrics)
    assert "| overall | 5 |" in text and "| split=check | 3 |" in text and "| split=check lang=en | 3 |" in text
    assert "1 more in the check split, not listed." in text.split("## Failures", 1)[1]


def test_confidence_section_with_its_figures_and_plots() -> None:
    rows, metrics = rated_sample()
    page = render_html(rows, metrics)
    assert page.count("<svg") == 6  # and the reliability diagram and the risk-coverage curve
    assert "Reliability: confidence against share right" in page and "Risk against coverage" in page
    assert "<polyline" in page and "check as run: coverage 0.667, risk 0.500" in page
    text = render_markdown(rows, metrics)
    confidence = text.split("## Confidence", 1)[1].split("## Refusals", 1)[0]
    # check: 0.8 right, 0.7 wrong, 0.1 refused: the right answer above both others
    assert "| split=check | 1.000 | 1.000 |" in confidence
    assert "| 0.9–1 | 1, 0.900, 1.000 | 0 |" in confidence  # the fit split's one answer at 0.9 was right
    assert "| check | 0.000 | 0.500 | 0.667 | 0.667 | 0.667, 0.500 |" in confidence
    assert "| fit-ok | pass | fact | en | 1 | 0.900 |" in text


def test_xy_plot_escapes_and_drops_the_dots_of_a_long_line() -> None:
    short = xy_plot("t", [("a<b", [(0.0, 0.0, "x<y"), (1.0, 1.0, "z")])], "x", "y", diagonal=True,
                    marks=[("run", 0.5, 0.25)])
    assert short.count("<circle") == 2 and "a&lt;b: x&lt;y" in short and "stroke-dasharray" in short
    assert "run: coverage 0.500, risk 0.250" in short
    long = xy_plot("t", [("a", [(i / 200, i / 200, "") for i in range(201)])], "x", "y")
    assert "<circle" not in long and long.count("<polyline") == 1
