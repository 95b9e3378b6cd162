"""Scanned images as documents: indexed through OCR, found by an Arabic query, marked as OCR."""

import pytest

from assistant.service import Assistant
from assistant.textnorm import normalize
from tests.test_ocr import ARABIC, needs_tesseract, page_images

pytestmark = needs_tesseract


def test_an_arabic_scan_is_indexed_found_and_marked_as_ocr(settings, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    (arabic,) = page_images(tmp_path, [ARABIC])
    arabic.save(folder / "قرار-مجلس-النواب.png")
    arabic.save(folder / "renamed.tiff", format="PNG")  # a PNG under a TIFF name
    (folder / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assistant = Assistant(settings)
    report = assistant.ingest([folder])
    assert [path.rsplit("/", 1)[-1] for path in report.added] == ["قرار-مجلس-النواب.png"]
    reasons = {f.source.rsplit("/", 1)[-1]: f.reason for f in report.failed}
    assert reasons["renamed.tiff"] == "the content is not TIFF, whatever its name says"
    assert reasons["truncated.png"].startswith("not a readable PNG, JPEG or TIFF image")
    hit = assistant.search("الإعفاءات من الضرائب والرسوم", k=1)[0]
    assert hit.source.endswith("قرار-مجلس-النواب.png")
    assert "الضرائب" in hit.text
    assert hit.ocr_confidence is not None
    assert hit.ocr_confidence > 0.5
    assert assistant.info().documents[0].ocr_pages == 1
    assert list((settings.data_dir / "ocr-cache").rglob("*.json"))  # read once, kept for the next time


def test_without_tesseract_an_image_is_refused_with_the_install_command(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # the child that reads files inherits it
    (arabic,) = page_images(tmp_path, [ARABIC])
    arabic.save(tmp_path / "scan.png")
    (tmp_path / "note.txt").write_text("ملاحظة عن اجتماع الكويت", encoding="utf-8")
    report = Assistant(settings).ingest([tmp_path / "scan.png", tmp_path / "note.txt"])
    assert len(report.added) == 1
    (failure,) = report.failed
    assert "apt-get install tesseract-ocr tesseract-ocr-ara" in failure.reason


def test_a_scanned_pdf_and_a_scan_with_only_a_footer_text_layer_are_read_by_ocr(settings, tmp_path):
    from fpdf import FPDF

    from tests.test_ocr import ENGLISH, scanned_pdf

    arabic, english = page_images(tmp_path, [ARABIC, ENGLISH])
    folder = tmp_path / "batch"
    folder.mkdir()
    scanned_pdf(folder / "scan.pdf", [arabic, english])
    arabic.save(tmp_path / "page.png")
    circular = FPDF()  # the law-323 kind: an image of Arabic text under an English web-address footer
    circular.add_page()
    circular.image(str(tmp_path / "page.png"), x=0, y=0, w=210, h=297)
    circular.set_font("helvetica", size=8)
    circular.text(10, 292, "WWW.ETA.GOV.EG  facebook.com/ETA")
    circular.output(str(folder / "circular.pdf"))
    assistant = Assistant(settings)
    seen = []
    report = assistant.ingest([folder], progress=lambda done, total, item: seen.append((done, total, item)))
    assert not report.failed
    # Pages are reported as the child process reads them, each file's before the file is done; a file
    # is done once its group of documents is embedded and added, so both are read before either is done.
    assert seen == [
        (0, 2, "circular.pdf: OCR, page 1 of 1"),
        (1, 2, "scan.pdf: OCR, page 1 of 2"),
        (1, 2, "scan.pdf: OCR, page 2 of 2"),
        (1, 2, str(folder / "circular.pdf")),
        (2, 2, str(folder / "scan.pdf")),
    ]
    documents = {d.source.rsplit("/", 1)[-1]: d for d in assistant.info().documents}
    assert documents["scan.pdf"].ocr_pages == 2
    assert documents["circular.pdf"].ocr_pages == 1
    hits = assistant.search("تلغى الإعفاءات من الضرائب والرسوم", k=3)
    assert {hit.source.rsplit("/", 1)[-1] for hit in hits[:2]} == {"scan.pdf", "circular.pdf"}
    assert all(hit.ocr_confidence for hit in hits[:2])
    english_hit = assistant.search("foreign ministers met in Washington", k=1)[0]
    assert "met in Washington" in english_hit.text  # page 2's OCR text, in a chunk that may start on page 1
    assert english_hit.page_start <= 2 == english_hit.page_end


def test_without_tesseract_a_scanned_page_is_reported_with_the_install_command(settings, tmp_path, monkeypatch):
    from tests.test_ocr import scanned_pdf

    (arabic,) = page_images(tmp_path, [ARABIC])
    scanned_pdf(tmp_path / "scan.pdf", [arabic])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (failure,) = Assistant(settings).ingest([tmp_path / "scan.pdf"]).failed
    assert "needs OCR" in failure.reason
    assert "apt-get install tesseract-ocr tesseract-ocr-ara" in failure.reason


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "ocr_pages", "phrase"),
    [
        ("law-323-efatora8.pdf", 2, "رئيس مصلحة الضرائب المصرية"),  # an image under an English footer layer
        ("law_no._159_for_2023.pdf", 1, "الجريدة الرسمية"),  # a text layer of glyph codes
        ("law-160-2023-wezary.pdf", 1, "الضريبة على القيمة المضافة"),  # image only
        ("law_no.1-2007.pdf", 1, "قانون الضريبة على الدخل"),  # image only
    ],
)
def test_the_dev_laws_that_need_ocr_are_indexed_from_it_and_found(shared, settings, name, ocr_pages, phrase):
    assistant = Assistant(settings)
    assert assistant.ingest([shared / "data/pdf/arabic-egypt-laws-dev" / name]).added
    (document,) = assistant.info().documents
    assert document.ocr_pages == ocr_pages
    hits = assistant.search(phrase, k=3)  # a page that repeats the phrase's words may rank another chunk first
    hit = next(hit for hit in hits if normalize(phrase) in normalize(hit.text))
    assert hit.ocr_confidence is not None
