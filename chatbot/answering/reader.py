"""The trained reader: how likely a candidate sentence is to hold a right answer, calibrated.

A gradient-boosted model (LightGBM) over `chatbot.answering.features`, fitted by `make train`
on the *fit* split of every eval pack (evals/README.md, "The trained reader"), and shipped beside
this module: `reader.txt` (the trees) and `reader.json` (the feature names it was fitted on, and
the isotonic map from its score to a calibrated probability). An answer's `confidence` is that
probability for the sentence it quotes first: the probability that the answer shown is right. A
refusal shows no answer, so its confidence is 0 (the trace keeps how sure the best candidate
was, `best_candidate`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from chatbot.answering import features
from chatbot.answering.asks import Ctx
from chatbot.answering.sentences import Sentence
from chatbot.errors import ConfigError
from chatbot.types import Evidence

MODEL_PATH = Path(__file__).with_name("reader.txt")
META_PATH = Path(__file__).with_name("reader.json")


class Reader:
    """Loaded once (model files read on first use), used by every question."""

    def __init__(self, model: Path = MODEL_PATH, meta: Path = META_PATH) -> None:
        self.model_path, self.meta_path = model, meta
        self._booster: Any = None
        self._calibration: tuple[np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._booster is None:
                try:
                    meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
                    booster = lgb.Booster(model_file=str(self.model_path))
                except (OSError, ValueError, lgb.basic.LightGBMError) as exc:
                    raise ConfigError(f"The reader model ({self.model_path}) cannot be read ({exc}). "
                                      "Reinstall the package, or run `make train` to fit it again.") from exc
                if tuple(meta["features"]) != features.FEATURES:
                    raise ConfigError("The reader model was fitted on other features than this code computes. "
                                      "Run `make train` to fit it again.")
                self._calibration = (np.asarray(meta["calibration"]["x"]), np.asarray(meta["calibration"]["y"]))
                self._booster = booster
            return self._booster

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probability, for each row, that its sentence holds a right answer."""
        if not len(x):
            return np.zeros(0)
        raw = self._load().predict(x, num_threads=1)
        assert self._calibration is not None
        return np.interp(raw, *self._calibration)

    def confidence(self, ctx: Ctx, sents: Sequence[Sentence], quoted: Sequence[Evidence],
                   refused: bool) -> tuple[float, float]:
        """The answer's confidence (the probability for the sentence it quotes first; 0 for a
        refusal, which shows no answer), and the best candidate's probability (how sure an answer
        could have been)."""
        x = features.with_choice(features.rows(ctx, sents), sents, quoted, refused)
        probs = self.probabilities(x)
        if not len(probs):
            return 0.0, 0.0
        picked = np.where(x[:, features.FEATURES.index("hand_pick")] > 0)[0]
        shown = 0.0 if refused or not len(picked) else float(probs[picked[0]])
        return round(shown, 4), round(float(probs.max()), 4)
