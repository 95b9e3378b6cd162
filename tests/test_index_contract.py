"""One contract for every index backend, held against the in-memory reference implementations.

Each backend must give the reference's results: the same ids, the same order, the same scores,
with and without a filter, after additions and removals. The texts are Arabic and English.
"""

from functools import partial

import numpy as np
import pytest

from assistant.index import vectors as vector_backend
from assistant.index.docstore import SqliteDocumentStore, connect
from assistant.index.keyword import KeywordSegment, SegmentedBm25
from assistant.index.memory import MemoryDocumentStore, MemoryKeywordIndex, MemoryVectorIndex
from assistant.index.milvus import MilvusLocation, MilvusVectorSegment
from assistant.index.vectors import SegmentedVectors, VectorSegment
from assistant.textnorm import tokenize
from assistant.types import Chunk, PageInfo, SearchFilter, SourceDocument
from tests.conftest import release_milvus_lite


def vectors_pending(ids, vectors):
    index = SegmentedVectors(8)
    index.add(ids, vectors)
    return index


def vectors_in_segments(ids, vectors):
    """Three sealed segments (ids interleaved, as merges and removals leave them) and one pending."""
    parts = [VectorSegment.build(ids[i:-2:3], vectors[i:-2:3], {}, 8) for i in range(3)]
    index = SegmentedVectors(8, parts)
    index.add(ids[-2:], vectors[-2:])
    return index


def vectors_merged(ids, vectors):
    """One segment merged from three, after a vector was tombstoned and put back by a later batch."""
    parts = [VectorSegment.build(ids[i::3], vectors[i::3], {}, 8) for i in range(3)]
    index = SegmentedVectors(8, parts)
    index.remove(ids[:1])
    merged = SegmentedVectors(8, [index.merged(parts)])
    merged.add(ids[:1], vectors[:1])
    return merged


def vectors_compressed_saved(ids, vectors, folder):
    """Segments scanned in 8-bit codes, then scored exactly (a filter inside the scan), saved and read back."""
    parts = []
    for i in range(2):
        segment = VectorSegment.build(ids[i::2], vectors[i::2], {}, 8)
        segment.save(folder / str(i))
        parts.append(VectorSegment.load(folder / str(i)))
    assert all(part.approximate for part in parts)
    return SegmentedVectors(8, parts)


def vectors_in_milvus(ids, vectors, folder):
    """Segments whose vectors are milvus-lite partitions, saved and read back, and one pending."""
    build = partial(MilvusVectorSegment.build, MilvusLocation(str(folder / "vectors.db")))
    parts = []
    for i in range(2):
        build(ids[i:-2:2], vectors[i:-2:2], {}, 8).save(folder / str(i))
        parts.append(MilvusVectorSegment.load(folder / str(i)))
    index = SegmentedVectors(8, parts, build=build)
    index.add(ids[-2:], vectors[-2:])
    return index


def vectors_merged_in_milvus(ids, vectors, folder):
    """A FAISS segment and a Milvus one merged into a Milvus partition, after a removal and a re-add."""
    build = partial(MilvusVectorSegment.build, MilvusLocation(str(folder / "vectors.db")))
    build(ids[1::2], vectors[1::2], {}, 8).save(folder / "milvus")
    parts = [VectorSegment.build(ids[::2], vectors[::2], {}, 8), MilvusVectorSegment.load(folder / "milvus")]
    index = SegmentedVectors(8, parts, build=build)
    index.remove(ids[:2])
    index.merged(parts).save(folder / "merged")
    merged = SegmentedVectors(8, [MilvusVectorSegment.load(folder / "merged")], build=build)
    merged.add(ids[:2], vectors[:2])
    return merged


def keyword_pending(ids, rows):
    index = SegmentedBm25()
    index.add(ids, rows)
    return index


def keyword_in_segments(ids, rows):
    parts = [KeywordSegment.build(ids[i:-2:3], rows[i:-2:3]) for i in range(3)]
    index = SegmentedBm25(parts)
    index.add(ids[-2:], rows[-2:])
    return index


def keyword_merged(ids, rows):
    """One segment merged from three, after a row was tombstoned and put back by a later batch."""
    parts = [KeywordSegment.build(ids[i::3], rows[i::3]) for i in range(3)]
    index = SegmentedBm25(parts)
    index.remove([ids[0]])
    merged = SegmentedBm25([index.merged(parts)])
    merged.add(ids[:1], rows[:1])
    return merged


VECTOR_BACKENDS = {
    "faiss, pending": vectors_pending,
    "faiss, segments": vectors_in_segments,
    "faiss, merged": vectors_merged,
    "faiss compressed, filter in the scan": vectors_compressed_saved,
    "faiss compressed, small filter exact": vectors_compressed_saved,
    "milvus-lite, partitions": vectors_in_milvus,
    "milvus-lite, merged": vectors_merged_in_milvus,
}
KEYWORD_BACKENDS = {
    "bm25, pending": keyword_pending,
    "bm25, segments": keyword_in_segments,
    "bm25, merged": keyword_merged,
}

TEXTS = [
    "اجتماع التحالف الدولي في الكويت لمواجهة الدعاية الإرهابية",
    "شارك ممثلو ثمانٍ وعشرين دولة في اجتماع الكويت",
    "مباراة كرة القدم في ملعب رادس انتهت بالتعادل",
    "The coalition met in Kuwait to counter terrorist propaganda",
    "Twenty-eight countries attended the Kuwait meeting",
    "The annual budget for hospitals rose by four percent",
    "الموازنة العامة للمستشفيات ارتفعت بنسبة أربعة في المئة",
    "وزراء الخارجية اجتمعوا في الدوحة لبحث الأمن الإقليمي",
]


def unit_vectors(count: int, seed: int = 7) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, 8)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(params=list(VECTOR_BACKENDS))
def vector_pair(request, monkeypatch, tmp_path):
    ids = np.arange(10, 10 + len(TEXTS), dtype=np.int64)  # ids need not start at 0 or be rows
    vectors = unit_vectors(len(TEXTS))
    reference = MemoryVectorIndex()
    reference.add(ids, vectors)
    if "compressed" in request.param:  # however few the vectors
        monkeypatch.setattr(vector_backend, "APPROXIMATE_FROM", 1)
        monkeypatch.setattr(vector_backend, "EXACT_UNDER", 100 if "exact" in request.param else 0)
        yield VECTOR_BACKENDS[request.param](ids, vectors, tmp_path), reference
    elif "milvus" in request.param:
        yield VECTOR_BACKENDS[request.param](ids, vectors, tmp_path), reference
        release_milvus_lite(tmp_path / "vectors.db")
    else:
        yield VECTOR_BACKENDS[request.param](ids, vectors), reference


@pytest.fixture(params=list(KEYWORD_BACKENDS))
def keyword_pair(request):
    ids = list(range(10, 10 + len(TEXTS)))
    rows = [tokenize(text) for text in TEXTS]
    reference = MemoryKeywordIndex()
    reference.add(ids, rows)
    return KEYWORD_BACKENDS[request.param](ids, rows), reference


def same(got, expected):
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-5)


QUERIES = [unit_vectors(3, seed=11)[i] for i in range(3)]


@pytest.mark.parametrize("query", QUERIES)
def test_vector_search_matches_the_reference_with_and_without_a_filter(vector_pair, query):
    backend, reference = vector_pair
    same(backend.search(query, 3), reference.search(query, 3))
    among = np.array([11, 13, 16, 17], dtype=np.int64)
    same(backend.search(query, 3, among), reference.search(query, 3, among))
    # The k best of the admitted, not the admitted among an unfiltered top k: all four come back.
    assert {i for i, _ in backend.search(query, 10, among)} == {11, 13, 16, 17}


def test_vector_search_with_a_filter_that_admits_nothing_finds_nothing(vector_pair):
    backend, _ = vector_pair
    assert backend.search(QUERIES[0], 5, np.array([], dtype=np.int64)) == []
    assert backend.search(QUERIES[0], 5, np.array([999], dtype=np.int64)) == []  # an id not indexed


def test_removed_vectors_are_never_found_and_others_keep_their_ids(vector_pair):
    backend, reference = vector_pair
    gone = np.array([10, 14], dtype=np.int64)
    backend.remove(gone)
    reference.remove(gone)
    assert len(backend) == len(reference) == len(TEXTS) - 2
    for query in QUERIES:
        same(backend.search(query, len(TEXTS)), reference.search(query, len(TEXTS)))
        assert not {10, 14} & {i for i, _ in backend.search(query, len(TEXTS))}
    vector = unit_vectors(1, seed=3)
    backend.add(np.array([50], dtype=np.int64), vector)
    assert backend.search(vector[0], 1) == [(50, pytest.approx(1.0, abs=1e-5))]


def test_a_compressed_segment_finds_what_exact_search_finds_with_exact_scores(monkeypatch, tmp_path):
    monkeypatch.setattr(vector_backend, "APPROXIMATE_FROM", 1_000)
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(3_000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(3_000, dtype=np.int64) * 2
    VectorSegment.build(ids, vectors, {}, 32).save(tmp_path)
    compressed = SegmentedVectors(32, [VectorSegment.load(tmp_path)])
    assert compressed.segments[0].approximate
    assert (tmp_path / "vectors.faiss").stat().st_size < vectors.nbytes / 3  # the scanned codes: a byte a dimension
    exact = MemoryVectorIndex()
    exact.add(ids, vectors)
    queries = rng.normal(size=(50, 32)).astype(np.float32)
    found = [{i for i, _ in compressed.search(q, 10)} & {i for i, _ in exact.search(q, 10)} for q in queries]
    assert sum(map(len, found)) / (10 * len(queries)) >= 0.99  # recall@10 against exact search
    for query in queries:  # what it returns is scored on the float vectors
        for vector_id, score in compressed.search(query, 10):
            assert score == pytest.approx(float(vectors[vector_id // 2] @ query), abs=1e-5)
    assert np.array_equal(compressed.segments[0].vectors_of(ids[[7, 3]]), vectors[[7, 3]])  # as merges read them
    among = ids[::40]  # 75 admitted: under EXACT_UNDER, so scored exactly over them
    for query in queries[:10]:
        same(compressed.search(query, 10, among), exact.search(query, 10, among))
    compressed.remove(among[:5])
    assert not set(among[:5].tolist()) & {i for q in queries for i, _ in compressed.search(q, 10, among)}


@pytest.mark.parametrize(
    "query",
    ["اجتماع الكويت", "الدول المشاركة في الاجتماع", "Kuwait meeting countries", "budget hospitals", "لا شيء يطابق"],
)
def test_keyword_search_matches_the_reference(keyword_pair, query):
    backend, reference = keyword_pair
    tokens = tokenize(query)
    same(backend.search(tokens, 4), reference.search(tokens, 4))
    among = np.array([11, 12, 14, 17], dtype=np.int64)
    same(backend.search(tokens, 4, among), reference.search(tokens, 4, among))
    for vector_id in (10, 11, 13, 16):
        assert backend.matched_share(tokens, vector_id) == pytest.approx(reference.matched_share(tokens, vector_id))
        shares = backend.matched_share(tokens, vector_id, among), reference.matched_share(tokens, vector_id, among)
        assert shares[0] == pytest.approx(shares[1])


def test_a_scoped_keyword_search_scores_as_if_the_index_held_only_its_rows(keyword_pair):
    """Nothing outside a scope changes the scores inside it: else a reader could tell from a score
    whether a word occurs in a document they may not read."""
    backend, _ = keyword_pair
    among = np.array([11, 12, 14, 17], dtype=np.int64)
    alone = MemoryKeywordIndex()
    alone.add(among.tolist(), [tokenize(TEXTS[i - 10]) for i in among])
    for query in ("اجتماع الكويت", "Kuwait meeting countries", "budget hospitals"):
        tokens = tokenize(query)
        same(backend.search(tokens, 4, among), alone.search(tokens, 4))
        for vector_id in among.tolist():
            assert backend.matched_share(tokens, vector_id, among) == pytest.approx(
                alone.matched_share(tokens, vector_id)
            )


def test_keyword_search_keeps_only_the_admitted_and_only_rows_that_share_a_token(keyword_pair):
    backend, _ = keyword_pair
    tokens = tokenize("اجتماع الكويت")
    assert {i for i, _ in backend.search(tokens, 10)} == {10, 11}  # the Arabic rows that hold the words
    # The second Arabic row alone is admitted: it comes back, though the first outscores it.
    assert [i for i, _ in backend.search(tokens, 1, np.array([11, 15], dtype=np.int64))] == [11]
    assert backend.search(tokens, 5, np.array([], dtype=np.int64)) == []


def test_keyword_rows_removed_and_added_score_as_the_reference(keyword_pair):
    backend, reference = keyword_pair
    for index in (backend, reference):
        index.remove([11, 12])
        index.add([40], [tokenize("اجتماع جديد في الكويت حول الاتصالات")])
    assert len(backend) == len(reference) == len(TEXTS) - 1
    tokens = tokenize("اجتماع الكويت")
    same(backend.search(tokens, 5), reference.search(tokens, 5))
    assert 11 not in {i for i, _ in backend.search(tokens, 10)}


def document(doc_id: str, language: str, date: str | None, collections: list[str]) -> SourceDocument:
    text = TEXTS[0] if language == "ar" else TEXTS[3]
    return SourceDocument(
        doc_id=doc_id,
        content_hash=doc_id,
        source=f"/docs/{doc_id}.txt",
        title=doc_id,
        date=date,
        collections=collections,
        format="txt",
        language=language,
        text=text,
        pages=[PageInfo(number=1, start=0, end=len(text), quality=1, extractor="text")],
        added_at="2026-01-01T00:00:00+00:00",
    )


def chunks_of(doc: SourceDocument, first_id: int, languages: list[str]) -> list[Chunk]:
    return [
        Chunk(
            chunk_id=f"{doc.doc_id}-{n}",
            doc_id=doc.doc_id,
            vector_id=first_id + n,
            start=0,
            end=10,
            page_start=1,
            page_end=1,
            language=language,
        )
        for n, language in enumerate(languages)
    ]


DOCUMENT_BACKENDS = {
    "memory": MemoryDocumentStore,
    "sqlite": lambda: SqliteDocumentStore(connect(":memory:", create=True)),
}


@pytest.fixture(params=list(DOCUMENT_BACKENDS))
def store(request):
    store = DOCUMENT_BACKENDS[request.param]()
    for doc, first, languages in [
        (document("kuwait", "ar", "2024-03-10", ["default", "coalition"]), 0, ["ar", "ar"]),
        (document("budget", "en", "2025-01-31", ["default"]), 2, ["en", "ar"]),
        (document("undated", "ar", None, ["negotiation"]), 4, ["ar"]),
    ]:
        store.put(doc, chunks_of(doc, first, languages))
    return store


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (SearchFilter(), [0, 1, 2, 3, 4]),
        (SearchFilter(documents=["budget"]), [2, 3]),
        (SearchFilter(collections=["coalition"]), [0, 1]),
        (SearchFilter(collections=["negotiation", "coalition"]), [0, 1, 4]),
        (SearchFilter(languages=["ar"]), [0, 1, 3, 4]),
        (SearchFilter(date_from="2024-01-01", date_to="2024-12-31"), [0, 1]),  # the undated one is left out
        (SearchFilter(date_from="2025-01-31"), [2, 3]),  # inclusive
        (SearchFilter(collections=["default"], languages=["en"]), [2]),
        (SearchFilter(documents=[]), []),
        (SearchFilter(collections=["no such collection"]), []),
    ],
)
def test_a_filter_admits_exactly_the_chunks_it_names(store, scope, expected):
    assert store.admitted(scope).tolist() == expected


def test_the_store_names_the_collections_its_documents_are_in(store):
    assert store.collection_names() == {"default", "coalition", "negotiation"}
    store.delete("undated")
    assert store.collection_names() == {"default", "coalition"}
    store.replace(store.document("kuwait").model_copy(update={"collections": ["default"]}))
    assert store.collection_names() == {"default"}


def test_a_replaced_document_keeps_its_chunks(store):
    moved = store.document("budget").model_copy(update={"source": "/elsewhere/budget.txt"})
    store.replace(moved)
    assert store.document("budget").source == "/elsewhere/budget.txt"
    assert [c.chunk_id for c in store.chunks()][2:4] == ["budget-0", "budget-1"]


def test_a_deleted_document_takes_its_chunks_with_it(store):
    assert len(store) == 3
    gone = store.delete("budget")
    assert [c.vector_id for c in gone] == [2, 3]
    assert store.document("budget") is None
    assert store.chunk("budget-0") is None
    assert [c.chunk_id for c in store.chunks()] == ["kuwait-0", "kuwait-1", "undated-0"]
    assert store.admitted(SearchFilter()).tolist() == [0, 1, 4]
    assert store.chunk_at(4).doc_id == "undated"
    assert len(store) == 2


@pytest.mark.parametrize("table", ["documents", "locations", "collections", "chunks"])
def test_what_a_write_looks_up_by_document_is_found_through_an_index_not_a_scan(table):
    """Putting, replacing and deleting a document find its rows by doc_id: a scan of the table
    there made every added document cost more than the last (a batch build grew quadratically)."""
    connection = connect(":memory:", create=True)
    plan = connection.execute(f"EXPLAIN QUERY PLAN DELETE FROM {table} WHERE doc_id = ?", ("kuwait",)).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "INDEX" in details, details
    assert not details.startswith("SCAN"), details


def test_a_writer_adding_documents_does_not_count_the_table_again():
    """count(*) scans every row: asked after each added document, it made a batch build quadratic."""
    store = SqliteDocumentStore(connect(":memory:", create=True))
    statements: list[str] = []
    assert len(store) == 0
    store.connection.set_trace_callback(statements.append)
    for number in range(3):
        doc = document(f"doc-{number}", "ar", None, ["default"])
        store.put(doc, chunks_of(doc, 2 * number, ["ar", "ar"]))
        assert len(store) == number + 1
    store.delete("doc-1")
    assert len(store) == 2
    assert not [sql for sql in statements if "count(" in sql.lower()]
