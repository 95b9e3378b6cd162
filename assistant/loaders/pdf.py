"""PDF pages to text: pypdf first, repaired; pypdfium2 where pypdf's text of a page is poor.

Arabic PDFs break text extraction in known ways: glyphs stored as presentation forms, lines
written in visual (left-to-right) word order, Arabic-Indic digit runs reversed, brackets
mirrored, lam-alef ligatures decomposed in the wrong order, Arabic in a legacy code page read
as Latin, and fonts whose glyphs map to no letters at all. `repair` undoes what can be undone,
deciding word and digit order by evidence (assistant/loaders/arabic_text.py), never by the look
of a line; `quality` scores what is left, so that a page can be read again by the other
extractor and the better reading kept. A page that stays unreadable is not served as text: it
keeps its score and a note that it needs OCR. The choice of pypdfium2 as the second extractor
was measured with benchmarks/pdf_extraction.py on ../shared/data/pdf (see the README).
"""

import logging
import math
import re
from collections.abc import Callable
from dataclasses import replace
from itertools import groupby
from pathlib import Path
from typing import TypeVar

import pypdf
import pypdfium2

from assistant.errors import UnreadableFileError
from assistant.loaders.arabic_text import (
    digit_evidence,
    order_evidence,
    quality,
    redecode_legacy,
    reverse_digit_runs,
    unify_arabic_letters,
    words_judged,
)
from assistant.loaders.base import Extracted, ExtractedPage
from assistant.loaders.ocr import Progress, ocr_pdf, tesseract_missing
from assistant.textnorm import detect_language, fold_presentation_forms
from assistant.types import OCR_ENGINE

# Below this a page is read again by the second extractor.
GOOD_ENOUGH = 0.9
# Below this a page's text layer is not words (glyph codes, mojibake, a broken font map): it is
# not indexed, and is marked for OCR; unless it has too few words to tell.
READABLE = 0.5
_WORDS_TO_TELL = 5
# Word-order evidence (log-odds) a page needs to decide alone; below it the document's decides.
_ORDER_MARGIN = 2.0
# Presentation forms say something of a page's producer, too little to decide on (the Egyptian
# gazette has them and is in logical order). In ../shared/data/pdf, 5 of the 6 Arabic documents
# whose pypdf text has them are in visual order, and none of the 13 readings (pypdf's or
# pdfium's) without them is: as log-odds with add-one smoothing, about one toward visual with
# them, two and a half toward logical without. A few lines of word evidence outweigh that; it
# settles pages of a line or two.
_PRIOR_WITH_FORMS = math.log((1 + 1) / (5 + 1))
_PRIOR_WITHOUT_FORMS = math.log((13 + 1) / (0 + 1))
NEEDS_OCR = "needs OCR"
# A page mostly covered by images whose text layer has fewer words than this is read by OCR too
# (the text layer of such a scan is a footer or a stamp: the law-323 circular's is its web address).
_FOOTER_WORDS = 40
# Below this mean word confidence an OCR page carries a note asking to check it against the original.
_CONFIDENT = 0.6

_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")
_ARABIC = re.compile("[\u0600-\u06ff]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
_DIGITS = re.compile(r"\d")
_ARABIC_LETTER = re.compile("[\u0621-\u064a\u066e-\u06d3]")
_BRACKETS = re.compile("[()]")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_SWAPPED_BRACKETS = str.maketrans("()", ")(")
# pdfium writes the lam-alef ligatures as alef + lam; these sequences never occur otherwise
# (two alefs in a row, the last one "اال", are not Arabic spelling either).
_LAM_ALEF_FIXES = {"اإل": "الإ", "األ": "الأ", "اآل": "الآ", "اال": "الا"}

T = TypeVar("T")

logging.getLogger("pypdf").setLevel(logging.ERROR)


def load_pdf(
    path: Path, ocr_cache: Path | None = None, ocr: bool = True, progress: Progress | None = None
) -> Extracted:
    """Read every page, keeping for each the better of the available extractions; OCR where none is.

    With ocr=False, the text layers alone: pages that need OCR keep their note and no text.
    progress is told (pages read, pages to read) as OCR goes.
    """
    reader = _open(path)
    first = repair_pages([_safe(page.extract_text, "") for page in reader.pages])
    scores = [quality(text) for text in first]
    poor = [index for index, score in enumerate(scores) if score < GOOD_ENOUGH]
    second = dict(zip(poor, repair_pages(_read_with_pdfium(path, poor)), strict=True)) if poor else {}
    pages = []
    for index, page in enumerate(reader.pages):
        text, score, extractor = first[index], scores[index], "pypdf"
        if index in second and (other := quality(second[index])) > score:
            text, score, extractor = second[index], other, "pypdfium2"
        note = None
        if not text.strip():
            has_images = _safe(lambda: len(page.images) > 0, False)  # noqa: B023  # called at once
            note = f"no text layer (a scanned image?): {NEEDS_OCR}" if has_images else "empty page"
        elif score < READABLE and words_judged(text) >= _WORDS_TO_TELL:
            note = f"unreadable text layer (quality {score:.2f}: {_what_is_wrong(text)}): {NEEDS_OCR}"
            text = ""
        text = _PRIVATE_USE.sub("", text)  # a font's own glyph codes, kept only until the page was judged
        pages.append(ExtractedPage(index + 1, text, score, extractor, note))
    title = _safe(lambda: (reader.metadata.title or "").strip() if reader.metadata else "", "")
    return Extracted(
        format="pdf", pages=_read_by_ocr(path, pages, ocr_cache, progress) if ocr else pages, title=title or None
    )


def _read_by_ocr(
    path: Path, pages: list[ExtractedPage], cache: Path | None, progress: Progress | None
) -> list[ExtractedPage]:
    """Pages without readable text, and scans whose text layer is only a footer, read by Tesseract."""
    unread = {p.number for p in pages if (p.note or "").endswith(NEEDS_OCR)}
    overlaid = _mostly_image(path, [p.number for p in pages if p.number not in unread and _few_words(p.text)])
    if not unread and not overlaid:
        return pages
    if (missing := tesseract_missing()) is not None:
        return [replace(p, note=f"{p.note}; {missing}") if p.number in unread else p for p in pages]
    read = {page.number: page for page in ocr_pdf(path, sorted(unread | overlaid), cache, progress=progress)}
    result = []
    for page in pages:
        ocr = read.get(page.number)
        if ocr is None or (page.number in overlaid and len(ocr.text.split()) <= len(page.text.split())):
            result.append(page)  # not read again, or the text layer said as much as the image
        elif ocr.error or not ocr.text.strip():
            result.append(replace(page, note=f"{page.note or 'a scanned page'}; OCR: {ocr.error or 'no text found'}"))
        else:
            note = None if ocr.confidence >= _CONFIDENT else f"OCR confidence {ocr.confidence:.2f}: check the original"
            result.append(ExtractedPage(page.number, ocr.text, ocr.confidence, OCR_ENGINE, note))
    return result


def _few_words(text: str) -> bool:
    return len(text.split()) < _FOOTER_WORDS


def _mostly_image(path: Path, numbers: list[int]) -> set[int]:
    """Which of these pages are mostly covered by images: a scan with a text layer of a line or two."""
    if not numbers:
        return set()
    document = _safe(lambda: pypdfium2.PdfDocument(str(path)), None)
    if document is None:
        return set()
    try:
        return {number for number in numbers if _safe(lambda: _image_share(document[number - 1]), 0.0) >= 0.5}  # noqa: B023
    finally:
        document.close()


def _image_share(page: pypdfium2.PdfPage) -> float:
    width, height = page.get_size()
    covered = 0.0
    for item in page.get_objects(filter=[pypdfium2.raw.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = item.get_bounds()
        covered += (right - left) * (top - bottom)
    return min(1.0, covered / (width * height)) if width and height else 0.0


def _open(path: Path) -> pypdf.PdfReader:
    try:
        reader = pypdf.PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFileError("the PDF is encrypted with a password; decrypt it first")
        if len(reader.pages) == 0:
            raise UnreadableFileError("the PDF has no pages")
    except UnreadableFileError:
        raise
    except Exception as error:  # pypdf raises many types for damaged files
        raise UnreadableFileError(f"not a readable PDF ({_short(error)})") from error
    return reader


def _read_with_pdfium(path: Path, indexes: list[int]) -> list[str]:
    document = _safe(lambda: pypdfium2.PdfDocument(str(path)), None)
    if document is None:
        return ["" for _ in indexes]

    def read(index: int) -> str:
        return str(document[index].get_textpage().get_text_range()).replace("\r\n", "\n").replace("\r", "\n")

    try:
        return [_safe(lambda: read(index), "") for index in indexes]  # noqa: B023  # called at once
    finally:
        document.close()


def _what_is_wrong(text: str) -> str:
    """What most of an unreadable text layer is made of, for the note."""
    counts = {
        "glyph codes, not words": len(_DIGITS.findall(text)),
        "Latin letters that form no words: a font without a text map, or a legacy code page": len(_LATIN.findall(text)),
        "Arabic letters that form no words: a broken font map": len(_ARABIC_LETTER.findall(text)),
    }
    return max(counts, key=counts.__getitem__)


def repair(text: str) -> str:
    """Undo the known Arabic extraction faults in one page of text."""
    return repair_pages([text])[0]


def repair_pages(pages: list[str]) -> list[str]:
    """Undo the known Arabic extraction faults in the pages of one document.

    Word order and digit order are decided on each page's evidence; where a page has too
    little (a line or two), on the document's, since one producer wrote all its pages.
    """
    spaced = [_HORIZONTAL_SPACE.sub(" ", text) for text in pages]
    shaped = [bool(_PRESENTATION_FORMS.search(text)) for text in spaced]
    cleaned = [_clean(text) for text in spaced]
    order = [order_evidence(text) for text in cleaned]
    digits = [sum(digit_evidence(line) for line in text.split("\n")) for text in cleaned]
    document_order, document_digits = sum(order), sum(digits)
    repaired = []
    for text, page_order, page_digits, forms in zip(cleaned, order, digits, shaped, strict=True):
        evidence = page_order if abs(page_order) >= _ORDER_MARGIN else document_order
        visual = evidence + (_PRIOR_WITH_FORMS if forms else _PRIOR_WITHOUT_FORMS) < 0
        lines = [_arrange(line, visual, page_digits or document_digits) for line in text.split("\n")]
        repaired.append("\n".join(lines).strip())
    return repaired


def _clean(text: str) -> str:
    """Undo what does not depend on reading order: code page, glyph forms, letter variants."""
    redecoded = redecode_legacy(text)
    if redecoded != text and quality(redecoded) > quality(text):
        text = redecoded
    text = fold_presentation_forms(text)
    for wrong, right in _LAM_ALEF_FIXES.items():
        text = text.replace(wrong, right)
    return "\n".join(line.strip() for line in unify_arabic_letters(text).split("\n"))


def _arrange(line: str, visual: bool, other_digits: int) -> str:
    """One line in reading order: words (if the page is visual), digit runs, then punctuation."""
    language = detect_language(line)
    if language == "en":
        return line
    if visual and language == "ar":
        line = _reverse_words(line)
    # A line's own numbers decide first; a line with none that tell follows its page, or document.
    votes = digit_evidence(line) or other_digits
    if votes < 0 or (votes == 0 and visual):  # visual lines carry reversed runs (measured on the Saudi laws)
        line = reverse_digit_runs(line)
    return _unmirror(line) if language == "ar" else line


def _reverse_words(line: str) -> str:
    """A visual-order line read right to left; a run of Latin words in it still reads left to right."""
    runs = groupby(
        reversed(line.split(" ")), key=lambda token: bool(_LATIN.search(token) and not _ARABIC.search(token))
    )
    return " ".join(" ".join(reversed(list(run)) if latin else run) for latin, run in runs)


def _unmirror(line: str) -> str:
    """Put back punctuation that bidi-unaware extraction left on the wrong side of a word.

    In a logical-order Arabic line ") الموافق (" is "( الموافق )": brackets that pair only when
    swapped are swapped. Within a word, ")رقم" is "(رقم", "وتاريخ(" is "وتاريخ)" and ".هـ" is "هـ."
    (the bracket's partner may be on another line).
    """
    if not _paired(line) and _paired(line.translate(_SWAPPED_BRACKETS)):
        line = line.translate(_SWAPPED_BRACKETS)
    return " ".join(_unmirror_word(token) for token in line.split(" "))


def _paired(line: str) -> bool:
    depth = 0
    for bracket in _BRACKETS.findall(line):
        depth += 1 if bracket == "(" else -1
        if depth < 0:
            return False
    return depth == 0


def _unmirror_word(token: str) -> str:
    if len(token) < 2 or not _ARABIC.search(token):
        return token
    if token[0] == ")":
        token = "(" + token[1:]
    if token[-1] == "(":
        token = token[:-1] + ")"
    if token[0] in ".،:؛" and _ARABIC.match(token[1]):
        token = token[1:] + token[0]
    return token


def _safe(read: Callable[[], T], default: T) -> T:
    """Run one extraction step; a damaged page yields the default instead of failing the file."""
    try:
        return read()
    except Exception:
        return default


def _short(error: Exception) -> str:
    return (str(error) or type(error).__name__).splitlines()[0][:200]
