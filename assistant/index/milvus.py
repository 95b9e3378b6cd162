"""Dense search in Milvus: each segment's chunk vectors are one partition of a Milvus collection.

Chosen by one setting, ASSISTANT_VECTOR_STORE: `milvus://host:port[/collection]` for a Milvus
server or cluster, or a path ending in `.db` for milvus-lite (embedded, a local file, no server).
Everything else about the index stays as it is with FAISS (`assistant.index.store`): the SQLite
document store, the generations, tombstones and merges of segments, the keyword postings and the
window vectors in each segment's folder. A segment's folder names its partition (`milvus.json`),
so a reader's generation searches exactly the partitions of its live segments: new partitions
are invisible to it until the SQLite commit that names them live, and a retired one is dropped a
generation later, as a FAISS segment's folder is. A filter (and the tombstones) reaches Milvus as
an `id in [...]` / `id not in [...]` expression inside the search, never as a cut of its top k.

The keyword index does not move to Milvus: its full-text search (the BM25 function) tokenises
with `standard`, Python's `\\w+` in milvus-lite, which splits Arabic words at every diacritic and
knows neither alef variants nor clitics, so Arabic keyword search would miss what textnorm
tokens find. Keyword search stays the segmented BM25 over textnorm tokens, in the index directory.

Partitions are small beside Milvus's own segments, so Milvus compacts what a partition holds; our
merges still rewrite a tier of partitions into one, so their number stays logarithmic (a
collection holds at most 1,024 partitions by default).
"""

import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np

from assistant.errors import SettingsError
from assistant.index.base import Scored, members
from assistant.index.vectors import VectorSegment, Windows

POINTER = "milvus.json"
DEFAULT_COLLECTION = "assistant_chunks"
_INSERT_BATCH = 2_000  # rows per insert: well under Milvus's 64 MB message limit at 768 dimensions
_QUERY_BATCH = 1_000  # ids per query expression
_LARGEST_LIMIT = 16_384  # Milvus's largest top k
# A server's HNSW graph. On real e5 vectors (benchmarks/ann_recall.py, 39,293 passages, FAISS's
# HNSW with these M and efConstruction) recall@10 was 0.91 at ef 256 and 0.96 at ef 512.
HNSW_NEIGHBOURS = 32
HNSW_BUILD_DEPTH = 128  # efConstruction
HNSW_SEARCH_DEPTH = 512  # ef, at least k


@dataclass(frozen=True)
class MilvusLocation:
    """Where a collection lives: a server's address or a milvus-lite file, its name, how it is indexed."""

    uri: str
    collection: str = DEFAULT_COLLECTION
    # FLAT: exact, as FAISS's small segments; HNSW: approximate, for a server holding millions.
    index_type: str = "FLAT"

    def describe(self) -> dict[str, str]:
        return {"uri": self.uri, "collection": self.collection, "index_type": self.index_type}


def milvus_location(setting: str) -> MilvusLocation | None:
    """The Milvus collection ASSISTANT_VECTOR_STORE names; None for FAISS files in the index directory."""
    if setting == "faiss":
        return None
    if setting.startswith("milvus://"):
        parsed = urlparse(setting)
        if not parsed.hostname:
            raise SettingsError(f"ASSISTANT_VECTOR_STORE={setting} names no host: milvus://host:port[/collection]")
        index_type = parse_qs(parsed.query).get("index", ["HNSW"])[0].upper()
        if index_type not in ("FLAT", "HNSW"):
            raise SettingsError(f"ASSISTANT_VECTOR_STORE={setting}: index must be FLAT or HNSW")
        return MilvusLocation(
            f"http://{parsed.hostname}:{parsed.port or 19530}", parsed.path.strip("/") or DEFAULT_COLLECTION, index_type
        )
    if setting.endswith(".db"):
        return MilvusLocation(str(Path(setting).resolve()))
    raise SettingsError(
        f"ASSISTANT_VECTOR_STORE={setting} is none of: faiss, milvus://host:port[/collection], a milvus-lite file *.db"
    )


_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(location: MilvusLocation) -> Any:
    """One client per address and process (milvus-lite lets one process open a file)."""
    with _CLIENTS_LOCK:
        if location.uri not in _CLIENTS:
            from pymilvus import MilvusClient  # imported when used: half a second, and only Milvus needs it

            if not location.uri.startswith("http"):
                Path(location.uri).parent.mkdir(parents=True, exist_ok=True)
            try:
                _CLIENTS[location.uri] = MilvusClient(location.uri)
            except Exception as error:  # pymilvus wraps every failure to connect in its own exceptions
                raise SettingsError(
                    f"cannot open the Milvus vector store at {location.uri} ({error}). A milvus-lite file is "
                    "opened by one process at a time: stop the other one (the app, or another `index` command), "
                    "or use a Milvus server (ASSISTANT_VECTOR_STORE=milvus://host:port)."
                ) from None
        return _CLIENTS[location.uri]


def _collection(location: MilvusLocation, dimension: int) -> Any:
    """The client, with the collection created (and loaded, as a search needs) on first use."""
    client = _client(location)
    if not client.has_collection(location.collection):
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)  # the chunk's vector id
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        index = client.prepare_index_params()
        params = {"M": HNSW_NEIGHBOURS, "efConstruction": HNSW_BUILD_DEPTH} if location.index_type == "HNSW" else {}
        index.add_index("vector", index_type=location.index_type, metric_type="IP", params=params)
        # Strong: a search sees every insert that returned before it (an ingest's own gate, a test).
        client.create_collection(location.collection, schema=schema, index_params=index, consistency_level="Strong")
    client.load_collection(location.collection)  # a collection reopened by a new process starts released
    return client


class MilvusVectorSegment:
    """A segment whose vectors are a Milvus partition; before it is saved, a FAISS segment in memory.

    A writer's pending segment is searched locally (its own gate, its own questions) until the
    store saves it; a loaded one is searched in Milvus.
    """

    def __init__(
        self,
        location: MilvusLocation,
        ids: np.ndarray,
        windows: Windows,
        partition: str | None = None,
        local: VectorSegment | None = None,
    ) -> None:
        self.location = location
        self.ids = ids  # ascending
        self.windows = windows
        self.partition = partition
        self._local = local
        self.approximate = location.index_type == "HNSW"

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls,
        location: MilvusLocation,
        ids: np.ndarray,
        vectors: np.ndarray,
        windows: dict[int, np.ndarray],
        dimension: int,
    ) -> "MilvusVectorSegment":
        """A pending segment of this collection (`SegmentedVectors` builds them through a partial)."""
        local = VectorSegment.build(ids, vectors, windows, dimension)
        return cls(location, local.ids, local.windows, local=local)

    def live(self, deleted: np.ndarray) -> np.ndarray:
        return self.ids[~members(self.ids, deleted)]

    def search(self, query: np.ndarray, k: int, admitted: np.ndarray | None, deleted: np.ndarray) -> Scored:
        if self._local is not None:
            return self._local.search(query, k, admitted, deleted)
        if admitted is not None:
            admitted = admitted[members(admitted, self.ids)]
            if not len(admitted):
                return []
            expression = f"id in {admitted.tolist()}"
        else:
            gone = deleted[members(deleted, self.ids)]
            expression = f"id not in {gone.tolist()}" if len(gone) else ""
        params = {"ef": max(HNSW_SEARCH_DEPTH, k)} if self.approximate else {}
        found = _client(self.location).search(
            self.location.collection,
            data=[query[0].tolist()],
            anns_field="vector",
            limit=min(k, len(self), _LARGEST_LIMIT),
            filter=expression,
            partition_names=[self.partition],
            output_fields=[],
            search_params={"metric_type": "IP", "params": params},
        )
        hits = [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]
        return sorted(hits, key=lambda item: (-item[1], item[0]))  # ties by id, as FAISS breaks them

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these ids, in their order."""
        if self._local is not None:
            return self._local.vectors_of(ids)
        client = _client(self.location)
        found: dict[int, list[float]] = {}
        for start in range(0, len(ids), _QUERY_BATCH):
            batch = ids[start : start + _QUERY_BATCH].tolist()
            rows = client.query(
                self.location.collection,
                filter=f"id in {batch}",
                output_fields=["vector"],
                partition_names=[self.partition],
            )
            found |= {int(row["id"]): row["vector"] for row in rows}
        return np.array([found[int(i)] for i in ids], dtype=np.float32).reshape(len(ids), -1)

    def save(self, directory: Path) -> None:
        """Insert the vectors as a new partition; its name is written first, so a crash leaks nothing."""
        assert self._local is not None, "a loaded segment is already saved"
        directory.mkdir(parents=True, exist_ok=True)
        partition = f"p_{uuid.uuid4().hex}"
        dimension = self._local.index.d
        pointer = {**self.location.describe(), "partition": partition, "dimension": dimension}
        (directory / POINTER).write_text(json.dumps(pointer))
        np.save(directory / "ids.npy", self.ids)
        self.windows.save(directory)
        client = _collection(self.location, dimension)
        client.create_partition(self.location.collection, partition)
        rows = [{"id": int(i), "vector": v} for i, v in zip(self.ids, self._local.vectors_of(self.ids), strict=True)]
        for start in range(0, len(rows), _INSERT_BATCH):
            client.insert(self.location.collection, rows[start : start + _INSERT_BATCH], partition_name=partition)

    @classmethod
    def load(cls, directory: Path) -> "MilvusVectorSegment":
        location, partition, dimension = _read_pointer(directory)
        _collection(location, dimension)
        return cls(location, np.load(directory / "ids.npy"), Windows.load(directory, dimension), partition)


def is_milvus_segment(directory: Path) -> bool:
    return (directory / POINTER).exists()


def _read_pointer(directory: Path) -> tuple[MilvusLocation, str, int]:
    pointer = json.loads((directory / POINTER).read_text())
    location = MilvusLocation(pointer["uri"], pointer["collection"], pointer["index_type"])
    return location, pointer["partition"], int(pointer["dimension"])


def discard(directory: Path) -> None:
    """Drop the partition a segment folder names, if any (before the folder is deleted)."""
    if is_milvus_segment(directory):
        location, partition, _ = _read_pointer(directory)
        client = _client(location)
        if client.has_collection(location.collection) and client.has_partition(location.collection, partition):
            _drop_partition(client, location.collection, partition)


def sweep(location: MilvusLocation, folders: list[Path]) -> None:
    """Drop the partitions none of these segment folders names: left by a writer a crash cut short.

    A collection belongs to one index (ASSISTANT_VECTOR_STORE names it), so what its folders do
    not name is no one's.
    """
    kept = {_read_pointer(folder)[1] for folder in folders if is_milvus_segment(folder)}
    client = _client(location)
    if client.has_collection(location.collection):
        for partition in client.list_partitions(location.collection):
            if partition != "_default" and partition not in kept:
                _drop_partition(client, location.collection, partition)


def _drop_partition(client: Any, collection: str, partition: str) -> None:
    try:
        client.drop_partition(collection, partition)
    except Exception:  # a Milvus server drops only a released partition; milvus-lite cannot release one
        client.release_partitions(collection, [partition])
        client.drop_partition(collection, partition)
