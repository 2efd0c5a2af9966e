"""What an answerer proposes: the answer text with its evidence, or a refusal; and how quotes become text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatbot.answering.citations import defuse_markers
from chatbot.types import Evidence

REFUSAL = {
    "en": "The documents do not answer this question.",
    "zh": "文档中没有找到这个问题的答案。",
}
BUDGET = {"en": 300, "zh": 150}  # characters of quoted text in one answer


@dataclass
class Draft:
    """What an answerer proposes; the app turns it into an Answer with checked citations.
    `trace`: why these quotes and not others, and why a refusal (`chatbot ask --explain`)."""

    text: str
    evidence: list[Evidence]
    refused: bool
    related: list[Evidence] = field(default_factory=list)
    notice: str = ""
    trace: dict[str, Any] = field(default_factory=dict)
    # the calibrated probability that the answer is right (`chatbot.answering.reader`); None
    # when no reader judged it (an answerer without one)
    confidence: float | None = None


def compose(quotes: list[Evidence]) -> Draft:
    """The answer text: each quote followed by its marker ("A [1] B [2]")."""
    text = " ".join(f"{defuse_markers(ev.quote)} [{i}]" for i, ev in enumerate(quotes, 1))
    return Draft(text, list(quotes), False)
