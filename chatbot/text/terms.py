"""Text to search terms: English words, numbers and dates kept whole, Chinese cut by jieba."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_jieba_lock = threading.Lock()
_jieba = None

_TOKEN = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}"  # ISO dates
    r"|\d+(?:[.,]\d+)*%?"  # numbers, decimals, percentages
    r"|[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]"  # English words
    r"|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"  # runs of Chinese, cut further by jieba
)
_CJK_RUN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")

EN_STOP = frozenset(
    """a an the of in on at to for from by with and or but is are was were be been being do does
    did has have had what which who whom whose when where why how many much that this these those
    it its as into about than then there their they them he she his her we our you your i me my
    not no yes can could will would should shall may might must also such any all each more most
    other some so very s t just over under between after before during up down out off again
    further once here both few own same too only if because until while against through above
    below per according said says say tell me please give list name""".split()
)
ZH_STOP = frozenset(
    """的 了 是 在 和 与 及 或 也 都 而 就 并 对 把 被 让 给 从 向 到 以 之 其 该 这 那 哪 哪些 哪个
    什么 怎么 怎样 如何 为什么 多少 几 谁 吗 呢 吧 啊 有 有关 关于 请 问 一个 一些 是否 是不是 中 上 下
    年 月 日 个 为 将 已 已经 等 由 于 所 地 得 着 过 会 能 可以 要 还 又 第 多 其中 哪里 何时 什么时候
    哪一年 哪一""".split()
)


def has_searchable_term(text: str) -> bool:
    """Whether a text holds anything to search for: a letter or a digit, in any script.
    Punctuation, symbols, emoji and invisible characters alone carry no question."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def _cut(run: str) -> list[str]:
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return [w for w in _jieba.cut(run) if w.strip()]


@lru_cache(maxsize=65536)
def _cut_cached(run: str) -> tuple[str, ...]:
    return tuple(_cut(run))


def tokenize(text: str) -> list[str]:
    """All terms of a text, lower-cased, in order (stop words included)."""
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        tok = match.group(0)
        if _CJK_RUN.match(tok):
            out.extend(_cut_cached(tok) if len(tok) > 1 else (tok,))
        else:
            tok = tok.lower().replace("’", "'")
            out.append(tok[:-2] if tok.endswith("'s") else tok)
    return out


def tokenize_spans(text: str) -> list[tuple[int, str]]:
    """The terms of `tokenize`, each with the offset where it starts in text."""
    out: list[tuple[int, str]] = []
    for match in _TOKEN.finditer(text):
        tok, pos = match.group(0), match.start()
        if _CJK_RUN.match(tok):
            for piece in _cut_cached(tok) if len(tok) > 1 else (tok,):
                out.append((pos, piece))
                pos += len(piece)
        else:
            tok = tok.lower().replace("’", "'")
            out.append((pos, tok[:-2] if tok.endswith("'s") else tok))
    return out


def with_parts(terms: Iterable[str]) -> set[str]:
    """Terms, hyphenated words also by their parts ("award-winning" answers "winning")."""
    out = set(terms)
    return out | {part for t in out if "-" in t for part in t.split("-") if part}


def is_stop(term: str) -> bool:
    return term in EN_STOP or term in ZH_STOP


def content_terms(text: str) -> list[str]:
    """Terms that carry meaning: no stop words, no one-letter English words, unique, in order."""
    seen: dict[str, None] = {}
    for term in tokenize(text):
        if is_stop(term) or (term.isascii() and term.isalpha() and len(term) < 2):
            continue
        seen.setdefault(term, None)
    return list(seen)


def han_bigrams(text: str) -> set[str]:
    """Pairs of adjacent Chinese characters, punctuation and Latin text dropped: a match on
    them does not depend on how jieba cut the question or the passage."""
    han = re.sub(r"[^\u3400-\u9fff]", "", text)
    return {han[i : i + 2] for i in range(len(han) - 1)}


def is_number(term: str) -> bool:
    return bool(term) and term[0].isdigit()
