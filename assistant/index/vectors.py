"""Dense search: FAISS, exact inner product over unit vectors, kept in immutable segments.

An update adds one segment for what it adds and tombstones for what it removes, so its cost
follows the change, not the collection (Lucene's design, as in tantivy and Milvus); a search
runs over every live segment, skipping the tombstones inside FAISS (an IDSelector), as it does
for a filter. Each segment also keeps the window vectors of its chunks.
"""

from pathlib import Path

import faiss
import numpy as np

from assistant.extractive import WINDOWS_VERSION
from assistant.index.base import Scored


class VectorSegment:
    """One immutable run of vectors: FAISS with ids, and each id's window vectors."""

    def __init__(self, index: faiss.Index, windows: dict[int, np.ndarray]) -> None:
        self.index = index
        self.windows = windows
        stored = faiss.vector_to_array(index.id_map) if index.ntotal else np.zeros(0, dtype=np.int64)  # type: ignore[attr-defined]
        self.ids = np.sort(stored)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(
        cls, ids: np.ndarray, vectors: np.ndarray, windows: dict[int, np.ndarray], dimension: int
    ) -> "VectorSegment":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
        return cls(index, {int(i): windows[int(i)] for i in ids.tolist() if int(i) in windows})

    def live(self, deleted: np.ndarray) -> np.ndarray:
        return self.ids[~np.isin(self.ids, deleted)]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / "vectors.faiss"))
        ids = sorted(self.windows)
        np.savez(
            directory / "windows.npz",
            version=np.array(WINDOWS_VERSION),
            ids=np.repeat(np.array(ids, dtype=np.int64), [len(self.windows[i]) for i in ids]),
            vectors=np.concatenate([self.windows[i] for i in ids]).astype(np.float32)
            if ids
            else np.zeros((0, self.index.d), dtype=np.float32),
        )

    @classmethod
    def load(cls, directory: Path) -> "VectorSegment":
        return cls(faiss.read_index(str(directory / "vectors.faiss")), load_windows(directory / "windows.npz"))


def load_windows(path: Path) -> dict[int, np.ndarray]:
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


class SegmentedVectors:
    """`assistant.index.base.VectorIndex` over sealed segments, tombstones and what a writer adds.

    A reader's instance never changes. A writer's collects additions (`pending`) until the store
    seals them into a new segment at commit.
    """

    def __init__(self, dimension: int, segments: list[VectorSegment] | None = None, deleted: np.ndarray | None = None):
        self.dimension = dimension
        self.segments = segments or []
        self.deleted = np.zeros(0, dtype=np.int64) if deleted is None else np.unique(deleted.astype(np.int64))
        self._pending_ids: list[np.ndarray] = []
        self._pending_vectors: list[np.ndarray] = []
        self._pending_windows: dict[int, np.ndarray] = {}
        self._pending: VectorSegment | None = None
        self._count = sum(len(s.live(self.deleted)) for s in self.segments)

    def __len__(self) -> int:
        return self._count

    def add(self, ids: np.ndarray, vectors: np.ndarray, windows: dict[int, np.ndarray] | None = None) -> None:
        if len(ids):
            self._pending_ids.append(ids.astype(np.int64))
            self._pending_vectors.append(np.asarray(vectors, dtype=np.float32))
            self._pending_windows |= windows or {}
            self._pending = None
            self._count += len(ids)

    def remove(self, ids: np.ndarray) -> None:
        """Tombstone the ids in sealed segments; drop those still pending."""
        ids = ids.astype(np.int64)
        pending = np.concatenate(self._pending_ids) if self._pending_ids else np.zeros(0, dtype=np.int64)
        if np.isin(ids, pending).any():
            keep = ~np.isin(pending, ids)
            vectors = np.concatenate(self._pending_vectors)[keep]
            self._pending_ids, self._pending_vectors = [pending[keep]], [vectors]
            self._pending = None
        sealed = ids[~np.isin(ids, pending) & ~np.isin(ids, self.deleted)]
        self._count -= int(np.isin(ids, pending).sum()) + sum(int(np.isin(sealed, s.ids).sum()) for s in self.segments)
        self.deleted = np.union1d(self.deleted, sealed)

    def pending(self) -> VectorSegment | None:
        """What a writer added, as the segment it will be sealed as; None when nothing was added."""
        if self._pending is None and self._pending_ids:
            ids = np.concatenate(self._pending_ids)
            self._pending = VectorSegment.build(
                ids, np.concatenate(self._pending_vectors), self._pending_windows, self.dimension
            )
        return self._pending

    def _searched(self) -> list[VectorSegment]:
        pending = self.pending()
        return [*self.segments, pending] if pending else self.segments

    def search(self, query: np.ndarray, k: int, among: np.ndarray | None = None) -> Scored:
        if k <= 0 or (among is not None and not len(among)):
            return []
        query = query.reshape(1, -1).astype(np.float32)
        params = faiss.SearchParameters()
        if among is not None:  # searched inside FAISS: IndexIDMap hands the selector the stored ids
            params.sel = faiss.IDSelectorBatch(np.setdiff1d(among.astype(np.int64), self.deleted))
        elif len(self.deleted):
            params.sel = faiss.IDSelectorNot(faiss.IDSelectorBatch(self.deleted))
        found: Scored = []
        for segment in self._searched():
            if len(segment):
                scores, ids = segment.index.search(query, min(k, len(segment)), params=params)
                found += [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        return sorted(found, key=lambda item: (-item[1], item[0]))[:k]

    def window_vectors(self, vector_id: int) -> np.ndarray | None:
        for segment in self._searched():
            if vector_id in segment.windows:
                return segment.windows[vector_id]
        return None

    def merged(self, segments: list[VectorSegment]) -> VectorSegment:
        """One segment holding the live vectors of several."""
        ids = np.concatenate([s.live(self.deleted) for s in segments])
        vectors = np.concatenate(
            [s.index.reconstruct_batch(s.live(self.deleted)) for s in segments if len(s.live(self.deleted))]
            or [np.zeros((0, self.dimension), dtype=np.float32)]
        )
        windows = {i: s.windows[i] for s in segments for i in s.live(self.deleted).tolist() if i in s.windows}
        return VectorSegment.build(ids, vectors, windows, self.dimension)
