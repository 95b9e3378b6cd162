import sqlite3

import numpy as np

from assistant.embedding_cache import EmbeddingCache
from assistant.embeddings import FakeEmbedder
from assistant.service import Assistant
from tests.conftest import FOOTBALL_AR, KUWAIT_AR


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__(64)
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        return super().embed_documents(texts)


def test_a_text_is_embedded_once_and_its_vector_is_the_embedders(tmp_path):
    embedder = CountingEmbedder()
    cache = EmbeddingCache(tmp_path, embedder)
    texts = ["عقدت مجموعة العمل اجتماعها في الكويت", "The budget rises", "عقدت مجموعة العمل اجتماعها في الكويت"]
    first = cache.embed_documents(texts)
    assert embedder.embedded == texts[:2]  # the repeat within the call is embedded once
    np.testing.assert_array_equal(first, FakeEmbedder(64).embed_documents(texts))
    again = EmbeddingCache(tmp_path, embedder).embed_documents(texts[::-1])  # a new process reads the file
    assert embedder.embedded == texts[:2]
    np.testing.assert_array_equal(again, first[::-1])
    assert cache.embed_documents([]).shape == (0, 64)


def test_each_embedder_model_has_its_own_vectors(tmp_path):
    small, large = EmbeddingCache(tmp_path, FakeEmbedder(64)), EmbeddingCache(tmp_path, FakeEmbedder(128))
    assert small.path != large.path
    assert large.embed_documents(["اجتماع الكويت"]).shape == (1, 128)


def test_a_damaged_cache_is_set_aside_not_fatal(tmp_path):
    embedder = CountingEmbedder()
    path = EmbeddingCache(tmp_path, embedder).path
    path.write_bytes(b"not a database" * 100)
    for leftover in tmp_path.glob("*.sqlite-*"):
        leftover.unlink()
    cache = EmbeddingCache(tmp_path, embedder)
    assert cache.embed_documents(["اجتماع الكويت"]).shape == (1, 64)
    assert path.with_suffix(".damaged").exists()


def test_a_rebuilt_index_embeds_nothing_again(settings, tmp_path):
    """A new index directory with the same embedder: every chunk and window vector comes from the cache."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "kuwait.txt").write_text(KUWAIT_AR, encoding="utf-8")
    (folder / "football.txt").write_text(FOOTBALL_AR, encoding="utf-8")
    first = CountingEmbedder()
    Assistant(settings.model_copy(update={"fake_embedder_dim": 64}), embedder=first).ingest([folder])
    assert first.embedded
    rebuilt = CountingEmbedder()
    other = settings.model_copy(update={"index_dir": tmp_path / "rebuilt", "fake_embedder_dim": 64})
    assistant = Assistant(other, embedder=rebuilt)
    report = assistant.ingest([folder])
    assert len(report.added) == 2
    assert rebuilt.embedded == []
    assert assistant.search("الكويت", k=1)[0].source.endswith("kuwait.txt")


def test_the_cache_can_be_turned_off(settings, tmp_path):
    (tmp_path / "kuwait.txt").write_text(KUWAIT_AR, encoding="utf-8")
    Assistant(settings.model_copy(update={"embedding_cache": False})).ingest([tmp_path / "kuwait.txt"])
    assert not (settings.data_dir / "embedding-cache").exists()


def test_the_cache_file_holds_one_row_per_distinct_text(tmp_path):
    cache = EmbeddingCache(tmp_path, FakeEmbedder(64))
    cache.embed_documents(["أ ب ج", "أ ب ج", "د ه و"])
    with sqlite3.connect(cache.path) as connection:
        assert connection.execute("SELECT count(*) FROM vectors").fetchone()[0] == 2
