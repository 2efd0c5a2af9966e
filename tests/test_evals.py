"""Eval metrics on hand-computed cases, the baseline gate, and both packs through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.errors import ChatbotError
from chatbot.evaluation.gate import baseline_problems, gate, one_question
from chatbot.evaluation.packs import EvalQuestion, histories, load_pack
from chatbot.evaluation.provenance import git_state
from chatbot.evaluation.scoring import aggregate, answer_correct, compute_metrics, gold_rank, is_concise

ROOT = Path(__file__).resolve().parent.parent
RGB = ROOT.parent / "shared" / "evals" / "rgb-dev"


def q(**kw: object) -> EvalQuestion:
    base: dict[str, object] = dict(id="x", lang="en", question="?", answers=("Norway",),
                                   gold_files=("a.txt",), answerable=True)
    base.update(kw)
    return EvalQuestion(**base)  # type: ignore[arg-type]


def row(gold_rank: int, correct: bool, refused: bool = False, answerable: bool = True,
        cited_gold: int = 1, cited_total: int = 1, latency: float = 10.0, **extra: object) -> dict[str, object]:
    return {"answerable": answerable, "gold_rank": gold_rank, "correct": correct, "concise_correct": correct,
            "refused": refused, "cited_gold": cited_gold, "cited_total": cited_total,
            "invalid_citations": 0, "latency_ms": latency, "lang": "en", "category": "", **extra}


def test_answer_matching_is_case_insensitive_and_ignores_markers_and_chinese_spaces() -> None:
    assert answer_correct(q(), "It was NORWAY [1].")
    assert not answer_correct(q(), "Sweden [1]")
    assert answer_correct(q(lang="zh", answers=("挪威 队",)), "冠军是挪威队[1]")
    assert not answer_correct(q(answers=()), "anything")


def test_concise_limits_by_language() -> None:
    assert is_concise(q(), "x" * 300 + " [1]")
    assert not is_concise(q(), "x" * 301)
    assert not is_concise(q(lang="zh"), "字" * 151)


def test_a_question_that_asks_for_a_list_may_take_twice_the_room() -> None:
    plural = q(question="Which ports did the ferry stop at?")
    assert is_concise(plural, "x" * 600 + " [1]") and not is_concise(plural, "x" * 601)
    chinese = q(lang="zh", question="这座城市有哪些工厂？")
    assert is_concise(chinese, "字" * 300) and not is_concise(chinese, "字" * 301)
    labelled = q(question="Name them.", category="list")  # the pack's own label counts too
    assert is_concise(labelled, "x" * 600)
    assert not is_concise(q(question="Which port did the ferry leave from?"), "x" * 301)  # one thing asked


def test_aggregate_by_hand() -> None:
    rows = [
        row(1, True, latency=10),
        row(3, False, cited_gold=0, cited_total=2, latency=20),
        row(0, False, refused=True, cited_gold=0, cited_total=0, latency=30),
        row(0, False, refused=True, answerable=False, cited_gold=0, cited_total=0, latency=40),
    ]
    m = aggregate(rows)  # type: ignore[arg-type]
    assert m["hit@1"] == round(1 / 3, 4)
    assert m["hit@5"] == round(2 / 3, 4)
    assert m["mrr"] == round((1 + 1 / 3) / 3, 4)
    assert m["accuracy"] == round(1 / 3, 4)
    assert m["citation_precision"] == round(1 / 3, 4)  # 1 gold of 3 citations among answered
    assert m["citation_recall"] == round(1 / 3, 4)
    assert m["refusal_rate"] == 1.0
    assert m["false_refusal_rate"] == round(1 / 3, 4)
    assert m["latency_p50_ms"] == 25.0
    assert m["latency_p95_ms"] == 40.0  # index int(0.95 * 4) = 3 of the sorted latencies
    assert m["pass_rate"] == 0.5  # the correct answer and the refused unanswerable question


def test_gold_rank_is_the_first_gold_file_among_retrieved_files() -> None:
    assert gold_rank(["a", "b", "c"], ("c", "b")) == 2
    assert gold_rank(["a"], ("z",)) == 0
    assert gold_rank([], ()) == 0


def test_metrics_split_by_language_category_and_turn() -> None:
    rows = [row(1, True, lang="en", category="fact", conversation="c1", turn=1),
            row(2, False, lang="zh", category="number", conversation="c1", turn=2),
            row(0, False, refused=True, answerable=False, lang="zh", category="unanswerable")]
    m = compute_metrics(rows)  # type: ignore[arg-type]
    assert m["by_lang"]["zh"]["n"] == 2 and m["by_lang"]["zh"]["refusal_rate"] == 1.0
    assert m["by_category"]["number"]["mrr"] == 0.5
    assert m["by_turn"]["follow-up"]["n"] == 1 and m["by_turn"]["follow-up"]["accuracy"] == 0.0
    assert m["by_turn"]["first turn"]["accuracy"] == 1.0


def _pack(tmp_path: Path, *records: dict[str, object]) -> Path:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return tmp_path


def test_conversations_give_each_turn_the_earlier_questions(tmp_path: Path) -> None:
    pack = _pack(tmp_path,
                 {"id": "b2", "question": "And its revenue?", "conversation": "b", "turn": 2, "extra": "ignored"},
                 {"id": "plain", "question": "Alone?"},
                 {"id": "b1", "question": "Who makes bearings?", "conversation": "b", "turn": 1},
                 {"id": "b3", "question": "Since when?", "conversation": "b", "turn": 3})
    questions = load_pack(pack)
    assert [q.id for q in questions] == ["b2", "plain", "b1", "b3"]
    h = histories(questions)
    assert h == {"b2": ["Who makes bearings?"], "plain": [], "b1": [],
                 "b3": ["Who makes bearings?", "And its revenue?"]}


@pytest.mark.parametrize("turns", [[1, 3], [2], [1, 1]])
def test_conversation_turns_must_count_from_one_without_gaps(tmp_path: Path, turns: list[int]) -> None:
    pack = _pack(tmp_path, *({"id": f"q{i}", "question": "?", "conversation": "c", "turn": t}
                             for i, t in enumerate(turns)))
    with pytest.raises(ChatbotError, match="conversation 'c'"):
        load_pack(pack)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ChatbotError, match="questions.jsonl:2: id 'a' is already used on line 1"):
        load_pack(_pack(tmp_path, {"id": "a", "question": "?"}, {"id": "a", "question": "!"}))


def test_a_row_with_several_problems_names_each_and_the_limit_on_listed_rows(tmp_path: Path) -> None:
    bad = {"id": True, "question": 7, "lang": 1, "answers": ["a", None], "answerable": 0, "turn": "2"}
    with pytest.raises(ChatbotError) as info:
        load_pack(_pack(tmp_path, bad, *({"id": f"e{i}", "question": ""} for i in range(60))))
    text = str(info.value)
    for reason in ('"id" must be a string or a whole number, not true/false', '"question" must be a string, not a number',
                   '"lang" must be a string, not a number', '"answers" must be a list of strings; it holds null',
                   '"answerable" must be true or false, not a number', '"turn" must be a whole number from 1, not "2"'):
        assert f"questions.jsonl:1: {reason}" in text
    assert "has 61 bad rows" in text and "questions.jsonl:45:" in text and "questions.jsonl:46:" not in text
    assert text.endswith("... and 16 more")  # 50 problems listed: six on line 1, one on each of lines 2-45


def test_rows_load_with_a_byte_order_mark_and_windows_line_ends(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "questions.jsonl").write_bytes(b'\xef\xbb\xbf{"id": 1, "question": "One?"}\r\n\r\n{"id": "2", "question": "Two?"}\r\n')
    assert [(q.id, q.question) for q in load_pack(tmp_path)] == [("1", "One?"), ("2", "Two?")]


def test_seeds_pack_has_the_promised_shape() -> None:
    questions = load_pack(ROOT / "evals" / "seeds")
    cats = {q.category for q in questions}
    assert len(questions) >= 100
    assert cats == {"fact", "number", "date", "list", "multi-document", "cross-language", "unanswerable"}
    assert sum(not q.answerable for q in questions) >= 20
    assert all((q.category == "unanswerable") == (not q.answerable) for q in questions)
    follow_ups = [q for q in questions if q.turn > 1]
    assert len(follow_ups) >= 6 and {q.lang for q in follow_ups} == {"en", "zh"}
    corpus = ROOT / "evals" / "seeds" / "corpus"
    texts = {p.name: p.read_text(encoding="utf-8").lower() for p in corpus.iterdir()}
    for q in questions:
        assert all(g in texts for g in q.gold_files), q.id
        for a in q.answers:  # every accepted answer is verbatim text of a gold file
            assert any(a.lower() in texts[g] for g in q.gold_files), (q.id, a)


def test_git_state_outside_a_repository_is_unknown(tmp_path: Path) -> None:
    assert git_state(tmp_path) == ("unknown", None)
    commit, dirty = git_state(ROOT)
    if (ROOT / ".git").exists():
        assert len(commit) == 40 and isinstance(dirty, bool)


def test_gate_flags_drops_beyond_tolerance_only() -> None:
    base = {"overall": {"accuracy": 0.8, "false_refusal_rate": 0.05}, "by_lang": {"zh": {"hit@1": 0.9}}}
    good = {"overall": {"accuracy": 0.798, "false_refusal_rate": 0.05}, "by_lang": {"zh": {"hit@1": 0.95}}}
    bad = {"overall": {"accuracy": 0.7, "false_refusal_rate": 0.1}, "by_lang": {"zh": {"hit@1": 0.8}}}
    assert gate(good, base) == []
    failures = gate(bad, base)
    assert len(failures) == 3
    assert any("zh hit@1" in f for f in failures)


def test_errors_are_counted_left_out_of_latency_and_fail_the_gate() -> None:
    rows = [row(1, True, latency=10), row(0, False, latency=5000, error="RuntimeError: x")]
    m = compute_metrics(rows)  # type: ignore[arg-type]
    assert m["overall"]["errors"] == 1 and m["by_lang"]["en"]["errors"] == 1
    assert m["overall"]["accuracy"] == 0.5 and m["overall"]["latency_p95_ms"] == 10.0
    assert gate(m, {"overall": {"accuracy": 0.5}}) == [
        "overall errors: 1 question failed to run (see `error` in results.jsonl)"]
    assert gate(compute_metrics(rows[:1]), {"overall": {"accuracy": 0.5}}) == []  # type: ignore[arg-type]


def test_gate_tolerance_per_metric_and_category_scopes() -> None:
    base = {"tolerance": {"default": 0.0, "accuracy": 0.1}, "overall": {"accuracy": 0.8, "mrr": 0.8},
            "by_category": {"date": {"hit@1": 1.0}}}
    got = {"overall": {"accuracy": 0.71, "mrr": 0.79}, "by_lang": {}, "by_category": {"date": {"hit@1": 0.75}}}
    assert gate(got, base) == ["overall mrr: 0.79 < baseline 0.8 (allowed drop 0.000)",
                               "date hit@1: 0.75 < baseline 1.0 (allowed drop 0.000)"]


def test_one_question_worth_per_metric() -> None:
    m = {"n": 10, "n_answerable": 8, "n_unanswerable": 2, "n_answered": 5, "accuracy": 0.75}
    assert one_question("accuracy", m) == one_question("mrr", m) == one_question("false_refusal_rate", m) == 1 / 8
    assert one_question("pass_rate", m) == one_question("ece", m) == 1 / 10
    assert one_question("refusal_rate", m) == 1 / 2
    assert one_question("citation_precision", m) == 1 / 5
    assert one_question("auroc", m) == 1 / 4  # 6 right answers, 4 other rows: one of the 4 moved end to end
    assert one_question("invalid_citations", m) == 0.0  # a count: never allowed to rise
    assert one_question("accuracy", {}) == 0.0  # a slice that does not say its size


def test_gate_allows_one_question_per_slice_and_no_more() -> None:
    base = {"overall": {"accuracy": 0.75, "refusal_rate": 1.0}, "by_lang": {"zh": {"accuracy": 1.0}}}
    one_lost = {"overall": {"n": 10, "n_answerable": 8, "n_unanswerable": 2, "accuracy": 0.625, "refusal_rate": 0.5},
                "by_lang": {"zh": {"n": 4, "n_answerable": 4, "accuracy": 0.75}}}
    assert gate(one_lost, base) == []
    two_lost = {"overall": {"n": 10, "n_answerable": 8, "n_unanswerable": 2, "accuracy": 0.5, "refusal_rate": 0.0},
                "by_lang": {"zh": {"n": 4, "n_answerable": 4, "accuracy": 0.5}}}
    assert gate(two_lost, base) == ["overall accuracy: 0.5 < baseline 0.75 (allowed drop 0.125)",
                                    "overall refusal_rate: 0.0 < baseline 1.0 (allowed drop 0.500)",
                                    "zh accuracy: 0.5 < baseline 1.0 (allowed drop 0.250)"]
    base["tolerance"] = {"accuracy": 0.3}  # a baseline may allow more for a metric, never less
    assert gate(two_lost, base) == ["overall refusal_rate: 0.0 < baseline 1.0 (allowed drop 0.500)",
                                    "zh accuracy: 0.5 < baseline 1.0 (allowed drop 0.300)"]


def _split_metrics(fit_accuracy: float, check_accuracy: float) -> dict[str, object]:
    def part(acc: float) -> dict[str, object]:
        return {"overall": {"n": 20, "n_answerable": 20, "accuracy": acc},
                "by_lang": {"en": {"n": 20, "n_answerable": 20, "accuracy": acc}}}
    return {"overall": {"n": 40, "n_answerable": 40, "accuracy": (fit_accuracy + check_accuracy) / 2, "errors": 0},
            "by_lang": {}, "by_split": {"fit": part(fit_accuracy), "check": part(check_accuracy)}}


def test_a_check_baseline_gates_the_check_split_only() -> None:
    base = {"split": "check", "overall": {"accuracy": 0.9}, "by_lang": {"en": {"accuracy": 0.9}}}
    assert gate(_split_metrics(fit_accuracy=0.1, check_accuracy=0.9), base) == []  # fit may move freely
    assert gate(_split_metrics(fit_accuracy=0.9, check_accuracy=0.8), base) == [
        "check overall accuracy: 0.8 < baseline 0.9 (allowed drop 0.050)",
        "check en accuracy: 0.8 < baseline 0.9 (allowed drop 0.050)"]
    old_style = {"overall": {"accuracy": 0.9}}  # no split: all questions, as before splits
    assert gate(_split_metrics(fit_accuracy=0.9, check_accuracy=0.9), old_style) == []
    assert gate(_split_metrics(fit_accuracy=0.7, check_accuracy=0.9), old_style) == [
        "overall accuracy: 0.8 < baseline 0.9 (allowed drop 0.025)"]
    empty = {"overall": {"n": 3, "errors": 0}, "by_split": {"fit": {"overall": {"n": 3}}, "check": {"overall": {"n": 0}}}}
    assert gate(empty, base) == ["check: the baseline gates the check split, and this run has no check questions"]
    assert baseline_problems({**base, "split": "all"}) == ['"split" must be "check" or "fit" (or absent: all questions)']
    assert baseline_problems(base) == []


def test_calibration_is_gated_once_a_baseline_has_it() -> None:
    base = {"overall": {"auroc": 0.9, "ece": 0.05}}
    got = {"overall": {"n": 100, "n_answerable": 80, "accuracy": 0.5, "auroc": 0.87, "ece": 0.1}}
    assert gate(got, base) == ["overall auroc: 0.87 < baseline 0.9 (allowed drop 0.025)",
                               "overall ece: 0.1 > baseline 0.05 (allowed rise 0.010)"]
    assert gate({"overall": {"auroc": None, "ece": None}}, base) == []  # a run without confidence: nothing to gate


def _eval(pack: Path, out: Path, baseline: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env["CHATBOT_DATA_DIR"] = str(out / "never-used")
    return subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "eval", "--pack", str(pack), "--out", str(out),
         "--baseline", str(baseline)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )


@pytest.mark.evalgate
def test_seeds_pack_meets_baseline(tmp_path: Path) -> None:
    proc = _eval(ROOT / "evals" / "seeds", tmp_path, ROOT / "evals" / "baselines" / "seeds.json")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("results.jsonl", "metrics.json", "report.md", "report.html"):
        assert (tmp_path / name).is_file()
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) >= 100
    assert set(rows[0]) >= {"id", "question", "answer", "refused", "citations", "retrieved", "latency_ms", "run"}
    assert rows[0]["run"]["embedding_model"] and rows[0]["run"]["answer_mode"] == "extractive"
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["overall"]["invalid_citations"] == 0
    assert {"commit", "dirty", "retrieval", "top_k", "chunk_tokens"} <= set(metrics["meta"])
    assert not (tmp_path / "never-used").exists(), "eval must index into its own isolated store"


@pytest.mark.evalgate
@pytest.mark.skipif(not RGB.is_dir(), reason="../shared/evals/rgb-dev is not beside the repository")
def test_rgb_pack_meets_baseline(tmp_path: Path) -> None:
    proc = _eval(RGB, tmp_path, ROOT / "evals" / "baselines" / "rgb-dev.json")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "metrics.json").read_text())["overall"]["n"] == 207


def test_baseline_tool_keeps_hand_set_tolerances_and_gated_categories(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "evals"))
    import baseline as baseline_tool

    # "a" and "q-002" are check questions, "b" is fit (tests/test_eval_split.py pins them)
    rows = [row(1, True, category="date", id="a"), row(2, False, category="fact", id="q-002"),
            row(0, False, category="fact", id="b")]
    metrics = {**compute_metrics(rows), "meta": {"pack": "p"}}  # type: ignore[arg-type]
    (tmp_path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    dst = tmp_path / "base.json"
    baseline_tool.main(str(tmp_path / "metrics.json"), str(dst))
    fresh = json.loads(dst.read_text(encoding="utf-8"))
    assert fresh["tolerance"] == {"default": 0.005} and "by_category" not in fresh
    assert fresh["split"] == "check" and fresh["overall"]["n"] == 2  # the check figures, with their size
    assert fresh["overall"]["mrr"] == 0.75 and "latency_p50_ms" not in fresh["overall"]
    fresh["tolerance"]["mrr"] = 0.1
    fresh["by_category"] = {"date": {}}
    dst.write_text(json.dumps(fresh), encoding="utf-8")
    baseline_tool.main(str(tmp_path / "metrics.json"), str(dst))
    kept = json.loads(dst.read_text(encoding="utf-8"))
    assert kept["tolerance"]["mrr"] == 0.1
    assert set(kept["by_category"]) == {"date"} and kept["by_category"]["date"]["hit@1"] == 1.0
    no_check = {**compute_metrics(rows[2:]), "meta": {}}  # type: ignore[arg-type]
    (tmp_path / "metrics.json").write_text(json.dumps(no_check), encoding="utf-8")
    with pytest.raises(SystemExit, match="no check questions"):
        baseline_tool.main(str(tmp_path / "metrics.json"), str(dst))
