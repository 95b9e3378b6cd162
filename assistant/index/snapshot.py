"""One generation of the index, in memory: documents, chunks, vectors, keyword index, manifest.

On disk a generation is a directory of plain files that cannot run code when read (no
pickle): manifest.json, documents.jsonl, chunks.jsonl, vectors.faiss (FAISS with ids, so a
document's vectors can be removed), keyword/ (bm25s arrays and per-chunk tokens) and
windows.npz (the vectors of each chunk's quotable windows, for answers that embed only the
question; absent in an index built before them, whose windows are embedded when quoted).
"""

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from assistant import __version__
from assistant.extractive import WINDOWS_VERSION
from assistant.index.base import Ranking
from assistant.index.keyword import Bm25Index
from assistant.index.memory import MemoryDocumentStore
from assistant.index.vectors import FaissVectorIndex
from assistant.textnorm import NORMALIZATION_VERSION, tokenize
from assistant.types import Chunk, FileFailure, IndexManifest, SearchFilter, SourceDocument

FORMAT_VERSION = 1


class Snapshot:
    """One generation: a document store, a vector index and a keyword index kept in step.

    Searches and rankings are keyed by chunk id; the backends underneath by vector id.
    """

    def __init__(
        self,
        manifest: IndexManifest,
        store: MemoryDocumentStore,
        vectors: FaissVectorIndex,
        keyword: Bm25Index,
        generation: str | None = None,
    ) -> None:
        self.manifest = manifest
        # The name of the generation this was read from; None for one not yet committed.
        self.generation = generation
        self.modified = False  # whether it differs from that generation
        self._store = store
        self._vectors = vectors
        self._keyword = keyword
        # The vectors of each chunk's windows (assistant.extractive.window_spans), by vector id.
        self.windows: dict[int, np.ndarray] = {}

    @classmethod
    def empty(cls, embedder: str, model: str, dimension: int, chunk_size: int, chunk_overlap: int) -> "Snapshot":
        manifest = IndexManifest(
            format_version=FORMAT_VERSION,
            app_version=__version__,
            embedder=embedder,
            embedder_model=model,
            dimension=dimension,
            normalization_version=NORMALIZATION_VERSION,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            documents=0,
            chunks=0,
            next_vector_id=0,
            built_at=_now(),
        )
        return cls(manifest, MemoryDocumentStore(), FaissVectorIndex.empty(dimension), Bm25Index())

    # -- reading ------------------------------------------------------------------------

    def documents(self) -> list[SourceDocument]:
        return self._store.documents()

    def document(self, doc_id: str) -> SourceDocument | None:
        return self._store.document(doc_id)

    def chunks(self) -> list[Chunk]:
        return self._store.chunks()

    def chunk(self, chunk_id: str) -> Chunk:
        """An indexed chunk (one a search of this snapshot returned)."""
        chunk = self._store.chunk(chunk_id)
        if chunk is None:
            raise KeyError(chunk_id)
        return chunk

    def chunk_text(self, chunk: Chunk) -> str:
        document = self._store.document(chunk.doc_id)
        assert document is not None, chunk.doc_id  # a chunk is stored with its document
        return document.served(chunk.start, chunk.end)

    def window_vectors(self, chunk_id: str) -> np.ndarray | None:
        """The vectors of a chunk's windows, in window order; None if they were not stored."""
        chunk = self._store.chunk(chunk_id)
        return None if chunk is None else self.windows.get(chunk.vector_id)

    def admitted(self, scope: SearchFilter | None) -> np.ndarray | None:
        """The vector ids a search within scope may return; None for no filter (every chunk)."""
        return None if scope is None else self._store.admitted(scope)

    def dense_search(self, query_vector: np.ndarray, k: int, among: np.ndarray | None = None) -> Ranking:
        """Chunk ids and cosine scores of the nearest vectors (among the admitted ones, when given)."""
        return self._by_chunk(self._vectors.search(query_vector, k, among))

    def keyword_search(self, query: str, k: int, among: np.ndarray | None = None) -> Ranking:
        """Chunk ids and BM25 scores of the best keyword matches; chunks sharing no token are left out."""
        return self._by_chunk(self._keyword.search(tokenize(query), k, among))

    def matched_share(self, query: str, chunk_id: str) -> float:
        """Share of the query's IDF mass (its rare words weigh most) that one chunk contains."""
        return self._keyword.matched_share(tokenize(query), self.chunk(chunk_id).vector_id)

    def _by_chunk(self, scored: list[tuple[int, float]]) -> Ranking:
        return [(self._store.chunk_at(vector_id).chunk_id, score) for vector_id, score in scored]

    def find_document(self, key: str) -> SourceDocument | None:
        """A document by id, id prefix (8+ characters) or any path it is stored at."""
        if (document := self._store.document(key)) is not None:
            return document
        wanted = {os.path.normpath(key), source_path(key)}
        for document in self._store.documents():
            if wanted & {os.path.normpath(location) for location in document.locations}:
                return document
        matches = [d for d in self._store.documents() if len(key) >= 8 and d.doc_id.startswith(key)]
        return matches[0] if len(matches) == 1 else None

    # -- changing (only a writer holding the lock does this, on its own copy) --------------

    def add(
        self,
        document: SourceDocument,
        chunks: list[Chunk],
        vectors: np.ndarray,
        windows: list[np.ndarray] | None = None,
    ) -> None:
        first = self.manifest.next_vector_id
        ids = np.arange(first, first + len(chunks), dtype=np.int64)
        numbered = [c.model_copy(update={"vector_id": int(i)}) for c, i in zip(chunks, ids, strict=True)]
        self._vectors.add(ids, vectors)
        self._store.put(document, numbered)
        self._keyword.add(ids.tolist(), [tokenize(self.chunk_text(chunk)) for chunk in numbered])
        if windows is not None:
            self.windows.update(zip(ids.tolist(), windows, strict=True))
        self._changed(next_vector_id=first + len(chunks))

    def remove(self, doc_id: str) -> None:
        gone = np.array([chunk.vector_id for chunk in self._store.delete(doc_id)], dtype=np.int64)
        self._vectors.remove(gone)
        self._keyword.remove(gone.tolist())
        for vector_id in gone.tolist():
            self.windows.pop(vector_id, None)
        self._changed()

    def relocate(self, doc_id: str, locations: list[str]) -> None:
        """Change where a document's content is found (the first location is its source)."""
        document = self._store.document(doc_id)
        assert document is not None, doc_id
        self._store.replace(document.model_copy(update={"source": locations[0], "also_at": locations[1:]}))
        self._changed()

    def record_failures(self, failures: list[FileFailure]) -> None:
        self.manifest = self.manifest.model_copy(update={"last_failures": failures})

    def _changed(self, **update: object) -> None:
        self.modified = True
        self.manifest = self.manifest.model_copy(
            update={"documents": len(self._store), "chunks": len(self._vectors), "built_at": _now(), **update}
        )

    # -- disk ------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        _write_jsonl(directory / "documents.jsonl", (d.model_dump() for d in self._store.documents()))
        _write_jsonl(directory / "chunks.jsonl", (c.model_dump() for c in self._store.chunks()))
        self._vectors.save(directory / "vectors.faiss")
        self._keyword.save(directory / "keyword")
        if self.windows:
            ids = sorted(self.windows)
            np.savez(
                directory / "windows.npz",
                version=np.array(WINDOWS_VERSION),
                ids=np.repeat(np.array(ids, dtype=np.int64), [len(self.windows[i]) for i in ids]),
                vectors=np.concatenate([self.windows[i] for i in ids]).astype(np.float32),
            )
        manifest = self.manifest.model_copy(update={"app_version": __version__})
        (directory / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, generation: str | None = None) -> "Snapshot":
        manifest = IndexManifest.model_validate_json((directory / "manifest.json").read_text(encoding="utf-8"))
        documents = [SourceDocument(**d) for d in _read_jsonl(directory / "documents.jsonl")]
        chunks = [Chunk(**c) for c in _read_jsonl(directory / "chunks.jsonl")]
        store = MemoryDocumentStore(documents, chunks)
        # The keyword rows were saved in the chunks' order.
        keyword = Bm25Index.load(directory / "keyword", [chunk.vector_id for chunk in chunks])
        snapshot = cls(manifest, store, FaissVectorIndex.load(directory / "vectors.faiss"), keyword, generation)
        snapshot.windows = _load_windows(directory / "windows.npz")
        return snapshot


def _load_windows(path: Path) -> dict[int, np.ndarray]:
    """Window vectors by vector id; none if the file is absent or was cut by other window rules."""
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as stored:
        if str(stored["version"]) != WINDOWS_VERSION:
            return {}
        ids, vectors = stored["ids"], stored["vectors"]
    if not len(ids):
        return {}
    bounds = np.flatnonzero(np.diff(ids)) + 1
    return {int(group[0]): rows for group, rows in zip(np.split(ids, bounds), np.split(vectors, bounds), strict=True)}


def source_path(path: str | Path) -> str:
    """How a file's location is stored: absolute and resolved, so any working directory agrees."""
    return str(Path(path).resolve())


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as file:
        for record in records:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
