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

import faiss
import numpy as np

from assistant import __version__
from assistant.extractive import WINDOWS_VERSION
from assistant.index.keyword import KeywordIndex
from assistant.textnorm import NORMALIZATION_VERSION, tokenize
from assistant.types import Chunk, FileFailure, IndexManifest, SourceDocument

FORMAT_VERSION = 1


class Snapshot:
    def __init__(
        self,
        manifest: IndexManifest,
        documents: dict[str, SourceDocument],
        chunks: list[Chunk],
        vectors: faiss.Index,
        keyword: KeywordIndex,
        generation: str | None = None,
    ) -> None:
        self.manifest = manifest
        # The name of the generation this was read from; None for one not yet committed.
        self.generation = generation
        self.modified = False  # whether it differs from that generation
        self.documents = documents
        self.chunks = chunks
        self.vectors = vectors
        self.keyword = keyword
        # The vectors of each chunk's windows (assistant.extractive.window_spans), by vector id.
        self.windows: dict[int, np.ndarray] = {}
        self._row_of_vector = {chunk.vector_id: row for row, chunk in enumerate(chunks)}
        self._vector_of_chunk = {chunk.chunk_id: chunk.vector_id for chunk in chunks}

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
        return cls(manifest, {}, [], faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), KeywordIndex([]))

    # -- reading ------------------------------------------------------------------------

    def chunk_text(self, chunk: Chunk) -> str:
        return self.documents[chunk.doc_id].served(chunk.start, chunk.end)

    def window_vectors(self, chunk_id: str) -> np.ndarray | None:
        """The vectors of a chunk's windows, in window order; None if they were not stored."""
        vector_id = self._vector_of_chunk.get(chunk_id)
        return None if vector_id is None else self.windows.get(vector_id)

    def dense_search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Chunk rows and cosine scores of the nearest vectors."""
        if not self.chunks:
            return []
        scores, ids = self.vectors.search(query_vector.reshape(1, -1).astype(np.float32), min(k, len(self.chunks)))
        return [(self._row_of_vector[int(i)], float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def find_document(self, key: str) -> SourceDocument | None:
        """A document by id, id prefix (8+ characters) or any path it is stored at."""
        if key in self.documents:
            return self.documents[key]
        wanted = {os.path.normpath(key), source_path(key)}
        for document in self.documents.values():
            if wanted & {os.path.normpath(location) for location in document.locations}:
                return document
        matches = [d for d in self.documents.values() if len(key) >= 8 and d.doc_id.startswith(key)]
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
        if len(chunks):
            self.vectors.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self.documents[document.doc_id] = document
        for index, chunk in enumerate(numbered):
            self._row_of_vector[chunk.vector_id] = len(self.chunks)
            self._vector_of_chunk[chunk.chunk_id] = chunk.vector_id
            self.chunks.append(chunk)
            self.keyword.rows.append(tokenize(self.chunk_text(chunk)))
            if windows is not None:
                self.windows[chunk.vector_id] = windows[index]
        self._changed(next_vector_id=first + len(chunks))

    def remove(self, doc_id: str) -> None:
        keep = [row for row, c in enumerate(self.chunks) if c.doc_id != doc_id]
        gone = np.array([c.vector_id for c in self.chunks if c.doc_id == doc_id], dtype=np.int64)
        if len(gone):
            self.vectors.remove_ids(gone)  # type: ignore[arg-type]  # SWIG wraps the array
        self.chunks = [self.chunks[row] for row in keep]
        self.keyword = KeywordIndex([self.keyword.rows[row] for row in keep])
        for vector_id in gone.tolist():
            self.windows.pop(vector_id, None)
        self._row_of_vector = {chunk.vector_id: row for row, chunk in enumerate(self.chunks)}
        self._vector_of_chunk = {chunk.chunk_id: chunk.vector_id for chunk in self.chunks}
        del self.documents[doc_id]
        self._changed()

    def relocate(self, doc_id: str, locations: list[str]) -> None:
        """Change where a document's content is found (the first location is its source)."""
        document = self.documents[doc_id]
        self.documents[doc_id] = document.model_copy(update={"source": locations[0], "also_at": locations[1:]})
        self._changed()

    def record_failures(self, failures: list[FileFailure]) -> None:
        self.manifest = self.manifest.model_copy(update={"last_failures": failures})

    def _changed(self, **update: object) -> None:
        self.modified = True
        self.keyword = KeywordIndex(self.keyword.rows)  # rebuilt on next use
        self.manifest = self.manifest.model_copy(
            update={"documents": len(self.documents), "chunks": len(self.chunks), "built_at": _now(), **update}
        )

    # -- disk ------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        _write_jsonl(directory / "documents.jsonl", (d.model_dump() for d in self.documents.values()))
        _write_jsonl(directory / "chunks.jsonl", (c.model_dump() for c in self.chunks))
        faiss.write_index(self.vectors, str(directory / "vectors.faiss"))
        self.keyword.save(directory / "keyword")
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
        documents = {d["doc_id"]: SourceDocument(**d) for d in _read_jsonl(directory / "documents.jsonl")}
        chunks = [Chunk(**c) for c in _read_jsonl(directory / "chunks.jsonl")]
        vectors = faiss.read_index(str(directory / "vectors.faiss"))
        snapshot = cls(manifest, documents, chunks, vectors, KeywordIndex.load(directory / "keyword"), generation)
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
