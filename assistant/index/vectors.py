"""Dense search: FAISS, exact inner product over unit vectors, with ids so vectors can be removed."""

from pathlib import Path

import faiss
import numpy as np

from assistant.index.base import Scored


class FaissVectorIndex:
    """`assistant.index.base.VectorIndex` on a FAISS IndexIDMap2 over a flat inner-product index."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def empty(cls, dimension: int) -> "FaissVectorIndex":
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self._index.remove_ids(ids.astype(np.int64))  # type: ignore[arg-type]  # SWIG wraps the array

    def search(self, query: np.ndarray, k: int, among: np.ndarray | None = None) -> Scored:
        k = min(k, len(self) if among is None else len(among))
        if k <= 0:
            return []
        query = query.reshape(1, -1).astype(np.float32)
        if among is None:
            scores, ids = self._index.search(query, k)
        else:  # searched inside FAISS: IndexIDMap hands the selector the stored ids
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(among.astype(np.int64))
            scores, ids = self._index.search(query, k, params=params)
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> "FaissVectorIndex":
        return cls(faiss.read_index(str(path)))
