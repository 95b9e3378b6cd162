"""Scanned images as documents: indexed through OCR, found by an Arabic query, marked as OCR."""


from assistant.service import Assistant
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
    assert assistant.info()["documents"][0]["ocr_pages"] == 1
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
