"""One generation of the index as a reader or the writer sees it: documents, chunks, vectors, keywords.

The documents and chunks are read from SQLite as needed (`assistant.index.docstore`); the
vectors and keyword postings from immutable segments (`assistant.index.vectors`,
`assistant.index.keyword`). A writer's snapshot adds to a pending segment and tombstones what it
removes; `assistant.index.store` seals and commits it.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from assistant import __version__
from assistant.index.base import Ranking
from assistant.index.docstore import SqliteDocumentStore, connect
from assistant.index.keyword import SegmentedBm25
from assistant.index.vectors import SegmentedVectors
from assistant.textnorm import NORMALIZATION_VERSION, tokenize
from assistant.types import Chunk, FileFailure, IndexManifest, SearchFilter, SourceDocument

FORMAT_VERSION = 2  # 1: whole generations of JSON lines, FAISS and bm25s files


class Snapshot:
    """A document store, a vector index and a keyword index kept in step.

    Searches and rankings are keyed by chunk id; the backends underneath by vector id.
    """

    def __init__(
        self,
        manifest: IndexManifest,
        store: SqliteDocumentStore,
        vectors: SegmentedVectors,
        keyword: SegmentedBm25,
        generation: str | None = None,
    ) -> None:
        self.manifest = manifest
        # The name of the generation this was read from; None for one not yet committed.
        self.generation = generation
        self.modified = False  # whether it differs from that generation
        self.store = store
        self.vectors = vectors
        self.keyword = keyword
        self.segment_names: list[str] = []  # the live segments it was read with, in the order of vectors'

    @classmethod
    def empty(cls, embedder: str, model: str, dimension: int, chunk_size: int, chunk_overlap: int) -> "Snapshot":
        """A new index held in memory (the store gives it a directory when it commits it)."""
        return cls(
            new_manifest(embedder, model, dimension, chunk_size, chunk_overlap),
            SqliteDocumentStore(connect(":memory:", create=True)),
            SegmentedVectors(dimension),
            SegmentedBm25(),
        )

    # -- reading ------------------------------------------------------------------------

    def documents(self) -> list[SourceDocument]:
        return self.store.documents()

    def document(self, doc_id: str) -> SourceDocument | None:
        return self.store.document(doc_id)

    def chunks(self) -> list[Chunk]:
        return self.store.chunks()

    def chunk(self, chunk_id: str) -> Chunk:
        """An indexed chunk (one a search of this snapshot returned)."""
        chunk = self.store.chunk(chunk_id)
        if chunk is None:
            raise KeyError(chunk_id)
        return chunk

    def chunk_text(self, chunk: Chunk) -> str:
        document = self.store.document(chunk.doc_id)
        assert document is not None, chunk.doc_id  # a chunk is stored with its document
        return document.served(chunk.start, chunk.end)

    def window_vectors(self, chunk_id: str) -> np.ndarray | None:
        """The vectors of a chunk's windows, in window order; None if they were not stored."""
        chunk = self.store.chunk(chunk_id)
        return None if chunk is None else self.vectors.window_vectors(chunk.vector_id)

    def admitted(self, scope: SearchFilter | None) -> np.ndarray | None:
        """The vector ids a search within scope may return; None for no filter (every chunk).

        A scope that only names collections, all those the index holds among them (a user who may
        read everything there is), is no filter: listing every chunk id would cost a read of the
        whole store on each question.
        """
        if scope is None:
            return None
        if (
            scope.collections is not None
            and scope.model_copy(update={"collections": None}) == SearchFilter()
            and self.store.collection_names() <= set(scope.collections)
        ):
            return None
        return self.store.admitted(scope)

    def dense_search(self, query_vector: np.ndarray, k: int, among: np.ndarray | None = None) -> Ranking:
        """Chunk ids and cosine scores of the nearest vectors (among the admitted ones, when given)."""
        return self._by_chunk(self.vectors.search(query_vector, k, among))

    def keyword_search(self, query: str, k: int, among: np.ndarray | None = None) -> Ranking:
        """Chunk ids and BM25 scores of the best keyword matches; chunks sharing no token are left out."""
        return self._by_chunk(self.keyword.search(tokenize(query), k, among))

    def matched_share(self, query: str, chunk_id: str, among: np.ndarray | None = None) -> float:
        """Share of the query's IDF mass (its rare words weigh most) that one chunk contains, IDF within among."""
        return self.keyword.matched_share(tokenize(query), self.chunk(chunk_id).vector_id, among)

    def _by_chunk(self, scored: list[tuple[int, float]]) -> Ranking:
        chunks = self.store.chunks_at([vector_id for vector_id, _ in scored])
        return [(chunk.chunk_id, score) for chunk, (_, score) in zip(chunks, scored, strict=True)]

    def find_document(self, key: str) -> SourceDocument | None:
        """A document by id, id prefix (8+ characters) or any path it is stored at."""
        if (document := self.store.document(key)) is not None:
            return document
        for path in (os.path.normpath(key), source_path(key)):
            if (doc_id := self.store.document_at(path)) is not None:
                return self.store.document(doc_id)
        matches = [d for d in self.store.documents() if len(key) >= 8 and d.doc_id.startswith(key)]
        return matches[0] if len(matches) == 1 else None

    # -- changing (only a writer holding the lock does this) --------------------------------

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
        self.store.put(document, numbered)
        window_of = dict(zip(ids.tolist(), windows, strict=True)) if windows is not None else {}
        self.vectors.add(ids, vectors, window_of)
        self.keyword.add(ids.tolist(), [tokenize(self.chunk_text(chunk)) for chunk in numbered])
        self._changed(next_vector_id=first + len(chunks))

    def remove(self, doc_id: str) -> None:
        gone = np.array([chunk.vector_id for chunk in self.store.delete(doc_id)], dtype=np.int64)
        self.vectors.remove(gone)
        self.keyword.remove(gone.tolist())
        self._changed()

    def relocate(self, doc_id: str, locations: list[str]) -> None:
        """Change where a document's content is found (the first location is its source)."""
        document = self.store.document(doc_id)
        assert document is not None, doc_id
        self.store.replace(document.model_copy(update={"source": locations[0], "also_at": locations[1:]}))
        self._changed()

    def refile(self, doc_id: str, collections: list[str]) -> None:
        """Change the collections a document belongs to."""
        document = self.store.document(doc_id)
        assert document is not None, doc_id
        self.store.replace(document.model_copy(update={"collections": collections}))
        self._changed()

    def record_failures(self, failures: list[FileFailure]) -> None:
        self.manifest = self.manifest.model_copy(update={"last_failures": failures})

    def _changed(self, **update: object) -> None:
        self.modified = True
        self.manifest = self.manifest.model_copy(
            update={"documents": len(self.store), "chunks": len(self.vectors), "built_at": _now(), **update}
        )


def new_manifest(embedder: str, model: str, dimension: int, chunk_size: int, chunk_overlap: int) -> IndexManifest:
    return IndexManifest(
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


def source_path(path: str | Path) -> str:
    """How a file's location is stored: absolute and resolved, so any working directory agrees."""
    return str(Path(path).resolve())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
