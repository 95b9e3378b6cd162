"""The index's seams: what a vector index, a keyword index and a document store must do.

Each has an in-memory reference implementation (`assistant.index.memory`) that every backend
is tested against by one contract suite (tests/test_index_contract.py), in the manner of
haystack's document-store test mixins. Vectors and keyword rows are keyed by a chunk's vector
id, which never changes while the chunk is indexed (unlike a row number, which shifts when a
document before it is removed).

A search takes `among`, the ids a filter admits, and searches only those (a FAISS IDSelector, a
masked BM25 score array), so a filter never cuts a top k after the fact: the k best admitted
chunks come back however few the filter admits, and a filter that admits nothing finds nothing.
"""

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from assistant.types import Chunk, SearchFilter, SourceDocument

# Vector ids and scores, best first (what backends return).
Scored = list[tuple[int, float]]
# Chunk ids and scores, best first (what a snapshot's searches and the fusion return).
Ranking = list[tuple[str, float]]


def members(candidates: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which candidates are in ids (ascending, distinct): a binary search each.

    np.isin and np.intersect1d sort or hash both arrays; a search asking this of a filter, a
    segment's ids or the tombstones would pay for the whole collection on every question.
    """
    if not len(ids):
        return np.zeros(len(candidates), dtype=bool)
    at = np.minimum(np.searchsorted(ids, candidates), len(ids) - 1)
    return ids[at] == candidates


def ascending(ids: np.ndarray) -> np.ndarray:
    """ids as an ascending array of distinct int64 (usually already so, as a store's filter returns them)."""
    ids = np.asarray(ids, dtype=np.int64)
    return ids if len(ids) < 2 or bool(np.all(ids[1:] > ids[:-1])) else np.unique(ids)


class VectorIndex(Protocol):
    """Unit vectors by id; search by inner product (cosine)."""

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int, among: np.ndarray | None = None) -> Scored:
        """The k nearest vectors (of those in `among`, when given), best first."""
        ...


class KeywordIndex(Protocol):
    """BM25 over token lists by id (textnorm tokens, so Arabic spellings meet)."""

    def __len__(self) -> int: ...

    def add(self, ids: Sequence[int], rows: Sequence[list[str]]) -> None: ...

    def remove(self, ids: Iterable[int]) -> None: ...

    def search(self, tokens: list[str], k: int, among: np.ndarray | None = None) -> Scored:
        """The k best-scoring rows (of those in `among`, when given); rows sharing no token are left out.

        With `among`, BM25's statistics (rows, lengths, document frequencies) are those of the
        admitted rows: nothing outside a scope may change how the rows inside it are scored.
        """
        ...

    def matched_share(self, tokens: list[str], vector_id: int, among: np.ndarray | None = None) -> float:
        """Share of the query's IDF mass (its rare words weigh most) that one row contains, IDF within among."""
        ...


class DocumentStore(Protocol):
    """Documents and their chunks; the text every hit and quote is read from."""

    def __len__(self) -> int: ...

    def document(self, doc_id: str) -> SourceDocument | None: ...

    def documents(self) -> list[SourceDocument]: ...

    def chunk(self, chunk_id: str) -> Chunk | None: ...

    def chunk_at(self, vector_id: int) -> Chunk: ...

    def chunks_at(self, vector_ids: list[int]) -> list[Chunk]:
        """The chunks of these vector ids, in their order (a search's hits at once)."""
        ...

    def chunks(self) -> list[Chunk]:
        """Every chunk, in the order it was added."""
        ...

    def put(self, document: SourceDocument, chunks: list[Chunk]) -> None: ...

    def replace(self, document: SourceDocument) -> None:
        """Change a stored document's record (its locations), keeping its chunks."""
        ...

    def delete(self, doc_id: str) -> list[Chunk]:
        """Remove a document; its chunks, so the other indexes can drop their vector ids."""
        ...

    def admitted(self, scope: SearchFilter) -> np.ndarray:
        """The vector ids of the chunks the filter admits."""
        ...

    def collection_names(self) -> set[str]:
        """Every collection some stored document belongs to."""
        ...
