"""The evidence behind PDF repair: real words, word order, digit order, legacy code pages, and the statistics file."""

import gzip
import runpy
from pathlib import Path

import pytest

from assistant.loaders.arabic_text import (
    ORDER_STATS,
    digit_evidence,
    order_evidence,
    order_stats,
    quality,
    redecode_legacy,
    unify_arabic_letters,
    word_class,
    word_runs,
)
from assistant.textnorm import NORMALIZATION_VERSION

ROOT = Path(__file__).resolve().parents[1]
# Written for these tests, in the style of a law; no PDF of ../shared has them.
LAW = (
    "قرر مجلس النواب القانون الآتي نصه، وقد أصدرناه: يعمل بأحكام هذا القانون اعتبارا من اليوم "
    "التالي لتاريخ نشره في الجريدة الرسمية، وعلى الوزراء كل فيما يخصه تنفيذه."
)
NEWS = "أصدر رئيس الجمهورية قرارا بتشكيل الحكومة الجديدة برئاسة وزير المالية"


def reversed_words(text: str) -> str:
    return " ".join(reversed(text.split()))


def test_real_arabic_and_english_words_score_high():
    assert quality(LAW) >= 0.95
    assert quality(NEWS) >= 0.95
    english = "The Council adopted resolution 2334 (2016) on 23 December 2016: see https://undocs.org/S/RES/2334."
    assert quality(english) >= 0.95
    assert quality("Ministers met UNSC officials in Washington on 12/03/2017") == 1.0


def test_words_behind_clitics_and_in_other_spellings_count():
    # Article, conjunction, preposition and a pronoun suffix on words; أ/ا and ة/ه spelled both ways.
    assert quality("وبالقانون وللمشروعات بأحكامه والضريبيه الاجراءات") == 1.0


@pytest.mark.parametrize(
    "garbage",
    [
        "/0/i255/2/3/4/5/6/7/0/i255/8/9/10 /28 /i255/30/31/32/i255/33 /34/35/36/31/37/38/39/i255/40/41/42",
        "<0627><0644><0642> 0627064406420627 FEFF06270644 00410042004300440045",
        LAW.encode("cp1256").decode("cp1252"),  # mojibake: ÞÑÑ ãÌáÓ ÇáäæÇÈ ...
        "xabcdefgehijkfclmnopicbqrosoicrotuvwddh jdrodfwdiwvlbiwwrorierobhbmboew yz um X#Y",
    ],
    ids=["glyph ids", "hex runs", "mojibake", "font codes as letters"],
)
def test_glyph_codes_hex_runs_and_mojibake_score_near_zero(garbage):
    assert quality(garbage) < 0.1


def test_letters_mixed_with_symbols_are_not_words():
    broken = "ا)علوماتية جرائم مكافحة Cا نظام ا'لكي مرDبا"
    assert 0.2 < quality(broken) < 0.5


def test_quality_of_nothing_is_zero():
    assert quality("") == 0.0
    assert quality(" . ، : ") == 0.0


@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_cp1256_read_as_latin_is_repaired_exactly(codec):
    assert redecode_legacy(LAW.encode("cp1256").decode(codec)) == LAW


def test_redecoding_leaves_arabic_words_and_plain_latin_alone():
    text = "الحاسب اÇلي and café"  # a Latin letter inside an Arabic word is a broken glyph map
    assert redecode_legacy(text).split()[:3] == ["الحاسب", "اÇلي", "and"]


@pytest.mark.parametrize("text", [LAW, NEWS, "تنشر هذه اللائحة في الجريدة الرسمية ويعمل بها من اليوم التالي"])
def test_word_order_evidence_favours_the_logical_order(text):
    assert order_evidence(text) > 2
    assert order_evidence(reversed_words(text)) < -2


def test_word_order_evidence_is_antisymmetric_and_ignores_english():
    assert order_evidence(NEWS) == pytest.approx(-order_evidence(reversed_words(NEWS)))
    assert order_evidence("The Council met in New York") == 0.0


def test_a_number_or_latin_word_breaks_a_run_of_words():
    # In a visual line the number and "Word" move: a pair across them would be a false pair.
    runs = word_runs("صدر القانون رقم ٦ لسنة ٢٠٢٥ عن برنامج Word الجديد")
    assert runs == [["صدر", "القانون", "رقم"], ["عن", "برنامج"]]


def test_word_classes_carry_affixes():
    common = frozenset({"في"})
    assert word_class("في", common) == "في"
    assert word_class("والمشروعات", common) == "وال_ات"
    assert word_class("الضريبيه", common) == "ال_يه"
    assert word_class("ب", common) == "_"


@pytest.mark.parametrize(
    ("line", "votes"),
    [
        ("قانون رقم ٦ لسنة ٥٢٠٢", -2),  # 2025 backwards
        ("قانون رقم ٦ لسنة ٢٠٢٥", 2),
        ("صدر في ٣١ شعبان سنة ٦٤٤١ هـ", -2),  # Hijri 1446
        ("لسنة ۰۲۰۲", -3),  # 2020 backwards, with a leading zero
        ("يتحقق (٠٩٪) على الأقل", -1),
        ("يتحقق (٩٠٪) على الأقل", 1),
        ("بتاريخ ١٩/٠٩/١٤٠٣ هـ", 2),  # a date may have a leading zero
        ("مادة (١٥)", 0),  # no telling
        ("في عام 2025", 0),  # ASCII digits come out right
    ],
)
def test_digit_runs_vote_for_the_reading_that_looks_like_a_number(line, votes):
    assert digit_evidence(line) == votes


def test_persian_kaf_and_yeh_become_arabic_except_in_persian():
    assert unify_arabic_letters("الجریدة الرسمیة فی") == "الجريدة الرسمية فى"
    assert unify_arabic_letters("اقتصادی کبير") == "اقتصادى كبير"
    persian = "شرکت بورس کالای ايران پذيرش"
    assert unify_arabic_letters(persian) == persian


def test_statistics_file_is_small_plain_and_current():
    assert ORDER_STATS.name.endswith(".tsv.gz")
    size = (ROOT / "assistant/data" / ORDER_STATS.name).stat().st_size
    assert size < 600_000
    stats = order_stats()
    assert stats is order_stats()  # read once
    assert len(stats.pairs) > 10_000
    assert 0 < stats.class_weight < stats.word_weight
    with gzip.open(ORDER_STATS.open("rb"), "rt", encoding="utf-8") as lines:
        header = [line for line in lines if line.startswith("#")]
    assert f"# normalization: {NORMALIZATION_VERSION}\n" in header


@pytest.mark.shared
@pytest.mark.slow
def test_statistics_file_is_rebuilt_byte_for_byte_from_the_news_corpus(shared, tmp_path):
    corpus = shared / "data/eval/news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl"
    build = runpy.run_path(str(ROOT / "scripts/build_arabic_stats.py"))["build"]
    build(corpus, tmp_path / ORDER_STATS.name)
    assert (tmp_path / ORDER_STATS.name).read_bytes() == (ROOT / "assistant/data" / ORDER_STATS.name).read_bytes()
