"""In-memory reference implementations of the index protocols (`assistant.index.base`).

Plain Python and NumPy, written to be obviously right rather than fast: exact inner-product
search, BM25 as Lucene scores it (bm25s's default), dictionaries for documents. The contract
suite holds every backend to the results these give. The document store is also the one a
snapshot keeps in memory.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from assistant.index.base import Scored
from assistant.types import Chunk, SearchFilter, SourceDocument

# bm25s's defaults, which the keyword backend uses.
BM25_K1 = 1.5
BM25_B = 0.75


class MemoryVectorIndex:
    def __init__(self) -> None:
        self._vectors: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._vectors)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        for vector_id, vector in zip(ids.tolist(), vectors, strict=True):
            self._vectors[int(vector_id)] = np.asarray(vector, dtype=np.float32)

    def remove(self, ids: np.ndarray) -> None:
        for vector_id in ids.tolist():
            self._vectors.pop(int(vector_id), None)

    def search(self, query: np.ndarray, k: int, among: np.ndarray | None = None) -> Scored:
        allowed = set(self._vectors) if among is None else set(among.tolist()) & set(self._vectors)
        scored = [(vector_id, float(self._vectors[vector_id] @ query)) for vector_id in allowed]
        return sorted(scored, key=lambda item: (-item[1], item[0]))[:k]


class MemoryKeywordIndex:
    def __init__(self) -> None:
        self._rows: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, ids: Sequence[int], rows: Sequence[list[str]]) -> None:
        for vector_id, row in zip(ids, rows, strict=True):
            self._rows[int(vector_id)] = list(row)

    def remove(self, ids: Iterable[int]) -> None:
        for vector_id in ids:
            self._rows.pop(int(vector_id), None)

    def _within(self, among: np.ndarray | None) -> dict[int, list[str]]:
        """The rows a search may see: statistics within a scope are the scope's own."""
        return self._rows if among is None else {i: self._rows[i] for i in among.tolist() if i in self._rows}

    @staticmethod
    def _idf(token: str, rows: dict[int, list[str]]) -> float:
        held_by = sum(token in row for row in rows.values())
        return math.log(1 + (len(rows) - held_by + 0.5) / (held_by + 0.5))

    def search(self, tokens: list[str], k: int, among: np.ndarray | None = None) -> Scored:
        rows = self._within(among)
        if not rows:
            return []
        average_length = sum(map(len, rows.values())) / len(rows)
        idf = {token: self._idf(token, rows) for token in set(tokens)}
        scored = []
        for vector_id, row in rows.items():
            counts = Counter(row)
            norm = BM25_K1 * (1 - BM25_B + BM25_B * len(row) / average_length)
            score = sum(idf[t] * counts[t] / (counts[t] + norm) for t in tokens if counts[t])
            if score > 0:
                scored.append((vector_id, score))
        return sorted(scored, key=lambda item: (-item[1], item[0]))[:k]

    def matched_share(self, tokens: list[str], vector_id: int, among: np.ndarray | None = None) -> float:
        rows = self._within(among)
        idf = {token: self._idf(token, rows) for token in tokens if any(token in row for row in rows.values())}
        mass = sum(idf.values())
        held = set(rows.get(vector_id, []))  # a row outside the scope holds nothing of it
        return sum(weight for token, weight in idf.items() if token in held) / mass if mass else 0.0


class MemoryDocumentStore:
    def __init__(self, documents: Iterable[SourceDocument] = (), chunks: Iterable[Chunk] = ()) -> None:
        self._documents = {document.doc_id: document for document in documents}
        self._chunks: dict[str, Chunk] = {}  # in the order added
        self._by_vector: dict[int, str] = {}
        self._of_document: dict[str, list[str]] = {doc_id: [] for doc_id in self._documents}
        for chunk in chunks:
            self._keep(chunk)

    def _keep(self, chunk: Chunk) -> None:
        self._chunks[chunk.chunk_id] = chunk
        self._by_vector[chunk.vector_id] = chunk.chunk_id
        self._of_document.setdefault(chunk.doc_id, []).append(chunk.chunk_id)

    def __len__(self) -> int:
        return len(self._documents)

    def document(self, doc_id: str) -> SourceDocument | None:
        return self._documents.get(doc_id)

    def documents(self) -> list[SourceDocument]:
        return list(self._documents.values())

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._chunks.get(chunk_id)

    def chunk_at(self, vector_id: int) -> Chunk:
        return self._chunks[self._by_vector[vector_id]]

    def chunks_at(self, vector_ids: list[int]) -> list[Chunk]:
        return [self.chunk_at(vector_id) for vector_id in vector_ids]

    def chunks(self) -> list[Chunk]:
        return list(self._chunks.values())

    def put(self, document: SourceDocument, chunks: list[Chunk]) -> None:
        self._documents[document.doc_id] = document
        self._of_document.setdefault(document.doc_id, [])
        for chunk in chunks:
            self._keep(chunk)

    def replace(self, document: SourceDocument) -> None:
        self._documents[document.doc_id] = document

    def delete(self, doc_id: str) -> list[Chunk]:
        del self._documents[doc_id]
        gone = [self._chunks.pop(chunk_id) for chunk_id in self._of_document.pop(doc_id, [])]
        for chunk in gone:
            del self._by_vector[chunk.vector_id]
        return gone

    def collection_names(self) -> set[str]:
        return {name for document in self._documents.values() for name in document.collections}

    def admitted(self, scope: SearchFilter) -> np.ndarray:
        documents = {doc_id for doc_id, document in self._documents.items() if scope.admits_document(document)}
        ids = [
            chunk.vector_id
            for doc_id in documents
            for chunk in map(self._chunks.__getitem__, self._of_document[doc_id])
            if scope.languages is None or chunk.language in scope.languages
        ]
        return np.array(sorted(ids), dtype=np.int64)
