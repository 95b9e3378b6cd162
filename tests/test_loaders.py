import docx
import pypdf
import pytest

from assistant.errors import UnreadableFileError
from assistant.loaders import load, to_source_document
from assistant.loaders.metadata import find_date, guess_title
from assistant.loaders.webclean import clean_web_text
from assistant.sample import write_pdf
from tests.conftest import KUWAIT_AR

MB = 2**20


def test_text_utf8_with_bom(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeff".encode() + KUWAIT_AR.encode())
    assert load(path, MB).pages[0].text == KUWAIT_AR


def test_text_legacy_arabic_encoding_is_decoded(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes((KUWAIT_AR + "\n" + KUWAIT_AR).encode("cp1256"))
    assert "ثماني وعشرين دولة" in load(path, MB).pages[0].text


def test_text_utf16_by_bom(tmp_path):
    path = tmp_path / "u16.txt"
    path.write_bytes(KUWAIT_AR.encode("utf-16"))
    assert load(path, MB).pages[0].text == KUWAIT_AR


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("binary.txt", bytes(range(256)) * 20, "binary"),
        ("renamed.pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not PDF"),
        ("renamed.docx", b"%PDF-1.4 not a zip", "not DOCX"),
        ("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage", "PDF"),
        ("broken.docx", b"PK\x03\x04 broken zip", "Word"),
        ("image.png", b"\x89PNG", "not PNG"),  # half a signature
        ("renamed.jpg", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not JPG"),
        ("sheet.xlsx", b"PK\x03\x04", "unsupported file type '.xlsx'"),
        ("old.doc", b"\xd0\xcf\x11\xe0", "save it as .docx"),
    ],
)
def test_bad_files_are_refused_with_a_clear_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError, match=message):
        load(path, MB)


def test_too_large_file_is_refused(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("نص " * 2000, encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="too large"):
        load(path, 1000)


def test_pdf_arabic_and_english_pages(tmp_path):
    path = write_pdf(
        tmp_path / "report.pdf",
        [
            "عقد التحالف الدولي اجتماعه في الكويت بحضور ممثلين عن الدول الأعضاء\n"
            "وناقش المشاركون سبل مواجهة الدعاية على الإنترنت",
            "The coalition met again in Washington",
        ],
    )
    extracted = load(path, MB)
    assert [p.number for p in extracted.pages] == [1, 2]
    assert "عقد التحالف الدولي اجتماعه في الكويت" in extracted.pages[0].text
    assert "وناقش المشاركون سبل مواجهة الدعاية" in extracted.pages[0].text
    assert extracted.pages[0].quality >= 0.9
    assert extracted.pages[1].text == "The coalition met again in Washington"


def test_encrypted_pdf_is_refused_but_empty_password_pdf_is_read(tmp_path):
    source = write_pdf(tmp_path / "plain.pdf", ["تقرير سري عن الاجتماع الوزاري"])
    for password, name in [("secret", "locked.pdf"), ("", "open.pdf")]:
        writer = pypdf.PdfWriter(clone_from=str(source))
        writer.encrypt(user_password=password, owner_password="owner", algorithm="AES-128")
        writer.write(tmp_path / name)
    with pytest.raises(UnreadableFileError, match="encrypted"):
        load(tmp_path / "locked.pdf", MB)
    assert "تقرير سري" in load(tmp_path / "open.pdf", MB).pages[0].text


def test_pdf_without_pages_is_refused(tmp_path):
    writer = pypdf.PdfWriter()
    writer.write(tmp_path / "nopages.pdf")
    with pytest.raises(UnreadableFileError, match=r"no pages|not a readable"):
        load(tmp_path / "nopages.pdf", MB)


def test_scanned_pdf_reports_missing_text_layer(tmp_path):
    from fpdf import FPDF
    from PIL import Image

    image = tmp_path / "scan.png"
    Image.new("RGB", (200, 100), "white").save(image)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(image), x=10, y=10, w=100)
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(UnreadableFileError, match="no text layer"):
        load(tmp_path / "scan.pdf", MB)


def test_docx_paragraphs_tables_and_page_breaks(tmp_path):
    document = docx.Document()
    document.core_properties.title = "مذكرة إحاطة"
    document.add_paragraph("الفقرة الأولى عن اجتماع الكويت.")
    document.add_page_break()
    document.add_paragraph("Second page in English.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "الدول"
    table.rows[0].cells[1].text = "28"
    document.save(tmp_path / "note.docx")
    extracted = load(tmp_path / "note.docx", MB)
    assert extracted.title == "مذكرة إحاطة"
    assert [p.number for p in extracted.pages] == [1, 2]
    assert extracted.pages[0].text == "الفقرة الأولى عن اجتماع الكويت."
    assert extracted.pages[1].text == "Second page in English.\nالدول | 28"


def test_html_keeps_article_text_and_drops_page_furniture(tmp_path):
    page = """<html><head><title>مؤتمر الكويت</title>
    <meta property="article:published_time" content="2015-05-12T10:00:00Z"></head>
    <body><nav>الرئيسية | أخبار</nav><script>var x = 1;</script>
    <article><h1>مؤتمر الكويت</h1><p>قال <b>المبعوث</b> إن التحالف يعمل معاً.</p>
    <p>تصغير</p><p>Second paragraph.</p></article><footer>حقوق النشر</footer></body></html>"""
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    extracted = load(tmp_path / "page.html", MB)
    text = extracted.pages[0].text
    assert extracted.title == "مؤتمر الكويت"
    assert extracted.date == "2015-05-12"
    assert "قال المبعوث إن التحالف يعمل معاً." in text
    assert "Second paragraph." in text
    for furniture in ["الرئيسية", "var x", "حقوق النشر", "تصغير"]:
        assert furniture not in text


def test_web_boilerplate_is_removed_and_article_lines_kept_verbatim():
    article = "قدمت 28 دولة التأمت في اجتماع على أرض الكويت ما يشبه «كشف حساب» لجهودها."
    pasted = "\n".join(
        [
            "الجارالله: مسؤولية مواجهة التنظيم تشمل المدرسة والمسجد",
            "u0627u0644u062cu0627u0631 u0645u0644u0642u064au0627",
            "تصغير",
            "تكبير",
            article,
            "_",
            "  • العشاء",
            "    6:27 م",
            "09:06 م بتوقيت الدوحة",
            "الأكثر قراءة",
            "يومي",
            "خبر قصير من القائمة",
        ]
    )
    cleaned = clean_web_text(pasted)
    assert cleaned.splitlines() == ["الجارالله: مسؤولية مواجهة التنظيم تشمل المدرسة والمسجد", article]


def test_repeated_headline_is_kept_once():
    headline = "منتدى الأمن العالمي 2021 يختتم أعماله بالدوحة"
    assert clean_web_text(f"{headline}\n\nنص الخبر الأول هنا.\n{headline}").count(headline) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22 آذار/مارس 2017", "2017-03-22"),
        ("الخميس ١٤ أكتوبر ٢٠٢١", "2021-10-14"),
        ("صدر في 3 تشرين الثاني 2019", "2019-11-03"),
        ("Issued on March 5, 2020", "2020-03-05"),
        ("تاريخ الصدور 2017/03/22", "2017-03-22"),
        ("20 ربيع الأول 1443", None),
        ("no date here", None),
    ],
)
def test_find_date(text, expected):
    assert find_date(text) == expected


def test_title_skips_labels_and_dates():
    text = "عرب وعالم\n26 أكتوبر 2021 الثلاثاء\nمنتدى الأمن العالمي يختتم أعماله بالدوحة\nنص"
    assert guess_title(text, "fallback") == "منتدى الأمن العالمي يختتم أعماله بالدوحة"


def test_source_document_pages_map_to_offsets(tmp_path):
    path = write_pdf(tmp_path / "two.pdf", ["الصفحة الأولى عن الاجتماع", "Page two about the meeting"])
    document = to_source_document(load(path, MB), "two.pdf", "ab" * 32, "2026-01-01T00:00:00+00:00")
    assert document.doc_id == "ab" * 8
    for page in document.pages:
        assert document.text[page.start : page.end] in {"الصفحة الأولى عن الاجتماع", "Page two about the meeting"}
    assert document.language == "ar"
