"""Optional LLM-judged metrics for eval runs: faithfulness of each claim to its cited passages, relevance.

Needs an OpenAI-compatible endpoint (the one of LLM mode, reached through `chatbot.llm`); never
used offline and never gated. The prompt is `prompts/judge.md`; its id (name@hash) is recorded
with the judged metrics. A reply that cannot be read is counted as a judge error, not a failure.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from chatbot.answering.citations import MARKER
from chatbot.answering.prompts import Prompt, load_prompt
from chatbot.config import Settings
from chatbot.errors import ConfigError, LLMError

log = logging.getLogger(__name__)

_MARKER_RUN = re.compile(r"(?:\s*\[\d{1,3}\])+")
_LEADING_PUNCT = " \n\t.。!?！？;；,，、:："
_THINK = re.compile(r"\A\s*<think>.*?</think>", re.S)


def claims(answer: str, citations: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The answer cut into claims, each the text before a run of [n] markers, with the quotes it cites.

    Text after the last marker is a claim citing nothing. Markers that map to no citation are skipped.
    """
    quotes = {int(c.get("n", i)): c["quote"] for i, c in enumerate(citations, 1)}
    out: list[tuple[str, list[str]]] = []
    pos = 0
    for m in _MARKER_RUN.finditer(answer):
        text = answer[pos : m.start()].strip().lstrip(_LEADING_PUNCT).strip()
        cited = [quotes[n] for n in map(int, MARKER.findall(m.group(0))) if n in quotes]
        pos = m.end()
        if text:
            out.append((text, cited))
        elif out:  # "A [1]. [2]" : a second run after punctuation belongs to the same claim
            out[-1][1].extend(q for q in cited if q not in out[-1][1])
    tail = answer[pos:].strip().strip(_LEADING_PUNCT).strip()
    if tail:
        out.append((tail, []))
    return out


def render_claims(items: list[tuple[str, list[str]]]) -> str:
    blocks = []
    for i, (text, quotes) in enumerate(items, 1):
        cited = "\n".join(f"> {q}" for q in quotes) if quotes else "(cites no passage)"
        blocks.append(f"Claim {i}: {text}\nCited passages:\n{cited}")
    return "\n\n".join(blocks)


def parse_verdict(reply: str, n_claims: int) -> dict[str, Any]:
    """The judge's JSON reply as {supported: [bool per claim], relevant, reasons}; ValueError if unreadable."""
    text = _THINK.sub("", reply).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError(f"no JSON object in the judge's reply {reply[:120]!r}")
    obj = json.loads(text[start : end + 1])
    if not isinstance(obj, dict) or not isinstance(obj.get("claims", []), list):
        raise ValueError(f"the judge's reply is not of the asked shape: {reply[:120]!r}")
    verdicts: dict[int, dict[str, Any]] = {}
    for i, item in enumerate(obj.get("claims", []), 1):
        if isinstance(item, dict):
            verdicts[int(item.get("n", i))] = item
    supported, reasons = [], []
    for i in range(1, n_claims + 1):
        item = verdicts.get(i)
        ok = bool(item and item.get("supported") is True)
        supported.append(ok)
        why = str(item.get("reason", "")).strip() if item else "the judge gave no verdict"
        reasons.append(f"claim {i} {'supported' if ok else 'NOT supported'}: {why}")
    relevant = obj.get("relevant") is True
    reasons.append(f"{'relevant' if relevant else 'NOT relevant'}: {str(obj.get('reason', '')).strip()}")
    return {"supported": supported, "relevant": relevant, "reasons": reasons}


class Judge:
    """Grades answered eval rows with an LLM; writes `row["judge"]` and returns the judged metrics."""

    def __init__(self, settings: Settings, prompts_dir: Path | str | None = None) -> None:
        if not settings.llm_configured:
            raise ConfigError(
                "--judge needs an LLM endpoint: set OPENAI_BASE_URL (a local OpenAI-compatible server) "
                "or OPENAI_API_KEY, or run the eval without --judge (the deterministic metrics need none).")
        from chatbot.answering.llm import LLMAnswerer

        directory = Path(prompts_dir) if prompts_dir is not None else settings.prompts_dir
        self.settings = settings
        self.prompt: Prompt = load_prompt(directory, "judge")
        self._llm = LLMAnswerer(settings, directory)

    def _ask(self, question: str, items: list[tuple[str, list[str]]]) -> str:
        system, user = self.prompt.split_format(question=question, claims=render_claims(items))
        return self._llm.complete(system, user, purpose="judge")

    def judge_row(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The verdict on one row; None for refusals (nothing to judge)."""
        if row["refused"] or not row["answer"].strip():
            return None
        items = claims(row["answer"], row["citations"])
        if not items:
            return None
        try:
            verdict = parse_verdict(self._ask(row["question"], items), len(items))
        except (LLMError, ValueError) as exc:
            log.warning("judge failed on %s: %s", row["id"], exc)
            return {"error": str(exc), "passed": None, "reasons": [f"judge error: {exc}"]}
        n_ok = sum(verdict["supported"])
        return {
            "claims": len(items), "supported": n_ok, "faithfulness": round(n_ok / len(items), 4),
            "relevant": verdict["relevant"], "passed": n_ok == len(items) and verdict["relevant"],
            "reasons": verdict["reasons"],
        }

    def judge_rows(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        for row in rows:
            verdict = self.judge_row(row)
            if verdict is not None:
                row["judge"] = verdict
        langs = sorted({r["lang"] for r in rows})
        return {
            "prompt": self.prompt.id, "model": self.settings.llm_model,
            "overall": judged_metrics(rows),
            "by_lang": {lang: judged_metrics([r for r in rows if r["lang"] == lang]) for lang in langs},
        }


def judged_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Faithfulness (supported claims over all claims), answer relevance and pass rate over judged rows."""
    judged = [r["judge"] for r in rows if r.get("judge") and not r["judge"].get("error")]
    errors = sum(1 for r in rows if r.get("judge") and r["judge"].get("error"))
    n_claims = sum(j["claims"] for j in judged)

    def rate(num: float, den: float) -> float | None:
        return round(num / den, 4) if den else None

    return {
        "n_judged": len(judged),
        "faithfulness": rate(sum(j["supported"] for j in judged), n_claims),
        "answer_relevance": rate(sum(j["relevant"] for j in judged), len(judged)),
        "judge_pass_rate": rate(sum(j["passed"] for j in judged), len(judged)),
        "judge_errors": errors,
    }
