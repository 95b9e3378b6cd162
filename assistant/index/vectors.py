"""Dense search: FAISS, inner product over unit vectors, kept in immutable segments.

An update adds one segment for what it adds and tombstones for what it removes, so its cost
follows the change, not the collection (Lucene's design, as in tantivy and Milvus); a search
runs over every live segment, skipping the tombstones inside FAISS (an IDSelector), as it does
for a filter. A small segment is searched exactly; a large one (a merge of many small ones)
through 8-bit codes, its best candidates then scored exactly. Each segment also keeps the window
vectors of its chunks, memory-mapped, so an open index holds in memory only the windows that
answers read.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from assistant.extractive import WINDOWS_VERSION
from assistant.index.base import Scored, ascending, members

# A segment this large is scanned in 8-bit codes (faiss's scalar quantizer: a quarter of the
# bytes, so a quarter of the memory traffic of a scan), and its RESCORED best candidates are
# scored again, exactly, on the float vectors (memory-mapped: only those rows are read). So its
# scores are exact and only the candidates approximate. Chosen on real e5 vectors
# (benchmarks/ann_recall.py, 39,293 news passages, ARCD and XQuAD questions): this finds the
# exact top 10 (recall@10 1.0) in 1.5 ms where a flat scan takes 2.5 ms; HNSW (M 32,
# efConstruction 128) reached 0.91 at efSearch 256 and 0.96 at 512, falling as the segment grows
# (0.96 at 5k and 10k vectors, efSearch 256), because e5's queries lie apart from its passages;
# IVF-Flat needed 128 of 198 lists probed for 0.98. Its cost grows with the segment, not its
# logarithm: past what one machine holds, Milvus (assistant/index/milvus.py) takes over.
APPROXIMATE_FROM = 50_000
RESCORED = 64  # candidates scored exactly, at least k
# A filter admitting fewer vectors than this in a compressed segment is scored exactly over them,
# not scanned (at 211,200 vectors: 0.2 against 0.8 ms for 1,000 admitted, 4.0 against 1.3 for 5,000).
EXACT_UNDER = 2_000


class Windows:
    """Each chunk's window vectors: rows grouped by vector id, ascending; memory-mapped once saved."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.ids = ids  # the vector id of each row
        self.vectors = vectors

    @classmethod
    def of(cls, windows: dict[int, np.ndarray], dimension: int) -> "Windows":
        ids = sorted(windows)
        return cls(
            np.repeat(np.array(ids, dtype=np.int64), [len(windows[i]) for i in ids]),
            np.concatenate([windows[i] for i in ids]).astype(np.float32)
            if ids
            else np.zeros((0, dimension), dtype=np.float32),
        )

    def get(self, vector_id: int) -> np.ndarray | None:
        first, last = np.searchsorted(self.ids, [vector_id, vector_id + 1])
        return None if first == last else np.array(self.vectors[first:last])

    def subset(self, ids: np.ndarray) -> dict[int, np.ndarray]:
        rows = np.isin(self.ids, ids)
        return load_windows_arrays(np.asarray(self.ids[rows]), np.asarray(self.vectors[rows]))

    def save(self, directory: Path) -> None:
        np.save(directory / "window_ids.npy", self.ids)
        np.save(directory / "window_vectors.npy", self.vectors)
        (directory / "window_rules.txt").write_text(WINDOWS_VERSION, encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, dimension: int) -> "Windows":
        """The saved windows, or none if they were cut by other window rules (they are then embedded anew)."""
        if (directory / "window_rules.txt").read_text(encoding="utf-8") != WINDOWS_VERSION:
            return cls.of({}, dimension)
        mapped = (np.asarray(np.load(directory / f"window_{name}.npy", mmap_mode="r")) for name in ("ids", "vectors"))
        return cls(*mapped)  # plain arrays over the mapping: np.memmap indexes slowly, in Python


class DenseSegment(Protocol):
    """What a search, a merge and the store need of a segment's vectors, wherever they are kept."""

    ids: np.ndarray  # ascending
    windows: Windows
    approximate: bool

    def __len__(self) -> int: ...

    # deleted (the tombstones) and admitted are ascending and distinct, as SegmentedVectors keeps them.
    def live(self, deleted: np.ndarray) -> np.ndarray: ...

    def search(self, query: np.ndarray, k: int, admitted: np.ndarray | None, deleted: np.ndarray) -> Scored: ...

    def vectors_of(self, ids: np.ndarray) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


# Builds a segment from (ids, vectors, windows by id, dimension): FAISS here, or a Milvus partition.
SegmentBuilder = Callable[[np.ndarray, np.ndarray, dict[int, np.ndarray], int], DenseSegment]


class VectorSegment:
    """One immutable run of vectors: FAISS with ids (flat, or 8-bit codes when large), and their window vectors.

    exact: a compressed segment's float vectors, one row per id in ascending order of id.
    """

    def __init__(self, index: faiss.Index, windows: Windows, exact: np.ndarray | None = None) -> None:
        self.index = index
        self.windows = windows
        stored = faiss.vector_to_array(index.id_map) if index.ntotal else np.zeros(0, dtype=np.int64)  # type: ignore[attr-defined]
        self.ids = np.sort(stored)
        self.exact = exact
        self.approximate = exact is not None

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(
        cls, ids: np.ndarray, vectors: np.ndarray, windows: dict[int, np.ndarray], dimension: int
    ) -> "VectorSegment":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        inner: faiss.Index
        exact = None
        if len(ids) >= APPROXIMATE_FROM:
            inner = faiss.IndexScalarQuantizer(dimension, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
            inner.train(vectors)
            exact = vectors[np.argsort(ids, kind="stable")]
        else:
            inner = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIDMap2(inner)
        if len(ids):
            index.add_with_ids(vectors, ids.astype(np.int64))
        kept = {int(i): windows[int(i)] for i in ids.tolist() if int(i) in windows}
        return cls(index, Windows.of(kept, dimension), exact)

    def live(self, deleted: np.ndarray) -> np.ndarray:
        return self.ids[~members(self.ids, deleted)]

    def search(self, query: np.ndarray, k: int, admitted: np.ndarray | None, deleted: np.ndarray) -> Scored:
        """The k best of this segment's vectors: of the admitted ids (None: all), never the deleted."""
        if admitted is not None and self.approximate:
            admitted = admitted[members(admitted, self.ids)]
            if len(admitted) < EXACT_UNDER:
                return self._exact(query, k, admitted)
        params: Any = faiss.SearchParameters()
        selection = None  # referenced until the search ends: FAISS holds raw pointers into it
        if admitted is not None:  # searched inside FAISS: IndexIDMap hands the selector the stored ids
            selection = _Selection(admitted)
        elif len(deleted):
            selection = _Selection(deleted, inverted=True)
        if selection is not None:
            params.sel = selection.selector
        depth = max(RESCORED, k) if self.approximate else k
        scores, ids = self.index.search(query, min(depth, len(self)), params=params)
        if self.approximate:  # the codes chose the candidates; the float vectors score them
            return self._exact(query, k, ids[0][ids[0] >= 0])
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def _exact(self, query: np.ndarray, k: int, admitted: np.ndarray) -> Scored:
        if not len(admitted):
            return []
        scores = self.vectors_of(admitted) @ query[0]
        best = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
        best = best[np.lexsort((admitted[best], -scores[best]))]  # best first, ties by id
        return [(int(admitted[p]), float(scores[p])) for p in best]

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these ids, in their order."""
        if self.exact is not None:
            return np.asarray(self.exact[np.searchsorted(self.ids, ids)], dtype=np.float32)
        return self.index.reconstruct_batch(ids)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / "vectors.faiss"))
        if self.exact is not None:
            np.save(directory / "exact_vectors.npy", self.exact)
        self.windows.save(directory)

    @classmethod
    def load(cls, directory: Path) -> "VectorSegment":
        # Mapped in place, not read: opening costs no time or memory for vectors no search touches,
        # and the app's workers share one copy in the page cache. Segments are never changed.
        index = faiss.read_index(str(directory / "vectors.faiss"), faiss.IO_FLAG_MMAP_IFC)
        exact = directory / "exact_vectors.npy"
        floats = np.asarray(np.load(exact, mmap_mode="r")) if exact.exists() else None
        return cls(index, Windows.load(directory, index.d), floats)


class _Selection:
    """A FAISS selector of ascending ids (or of every id but them): a bitmap over their range, one
    bit test a vector (IDSelectorBatch's hash set made a search admitting 100,000 ids 3 times
    slower than one admitting all). It keeps the bitmap and the selectors FAISS points into."""

    def __init__(self, ids: np.ndarray, inverted: bool = False) -> None:
        bits = np.zeros(int(ids[-1]) + 1 if len(ids) else 0, dtype=bool)
        bits[ids] = True
        self._bitmap = np.packbits(bits, bitorder="little")
        self._members = faiss.IDSelectorBitmap(len(self._bitmap), faiss.swig_ptr(self._bitmap))  # n: bytes
        self.selector = faiss.IDSelectorNot(self._members) if inverted else self._members


def load_windows(path: Path) -> dict[int, np.ndarray]:
    """Window vectors by vector id from an index of format 1 (windows.npz); none if cut by other rules."""
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as stored:
        if str(stored["version"]) != WINDOWS_VERSION:
            return {}
        return load_windows_arrays(stored["ids"], stored["vectors"])


def load_windows_arrays(ids: np.ndarray, vectors: np.ndarray) -> dict[int, np.ndarray]:
    """Rows grouped by vector id (ascending) as a dict of each id's rows."""
    if not len(ids):
        return {}
    bounds = np.flatnonzero(np.diff(ids)) + 1
    return {int(group[0]): rows for group, rows in zip(np.split(ids, bounds), np.split(vectors, bounds), strict=True)}


class SegmentedVectors:
    """`assistant.index.base.VectorIndex` over sealed segments, tombstones and what a writer adds.

    A reader's instance never changes. A writer's collects additions (`pending`) until the store
    seals them into a new segment at commit.
    """

    def __init__(
        self,
        dimension: int,
        segments: list[DenseSegment] | None = None,
        deleted: np.ndarray | None = None,
        build: SegmentBuilder = VectorSegment.build,
    ):
        self.dimension = dimension
        self.segments = segments or []
        self.build = build  # how its new segments are made: FAISS, or a Milvus collection's partitions
        self.deleted = np.zeros(0, dtype=np.int64) if deleted is None else np.unique(deleted.astype(np.int64))
        self._pending_ids: list[np.ndarray] = []
        self._pending_vectors: list[np.ndarray] = []
        self._pending_windows: dict[int, np.ndarray] = {}
        self._pending: DenseSegment | None = None
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
        sealed = ids[~np.isin(ids, pending) & ~members(ids, self.deleted)]
        self._count -= int(np.isin(ids, pending).sum()) + sum(int(np.isin(sealed, s.ids).sum()) for s in self.segments)
        self.deleted = np.union1d(self.deleted, sealed)

    def pending(self) -> DenseSegment | None:
        """What a writer added, as the segment it will be sealed as; None when nothing was added."""
        if self._pending is None and self._pending_ids:
            ids, vectors = np.concatenate(self._pending_ids), np.concatenate(self._pending_vectors)
            self._pending = self.build(ids, vectors, self._pending_windows, self.dimension)
        return self._pending

    def _searched(self) -> list[DenseSegment]:
        pending = self.pending()
        return [*self.segments, pending] if pending else self.segments

    def search(self, query: np.ndarray, k: int, among: np.ndarray | None = None) -> Scored:
        if k <= 0 or (among is not None and not len(among)):
            return []
        query = query.reshape(1, -1).astype(np.float32)
        admitted = None
        if among is not None:
            admitted = ascending(among)
            admitted = admitted[~members(admitted, self.deleted)]
        found: Scored = []
        for segment in self._searched():
            if len(segment):
                found += segment.search(query, k, admitted, self.deleted)
        return sorted(found, key=lambda item: (-item[1], item[0]))[:k]

    def window_vectors(self, vector_id: int) -> np.ndarray | None:
        for segment in self._searched():
            if (found := segment.windows.get(vector_id)) is not None:
                return found
        return None

    def merged(self, segments: list[DenseSegment]) -> DenseSegment:
        """One segment holding the live vectors of several (where this index builds its new ones)."""
        ids = np.concatenate([s.live(self.deleted) for s in segments])
        vectors = np.concatenate(
            [s.vectors_of(s.live(self.deleted)) for s in segments if len(s.live(self.deleted))]
            or [np.zeros((0, self.dimension), dtype=np.float32)]
        )
        windows = {i: rows for s in segments for i, rows in s.windows.subset(s.live(self.deleted)).items()}
        return self.build(ids, vectors, windows, self.dimension)
