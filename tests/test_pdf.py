"""PDF repair on synthetic lines, and the real Arabic PDFs of ../shared (skipped where absent)."""

import json
import re

import pytest
from fpdf import FPDF

from assistant.loaders.pdf import NEEDS_OCR, READABLE, load_pdf, quality, repair, repair_pages
from assistant.sample import write_pdf

# Written for these tests, in the style of a law; no PDF of ../shared has them.
LAW = (
    "قرر مجلس النواب القانون الآتي نصه، وقد أصدرناه: يعمل بأحكام هذا القانون اعتبارا من اليوم "
    "التالي لتاريخ نشره في الجريدة الرسمية، وعلى الوزراء كل فيما يخصه تنفيذه."
)
GLYPH_CODES = "/0/i255/2/3/4/5/6/7/0/i255/8/9/10/6/11/7/12/i255 /13/9/14/7/0/i255/15/16 /28 /i255/30/31/32/i255/33"


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


def test_logical_lines_keep_their_order_and_get_digits_and_brackets_back():
    # What pypdf returns for the Egyptian gazette: logical order, digit runs and brackets reversed.
    gazette = (
        "قانون رقم ٦ لسنة ٥٢٠٢\n"
        "بشأن بعض الحوافز والتيسيرات الضريبية للمشروعات التي لا يتجاوز حجم أعمالها\n"
        "مادة )٥١(\n"
        "ويعمل به اعتبارا من اليوم التالي لتاريخ نشره في الجريدة الرسمية\n"
        "أنشطة الاستشارات المهنية التى يتحقق )٠٩٪( على الأقل من حجم أعمالها\n"
        ") الموافق ٢١ فبراير سنة ٥٢٠٢ م ("
    )
    assert repair(gazette).splitlines() == [
        "قانون رقم ٦ لسنة ٢٠٢٥",
        "بشأن بعض الحوافز والتيسيرات الضريبية للمشروعات التي لا يتجاوز حجم أعمالها",
        "مادة (١٥)",  # no telling from the number itself: the rest of the page says reversed
        "ويعمل به اعتبارا من اليوم التالي لتاريخ نشره في الجريدة الرسمية",
        "أنشطة الاستشارات المهنية التى يتحقق (٩٠٪) على الأقل من حجم أعمالها",
        "( الموافق ١٢ فبراير سنة ٢٠٢٥ م )",
    ]


def test_digits_that_read_right_are_left_alone():
    line = "صدر برئاسة الجمهورية في ١٣ شعبان سنة ١٤٤٦ هـ الموافق ١٢ فبراير سنة ٢٠٢٥ م"
    assert repair(line) == line


def test_a_latin_run_in_a_visual_line_still_reads_left_to_right():
    logical = "استخدم الموظفون برنامج Microsoft Word في كتابة التقرير السنوي للوزارة"
    visual = "للوزارة السنوي التقرير كتابة في Microsoft Word برنامج الموظفون استخدم"
    assert repair(visual) == logical
    assert repair(logical) == logical


def test_a_page_with_too_few_words_to_tell_follows_the_document():
    page = "ﺍﻟﻨﻈﺎﻡ ﻫﺬﺍ ﺃﺣﻜﺎﻡ ﺗﻄﺒﻴﻖ ﻓﻲ ﺍﻟﻮﺯﺍﺭﺓ ﺗﺨﺘﺺ\nﺍﻟﺮﺳﻤﻴﺔ ﺍﻟﺠﺮﻳﺪﺓ ﻓﻲ ﻧﺸﺮﻩ ﺗﺎﺭﻳﺦ ﻣﻦ ﺑﻪ ﻭﻳﻌﻤﻞ"
    _, short = repair_pages([page, "ﺍﻟﻨﻈﺎﻡ ﺑﻬﺬﺍ"])
    assert short == "بهذا النظام"


def test_legacy_code_page_pdf_is_read_as_arabic(tmp_path):
    # A core PDF font shows the cp1256 bytes of Arabic as Latin-1 letters: ÞÑÑ ãÌáÓ ÇáäæÇÈ ...
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 8, LAW.encode("cp1256").decode("latin-1"))
    pdf.output(str(tmp_path / "legacy.pdf"))
    page = load_pdf(tmp_path / "legacy.pdf").pages[0]
    assert squash(page.text) == LAW
    assert page.quality >= 0.95
    assert page.note is None


def test_unreadable_page_is_not_served_but_the_rest_of_the_file_is(tmp_path):
    path = write_pdf(tmp_path / "mixed.pdf", [LAW, "\n".join([GLYPH_CODES] * 12)])
    first, second = load_pdf(path, ocr=False).pages
    assert squash(first.text) == LAW
    assert first.quality >= 0.9
    assert second.text == ""
    assert second.quality < 0.1 < READABLE  # the score is kept
    assert second.note is not None
    assert second.note.startswith("unreadable text layer (quality 0.0")
    assert "glyph codes" in second.note
    assert second.note.endswith(NEEDS_OCR)


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
def test_logical_order_gazette_is_not_reversed_and_its_digits_are_fixed(pdf_dir):
    pages = load_pdf(pdf_dir / "arabic-egypt-laws-dev/law_no.6.of_.2025.pdf").pages
    text = "\n".join(p.text for p in pages)
    for phrase in ["رئيس الجمهورية", "الجريدة الرسمية", "قانون رقم ٦ لسنة ٢٠٢٥", "بالقانون رقم ٢٠٦ لسنة ۲۰۲۰"]:
        assert phrase in text
    for phrase in ["(٩٠٪)", "(٠,٧٥٪)", "رقم ٩١ لسنة ٢٠٠٥", "١٣ شعبان سنة ١٤٤٦", "( الموافق ١٢ فبراير سنة ٢٠٢٥ م )"]:
        assert phrase in text
    assert "الجمهورية رئيس" not in text
    assert "٥٢٠٢" not in text
    assert not re.search("[\ue000-\uf8ff]", text)  # its text layer has 12 of a font's private glyph codes
    assert all(p.quality >= 0.9 and p.note is None for p in pages)


@pytest.mark.shared
def test_glyph_id_text_layer_is_not_served_as_text(pdf_dir):
    (page,) = load_pdf(pdf_dir / "arabic-egypt-laws-dev/law_no._159_for_2023.pdf", ocr=False).pages
    assert page.text == ""
    assert page.quality < 0.05
    assert page.note is not None
    assert page.note.endswith(NEEDS_OCR)


@pytest.mark.shared
def test_scans_are_marked_for_ocr_and_honestly_scored(pdf_dir):
    for name in ["law-160-2023-wezary.pdf", "law_no.1-2007.pdf"]:
        (page,) = load_pdf(pdf_dir / "arabic-egypt-laws-dev" / name, ocr=False).pages
        assert (page.text, page.quality) == ("", 0.0)
        assert page.note == f"no text layer (a scanned image?): {NEEDS_OCR}"


@pytest.mark.shared
def test_garbled_font_map_scores_low(pdf_dir):
    garbled = load_pdf(pdf_dir / "arabic-docling-rtl/right_to_left_02.pdf", ocr=False).pages[0]
    clean = load_pdf(pdf_dir / "arabic-docling-rtl/right_to_left_01.pdf").pages[0]
    assert garbled.quality < READABLE < 0.75 < clean.quality
    assert garbled.text == ""  # most of its "words" are not words: OCR, not this text layer
    assert garbled.note is not None
    assert garbled.note.endswith(NEEDS_OCR)
