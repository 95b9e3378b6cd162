import itertools

import pytest

from assistant.chunking import chunk_document, chunk_spans, split_sentences
from assistant.types import PageInfo

ARABIC = (
    "قال الوزير إن الاجتماع كان ناجحاً. وأضاف: هل حققنا أهدافنا؟ نعم! "
    "ثم قال، في ختام كلمته، إننا سنواصل العمل معاً؛ وسننتصر.\n"
    "سطر جديد بلا نقطة\nThe meeting ended at noon. Delegates left."
)


def test_sentences_end_at_arabic_and_latin_marks_and_newlines():
    sentences = [ARABIC[s:e] for s, e in split_sentences(ARABIC)]
    assert sentences == [
        "قال الوزير إن الاجتماع كان ناجحاً.",
        "وأضاف: هل حققنا أهدافنا؟",
        "نعم!",
        "ثم قال، في ختام كلمته، إننا سنواصل العمل معاً؛ وسننتصر.",
        "سطر جديد بلا نقطة",
        "The meeting ended at noon.",
        "Delegates left.",
    ]


@pytest.mark.parametrize(("size", "overlap"), [(60, 0), (60, 30), (120, 40), (1000, 100)])
def test_chunks_cover_the_text_within_size_and_overlap(size, overlap):
    spans = chunk_spans(ARABIC, size, overlap)
    assert all(end - start <= size for start, end in spans)
    covered = set()
    for start, end in spans:
        covered.update(range(start, end))
    assert all(i in covered for i, ch in enumerate(ARABIC) if not ch.isspace())
    for (s1, e1), (s2, _) in itertools.pairwise(spans):
        assert s2 > s1  # always moves forward
        assert e1 - s2 <= overlap  # repeats at most the overlap


def test_chunks_start_and_end_on_sentence_boundaries():
    sentence_starts = {s for s, _ in split_sentences(ARABIC)}
    sentence_ends = {e for _, e in split_sentences(ARABIC)}
    for start, end in chunk_spans(ARABIC, 80, 20):
        assert start in sentence_starts
        assert end in sentence_ends


def test_long_sentence_is_cut_at_arabic_commas_before_spaces():
    sentence = "، ".join(["عبارة طويلة جداً في خطاب رسمي"] * 12) + "."
    spans = chunk_spans(sentence, 100, 0)
    assert len(spans) > 1
    assert all(sentence[s:e].endswith(("،", ".")) for s, e in spans)


def test_chunk_document_keeps_offsets_and_page_spans():
    page1, page2 = "الصفحة الأولى تتحدث عن الاجتماع. " * 3, "The second page is English. " * 3
    text = page1.strip() + "\n\n" + page2.strip()
    second_start = len(page1.strip()) + 2
    pages = [
        PageInfo(number=1, start=0, end=len(page1.strip()), quality=1, extractor="t"),
        PageInfo(number=2, start=second_start, end=len(text), quality=1, extractor="t"),
    ]
    chunks = chunk_document("doc", text, pages, size=70, overlap=0)
    assert next(c.page_start for c in chunks) == 1
    assert chunks[-1].page_end == 2
    assert {c.language for c in chunks} == {"ar", "en"}
    for chunk in chunks:
        assert text[chunk.start : chunk.end].strip() == text[chunk.start : chunk.end]
    assert len({c.chunk_id for c in chunks}) == len(chunks)
