"""The keyword index beside Chroma: BM25 over our own terms, in SQLite FTS5.

Chroma has no keyword search locally, so the app keeps one. FTS5 gives BM25 ranking,
incremental inserts and deletes in transactions, and a file on disk that is opened once per
process. Text is tokenized by `chatbot.terms` (jieba for Chinese, numbers and dates whole) and
stored as space-separated terms, so FTS5 only splits on spaces.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from chatbot.text.terms import tokenize

# Bump when `chatbot.terms` changes how text becomes terms: indexes built before are refused.
KEYWORD_TERMS_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, tokenize="unicode61 tokenchars '-.%'");
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(fts, row);
"""


def index_terms(text: str) -> list[str]:
    return [t.replace(",", "") for t in tokenize(text)]


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class KeywordIndex:
    def __init__(self, path: Path | None) -> None:
        """`path` None: an empty index in memory (a stand-in while a damaged one is mended)."""
        self.path = path
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path or ":memory:", timeout=30)
            if self.path is not None:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            else:  # each thread's in-memory database starts empty
                conn.executescript(_SCHEMA)
            self._local.conn = conn
        return conn

    def add(self, items: Iterable[tuple[str, str]]) -> None:
        """Insert or replace (chunk_id, text) pairs in one transaction."""
        conn = self._conn()
        with conn:
            for chunk_id, text in items:
                self._delete(conn, [chunk_id])
                cur = conn.execute("INSERT INTO rows(chunk_id) VALUES (?)", (chunk_id,))
                conn.execute("INSERT INTO fts(rowid, body) VALUES (?, ?)", (cur.lastrowid, " ".join(index_terms(text))))

    def delete(self, chunk_ids: Sequence[str]) -> None:
        conn = self._conn()
        with conn:
            self._delete(conn, chunk_ids)

    @staticmethod
    def _delete(conn: sqlite3.Connection, chunk_ids: Sequence[str]) -> None:
        for i in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[i : i + 500])
            marks = ",".join("?" * len(part))
            rowids = [r[0] for r in conn.execute(f"SELECT rowid FROM rows WHERE chunk_id IN ({marks})", part)]
            if rowids:
                rmarks = ",".join("?" * len(rowids))
                conn.execute(f"DELETE FROM fts WHERE rowid IN ({rmarks})", rowids)
                conn.execute(f"DELETE FROM rows WHERE rowid IN ({rmarks})", rowids)

    def ids(self) -> set[str]:
        return {r[0] for r in self._conn().execute("SELECT chunk_id FROM rows")}

    def clear(self) -> None:
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM fts")
            conn.execute("DELETE FROM rows")

    def count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM rows").fetchone()[0])

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25-style inverse document frequency of each term over the chunks."""
        n = max(self.count(), 1)
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        df = dict(self._conn().execute(f"SELECT term, doc FROM vocab WHERE term IN ({marks})", list(terms)).fetchall())
        return {t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in terms}

    def search(self, terms: Sequence[str], k: int, within: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score) best first; `within` restricts scoring to those chunks."""
        terms = [t for t in dict.fromkeys(terms) if t]
        if not terms:
            return []
        query = " OR ".join(_quote(t) for t in terms)
        sql = ("SELECT rows.chunk_id, -bm25(fts) AS s FROM fts JOIN rows ON rows.rowid = fts.rowid "
               "WHERE fts MATCH ?")
        params: list[object] = [query]
        if within is not None:
            if not within:
                return []
            sql += f" AND rows.chunk_id IN ({','.join('?' * len(within))})"
            params += list(within)
        sql += " ORDER BY bm25(fts) LIMIT ?"
        params.append(k)
        try:
            return [(r[0], float(r[1])) for r in self._conn().execute(sql, params)]
        except sqlite3.OperationalError:
            return []  # a term FTS5 cannot parse; keyword search then contributes nothing
