"""Which half of a pack a question belongs to: *fit* (about 70%) or *check* (about 30%).

Models, features and thresholds are chosen on *fit*, where individual results may be read; *check*
is the reported result and what `make test` gates on, read only in aggregate. The split is a pure
function of the question id, so it is the same in every run, on every machine and in every Python
(`hash()` is salted per process; sha256 is not), needs no list of ids kept anywhere, and a question
added to a pack never moves another one. Language, answerability and category play no part, so
each split holds a share of every kind (`tests/test_eval_split.py` checks it on every pack here).
A conversation's turns are split one by one, like any other question.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["fit", "check"]
SPLITS: tuple[Split, ...] = ("fit", "check")
FIT_SHARE = 0.7
RULE = "sha256 of the question id (UTF-8); its first 8 bytes, big-endian, below 0.7 * 2**64 is fit, else check"

_CUT = int(FIT_SHARE * 2**64)


def split_of(question_id: str) -> Split:
    """"fit" when the first 8 bytes of sha256(id), read as a big-endian number, fall below 70% of
    2**64; "check" otherwise."""
    head = hashlib.sha256(str(question_id).encode("utf-8")).digest()[:8]
    return "fit" if int.from_bytes(head, "big") < _CUT else "check"
