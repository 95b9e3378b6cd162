"""The index through the Assistant facade, with the fake embedder: incremental, atomic, safe."""

import faulthandler
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from assistant.errors import IndexBusyError, IndexMismatchError, NotFoundError
from assistant.index import IndexStore, milvus
from assistant.index.milvus import MilvusVectorSegment
from assistant.index.store import LARGEST_MERGE, MERGE_FACTOR, _merge_plan
from assistant.index.vectors import VectorSegment
from assistant.llm import ScriptedChatModel
from assistant.sample import write_pdf
from assistant.service import Assistant
from assistant.settings import Settings

ON_EVERY_VECTOR_STORE = True  # every test here that builds an index runs on FAISS and on milvus-lite


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
    football = next(d for d in snapshot.documents() if d.source.endswith("football.md"))
    assert football.content_hash == hashlib.sha256((corpus / "football.md").read_bytes()).hexdigest()
    assert football.doc_id == football.content_hash[:16]
    for hit in assistant.search("كأس تونس", k=3):
        assert snapshot.document(hit.doc_id).text[hit.start : hit.end] == hit.text


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
    assert snapshot.document(old_id) is None
    assert all(c.doc_id != old_id for c in snapshot.chunks())
    assert assistant.search("الملاكمة في القاهرة", k=1)[0].source.endswith("football.md")
    assert snapshot.manifest.documents == 3


def test_prune_removes_documents_whose_files_are_gone(assistant, corpus):
    assistant.ingest([corpus])
    (corpus / "budget.txt").unlink()
    assert assistant.ingest([corpus]).removed == []  # without --prune nothing is removed
    report = assistant.ingest([corpus], prune=True)
    assert sources(report.removed) == ["budget.txt"]
    assert {d.source.rsplit("/", 1)[-1] for d in assistant.snapshot().documents()} == {
        "kuwait.txt",
        "football.md",
    }


def test_remove_by_id_and_by_path(assistant, corpus):
    assistant.ingest([corpus])
    snapshot = assistant.snapshot()
    kuwait = next(d for d in snapshot.documents() if d.source.endswith("kuwait.txt"))
    assistant.remove(kuwait.doc_id)
    assistant.remove(str(corpus / "budget.txt"))
    remaining = assistant.snapshot()
    assert [d.source.rsplit("/", 1)[-1] for d in remaining.documents()] == ["football.md"]
    assert remaining.manifest.chunks == len(remaining.chunks())  # the vectors counted
    assert all(hit.source.endswith("football.md") for hit in assistant.search("اجتماع الكويت", k=5))
    with pytest.raises(NotFoundError):
        assistant.remove("no-such-document")


def test_same_content_under_two_names_is_indexed_once_and_found_at_both(assistant, corpus):
    (corpus / "copy.txt").write_bytes((corpus / "kuwait.txt").read_bytes())
    report = assistant.ingest([corpus])
    assert len(report.added) == 3
    assert f"{corpus / 'kuwait.txt'}: same content as {corpus / 'copy.txt'}; not indexed twice" in report.warnings
    kuwait = assistant.snapshot().find_document(str(corpus / "copy.txt"))
    assert kuwait is not None
    assert sources(kuwait.locations) == ["copy.txt", "kuwait.txt"]
    (corpus / "kuwait.txt").unlink()  # the copy keeps the document through a prune
    report = assistant.ingest([corpus], prune=True)
    assert report.removed == []
    assert assistant.snapshot().document(kuwait.doc_id).locations == [str(corpus / "copy.txt")]


def test_a_renamed_file_is_moved_not_lost_even_with_prune(assistant, corpus):
    assistant.ingest([corpus])
    kuwait = assistant.snapshot().find_document(str(corpus / "kuwait.txt"))
    (corpus / "kuwait.txt").rename(corpus / "الكويت-2015.txt")
    report = assistant.ingest([corpus], prune=True)
    assert sources(report.moved) == ["الكويت-2015.txt"]
    assert report.removed == []
    assert report.added == []
    assert any("moved from" in w and "kuwait.txt" in w for w in report.warnings)
    document = assistant.snapshot().document(kuwait.doc_id)  # same document, same chunks
    assert document.locations == [str(corpus / "الكويت-2015.txt")]
    assert assistant.search("اجتماع الكويت والاتصالات", k=1)[0].source.endswith("الكويت-2015.txt")


def test_a_rename_then_a_separate_prune_keeps_the_document(assistant, corpus):
    assistant.ingest([corpus])
    (corpus / "budget.txt").rename(corpus / "budget-2026.txt")
    assert sources(assistant.ingest([corpus]).moved) == ["budget-2026.txt"]  # no prune: moved all the same
    report = assistant.ingest([corpus], prune=True)
    assert report.removed == []
    assert assistant.search("annual budget for hospitals", k=1)[0].source.endswith("budget-2026.txt")


def test_a_file_moved_to_another_folder_is_moved(assistant, corpus, tmp_path):
    assistant.ingest([corpus])
    archive = tmp_path / "archive" / "2015"
    archive.mkdir(parents=True)
    shutil.move(corpus / "football.md", archive / "football.md")
    report = assistant.ingest([corpus, tmp_path / "archive"], prune=True)
    assert report.moved == [str(archive / "football.md")]
    assert report.removed == []
    assert assistant.snapshot().manifest.documents == 3


def test_two_files_that_swap_contents_are_both_kept(assistant, corpus):
    assistant.ingest([corpus])
    kuwait, budget = (corpus / "kuwait.txt").read_bytes(), (corpus / "budget.txt").read_bytes()
    (corpus / "kuwait.txt").write_bytes(budget)
    (corpus / "budget.txt").write_bytes(kuwait)
    report = assistant.ingest([corpus], prune=True)
    assert sources(report.updated) == ["budget.txt", "kuwait.txt"]
    assert report.removed == []
    assert assistant.search("اجتماع الكويت والاتصالات", k=1)[0].source.endswith("budget.txt")
    assert assistant.snapshot().manifest.documents == 3


def test_prune_gives_the_same_result_from_any_working_directory(assistant, corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(corpus.parent)
    assistant.ingest(["docs"])  # a relative path, as typed
    assert all(os.path.isabs(d.source) for d in assistant.snapshot().documents())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = assistant.ingest([corpus], prune=True)
    assert report.removed == []
    assert not report.changed
    assert sources(report.unchanged) == ["budget.txt", "football.md", "kuwait.txt"]
    assert assistant.remove("../docs/kuwait.txt").endswith("kuwait.txt")  # paths resolve from here too


def test_removing_or_pruning_the_last_document_leaves_an_empty_working_index(assistant, corpus, tmp_path):
    assistant.ingest([corpus / "kuwait.txt", corpus / "budget.txt"])
    assistant.remove(str(corpus / "kuwait.txt"))
    (corpus / "budget.txt").unlink()
    report = assistant.ingest([corpus / "football.md"], prune=True)
    assert sources(report.removed) == ["budget.txt"]
    assistant.remove(str(corpus / "football.md"))
    assert assistant.snapshot().manifest.documents == 0
    assert assistant.search("اجتماع الكويت", k=5) == []
    assert not assistant.ask("كم دولة شاركت في اجتماع الكويت؟").answered
    assert sources(assistant.ingest([corpus]).added) == ["football.md", "kuwait.txt"]  # and it grows again


def test_an_answer_is_read_from_one_generation_while_a_writer_switches(settings, corpus):
    model = ScriptedChatModel(replies=["عقدت مجموعة العمل اجتماعها في الكويت بمشاركة ثماني وعشرين دولة [1]."])
    assistant = Assistant(settings, chat_model=model)
    assistant.ingest([corpus])
    first = assistant.store.live_generation()
    events = assistant.ask_stream("كم دولة شاركت في اجتماع الكويت؟")
    next(events)  # the answer has started from the first generation
    (corpus / "kuwait.txt").write_text("اجتماع الكويت حضرته خمس عشرة دولة فقط هذه المرة.", encoding="utf-8")
    Assistant(assistant.settings).ingest([corpus])
    answer = [e for e in events if not isinstance(e, str)][-1]
    assert assistant.store.live_generation() != first
    assert answer.generation == first
    assert answer.answered
    assert "ثماني وعشرين" in answer.citations[0].quote
    texts = {d.doc_id: d.text for d in IndexStore(assistant.settings.index_dir).load().documents()}
    assert any(p.hit.doc_id not in texts for p in answer.passages)  # the old Kuwait text, no longer live


def test_bad_files_fail_one_by_one_and_the_rest_is_indexed(assistant, corpus, tmp_path):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "fake.pdf").write_bytes(b"MZ\x90\x00 this is an executable")
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.7\n%%EOF garbage")
    (corpus / "image.jpg").write_bytes(b"\xff\xd8\xff")  # a JPEG's first bytes, then nothing
    (corpus / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    (corpus / "binary.txt").write_bytes(bytes(range(256)))
    write_pdf(corpus / "good.pdf", ["تقرير عن اجتماع وزراء الخارجية في الدوحة"])
    report = assistant.ingest([corpus, tmp_path / "missing-folder"])
    reasons = {f.source.rsplit("/", 1)[-1]: f.reason for f in report.failed}
    assert set(reasons) == {
        "empty.txt", "fake.pdf", "corrupt.pdf", "image.jpg", "sheet.xlsx", "binary.txt", "missing-folder"
    }  # fmt: skip
    assert "empty" in reasons["empty.txt"]
    assert "not PDF" in reasons["fake.pdf"]
    assert "not a readable PNG, JPEG or TIFF image" in reasons["image.jpg"]
    assert "unsupported" in reasons["sheet.xlsx"]
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


def test_index_survives_a_crash_at_any_step_of_a_commit(assistant, corpus, monkeypatch, settings):
    assistant.ingest([corpus])
    before = {d.doc_id for d in assistant.snapshot().documents()}
    (corpus / "new.txt").write_text("وثيقة جديدة عن مؤتمر بغداد", encoding="utf-8")

    import assistant.index.store as store_module

    def half_switched(self, connection, *args):
        # Some of the switch's rows written, then the crash: SQLite must roll all of them back.
        connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', '999')")
        connection.execute("DELETE FROM segments")
        raise KeyboardInterrupt("simulated Ctrl-C")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated Ctrl-C")

    segment = MilvusVectorSegment if settings.vector_store != "faiss" else VectorSegment
    steps = {
        "writing the segment": (segment, "save", crash),
        "naming the segment's folder": (store_module.os, "rename", crash),
        "before the switch": (IndexStore, "_switch", crash),  # with Milvus: after its partition is filled
        "during the switch": (IndexStore, "_switch", half_switched),
    }
    for step, (owner, name, replacement) in steps.items():
        with monkeypatch.context() as patched:
            patched.setattr(owner, name, replacement)
            with pytest.raises(KeyboardInterrupt):
                assistant.ingest([corpus])
        fresh = Assistant(assistant.settings)
        assert {d.doc_id for d in fresh.snapshot().documents()} == before, step
        assert fresh.search("كأس تونس", k=1), step

    report = assistant.ingest([corpus])  # the next writer cleans up and succeeds
    assert sources(report.added) == ["new.txt"]
    segments = assistant.settings.index_dir / "segments"
    assert len(list(segments.iterdir())) == 2  # the first batch's and this one's: no leftovers
    if settings.vector_store != "faiss":  # nor partitions that no segment names
        pointers = [milvus._read_pointer(folder) for folder in segments.iterdir()]
        location = pointers[0][0]
        assert sorted(milvus._client(location).list_partitions(location.collection)) == sorted(
            ["_default", *(partition for _, partition, _ in pointers)]
        )
    assert Assistant(assistant.settings).search("مؤتمر بغداد", k=1)[0].source.endswith("new.txt")


def hold_the_lock(assistant, actor, seconds):
    """A thread that holds the write lock for some seconds; returns it once the lock is held."""
    holding = threading.Event()

    def writer():
        with assistant.store.writing(actor=actor):
            holding.set()
            time.sleep(seconds)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(5)
    return thread


def test_a_writer_gives_up_after_the_timeout_and_says_who_holds_the_lock(assistant, corpus, settings):
    assistant.ingest([corpus])
    thread = hold_the_lock(assistant, "admin huda (upload)", 3)
    try:
        impatient = Assistant(settings.model_copy(update={"lock_timeout": 0.5}))
        with pytest.raises(IndexBusyError, match=r"admin huda \(upload\), pid \d+ .*waited 0.5 s"):
            impatient.ingest([corpus])
        assert Assistant(settings).search("كأس تونس", k=1)[0].source.endswith("football.md")  # readers never wait
    finally:
        thread.join()


def test_a_writer_waits_for_the_lock_and_then_does_its_work(assistant, corpus, settings):
    assistant.ingest([corpus])
    thread = hold_the_lock(assistant, "another admin", 1)
    (corpus / "new.txt").write_text("ملاحظة جديدة عن اجتماع الدوحة", encoding="utf-8")
    report = Assistant(settings.model_copy(update={"lock_timeout": 10})).ingest([corpus])
    thread.join()
    assert sources(report.added) == ["new.txt"]


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


def test_small_segments_are_merged_and_retired_ones_removed(assistant, corpus):
    folders = []
    batches = MERGE_FACTOR + 2
    for i in range(batches):
        (corpus / f"note{i}.txt").write_text(f"ملاحظة رقم {i} عن الاجتماع", encoding="utf-8")
        assistant.ingest([corpus])
        folders.append(len(list((assistant.settings.index_dir / "segments").iterdir())))
    # One segment per batch until a tier is full; then one merged segment, the merged ones kept
    # one generation more for readers that opened the previous one, then removed.
    assert folders == [*range(1, MERGE_FACTOR), MERGE_FACTOR, 2, 3]
    assert IndexStore(assistant.settings.index_dir).load().manifest.documents == 3 + batches
    for i in range(batches):
        assert assistant.search(f"ملاحظة رقم {i} عن الاجتماع", k=1)[0].source.endswith(f"note{i}.txt")


def test_a_merge_never_writes_much_more_than_the_largest_merge():
    small = {f"s{i}": (4_000, 4_000) for i in range(MERGE_FACTOR)}
    assert sorted(_merge_plan(small)) == sorted(small)  # a full tier of small segments
    final = LARGEST_MERGE // MERGE_FACTOR + 1
    assert _merge_plan({f"b{i}": (final, final) for i in range(MERGE_FACTOR)}) == []  # too large to merge again
    assert _merge_plan({"b": (3 * final, final), "c": (final, final)}) == ["b"]  # mostly tombstones: rewritten


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


def test_a_file_over_the_time_budget_is_reported_and_the_rest_indexed(assistant, corpus, settings):
    paragraphs = "".join(f"<p>فقرة رقم {i} عن اجتماع الكويت <b>مهم</b></p>" for i in range(40_000))
    (corpus / "huge.html").write_text(f"<html><body>{paragraphs}</body></html>", encoding="utf-8")  # ~2 s to read
    hurried = Assistant(settings.model_copy(update={"load_timeout": 0.2}))
    report = hurried.ingest([corpus])
    assert sources(report.added) == ["budget.txt", "football.md", "kuwait.txt"]
    (failure,) = report.failed
    assert failure.source.endswith("huge.html")
    assert failure.reason == "reading it took longer than 0.2 s (ASSISTANT_LOAD_TIMEOUT), so it was skipped"
    assert Assistant(settings).ingest([corpus]).added == [failure.source]  # with the default budget it is read


def test_a_file_that_crashes_its_reader_is_reported_and_the_rest_indexed(assistant, corpus, monkeypatch):
    from assistant import loaders

    def segfault(path):
        faulthandler.disable()  # pytest's handler would print the child's stack and module list
        os.kill(os.getpid(), signal.SIGSEGV)  # as a parser's native code would, in the child that reads files

    monkeypatch.setitem(loaders.LOADERS, ".md", segfault)
    report = assistant.ingest([corpus])
    assert sources(report.added) == ["budget.txt", "kuwait.txt"]
    (failure,) = report.failed
    assert failure.source.endswith("football.md")
    assert failure.reason == "the reader crashed on it (exit code -11), so it was skipped"


def test_files_are_read_in_a_child_whatever_the_main_script_is(corpus, tmp_path):
    """A child that re-imported the main script would fail on one read from standard input."""
    script = (
        "from assistant.service import Assistant\n"
        "from assistant.settings import Settings\n"
        f"settings = Settings(index_dir={str(tmp_path / 'piped')!r}, data_dir={str(tmp_path / 'data')!r}, "
        "embedder='fake')\n"
        f"report = Assistant(settings).ingest([{str(corpus)!r}])\n"
        "print(len(report.added), len(report.failed))\n"
    )
    result = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["3", "0"], result.stderr
