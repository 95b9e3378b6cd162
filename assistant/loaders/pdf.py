"""PDF pages to text: pypdf first, repaired; pypdfium2 where pypdf's text of a page is poor.

Arabic PDFs break text extraction in known ways: glyphs stored as presentation forms, lines
written in visual (left-to-right) word order with Arabic-Indic digit runs reversed, and
lam-alef ligatures decomposed in the wrong order. `repair` undoes what can be undone;
`quality` scores what is left, so that a page can be read again by the other extractor and
the better reading kept. The choice of pypdfium2 as the second extractor was measured with
benchmarks/pdf_extraction.py on ../shared/data/pdf (see the README).
"""

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pypdf
import pypdfium2

from assistant.errors import UnreadableFileError
from assistant.loaders.base import Extracted, ExtractedPage
from assistant.textnorm import detect_language, fold_presentation_forms

# Below this a page is read again by the second extractor.
GOOD_ENOUGH = 0.9

_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")
_ARABIC = re.compile("[\u0600-\u06ff]")
_ARABIC_INDIC_RUN = re.compile("[\u0660-\u0669\u06f0-\u06f9]{2,}")
_SENTENCE_END = re.compile("[.:!؟?،؛]$")
# Tokens that begin Arabic clauses and rarely end a line: a line ending in one is reversed.
_LEADING_WORDS = set("في من على إلى الى عن مع أن ان إن هل و أو ثم بين حتى لا".split())
# pdfium writes the lam-alef ligatures as alef + lam; these sequences never occur otherwise.
_LAM_ALEF_FIXES = {"اإل": "الإ", "األ": "الأ", "اآل": "الآ"}
# A token mixing Arabic letters with ASCII symbols or letters is a broken glyph mapping.
_JUNK_TOKEN = re.compile(r"(?=\S*[\u0621-\u064a])(?=\S*[A-Za-z()'#$%@\[\]{}<>|\\^~])\S+")
_BAD_CHARS = re.compile("[\ufffd\ue000-\uf8ff\x00-\x08\x0b\x0c\x0e-\x1f]")
_COMMON_ARABIC = set("في من على إلى الى عن أن ان التي الذي مع هذا هذه ما لا كان و أو كما بين ذلك قد".split())

T = TypeVar("T")

logging.getLogger("pypdf").setLevel(logging.ERROR)


def load_pdf(path: Path) -> Extracted:
    """Read every page, keeping for each the better of the available extractions."""
    reader = _open(path)
    second: pypdfium2.PdfDocument | None = None
    pages = []
    for index, page in enumerate(reader.pages):
        candidates = [_read_with_pypdf(page)]
        if quality(candidates[0][0]) < GOOD_ENOUGH:
            second = second or pypdfium2.PdfDocument(str(path))
            candidates.append(_read_with_pdfium(second, index))
        text, extractor = max(candidates, key=lambda c: quality(c[0]))
        note = None
        if not text.strip():
            has_images = _safe(lambda: len(page.images) > 0, False)  # noqa: B023  # called at once
            note = "no text layer (a scanned image?): needs OCR" if has_images else "empty page"
        pages.append(ExtractedPage(index + 1, text, quality(text), extractor, note))
    if second is not None:
        second.close()
    title = _safe(lambda: (reader.metadata.title or "").strip() if reader.metadata else "", "")
    return Extracted(format="pdf", pages=pages, title=title or None)


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


def _read_with_pypdf(page: pypdf.PageObject) -> tuple[str, str]:
    return repair(_safe(page.extract_text, "")), "pypdf"


def _read_with_pdfium(document: pypdfium2.PdfDocument, index: int) -> tuple[str, str]:
    def read() -> str:
        textpage = document[index].get_textpage()
        return str(textpage.get_text_range())

    return repair(_safe(read, "").replace("\r\n", "\n").replace("\r", "\n")), "pypdfium2"


def repair(text: str) -> str:
    """Undo the known Arabic extraction faults in one page of text."""
    text = _HORIZONTAL_SPACE.sub(" ", text)
    visual = _looks_visual(text)
    text = fold_presentation_forms(text)
    for wrong, right in _LAM_ALEF_FIXES.items():
        text = text.replace(wrong, right)
    lines = [line.strip() for line in text.split("\n")]
    if visual:
        lines = [_reverse_visual_line(line) for line in lines]
    return "\n".join(_fix_mirrored_punctuation(line) for line in lines).strip()


def _looks_visual(text: str) -> bool:
    """Whether the page's Arabic lines are in visual (reversed) word order."""
    visual = logical = 0
    for line in text.split("\n"):
        tokens = line.split()
        if len(tokens) < 2 or detect_language(fold_presentation_forms(line)) != "ar":
            continue
        if _PRESENTATION_FORMS.search(line):
            visual += 1  # pre-shaped glyphs are laid out, and so extracted, left to right
        first_bare = fold_presentation_forms(tokens[0])
        last_bare = fold_presentation_forms(tokens[-1])
        # A word with sentence-final punctuation that opens a line was read backwards.
        backwards_end = bool(_ARABIC.search(first_bare) and _SENTENCE_END.search(first_bare))
        visual += (last_bare in _LEADING_WORDS) + backwards_end
        logical += (first_bare in _LEADING_WORDS) + bool(_SENTENCE_END.search(last_bare))
    return visual > logical


def _reverse_visual_line(line: str) -> str:
    if detect_language(line) != "ar":
        return line
    tokens = line.split(" ")[::-1]
    return " ".join(_ARABIC_INDIC_RUN.sub(lambda m: m.group()[::-1], t) for t in tokens)


def _fix_mirrored_punctuation(line: str) -> str:
    """Put back punctuation that bidi-unaware extraction left on the wrong side of a word.

    In a logical-order Arabic line ")رقم" is "(رقم", "وتاريخ(" is "وتاريخ)" and ".هـ" is "هـ.".
    """
    if detect_language(line) != "ar":
        return line
    return " ".join(_unmirror(token) for token in line.split(" "))


def _unmirror(token: str) -> str:
    if len(token) < 2 or not _ARABIC.search(token):
        return token
    if token[0] == ")":
        token = "(" + token[1:]
    if token[-1] == "(":
        token = token[:-1] + ")"
    if token[0] in ".،:؛" and _ARABIC.match(token[1]):
        token = token[1:] + token[0]
    return token


def quality(text: str) -> float:
    """0 (unusable) to 1 (clean): broken glyph mappings, junk characters, unknown words."""
    if not text.strip():
        return 0.0
    bad_chars = len(_BAD_CHARS.findall(text)) / len(text)
    arabic_tokens = [t for t in text.split() if _ARABIC.search(t)]
    if not arabic_tokens:
        return round(max(0.0, 1 - 5 * bad_chars), 3)
    junk = sum(1 for t in arabic_tokens if _JUNK_TOKEN.fullmatch(t)) / len(arabic_tokens)
    score = max(0.0, 1 - 3 * junk - 5 * bad_chars)
    prose = [t for line in text.splitlines() if len(line.split()) >= 6 for t in line.split() if _ARABIC.search(t)]
    if len(prose) >= 40:
        # Running Arabic prose is about a fifth function words; garbled text has few.
        # Tables and lists (short lines) are left out: they have few function words anyway.
        common = sum(1 for t in prose if t.strip(".,:،؛؟!«»()") in _COMMON_ARABIC)
        score *= min(1.0, common / len(prose) / 0.08)
    return round(score, 3)


def _safe(read: Callable[[], T], default: T) -> T:
    """Run one extraction step; a damaged page yields the default instead of failing the file."""
    try:
        return read()
    except Exception:
        return default


def _short(error: Exception) -> str:
    return (str(error) or type(error).__name__).splitlines()[0][:200]
