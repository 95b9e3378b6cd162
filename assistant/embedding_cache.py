"""Passage vectors kept by content, so that a text is embedded once per model, whatever indexes it.

Embedding is nearly all of an ingest's time (97% of it for news articles: about 3,500 characters
a second on 2 cores), so a re-add, a rebuild of the index with the same embedder (a new
directory, other chunk sizes) and text repeated across or within documents (a letterhead, a
disclaimer page, the sentences two overlapping chunks share) cost a lookup instead. One SQLite
file per embedder model under data_dir: it lives apart from any index, so deleting an index
keeps it, and deleting the file costs only time. Vectors are stored as the embedder returned
them (float32 bytes), so a cached vector is the vector.
"""

import hashlib
import logging
import re
import sqlite3
import threading
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder

log = logging.getLogger(__name__)

_LOOKUP_BATCH = 500  # keys per SELECT (SQLite's variable limit is far above)


class EmbeddingCache:
    """`embed_documents` of an embedder, through a content-addressed store of its vectors."""

    def __init__(self, directory: Path, embedder: Embedder) -> None:
        self.embedder = embedder
        directory.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{embedder.name}-{embedder.model}")[-80:]
        self.path = directory / f"{slug}-{embedder.dimension}.sqlite"
        self._lock = threading.Lock()
        self._connection = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            return _connect(self.path)
        except sqlite3.DatabaseError as error:  # a damaged file only costs the vectors it held
            aside = self.path.with_suffix(".damaged")
            log.warning("embedding cache %s is unreadable (%s); moved to %s, starting afresh", self.path, error, aside)
            self.path.replace(aside)
            return _connect(self.path)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """The vectors of texts, in order; only texts never embedded before reach the embedder."""
        known = self.lookup(texts)
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            vectors = self.embedder.embed_documents(missing)
            self.store(missing, vectors)
            known |= dict(zip(missing, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([known[text] for text in texts]).astype(np.float32, copy=False)

    def lookup(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The vectors held for any of these texts, by text."""
        by_key = {_key(text): text for text in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(by_key)
        with self._lock:
            for start in range(0, len(keys), _LOOKUP_BATCH):
                batch = keys[start : start + _LOOKUP_BATCH]
                query = f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(batch))})"
                for key, vector in self._connection.execute(query, batch):
                    found[by_key[key]] = np.frombuffer(vector, dtype=np.float32)
        return found

    def store(self, texts: list[str], vectors: np.ndarray) -> None:
        """Keep the vectors of texts just embedded."""
        rows = [(_key(text), vector.astype(np.float32).tobytes()) for text, vector in zip(texts, vectors, strict=True)]
        with self._lock, self._connection:
            self._connection.executemany("INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)", rows)


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
    connection.execute("PRAGMA journal_mode=WAL")  # two ingests into different indexes may share it
    connection.execute("PRAGMA synchronous=NORMAL")  # a vector lost to a power cut is embedded again
    connection.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID")
    return connection
