"""The extractive answerer's rules, each a named step in one registry.

A step has a name, the stage of the answer it belongs to, and one line saying why it is true of
language. Three kinds, one shape each:
- `reject`: `fn(ctx, sentence) -> str`, the reason the sentence is no candidate (stage `read`),
  no support (`support`) or does not show the kind of answer asked (`shows`); "" when it has none;
- `feature`: `fn(ctx, sentence) -> float`, what it adds to the sentence's score (stage `score`);
- `rule`: a named choice in the flow (how coverage is counted, which candidate goes first, what
  a further quote must bring); the answerer asks `steps.on(name)` where the choice is made.
Every step can be switched off by name (`CHATBOT_ANSWER_STEPS_OFF=a,b`) for ablation, and every
step that acts on a sentence says so in that sentence's `fired`, which `chatbot ask --explain`
shows. Steps register themselves when their module is imported; `chatbot.answering.extractive`
imports them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chatbot.errors import ConfigError

KINDS = ("reject", "feature", "rule")
STAGES = ("read", "coverage", "support", "shows", "score", "pick", "quote", "further")


@dataclass(frozen=True)
class Step:
    name: str
    stage: str
    kind: str
    doc: str
    fn: Callable[..., Any] | None = None  # reject and feature steps; a rule's logic is where it is asked


REGISTRY: dict[str, Step] = {}


def _add(step: Step) -> Step:
    assert step.stage in STAGES and step.kind in KINDS, step
    assert step.name not in REGISTRY, f"two steps are called {step.name}"
    REGISTRY[step.name] = step
    return step


def reject(name: str, stage: str, doc: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register `fn(ctx, sentence) -> reason` as a reject step (decorator)."""
    def register(fn: Callable[..., str]) -> Callable[..., str]:
        _add(Step(name, stage, "reject", doc, fn))
        return fn
    return register


def feature(name: str, doc: str) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Register `fn(ctx, sentence) -> score added` as a feature step (decorator)."""
    def register(fn: Callable[..., float]) -> Callable[..., float]:
        _add(Step(name, "score", "feature", doc, fn))
        return fn
    return register


def rule(name: str, stage: str, doc: str) -> str:
    """Register a rule; returns its name, for `steps.on(NAME)` where the choice is made."""
    return _add(Step(name, stage, "rule", doc)).name


class Steps:
    """The steps switched on: every registered one but those named in `off`."""

    def __init__(self, off: Iterable[str] = ()) -> None:
        off = {name.strip() for name in off if name.strip()}
        unknown = sorted(off - set(REGISTRY))
        if unknown:
            raise ConfigError(
                f"CHATBOT_ANSWER_STEPS_OFF names no step {', '.join(unknown)}. Known steps: "
                f"{', '.join(sorted(REGISTRY))} (`chatbot ask --explain` shows which fire).")
        self.off = frozenset(off)
        self._at: dict[str, list[Step]] = {}
        for step in REGISTRY.values():
            if step.name not in self.off and step.fn is not None:
                self._at.setdefault(step.stage, []).append(step)

    def on(self, name: str) -> bool:
        assert name in REGISTRY, name
        return name not in self.off

    def at(self, stage: str) -> list[Step]:
        """The reject or feature steps of a stage that are on, in the order they were registered."""
        return self._at.get(stage, [])


def first_reason(steps: list[Step], ctx: Any, sentence: Any) -> str:
    """The first of `steps` that rejects the sentence, noted in its `fired`; "" when none does."""
    for step in steps:
        reason = step.fn(ctx, sentence) if step.fn else ""
        if reason:
            sentence.fired[step.name] = reason
            return reason
    return ""
