"""PDF repair on synthetic lines, and the real Arabic PDFs of ../shared (skipped where absent)."""

import json
import re

import pytest

from assistant.loaders.pdf import load_pdf, quality, repair


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_visual_order_presentation_forms_are_reordered_and_folded():
    # What pypdf returns for a right-to-left line drawn with pre-shaped glyphs.
    visual = "ﺍﻧﺖ؟ ﺍﻳﻦ ﻣﻦ ﺍﻟﺸﻤﺎﻝ ﻛﺎﺭﻭﻟﻴﻨﺎ ﻭﻻﻳﺔ ﻣﻦ ﺍﻧﺎ\nﺳﻠﻄﺎﻥ ﺍﺳﻤﻲ"
    assert repair(visual) == "انا من ولاية كارولينا الشمال من اين انت؟\nاسمي سلطان"


def test_visual_lines_get_their_arabic_indic_digits_back_in_order():
    visual = "٢١٤١ عام في صدر الذي النظام هو هذا\nالوزراء مجلس من"
    assert repair(visual).splitlines()[0] == "هذا هو النظام الذي صدر في عام ١٤١٢"


def test_logical_lines_are_left_in_order():
    logical = "في عام ١٤١٢ صدر النظام الأساسي للحكم.\nمن أجل تنظيم العمل."
    assert repair(logical) == logical


def test_mirrored_brackets_and_leading_full_stop_are_put_back():
    assert repair("بناء على قرار مجلس الشورى )رقم ٦٨ وتاريخ( ١٤٢٧ .هـ") == (
        "بناء على قرار مجلس الشورى (رقم ٦٨ وتاريخ) ١٤٢٧ هـ."
    )


def test_pdfium_lam_alef_order_is_fixed():
    assert repair("تحسين اإلنتاجية واألدوات") == "تحسين الإنتاجية والأدوات"


def test_quality_penalises_broken_glyph_maps():
    clean = "نص عربي سليم في هذه الصفحة من الوثيقة الرسمية " * 10
    broken = "ا)علوماتية جرائم مكافحة Cا نظام ا'لكي مرDبا " * 10
    assert quality(clean) == 1.0
    assert quality(broken) < 0.5
    assert quality("") == 0.0


@pytest.fixture
def pdf_dir(shared):
    return shared / "data/pdf"


@pytest.mark.shared
def test_tabula_arabic_table_cells_are_all_recovered(pdf_dir):
    expected = json.loads((pdf_dir / "arabic-tabula/expected_cells.json").read_text())
    for name in ["arabic.pdf", "mednine.pdf"]:
        text = squash("\n".join(p.text for p in load_pdf(pdf_dir / "arabic-tabula" / name).pages))
        missing = [c["text"] for c in expected[name] if squash(c["text"]) not in text]
        assert not missing, name


@pytest.mark.shared
def test_clean_arabic_word_export_matches_reference(pdf_dir):
    import difflib

    reference = (pdf_dir / "arabic-docling-rtl/groundtruth/right_to_left_01.docling.md").read_text()
    reference = re.sub(r"^#+ ", "", reference, flags=re.M)
    pages = load_pdf(pdf_dir / "arabic-docling-rtl/right_to_left_01.pdf").pages
    assert difflib.SequenceMatcher(None, squash(pages[0].text), squash(reference)).ratio() > 0.95
    assert pages[0].quality >= 0.9


@pytest.mark.shared
def test_saudi_law_reads_in_logical_order_and_is_flagged_for_broken_glyphs(pdf_dir):
    pages = load_pdf(pdf_dir / "arabic-saudi-laws/anti_cyber_crime_law.pdf").pages
    text = "\n".join(p.text for p in pages)
    assert "نظام مكافحة جرائم" in text  # pypdf alone gives "جرائم مكافحة نظام"
    assert "بسم" in text
    assert "الرحمن الرحيم" in text
    assert all(p.quality < 0.9 for p in pages)  # the ligature glyphs map to ASCII junk


@pytest.mark.shared
def test_garbled_font_map_scores_low(pdf_dir):
    garbled = load_pdf(pdf_dir / "arabic-docling-rtl/right_to_left_02.pdf").pages[0]
    clean = load_pdf(pdf_dir / "arabic-docling-rtl/right_to_left_01.pdf").pages[0]
    assert garbled.quality < 0.75 < clean.quality
