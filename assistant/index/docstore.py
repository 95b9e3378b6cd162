"""The document store: documents, chunks and where each document is found, in SQLite.

SQLite in WAL mode: a writer's transaction is invisible until it commits, and a reader that
holds a read transaction keeps seeing the state it opened on while writers commit after it
(SQLite's snapshot isolation), so one answer reads one generation. Only what a question needs is
read, row by row: the store is not loaded into memory, whatever the collection's size.
"""

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.types import Chunk, SearchFilter, SourceDocument

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (doc_id TEXT PRIMARY KEY, date TEXT, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (name TEXT NOT NULL, doc_id TEXT NOT NULL, PRIMARY KEY (name, doc_id));
CREATE INDEX IF NOT EXISTS collections_of ON collections (doc_id);
CREATE TABLE IF NOT EXISTS locations (path TEXT PRIMARY KEY, doc_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS locations_of ON locations (doc_id);
CREATE TABLE IF NOT EXISTS chunks (
    vector_id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, page_start INTEGER NOT NULL, page_end INTEGER NOT NULL,
    language TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_of ON chunks (doc_id);
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, retired_at INTEGER);
CREATE TABLE IF NOT EXISTS deleted (vector_id INTEGER PRIMARY KEY);
"""

CHUNKS_KEPT = 100_000  # chunk records a store keeps once read (about 1 KB each)
_CHUNK_FIELDS = ("vector_id", "chunk_id", "doc_id", "start", "end", "page_start", "page_end", "language")
_CHUNK_COLUMNS = ", ".join(f'"{field}"' for field in _CHUNK_FIELDS)


def connect(path: Path | str, create: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are begun and ended explicitly.

    Only a writer creates the tables: a reader never takes a write lock, so it never waits.
    """
    connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=60)
    connection.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
    if create:
        connection.execute("PRAGMA journal_mode=WAL")  # kept by the database file from then on
        connection.executescript(SCHEMA)
    return connection


class SqliteDocumentStore:
    """`assistant.index.base.DocumentStore` on one SQLite connection (one reader or the writer)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self._lock = threading.Lock()  # one connection, shared by the app's threads
        # Documents carry their whole text: only the recently read are kept.
        self._cached = lru_cache(maxsize=256)(self._read_document)
        self._by_vector: dict[int, Chunk] = {}
        self._chunk_ids: dict[str, int] = {}
        # Counted once, then kept by put and delete: count(*) scans the table, and a writer asks
        # after every document it adds. A reader's transaction sees one state, so its count holds.
        self._count: int | None = None
        self._collection_names: set[str] | None = None  # asked on every scoped question; kept till a write

    @contextmanager
    def _query(self, sql: str, parameters: tuple[object, ...] = ()) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            yield self.connection.execute(sql, parameters)

    def __len__(self) -> int:
        if self._count is None:
            with self._query("SELECT count(*) FROM documents") as rows:
                self._count = int(rows.fetchone()[0])
        return self._count

    def document(self, doc_id: str) -> SourceDocument | None:
        return self._cached(doc_id)

    def _read_document(self, doc_id: str) -> SourceDocument | None:
        with self._query("SELECT record FROM documents WHERE doc_id = ?", (doc_id,)) as rows:
            row = rows.fetchone()
        return None if row is None else SourceDocument.model_validate_json(row[0])

    def documents(self) -> list[SourceDocument]:
        with self._query("SELECT record FROM documents ORDER BY rowid") as rows:
            return [SourceDocument.model_validate_json(record) for (record,) in rows.fetchall()]

    def document_at(self, path: str) -> str | None:
        """The id of the document found at path, if any."""
        with self._query("SELECT doc_id FROM locations WHERE path = ?", (path,)) as rows:
            row = rows.fetchone()
        return None if row is None else str(row[0])

    def documents_at_relative_paths(self) -> list[SourceDocument]:
        """Documents with a location stored relative (by an earlier version): usually none."""
        with self._query("SELECT DISTINCT doc_id FROM locations WHERE path NOT LIKE '/%'") as rows:
            ids = [doc_id for (doc_id,) in rows.fetchall()]
        return [d for d in map(self.document, ids) if d is not None]

    def chunk(self, chunk_id: str) -> Chunk | None:
        if chunk_id not in self._chunk_ids:
            with self._query(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE chunk_id = ?", (chunk_id,)) as rows:
                row = rows.fetchone()
            if row is None:
                return None
            self._remember([_chunk(row)])
        return self._by_vector[self._chunk_ids[chunk_id]]

    def chunk_at(self, vector_id: int) -> Chunk:
        return self.chunks_at([vector_id])[0]

    def chunks_at(self, vector_ids: list[int]) -> list[Chunk]:
        """The chunks of these vector ids, in their order, read in one query (a search's hits)."""
        wanted = [int(i) for i in vector_ids if int(i) not in self._by_vector]
        if wanted:
            sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE vector_id IN (SELECT value FROM json_each(?))"
            with self._query(sql, (json.dumps(wanted),)) as rows:
                self._remember([_chunk(row) for row in rows.fetchall()])
        missing = [i for i in vector_ids if int(i) not in self._by_vector]
        if missing:
            raise KeyError(missing[0])
        return [self._by_vector[int(i)] for i in vector_ids]

    def _remember(self, chunks: list[Chunk]) -> None:
        """Keep chunks read (a search reads the same few again and again); a bounded number."""
        if len(self._by_vector) > CHUNKS_KEPT:
            self._forget_chunks()
        for chunk in chunks:
            self._by_vector[chunk.vector_id] = chunk
            self._chunk_ids[chunk.chunk_id] = chunk.vector_id

    def _forget_chunks(self) -> None:
        self._by_vector.clear()
        self._chunk_ids.clear()

    def chunks(self) -> list[Chunk]:
        with self._query(f"SELECT {_CHUNK_COLUMNS} FROM chunks ORDER BY vector_id") as rows:
            return [_chunk(row) for row in rows.fetchall()]

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        with self._query(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE doc_id = ? ORDER BY vector_id", (doc_id,)) as rows:
            return [_chunk(row) for row in rows.fetchall()]

    def put(self, document: SourceDocument, chunks: list[Chunk]) -> None:
        with self._lock:
            self.connection.execute(
                "INSERT INTO documents (doc_id, date, record) VALUES (?, ?, ?)",
                (document.doc_id, document.date, document.model_dump_json()),
            )
            self._describe(document)
            self.connection.executemany(
                f"INSERT INTO chunks ({_CHUNK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (c.vector_id, c.chunk_id, c.doc_id, c.start, c.end, c.page_start, c.page_end, c.language)
                    for c in chunks
                ],
            )
            if self._count is not None:
                self._count += 1
        self._cached.cache_clear()

    def _describe(self, document: SourceDocument) -> None:
        """The rows that index a document's record: its locations and collections."""
        self._collection_names = None
        self.connection.execute("DELETE FROM locations WHERE doc_id = ?", (document.doc_id,))
        self.connection.execute("DELETE FROM collections WHERE doc_id = ?", (document.doc_id,))
        self.connection.executemany(
            "INSERT OR REPLACE INTO locations (path, doc_id) VALUES (?, ?)",
            [(path, document.doc_id) for path in document.locations],
        )
        self.connection.executemany(
            "INSERT INTO collections (name, doc_id) VALUES (?, ?)",
            [(name, document.doc_id) for name in dict.fromkeys(document.collections)],
        )

    def replace(self, document: SourceDocument) -> None:
        with self._lock:
            self.connection.execute(
                "UPDATE documents SET date = ?, record = ? WHERE doc_id = ?",
                (document.date, document.model_dump_json(), document.doc_id),
            )
            self._describe(document)
        self._cached.cache_clear()

    def delete(self, doc_id: str) -> list[Chunk]:
        gone = self.chunks_of(doc_id)
        with self._lock:
            removed = self.connection.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount
            for table in ("locations", "collections", "chunks"):
                self.connection.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
            self._collection_names = None
            if self._count is not None:
                self._count -= removed
        self._cached.cache_clear()
        self._forget_chunks()
        return gone

    def collection_names(self) -> set[str]:
        """Cached: a reader's view is fixed by its read transaction, and a writer's writes clear it."""
        if self._collection_names is None:
            with self._query("SELECT DISTINCT name FROM collections") as rows:
                self._collection_names = {name for (name,) in rows.fetchall()}
        return set(self._collection_names)

    def admitted(self, scope: SearchFilter) -> np.ndarray:
        conditions, parameters = [], []
        if scope.documents is not None:
            conditions.append("c.doc_id IN (SELECT value FROM json_each(?))")
            parameters.append(json.dumps(scope.documents))
        if scope.collections is not None:
            conditions.append(
                "c.doc_id IN (SELECT doc_id FROM collections WHERE name IN (SELECT value FROM json_each(?)))"
            )
            parameters.append(json.dumps(scope.collections))
        if scope.languages is not None:
            conditions.append("c.language IN (SELECT value FROM json_each(?))")
            parameters.append(json.dumps(scope.languages))
        if scope.date_from is not None or scope.date_to is not None:  # an undated document is left out
            conditions.append("d.date IS NOT NULL AND d.date BETWEEN ? AND ?")
            parameters += [scope.date_from or "", scope.date_to or "9999"]
        where = " AND ".join(conditions) or "1"
        sql = f"SELECT c.vector_id FROM chunks c JOIN documents d USING (doc_id) WHERE {where} ORDER BY c.vector_id"
        with self._query(sql, tuple(parameters)) as rows:
            return np.array([vector_id for (vector_id,) in rows.fetchall()], dtype=np.int64)


def _chunk(row: tuple[object, ...]) -> Chunk:
    return Chunk.model_validate(dict(zip(_CHUNK_FIELDS, row, strict=True)))
