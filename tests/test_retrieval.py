"""Fusion arithmetic on a hand-built index, with an embedder whose rankings we choose."""

import numpy as np
import pytest

from assistant.index import Snapshot
from assistant.retrieval import hybrid_search, keyword_share, keyword_trust
from assistant.types import Chunk, PageInfo, SearchFilter, SourceDocument

TEXTS = {
    "ar1": "اجتماع التحالف الدولي في الكويت لمواجهة الدعاية",
    "ar2": "مباراة كرة القدم في ملعب رادس",
    "en1": "The coalition meeting in Kuwait on counter messaging",
}


class ChosenVectors:
    """Embeds each known text as a chosen axis; the query points at axes we pick per test."""

    name, model = "fake", "chosen"
    dimension = 3

    def __init__(self, query_vector):
        self.query_vector = np.asarray(query_vector, dtype=np.float32)

    def embed_documents(self, texts):
        return np.eye(3, dtype=np.float32)[[list(TEXTS.values()).index(t) for t in texts]]

    def embed_query(self, text):
        return self.query_vector


def build(embedder, windows=None):
    """The three texts indexed, each one chunk; windows: stored window vectors by document."""
    windows = windows or {}
    snapshot = Snapshot.empty("fake", "chosen", 3, 900, 150)
    for name, text in TEXTS.items():
        document = SourceDocument(
            doc_id=name,
            content_hash=name,
            source=f"{name}.txt",
            title=name,
            format="txt",
            language=name[:2],
            text=text,
            pages=[PageInfo(number=1, start=0, end=len(text), quality=1, extractor="text")],
            added_at="2026-01-01T00:00:00+00:00",
        )
        chunk = Chunk(
            chunk_id=name,
            doc_id=name,
            vector_id=-1,
            start=0,
            end=len(text),
            page_start=1,
            page_end=1,
            language=name[:2],
        )
        stored = [windows[name]] if name in windows else None
        snapshot.add(document, [chunk], embedder.embed_documents([text]), stored)
    return snapshot


def test_convex_fusion_of_normalised_scores_with_the_keyword_weight_the_query_earns(settings):
    embedder = ChosenVectors([0.9, 0.0, 0.5])  # dense: ar1 0.9, en1 0.5, ar2 0.0
    snapshot = build(embedder)
    hits = hybrid_search(snapshot, embedder, settings, "اجتماع الكويت", k=3)
    by_doc = {h.doc_id: h for h in hits}
    assert [h.doc_id for h in hits] == ["ar1", "en1", "ar2"]
    assert (by_doc["ar1"].dense_rank, by_doc["ar1"].keyword_rank) == (1, 1)
    # ar1 holds every word of the question: full trust, the whole keyword weight. Its dense score
    # is the best (1 after min-max), its window (none stored) counts its own score, BM25 is the best.
    weight = settings.keyword_weight
    assert by_doc["ar1"].score == pytest.approx((1 + settings.window_weight) + weight / (1 - weight), abs=1e-6)
    assert by_doc["en1"].keyword_rank is None  # no Arabic word matches an English passage
    # en1 is in another language: its similarity raised by the embedder's loss on a translation; no
    # keyword match, and its meaning is not scaled down for the weight it would have had
    lift = settings.cross_lingual_discount
    assert by_doc["en1"].score == pytest.approx((1 + settings.window_weight) * (0.5 + lift) / 0.9, abs=1e-6)
    assert by_doc["ar2"].score == 0


def test_the_keyword_weight_follows_how_much_of_the_question_its_best_match_holds(settings):
    # Dense prefers ar1; ar2 holds three of the question's four words (each as rare as the others).
    embedder = ChosenVectors([0.7, 0.6, 0.0])
    snapshot = build(embedder)
    question = "التحالف مباراة ملعب رادس"
    assert snapshot.matched_share(question, "ar2") == pytest.approx(0.75)
    trust = keyword_trust(keyword_share(snapshot, question, snapshot.keyword_search(question, 3)), settings)
    assert trust == pytest.approx((0.75 - settings.keyword_trust_from) / (settings.keyword_trust_full - 0.2))
    assert hybrid_search(snapshot, embedder, settings, question, k=1)[0].doc_id == "ar2"
    doubting = settings.model_copy(update={"keyword_trust_from": 0.8, "keyword_trust_full": 0.9})
    assert hybrid_search(snapshot, embedder, doubting, question, k=1)[0].doc_id == "ar1"  # meaning decides


def test_a_passage_in_another_language_takes_the_flat_cross_lingual_weight(settings):
    # "Kuwait coalition" matches en1 by keyword; dense prefers the Arabic passage.
    embedder = ChosenVectors([1.0, 0.0, 0.6])
    snapshot = build(embedder)
    full = hybrid_search(snapshot, embedder, settings, "coalition Kuwait", k=3)
    assert {h.doc_id: h.keyword_rank for h in full}["en1"] == 1
    # No dictionary here: the Arabic question meets the English passage through the name as written.
    ar_query = hybrid_search(snapshot, embedder, settings, "التحالف في Kuwait", k=3)
    en1 = next(h for h in ar_query if h.doc_id == "en1")
    assert en1.keyword_rank == 1
    meaning = (1 + settings.window_weight) * (0.6 + settings.cross_lingual_discount)
    weight = settings.cross_lingual_keyword_weight  # however little of the question the match holds
    assert en1.score == pytest.approx(meaning + weight / (1 - weight), abs=1e-6)
    assert ar_query[0].doc_id == "ar1"


def test_a_passage_in_the_other_language_is_not_crowded_out_by_near_misses_in_the_questions(settings):
    # An English question; the Arabic passage ar1 answers it, the English en1 only shares its language.
    # Cosine across languages runs lower by about the embedder's loss on a translation, which is added back.
    embedder = ChosenVectors([0.62, 0.0, 0.64])
    snapshot = build(embedder)
    question = "which gathering discussed propaganda"
    assert hybrid_search(snapshot, embedder, settings, question, k=1)[0].doc_id == "ar1"
    unlifted = settings.model_copy(update={"cross_lingual_discount": 0.0})
    assert hybrid_search(snapshot, embedder, unlifted, question, k=1)[0].doc_id == "en1"


def test_the_window_stage_lifts_a_passage_whose_one_sentence_answers(settings):
    embedder = ChosenVectors([0.8, 0.7, 0.0])  # whole chunks: ar1 0.8 above ar2 0.7
    snapshot = build(embedder)
    before = [h.doc_id for h in hybrid_search(snapshot, embedder, settings, "سؤال بلا كلمات مشتركة", k=2)]
    assert before == ["ar1", "ar2"]
    # ar2's stored windows: one sentence of it points almost straight at the question.
    snapshot = build(embedder, {"ar2": np.array([[0.0, 0.1, 0.0], [0.6, 0.8, 0.0]], dtype=np.float32)})
    after = hybrid_search(snapshot, embedder, settings, "سؤال بلا كلمات مشتركة", k=2)
    assert [h.doc_id for h in after] == ["ar2", "ar1"]
    no_windows = settings.model_copy(update={"window_weight": 0.0})
    assert [h.doc_id for h in hybrid_search(snapshot, embedder, no_windows, "سؤال بلا كلمات مشتركة", k=2)] == before


def test_empty_question_and_empty_index_give_no_hits(settings):
    embedder = ChosenVectors([1, 0, 0])
    assert hybrid_search(build(embedder), embedder, settings, "   ", k=3) == []
    assert hybrid_search(Snapshot.empty("fake", "chosen", 3, 900, 150), embedder, settings, "الكويت", k=3) == []


def test_passages_read_by_ocr_are_marked_with_the_engines_confidence(assistant):
    from assistant import hostile
    from assistant.loaders import Extracted, ExtractedPage, to_source_document
    from assistant.types import OCR_ENGINE, IngestReport

    first = "الجريدة الرسمية: صدر قانون الضريبة على القيمة المضافة بعد موافقة مجلس النواب عليه. " * 4
    second = "يعمل بهذا القانون من اليوم التالي لتاريخ نشره في الجريدة الرسمية، وعلى الوزراء تنفيذه. " * 4
    pages = [ExtractedPage(1, first, 0.97, "pypdf"), ExtractedPage(2, second, 0.81, OCR_ENGINE)]
    document = to_source_document(Extracted("pdf", pages), "/law.pdf", "ab" * 32, "2026-12-01T00:00:00+00:00")
    with assistant.store.writing():
        snapshot = assistant._writable_snapshot()
        assistant._put(snapshot, hostile.checked(document), IngestReport(), {})
        assistant.store.commit(snapshot)
    hits = assistant.search("الجريدة الرسمية", k=10)
    assert {hit.ocr_confidence for hit in hits if hit.page_start == hit.page_end == 2} == {0.81}
    assert {hit.ocr_confidence for hit in hits if hit.page_end == 1} == {None}
    assert assistant.info().documents[0].ocr_pages == 1


def test_a_scope_is_searched_inside_not_cut_from_a_top_k(settings):
    embedder = ChosenVectors([0.9, 0.0, 0.5])  # ar2 is last by meaning and shares no word with the question
    snapshot = build(embedder)
    question = "اجتماع الكويت"

    def within(**scope):
        return [
            h.doc_id for h in hybrid_search(snapshot, embedder, settings, question, k=1, scope=SearchFilter(**scope))
        ]

    assert within(documents=["ar2"]) == ["ar2"]
    assert within(languages=["en"]) == ["en1"]
    assert within(collections=["default"]) == ["ar1"]
    assert within(collections=["negotiation"]) == []
    assert within(documents=[]) == []
    assert within(date_from="2020-01-01") == []  # none of them states a date
