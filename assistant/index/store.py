"""The index directory: one SQLite database and immutable segments, one writer at a time.

    INDEX_DIR/index.sqlite        documents, chunks, the live segments, tombstones, the manifest
    INDEX_DIR/segments/s-...      vectors, keyword postings and window vectors of a batch of chunks
    INDEX_DIR/write.lock          held by the one process changing the index

A writer changes the database inside one transaction and collects its new chunks in memory.
To commit it writes them as a new segment (fsynced), then in the same transaction names that
segment live, records the tombstones of what it removed and the next generation's number, and
commits: that one SQLite commit is the switch. A crash or Ctrl-C before it leaves the previous
generation live and untouched (SQLite rolls the transaction back; the next writer removes the
unnamed segment). Readers never take the lock: each holds a read transaction, so it keeps
seeing the generation it opened while writers commit after it. An update therefore writes its
own segment and a few rows, whatever the size of the collection. Small segments are merged
(tiers of MERGE_FACTOR), so their number stays logarithmic; a retired segment is deleted one
generation later, as readers of the previous generation may still search it.
The writer says who it is in write.lock.owner, so that one kept waiting can be told.
"""

import dataclasses
import getpass
import json
import logging
import math
import os
import shutil
import socket
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import faiss
import numpy as np
from filelock import FileLock, Timeout

from assistant.errors import IndexBusyError, NotFoundError
from assistant.index import milvus
from assistant.index.docstore import SqliteDocumentStore, connect
from assistant.index.keyword import KeywordSegment, SegmentedBm25
from assistant.index.milvus import MilvusLocation, MilvusVectorSegment
from assistant.index.snapshot import FORMAT_VERSION, Snapshot
from assistant.index.vectors import DenseSegment, SegmentBuilder, SegmentedVectors, VectorSegment, load_windows
from assistant.types import Chunk, IndexManifest, SourceDocument

# Segments of about the same size (the same power of MERGE_FACTOR) are merged once there are this many.
MERGE_FACTOR = 8
# A merge writes at most about this many chunks: a segment of more than its MERGE_FACTOR-th part
# is not merged again (only rewritten alone once mostly tombstones).
LARGEST_MERGE = 262_144
# A segment with less than this share of its rows live is rewritten with the next merge, or alone.
LEAST_LIVE_SHARE = 0.7

log = logging.getLogger(__name__)

_LOADED: dict[Path, tuple[DenseSegment, KeywordSegment]] = {}  # segments are immutable: read once
_LOADING = threading.Lock()


class IndexStore:
    def __init__(self, directory: Path, vector_store: MilvusLocation | None = None) -> None:
        """An index directory; its new segments keep their vectors in FAISS files, or in vector_store."""
        self.directory = Path(directory)
        self._vector_store = vector_store
        self.database = self.directory / "index.sqlite"
        self._segments = self.directory / "segments"
        self._owner = self.directory / "write.lock.owner"
        # Kept outside the database: they describe the index, whichever generation is live.
        self.golden_path = self.directory / "golden.jsonl"
        self.evaluation_path = self.directory / "last_evaluation.json"
        self._probe: sqlite3.Connection | None = None
        self._probe_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._holding = False

    def exists(self) -> bool:
        return self.live_generation() is not None

    def live_generation(self) -> str | None:
        self._migrate_format_1()
        if not self.database.exists():
            return None
        with self._probe_lock:
            if self._probe is None:
                self._probe = connect(self.database)
            try:
                row = self._probe.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            except sqlite3.OperationalError:  # a first writer has not created the tables yet
                return None
        return None if row is None else _generation_name(int(row[0]))

    def load(self) -> Snapshot:
        """The live generation, as a reader: it keeps seeing this generation while writers commit."""
        if not self.exists():
            raise NotFoundError(
                f"there is no index at {self.directory}; create one with `python -m assistant index add PATH...`"
            )
        connection = connect(self.database)
        connection.execute("BEGIN")  # the first read below fixes what this reader sees
        snapshot = self._snapshot(connection, None)
        if snapshot.generation is None:  # cannot happen after exists(): a generation is never undone
            raise NotFoundError(f"there is no index at {self.directory}")
        return snapshot

    def writable(self, fresh: IndexManifest) -> Snapshot:
        """The live generation (or a new index with the manifest fresh) for the lock holder to change."""
        assert self._holding, "writable() needs the write lock (IndexStore.writing)"
        self._segments.mkdir(parents=True, exist_ok=True)
        self._writer = connect(self.database, create=True)
        build: SegmentBuilder = VectorSegment.build
        if (location := self._milvus_collection(self._writer)) is not None:
            build = partial(MilvusVectorSegment.build, location)
        self._writer.execute("BEGIN IMMEDIATE")
        return self._snapshot(self._writer, fresh, build)

    def _milvus_collection(self, connection: sqlite3.Connection) -> MilvusLocation | None:
        """This index's own Milvus collection (the setting's name and the index's id), if it uses Milvus.

        Its own, so that indexes sharing a server or a milvus-lite file (an evaluation's beside the
        live one) never sweep each other's partitions. The id is committed on its own, at once: a
        partition is never created under an id a rollback could forget.
        """
        if self._vector_store is None:
            return None
        connection.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('index_id', ?)", (uuid.uuid4().hex[:12],))
        (index_id,) = connection.execute("SELECT value FROM meta WHERE key = 'index_id'").fetchone()
        return dataclasses.replace(self._vector_store, collection=f"{self._vector_store.collection}_{index_id}")

    def _snapshot(
        self, connection: sqlite3.Connection, fresh: IndexManifest | None, build: SegmentBuilder = VectorSegment.build
    ) -> Snapshot:
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        if "generation" not in meta:
            assert fresh is not None
            manifest, generation, names, deleted = fresh, None, [], np.zeros(0, dtype=np.int64)
        else:
            manifest = IndexManifest.model_validate_json(meta["manifest"])
            generation = _generation_name(int(meta["generation"]))
            names = [name for (name,) in connection.execute(_LIVE_SEGMENTS)]
            deleted = np.array([i for (i,) in connection.execute("SELECT vector_id FROM deleted")], dtype=np.int64)
        loaded = self._load_segments(names)
        vectors = SegmentedVectors(manifest.dimension, [v for v, _ in loaded], deleted, build)
        keyword = SegmentedBm25([k for _, k in loaded], deleted)
        snapshot = Snapshot(manifest, SqliteDocumentStore(connection), vectors, keyword, generation)
        snapshot.segment_names = names
        return snapshot

    def _load_segments(self, names: list[str]) -> list[tuple[DenseSegment, KeywordSegment]]:
        with _LOADING:
            folders = [self._segments / name for name in names]
            for folder in folders:
                if folder not in _LOADED:
                    # Each segment says where its vectors are: indexes can move from FAISS to Milvus by merges.
                    vectors = MilvusVectorSegment.load if milvus.is_milvus_segment(folder) else VectorSegment.load
                    _LOADED[folder] = (vectors(folder), KeywordSegment.load(folder))
            return [_LOADED[folder] for folder in folders]

    @contextmanager
    def writing(self, wait_seconds: float = 0, actor: str | None = None) -> Iterator[None]:
        """Hold the write lock, waiting up to wait_seconds for another writer to finish.

        Whatever the holder did not commit is rolled back when it lets go.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.directory / "write.lock")
        try:
            lock.acquire(timeout=wait_seconds)
        except Timeout:
            raise IndexBusyError(
                f"another process is updating the index at {self.directory} ({self._owner_description()}); "
                f"waited {wait_seconds:g} s. Try again when it has finished."
            ) from None
        self._holding = True
        try:
            self._owner.write_text(json.dumps(_owner_record(actor)), encoding="utf-8")
            self._remove_unnamed_segments()
            yield
        finally:
            if self._writer is not None:
                self._writer.close()  # rolls back a transaction that was not committed
                self._writer = None
            self._holding = False
            self._owner.unlink(missing_ok=True)
            lock.release()

    def _owner_description(self) -> str:
        try:
            owner = json.loads(self._owner.read_text(encoding="utf-8"))
            return f"{owner['actor']}, pid {owner['pid']} on {owner['host']}, since {owner['since']}"
        except (OSError, ValueError, KeyError):
            return "holder unknown"

    def commit(self, snapshot: Snapshot) -> str:
        """Seal what the writer added as a segment, merge small segments, and switch in one SQLite commit."""
        connection = self._writer
        assert connection is not None, "commit needs the write lock (IndexStore.writing)"
        assert snapshot.store.connection is connection, "commit a snapshot from writable()"
        number = 1 + (int(snapshot.generation[2:]) if snapshot.generation else 0)
        vectors, keyword = snapshot.vectors, snapshot.keyword
        segments = dict(zip(snapshot.segment_names, zip(vectors.segments, keyword.segments, strict=True), strict=True))
        pending_vectors, pending_keyword = vectors.pending(), keyword.pending()
        if pending_vectors is not None and pending_keyword is not None:
            segments[_segment_name(number)] = (pending_vectors, pending_keyword)
        merge = _merge_plan({name: (len(v), len(v.live(vectors.deleted))) for name, (v, _) in segments.items()})
        if merge:
            parts = [segments.pop(name) for name in merge]
            merged = (vectors.merged([v for v, _ in parts]), keyword.merged([k for _, k in parts]))
            if len(merged[0]):
                segments[_segment_name(number)] = merged
        new = [name for name in segments if name not in snapshot.segment_names]
        for name in new:
            self._write_segment(name, *segments[name])
        physical = np.concatenate([v.ids for v, _ in segments.values()] or [np.zeros(0, dtype=np.int64)])
        tombstones = np.intersect1d(vectors.deleted, physical)
        manifest = snapshot.manifest.model_copy(update={"format_version": FORMAT_VERSION})
        self._switch(connection, number, manifest, new, [n for n in merge if n in snapshot.segment_names], tombstones)
        snapshot.generation = _generation_name(number)
        self._remove_retired(number)
        return snapshot.generation

    def _write_segment(self, name: str, vectors: DenseSegment, keyword: KeywordSegment) -> None:
        unfinished = self._segments / f".unfinished-{name}"
        vectors.save(unfinished)
        keyword.save(unfinished)
        _fsync_tree(unfinished)
        os.rename(unfinished, self._segments / name)
        _fsync_dir(self._segments)

    def _switch(
        self,
        connection: sqlite3.Connection,
        number: int,
        manifest: IndexManifest,
        new: list[str],
        retired: list[str],
        tombstones: np.ndarray,
    ) -> None:
        """Name the new segments live, retire the merged ones, and make generation `number` live: one commit."""
        connection.executemany("INSERT INTO segments (name) VALUES (?)", [(name,) for name in new])
        connection.executemany("UPDATE segments SET retired_at = ? WHERE name = ?", [(number, n) for n in retired])
        connection.execute("DELETE FROM deleted")
        connection.executemany("INSERT INTO deleted (vector_id) VALUES (?)", [(int(i),) for i in tombstones])
        connection.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [("manifest", manifest.model_dump_json()), ("generation", str(number))],
        )
        connection.execute("COMMIT")  # the switch

    def _remove_retired(self, number: int) -> None:
        """Delete segments retired before this generation: no reader of the last two needs them."""
        assert self._writer is not None
        gone = [n for (n,) in self._writer.execute("SELECT name FROM segments WHERE retired_at < ?", (number,))]
        for name in gone:
            _remove_segment(self._segments / name)
            _LOADED.pop(self._segments / name, None)
        self._writer.executemany("DELETE FROM segments WHERE name = ?", [(name,) for name in gone])

    def _remove_unnamed_segments(self) -> None:
        """Segments a crashed writer left: written, never named live (only the lock holder calls this)."""
        if not self.database.exists():
            return
        with closing(connect(self.database, create=True)) as connection:
            named = {name for (name,) in connection.execute("SELECT name FROM segments")}
            location = self._milvus_collection(connection)
        folders = sorted(self._segments.iterdir()) if self._segments.exists() else []
        for folder in folders:
            if folder.name not in named:
                _remove_segment(folder)
        if location is not None:  # partitions created before a folder named them
            milvus.sweep(location, [folder for folder in folders if folder.exists()])

    def write_beside(self, path: Path, text: str) -> None:
        """Replace a small file of the index directory atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        _fsync_file(partial)
        os.replace(partial, path)

    # -- indexes written by earlier versions -----------------------------------------------

    def _migrate_format_1(self) -> None:
        """Convert an index of format 1 (whole generations of files under CURRENT) in place, once."""
        pointer = self.directory / "CURRENT"
        if not pointer.exists() or self._committed():
            return
        if self._holding:
            self._convert_format_1(pointer)
            return
        with self.writing(wait_seconds=600, actor="conversion of the index to format 2"):
            if not self._committed():
                self._convert_format_1(pointer)

    def _committed(self) -> bool:
        if not self.database.exists():
            return False
        with closing(connect(self.database, create=True)) as connection:
            return connection.execute("SELECT 1 FROM meta WHERE key = 'generation'").fetchone() is not None

    def _convert_format_1(self, pointer: Path) -> None:
        folder = self.directory / "generations" / pointer.read_text(encoding="utf-8").strip()
        manifest = IndexManifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))
        writer = self.writable(manifest)
        chunks = [Chunk(**c) for c in _read_jsonl(folder / "chunks.jsonl")]
        by_document: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            by_document.setdefault(chunk.doc_id, []).append(chunk)
        for record in _read_jsonl(folder / "documents.jsonl"):
            document = SourceDocument(**record)
            writer.store.put(document, by_document.get(document.doc_id, []))
        ids = np.array([chunk.vector_id for chunk in chunks], dtype=np.int64)
        stored = faiss.read_index(str(folder / "vectors.faiss"))
        vectors = stored.reconstruct_batch(ids) if len(ids) else np.zeros((0, manifest.dimension), dtype=np.float32)
        writer.vectors.add(ids, vectors, load_windows(folder / "windows.npz"))
        with (folder / "keyword" / "tokens.jsonl").open(encoding="utf-8") as file:  # one row per chunk, in order
            writer.keyword.add(ids.tolist(), [json.loads(line) for line in file])
        writer.modified = True
        self.commit(writer)
        pointer.unlink()
        shutil.rmtree(self.directory / "generations", ignore_errors=True)


_LIVE_SEGMENTS = "SELECT name FROM segments WHERE retired_at IS NULL ORDER BY name"


def _remove_segment(folder: Path) -> None:
    """Delete a segment's folder, and its Milvus partition first if it has one."""
    try:
        milvus.discard(folder)
    except Exception as error:  # Milvus out of reach: keep the folder, so the next writer tries again
        log.warning("could not drop the Milvus partition of segment %s (%s); will retry", folder.name, error)
        return
    shutil.rmtree(folder, ignore_errors=True)


def _merge_plan(sizes: dict[str, tuple[int, int]]) -> list[str]:
    """The segments to merge into one: a full tier of similar sizes, and those mostly tombstones.

    sizes: each segment's rows and live rows.
    """
    tiers: dict[int, list[str]] = {}
    for name, (_, live) in sizes.items():
        if live < LARGEST_MERGE // MERGE_FACTOR:
            tiers.setdefault(int(math.log(max(live, 1), MERGE_FACTOR)), []).append(name)
    merge = next((names for _, names in sorted(tiers.items()) if len(names) >= MERGE_FACTOR), [])
    stale = [name for name, (rows, live) in sizes.items() if rows and live < LEAST_LIVE_SHARE * rows]
    return list(dict.fromkeys(merge + stale))


def _generation_name(number: int) -> str:
    return f"g-{number:08d}"


def _segment_name(number: int) -> str:
    return f"s-{number:08d}-{uuid.uuid4().hex[:8]}"


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def _owner_record(actor: str | None) -> dict[str, object]:
    return {
        "actor": actor or f"{getpass.getuser()} running `{' '.join(sys.argv)[:120]}`",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def _fsync_file(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            _fsync_file(path)
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        _fsync_dir(directory)
