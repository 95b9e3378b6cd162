"""The index through the Assistant facade, with the fake embedder: incremental, atomic, safe."""

import hashlib
import threading

import pytest

from assistant.errors import IndexBusyError, IndexMismatchError, NotFoundError
from assistant.index import IndexStore, Snapshot
from assistant.sample import write_pdf
from assistant.service import Assistant
from assistant.settings import Settings


def sources(report_list):
    return sorted(s.rsplit("/", 1)[-1] for s in report_list)


def test_add_then_search_in_arabic_and_english(assistant, corpus):
    report = assistant.ingest([corpus])
    assert sources(report.added) == ["budget.txt", "football.md", "kuwait.txt"]
    top = assistant.search("اجتماع الكويت والاتصالات", k=1)[0]
    assert top.source.endswith("kuwait.txt")
    assert top.text in (corpus / "kuwait.txt").read_text(encoding="utf-8")
    assert assistant.search("annual budget for hospitals", k=1)[0].source.endswith("budget.txt")


def test_hit_text_is_the_indexed_text_at_its_offsets(assistant, corpus):
    assistant.ingest([corpus])
    snapshot = assistant.snapshot()
    football = next(d for d in snapshot.documents.values() if d.source.endswith("football.md"))
    assert football.content_hash == hashlib.sha256((corpus / "football.md").read_bytes()).hexdigest()
    assert football.doc_id == football.content_hash[:16]
    for hit in assistant.search("كأس تونس", k=3):
        assert snapshot.documents[hit.doc_id].text[hit.start : hit.end] == hit.text


def test_second_add_is_incremental(assistant, corpus):
    assistant.ingest([corpus])
    generation = assistant.store.live_generation()
    report = assistant.ingest([corpus])
    assert sources(report.unchanged) == ["budget.txt", "football.md", "kuwait.txt"]
    assert not report.changed
    assert assistant.store.live_generation() == generation  # nothing rewritten


def test_changed_file_replaces_its_chunks(assistant, corpus):
    assistant.ingest([corpus])
    old_id = assistant.search("كأس تونس", k=1)[0].doc_id
    (corpus / "football.md").write_text("مباراة الملاكمة في القاهرة انتهت بفوز البطل المصري.", encoding="utf-8")
    report = assistant.ingest([corpus])
    assert sources(report.updated) == ["football.md"]
    snapshot = assistant.snapshot()
    assert old_id not in snapshot.documents
    assert all(c.doc_id != old_id for c in snapshot.chunks)
    assert assistant.search("الملاكمة في القاهرة", k=1)[0].source.endswith("football.md")
    assert snapshot.manifest.documents == 3


def test_prune_removes_documents_whose_files_are_gone(assistant, corpus):
    assistant.ingest([corpus])
    (corpus / "budget.txt").unlink()
    assert assistant.ingest([corpus]).removed == []  # without --prune nothing is removed
    report = assistant.ingest([corpus], prune=True)
    assert sources(report.removed) == ["budget.txt"]
    assert {d.source.rsplit("/", 1)[-1] for d in assistant.snapshot().documents.values()} == {
        "kuwait.txt",
        "football.md",
    }


def test_remove_by_id_and_by_path(assistant, corpus):
    assistant.ingest([corpus])
    snapshot = assistant.snapshot()
    kuwait = next(d for d in snapshot.documents.values() if d.source.endswith("kuwait.txt"))
    assistant.remove(kuwait.doc_id)
    assistant.remove(str(corpus / "budget.txt"))
    remaining = assistant.snapshot()
    assert [d.source.rsplit("/", 1)[-1] for d in remaining.documents.values()] == ["football.md"]
    assert remaining.vectors.ntotal == len(remaining.chunks)
    assert all(hit.source.endswith("football.md") for hit in assistant.search("اجتماع الكويت", k=5))
    with pytest.raises(NotFoundError):
        assistant.remove("no-such-document")


def test_same_content_under_two_names_is_indexed_once(assistant, corpus):
    (corpus / "copy.txt").write_bytes((corpus / "kuwait.txt").read_bytes())
    report = assistant.ingest([corpus])
    assert len(report.added) == 3
    assert any("same content" in w for w in report.warnings)


def test_bad_files_fail_one_by_one_and_the_rest_is_indexed(assistant, corpus, tmp_path):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "fake.pdf").write_bytes(b"MZ\x90\x00 this is an executable")
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.7\n%%EOF garbage")
    (corpus / "image.jpg").write_bytes(b"\xff\xd8\xff")
    (corpus / "binary.txt").write_bytes(bytes(range(256)))
    write_pdf(corpus / "good.pdf", ["تقرير عن اجتماع وزراء الخارجية في الدوحة"])
    report = assistant.ingest([corpus, tmp_path / "missing-folder"])
    reasons = {f.source.rsplit("/", 1)[-1]: f.reason for f in report.failed}
    assert set(reasons) == {"empty.txt", "fake.pdf", "corrupt.pdf", "image.jpg", "binary.txt", "missing-folder"}
    assert "empty" in reasons["empty.txt"]
    assert "not PDF" in reasons["fake.pdf"]
    assert "unsupported" in reasons["image.jpg"]
    assert sources(report.added) == ["budget.txt", "football.md", "good.pdf", "kuwait.txt"]
    assert assistant.snapshot().manifest.last_failures == report.failed
    assert assistant.search("وزراء الخارجية في الدوحة", k=1)[0].source.endswith("good.pdf")


def test_a_file_that_turns_corrupt_keeps_its_indexed_version(assistant, corpus):
    write_pdf(corpus / "report.pdf", ["تقرير عن اجتماع وزراء الخارجية في الدوحة"])
    assistant.ingest([corpus])
    (corpus / "report.pdf").write_bytes(b"%PDF-1.7 truncated")
    report = assistant.ingest([corpus])
    assert [f.source.rsplit("/", 1)[-1] for f in report.failed] == ["report.pdf"]
    assert assistant.search("وزراء الخارجية في الدوحة", k=1)[0].source.endswith("report.pdf")


def test_index_survives_a_crash_at_any_step_of_a_commit(assistant, corpus, monkeypatch):
    assistant.ingest([corpus])
    before = {d.doc_id for d in assistant.snapshot().documents.values()}
    (corpus / "new.txt").write_text("وثيقة جديدة عن مؤتمر بغداد", encoding="utf-8")

    import assistant.index.store as store_module

    for target in ["Snapshot.save", "os.rename", "os.replace"]:
        owner, name = (Snapshot, "save") if target == "Snapshot.save" else (store_module.os, target[3:])
        original = getattr(owner, name)

        def crash(*args, _original=original, **kwargs):
            raise KeyboardInterrupt("simulated Ctrl-C")

        monkeypatch.setattr(owner, name, crash)
        with pytest.raises(KeyboardInterrupt):
            assistant.ingest([corpus])
        monkeypatch.setattr(owner, name, original)
        fresh = Assistant(assistant.settings)
        assert {d.doc_id for d in fresh.snapshot().documents.values()} == before, target
        assert fresh.search("كأس تونس", k=1)

    report = assistant.ingest([corpus])  # the next writer cleans up and succeeds
    assert sources(report.added) == ["new.txt"]
    assert not list((assistant.settings.index_dir / "generations").glob(".unfinished-*"))


def test_one_writer_at_a_time_while_readers_keep_searching(assistant, corpus):
    assistant.ingest([corpus])
    holding = threading.Event()
    release = threading.Event()

    def writer():
        with assistant.store.writing():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    holding.wait(5)
    try:
        with pytest.raises(IndexBusyError, match="another process"):
            Assistant(assistant.settings).ingest([corpus])
        assert Assistant(assistant.settings).search("كأس تونس", k=1)[0].source.endswith("football.md")
    finally:
        release.set()
        thread.join()


def test_index_built_with_another_embedder_is_refused_with_a_fix(assistant, corpus, settings):
    assistant.ingest([corpus])
    other = Assistant(settings.model_copy(update={"fake_embedder_dim": 64}))
    other.embedder.model = "another-model"
    with pytest.raises(IndexMismatchError, match="rebuild it"):
        other.search("الكويت")
    with pytest.raises(IndexMismatchError):
        other.ingest([corpus])


def test_changed_chunk_settings_refuse_writes_but_allow_reads(assistant, corpus, settings):
    assistant.ingest([corpus])
    resized = Assistant(settings.model_copy(update={"chunk_size": 500}))
    assert resized.search("الكويت", k=1)
    with pytest.raises(IndexMismatchError, match="chunks of 300/60"):
        resized.ingest([corpus])


def test_searching_without_an_index_says_how_to_make_one(assistant):
    with pytest.raises(NotFoundError, match="index add"):
        assistant.search("الكويت")


def test_old_generations_are_cleaned_up(assistant, corpus):
    for i in range(4):
        (corpus / f"note{i}.txt").write_text(f"ملاحظة رقم {i} عن الاجتماع", encoding="utf-8")
        assistant.ingest([corpus])
    generations = list((assistant.settings.index_dir / "generations").glob("g-*"))
    assert len(generations) == 2
    assert IndexStore(assistant.settings.index_dir).load().manifest.documents == 7


def test_langchain_retriever_returns_documents_with_citations(assistant, corpus):
    assistant.ingest([corpus])
    documents = assistant.retriever(k=2).invoke("نهائي كأس تونس لكرة القدم")
    assert len(documents) == 2
    assert documents[0].metadata["source"].endswith("football.md")
    assert {"doc_id", "page_start", "page_end", "score", "dense_rank", "keyword_rank"} <= set(documents[0].metadata)
    assert "الترجي" in documents[0].page_content


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "x"))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "fake")
    monkeypatch.setenv("ASSISTANT_CHUNK_SIZE", "400")
    settings = Settings()
    assert (settings.index_dir, settings.embedder, settings.chunk_size) == (tmp_path / "x", "fake", 400)
