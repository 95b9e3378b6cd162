"""The Milvus vector store (milvus-lite here): the same results as FAISS, chosen by one setting.

The service tests of test_index.py, test_evaluation.py and test_ui.py run on both backends
(ON_EVERY_VECTOR_STORE); these check what is Milvus's own: the setting, equal rankings side by
side, a file another process holds, and indexes that share one Milvus.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.errors import SettingsError
from assistant.index import milvus
from assistant.index.milvus import MilvusLocation, milvus_location
from assistant.service import Assistant
from assistant.types import SearchFilter
from tests.conftest import release_milvus_lite

QUERIES = ["اجتماع الكويت والاتصالات", "نهائي كأس تونس", "annual budget for hospitals", "الدعاية الإلكترونية"]


def test_the_setting_names_faiss_a_server_or_a_lite_file(tmp_path):
    assert milvus_location("faiss") is None
    assert milvus_location("milvus://vectors.ministry.local") == MilvusLocation(
        "http://vectors.ministry.local:19530", "assistant_chunks", "HNSW"
    )
    assert milvus_location("milvus://10.0.0.5:19531/archive?index=flat") == MilvusLocation(
        "http://10.0.0.5:19531", "archive", "FLAT"
    )
    assert milvus_location(str(tmp_path / "v.db")) == MilvusLocation(str(tmp_path / "v.db"))
    for wrong in ("milvus://", "milvus://host?index=IVF_PQ", "qdrant://host", "vectors.sqlite"):
        with pytest.raises(SettingsError):
            milvus_location(wrong)


@pytest.fixture
def both(settings, corpus, tmp_path):
    """The corpus indexed twice with the same settings: FAISS files, and milvus-lite."""
    lite = tmp_path / "lite" / "vectors.db"
    faiss = Assistant(settings)
    on_milvus = Assistant(
        settings.model_copy(update={"index_dir": tmp_path / "milvus-index", "vector_store": str(lite)})
    )
    for assistant in (faiss, on_milvus):
        assistant.ingest([corpus])
    yield faiss, on_milvus
    release_milvus_lite(lite)


def ranking(hits):
    return [(hit.chunk_id, round(hit.score, 5)) for hit in hits]


def test_both_backends_give_the_same_results_through_adds_filters_and_removals(both, corpus):
    faiss, on_milvus = both
    assert any(milvus.is_milvus_segment(f) for f in (on_milvus.settings.index_dir / "segments").iterdir())
    documents = {d.source.rsplit("/", 1)[-1]: d.doc_id for d in faiss.snapshot().documents()}
    scopes = [None, SearchFilter(documents=[documents["kuwait.txt"]]), SearchFilter(languages=["en"])]
    for query in QUERIES:
        for scope in scopes:
            assert ranking(on_milvus.search(query, k=5, scope=scope)) == ranking(faiss.search(query, k=5, scope=scope))
    (corpus / "doha.txt").write_text("اجتمع وزراء الخارجية في الدوحة لبحث الأمن الإقليمي.", encoding="utf-8")
    for assistant in both:
        assistant.ingest([corpus])
        assistant.remove(str(corpus / "football.md"))
    for query in [*QUERIES, "وزراء الخارجية في الدوحة"]:
        assert ranking(on_milvus.search(query, k=5)) == ranking(faiss.search(query, k=5))
    assert not any(hit.source.endswith("football.md") for hit in on_milvus.search("نهائي كأس تونس", k=5))
    assert on_milvus.ask("كم دولة شاركت في اجتماع الكويت؟").text == faiss.ask("كم دولة شاركت في اجتماع الكويت؟").text


def test_a_scope_that_admits_nothing_finds_nothing_in_milvus(both):
    _, on_milvus = both
    assert on_milvus.search("اجتماع الكويت", k=5, scope=SearchFilter(collections=["no-such-collection"])) == []


def test_two_indexes_on_one_milvus_keep_their_own_partitions(settings, corpus, tmp_path):
    """An evaluation's index beside the live one, on the same file: neither sweeps the other's vectors."""
    lite = str(tmp_path / "shared" / "vectors.db")
    first = Assistant(settings.model_copy(update={"index_dir": tmp_path / "a", "vector_store": lite}))
    second = Assistant(settings.model_copy(update={"index_dir": tmp_path / "b", "vector_store": lite}))
    try:
        first.ingest([corpus / "kuwait.txt"])
        second.ingest([corpus / "football.md"])
        first.ingest([corpus / "budget.txt"])  # a new writer of the first sweeps what its folders do not name
        assert Assistant(second.settings).search("نهائي كأس تونس", k=1)[0].source.endswith("football.md")
        assert Assistant(first.settings).search("اجتماع الكويت", k=1)[0].source.endswith("kuwait.txt")
    finally:
        release_milvus_lite(Path(lite))


def test_a_lite_file_held_by_another_process_is_a_clear_message(tmp_path):
    lite = tmp_path / "held" / "vectors.db"
    lite.parent.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pymilvus import MilvusClient; MilvusClient({str(lite)!r}); print('ok', flush=True); input()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(SettingsError, match="one process at a time"):
            milvus._client(MilvusLocation(str(lite)))
    finally:
        holder.kill()
        holder.wait()


def test_the_cli_runs_unchanged_on_milvus(corpus, tmp_path):
    def run(*args, store):
        env = {
            "ASSISTANT_EMBEDDER": "fake",
            "ASSISTANT_INDEX_DIR": str(tmp_path / Path(store).stem),
            "ASSISTANT_VECTOR_STORE": store,
        }
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    lite = str(tmp_path / "cli" / "vectors.db")  # the index in tmp_path/vectors, FAISS's in tmp_path/faiss
    try:
        results = {}
        for store in ("faiss", lite):
            run("index", "add", str(corpus), store=store)
            run("index", "remove", str(corpus / "budget.txt"), store=store)
            results[store] = json.loads(run("search", "اجتماع الكويت", "-k", "3", "--json", store=store))
        assert results[lite] == results["faiss"]
        assert results[lite][0]["source"].endswith("kuwait.txt")
    finally:
        release_milvus_lite(Path(lite))
