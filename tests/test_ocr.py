"""OCR with Tesseract: scanned PDFs and image files made here, the cache, parallel pages, a daemonic
worker, a machine without Tesseract, and two real scanned laws from ../shared."""

import difflib
import multiprocessing
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pypdfium2
import pytest
from PIL import Image

from assistant.errors import UnreadableFileError
from assistant.loaders import ocr
from assistant.loaders.image import load_image
from assistant.loaders.ocr import INSTALL_COMMAND, OcrSettings, ocr_image, ocr_pdf, tesseract_missing
from assistant.sample import write_pdf
from assistant.textnorm import normalize

ARABIC = (
    "قرر مجلس النواب القانون الآتي نصه وقد أصدرناه\n"
    "تلغى الإعفاءات من الضرائب والرسوم المقررة لجهات الدولة\n"
    "ويعمل به اعتبارا من اليوم التالي لتاريخ نشره"
)
ENGLISH = (
    "The foreign ministers of the Global Coalition met in Washington\n"
    "Ministers agreed to step up work against online propaganda\n"
    "The meeting closed with a statement on humanitarian support"
)
DIGITS = "صدر القانون رقم 159 لسنة 2023 في 25 يوليو\nصدر القانون رقم ١٥٩ لسنة ٢٠٢٣ في ٢٥ يوليو"
SCAN_DPI = 200

needs_tesseract = pytest.mark.skipif(tesseract_missing() is not None, reason=str(tesseract_missing()))


def found_in_order(expected: str, text: str) -> float:
    """The share of the expected words that the text has in the same order (misread ones aside)."""
    words = normalize(expected).split()
    matcher = difflib.SequenceMatcher(None, words, normalize(text).split(), autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(words)


def page_images(folder: Path, pages: list[str]) -> list[Image.Image]:
    """Pages of shaped Arabic or English text, rendered as a scanner would give them."""
    document = pypdfium2.PdfDocument(str(write_pdf(folder / "text-layer.pdf", pages)))
    images = [document[i].render(scale=SCAN_DPI / 72, grayscale=True).to_pil().copy() for i in range(len(pages))]
    document.close()
    return images


def scanned_pdf(path: Path, images: list[Image.Image]) -> Path:
    """A PDF of images only, no text layer: what a scanner writes."""
    images[0].save(path, save_all=True, append_images=images[1:], resolution=SCAN_DPI)
    return path


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scans")
    arabic, english, digits = page_images(folder, [ARABIC, ENGLISH, DIGITS])
    transparent = Image.new("LA", arabic.size)
    transparent.putalpha(arabic.point(lambda grey: 255 - grey))  # black text on nothing
    transparent.save(folder / "transparent.png")
    english.save(folder / "english.jpg", quality=85, dpi=(SCAN_DPI, SCAN_DPI))
    fax = [image.convert("1") for image in (arabic, english)]
    fax[0].save(folder / "two-pages.tiff", save_all=True, append_images=fax[1:], compression="group4")
    arabic.convert("I").point(lambda grey: grey * 257).convert("I;16").save(folder / "16-bit.tif")
    return {
        "pdf": scanned_pdf(folder / "scan.pdf", [arabic, english]),
        "digits": scanned_pdf(folder / "digits.pdf", [digits]),
        "four": scanned_pdf(folder / "four.pdf", [arabic, english, arabic, english]),
        "png": folder / "transparent.png",
        "jpeg": folder / "english.jpg",
        "tiff": folder / "two-pages.tiff",
        "16-bit": folder / "16-bit.tif",
    }


@pytest.fixture
def tesseract_calls(monkeypatch) -> list[list[str]]:
    """Every Tesseract run, by its arguments; the real Tesseract still does the work."""
    calls: list[list[str]] = []
    real = ocr._tesseract

    def counting(engine, image, dpi, settings, args):
        calls.append(args)
        return real(engine, image, dpi, settings, args)

    monkeypatch.setattr(ocr, "_tesseract", counting)
    return calls


@needs_tesseract
def test_scanned_pdf_arabic_and_english_pages(scans, tmp_path):
    pages = ocr_pdf(scans["pdf"], [1, 2], tmp_path / "cache")
    arabic, english = pages
    assert [arabic.number, english.number] == [1, 2]
    assert found_in_order(ARABIC, arabic.text) >= 0.8  # logical order, allowing OCR noise
    assert found_in_order(ENGLISH, english.text) >= 0.9
    assert (arabic.languages, english.languages) == ("ara", "eng+ara")  # chosen by script
    assert len(english.text.splitlines()) >= 3  # lines stay lines
    assert min(arabic.confidence, english.confidence) > 0.7
    assert not {"\u200e", "\u200f"} & set(arabic.text)  # Tesseract's direction marks


@needs_tesseract
def test_western_digits_come_back_and_arabic_indic_ones_keep_their_place(scans):
    western, arabic_indic = ocr_pdf(scans["digits"], [1], None)[0].text.splitlines()
    for number in ("159", "2023", "25"):
        assert number in western
    # The ara model misreads Arabic-Indic digits (a limit of its training data, measured in
    # benchmarks/ocr_quality.py); what it must not do is lose the number or the words around it.
    assert found_in_order("صدر القانون رقم لسنة في يوليو", arabic_indic) == 1
    assert sum(char.isdigit() for char in arabic_indic) >= 6


@needs_tesseract
@pytest.mark.slow
def test_a_second_reading_comes_from_the_cache(scans, tmp_path, tesseract_calls):
    cache = tmp_path / "cache"
    first = ocr_pdf(scans["pdf"], [1, 2], cache)
    runs = len(tesseract_calls)
    assert runs >= 2
    assert all(path.suffix == ".json" for path in cache.rglob("*") if path.is_file())
    assert ocr_pdf(scans["pdf"], [2, 1], cache) == first
    assert len(tesseract_calls) == runs  # no OCR the second time

    # The same pages in another file share the entries; another psm does not.
    assert ocr_pdf(scans["four"], [3, 4], cache)[0].text == first[0].text
    assert len(tesseract_calls) == runs
    ocr_pdf(scans["pdf"], [1], cache, OcrSettings(psm=4))
    assert len(tesseract_calls) > runs

    # A damaged entry is read again, not trusted.
    for entry in cache.rglob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    assert ocr_pdf(scans["pdf"], [1, 2], cache) == first


@needs_tesseract
def test_pages_are_read_in_parallel_with_progress(scans, monkeypatch):
    active = peak = 0
    lock = threading.Lock()
    real = ocr._tesseract

    def tracking(*args):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return real(*args)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(ocr, "_tesseract", tracking)
    progress: list[tuple[int, int]] = []
    pages = ocr_pdf(scans["four"], [4, 3, 2, 1], None, OcrSettings(workers=2), progress=lambda *p: progress.append(p))
    assert [page.number for page in pages] == [1, 2, 3, 4]
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert peak == 2
    assert [page.text for page in pages[2:]] == [page.text for page in pages[:2]]


def _read_in_daemon(path: Path, results: "multiprocessing.Queue[tuple[bool, list[str]]]") -> None:
    pages = ocr_pdf(path, [1, 2], None, OcrSettings(workers=2))
    results.put((multiprocessing.current_process().daemon, [page.text for page in pages]))


@needs_tesseract
@pytest.mark.slow
def test_works_inside_a_daemonic_worker_process(scans):
    """Files are read in a daemonic worker, which may not start processes of its own."""
    context = multiprocessing.get_context("forkserver")
    results = context.Queue()
    child = context.Process(target=_read_in_daemon, args=(scans["pdf"], results), daemon=True)
    child.start()
    daemonic, texts = results.get(timeout=120)
    child.join(timeout=10)
    assert daemonic
    assert found_in_order(ARABIC, texts[0]) >= 0.8
    assert found_in_order(ENGLISH, texts[1]) >= 0.9


@needs_tesseract
@pytest.mark.slow
def test_image_files_png_jpeg_and_tiff(scans, tmp_path):
    png = load_image(scans["png"], tmp_path / "cache")  # transparent: composed on white
    assert [(page.number, page.extractor) for page in png.pages] == [(1, "tesseract")]
    assert found_in_order(ARABIC, png.pages[0].text) >= 0.8
    assert png.pages[0].quality == pytest.approx(ocr_image(scans["png"], tmp_path / "cache")[0].confidence)

    jpeg = load_image(scans["jpeg"])
    assert found_in_order(ENGLISH, jpeg.pages[0].text) >= 0.9

    tiff = load_image(scans["tiff"])
    assert [page.number for page in tiff.pages] == [1, 2]
    assert found_in_order(ARABIC, tiff.pages[0].text) >= 0.8
    assert found_in_order(ENGLISH, tiff.pages[1].text) >= 0.9

    assert found_in_order(ARABIC, load_image(scans["16-bit"]).pages[0].text) >= 0.8


@needs_tesseract
@pytest.mark.slow
def test_a_page_scanned_sideways_is_turned(tmp_path):
    [page] = page_images(tmp_path, ["\n".join([ARABIC] * 3)])  # orientation needs a fuller page
    page.rotate(90, expand=True, fillcolor=255).save(tmp_path / "sideways.png", dpi=(SCAN_DPI, SCAN_DPI))
    read = ocr_image(tmp_path / "sideways.png", None)[0]
    assert read.rotated == 90
    assert found_in_order(ARABIC, read.text) >= 0.8


def test_files_that_are_not_images_are_refused(tmp_path):
    gif = tmp_path / "renamed.png"
    Image.new("L", (20, 20), 255).save(gif, format="GIF")
    truncated = tmp_path / "truncated.png"
    Image.new("L", (400, 400), 128).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    for path in (gif, truncated, tmp_path / "absent.png"):
        with pytest.raises(UnreadableFileError):
            ocr_image(path, None)


def fake_tesseract(folder: Path, languages: str = "ara eng osd", fails: bool = False) -> Path:
    """A stand-in `tesseract` on PATH: scripted output, so these tests run without Tesseract."""
    folder.mkdir(exist_ok=True)
    script = folder / "tesseract"
    tsv = "\\n".join(
        [
            "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
            "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t",
            "5\t1\t1\t1\t1\t1\t0\t0\t10\t10\t90\tقرار",
            "5\t1\t1\t1\t1\t2\t0\t0\t10\t10\t80\t\u200e160\u200f",
            "5\t1\t1\t1\t2\t1\t0\t0\t10\t10\t70\tالمادة",
            "5\t1\t1\t2\t1\t1\t0\t0\t10\t10\t60\tالثانية",
            "5\t1\t1\t2\t1\t2\t0\t0\t10\t10\t95\t ",
        ]
    )
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"if {fails}: sys.exit('Error in pixReadMem')\n"
        "args = sys.argv[1:]\n"
        "if args == ['--version']: print('tesseract 5.3.0')\n"
        "elif args == ['--list-langs']: print('List of available languages in \"/x/\":')"
        f"; print('\\n'.join({languages.split()}))\n"
        "elif args[-1] == '0': print('Rotate: 0\\nOrientation confidence: 20.0\\nScript: Arabic')\n"
        "else: sys.stdin.buffer.read(); print('" + tsv + "')\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def test_text_is_built_from_tesseract_words_lines_and_paragraphs(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_tesseract(tmp_path / "bin")))
    image = tmp_path / "page.png"
    Image.new("L", (200, 100), 255).save(image)
    [page] = ocr_image(image, None)
    assert page.text == "قرار 160\nالمادة\n\nالثانية"  # direction marks dropped, blank word skipped
    assert page.confidence == pytest.approx((90 + 80 + 70 + 60) / 400)
    assert page.languages == "ara"


def test_without_tesseract_the_message_says_what_to_install(tmp_path, monkeypatch, scans):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    message = tesseract_missing()
    assert str(message).endswith(INSTALL_COMMAND)
    for read in (lambda: ocr_pdf(scans["pdf"], [1], None), lambda: load_image(scans["png"])):
        with pytest.raises(UnreadableFileError, match=INSTALL_COMMAND):
            read()

    monkeypatch.setenv("PATH", str(fake_tesseract(tmp_path / "no-arabic", languages="eng osd")))
    assert "lacks the ara language data" in str(tesseract_missing())
    monkeypatch.setenv("PATH", str(fake_tesseract(tmp_path / "broken", fails=True)))
    assert "does not run" in str(tesseract_missing())


def test_a_page_tesseract_fails_on_is_reported_and_not_cached(tmp_path, monkeypatch):
    image = tmp_path / "page.png"
    Image.new("L", (200, 100), 255).save(image)
    monkeypatch.setenv("PATH", str(fake_tesseract(tmp_path / "bin")))
    calls: list[list[str]] = []

    def failing(engine, image, dpi, settings, args):
        calls.append(args)
        raise subprocess.CalledProcessError(1, ["tesseract"], stderr=b"Warning\nError in pixReadMem\n")

    monkeypatch.setattr(ocr, "_tesseract", failing)
    [page] = ocr_image(image, tmp_path / "cache")
    assert (page.text, page.error) == ("", "Tesseract could not read this page (Error in pixReadMem)")
    assert len(calls) == 2  # the script detection gives way; the reading is reported
    assert not list((tmp_path / "cache").rglob("*.json"))


@needs_tesseract
@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "words"),
    [
        # Words read off the rendered pages.
        ("law-160-2023-wezary.pdf", ["وزير المالية", "الضريبة على القيمة المضافة", "والخدمات الأخرى", "غير المقيمين"]),
        ("law_no.1-2007.pdf", ["الجريدة الرسمية", "قانون الضريبة على الدخل", "رئيس الجمهورية", "باسم الشعب"]),
    ],
)
def test_real_scanned_laws(shared, tmp_path, name, words):
    path = shared / "data/pdf/arabic-egypt-laws-dev" / name
    [page] = ocr_pdf(path, [1], tmp_path / "cache")
    assert (page.languages, page.confidence > 0.6) == ("ara", True)
    text = normalize(page.text)
    for phrase in words:
        assert normalize(phrase) in text, phrase
    assert os.listdir(tmp_path / "cache")
