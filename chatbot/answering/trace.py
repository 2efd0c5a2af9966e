"""Why an answer quotes what it quotes, and why it refused: the steps that fired on the chosen
sentences and on the best ones passed over (`chatbot ask --explain`, `--json` `trace`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatbot.answering.asks import Ctx
from chatbot.answering.sentences import Sentence
from chatbot.answering.steps import REGISTRY
from chatbot.answering.support import must_show, shows, supported

PASSED_OVER = 4  # the best candidates not quoted that the trace explains


def explain(s: Sentence, verdict: str) -> dict[str, Any]:
    c = s.evidence.chunk
    steps = [{"step": name, "stage": REGISTRY[name].stage,
              "detail": detail if isinstance(detail, str) else f"{detail:+.3f}"} for name, detail in s.fired.items()]
    return {"file": c.file, "start_char": s.evidence.start_char, "end_char": s.evidence.end_char,
            "quote": s.quote if len(s.quote) <= 200 else s.quote[:199] + "…", "score": round(s.score, 3),
            "verdict": verdict, "steps": steps}


def _why_not(ctx: Ctx, s: Sentence, chosen: Sequence[Sentence]) -> str:
    """Why a candidate was not quoted: the step that rejects it, else that it scored lower."""
    rejected = [d for d in s.fired.values() if isinstance(d, str)]
    if rejected:
        return rejected[-1]
    if not supported(ctx, s):
        return next(d for d in reversed(list(s.fired.values())) if isinstance(d, str))
    if must_show(ctx, s) and not shows(ctx, s):
        found = [d for d in s.fired.values() if isinstance(d, str)]
        return found[-1] if found else "it does not show the kind of answer asked"
    return "passed over: a better sentence was quoted" if chosen else "not among the sentences close enough to the best"


def trace(ctx: Ctx, sents: Sequence[Sentence], chosen: Sequence[Sentence]) -> dict[str, Any]:
    ids = {id(s) for s in chosen}
    others = [s for s in sents if id(s) not in ids][:PASSED_OVER]
    return {
        "refusal": ctx.refusal,
        "chosen": [explain(s, "quoted") for s in chosen],
        "passed_over": [explain(s, _why_not(ctx, s, chosen)) for s in others],
        "sentences_read": len(sents),
        "sentences_skipped": ctx.skipped,
        "steps_off": sorted(ctx.steps.off),
    }
