"""Compare PDF text extractors on ../shared/data/pdf, the measurement behind assistant/loaders/pdf.py.

Run: python benchmarks/pdf_extraction.py [SHARED_PDF_DIR]

For files with a reference (tabula's expected cells, docling's ground truth, pypdf's habibi
text) it prints how much of the reference each method recovers; for the Saudi laws, which have
none, the mean page quality score (the length-weighted share of real words; the pipeline's
scores the text it serves, none for a page it finds unreadable). Methods: each
extractor raw, each after `repair`, and the pipeline the product uses (pypdf, falling back per
page to pypdfium2). Then, for the Egyptian laws, each page as the pipeline reads it: the quality
of pypdf's raw text, the extractor kept and its quality after repair, and the page's note.
Last, per PDF, the pipeline end to end with OCR (cold cache): how each page was read (text as
extracted, text repaired, OCR, not indexed), mean quality of pypdf's raw pages against what is
served, pages per second, and known phrases of the file: found in logical order, or reversed.
"""

import difflib
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pdfplumber
import pypdf
import pypdfium2

from assistant.loaders.base import ExtractedPage
from assistant.loaders.pdf import load_pdf, quality, repair
from assistant.textnorm import normalize
from assistant.types import OCR_ENGINE

# Phrases a reader sees on the rendered pages, to be found in logical order in what is served.
KNOWN_PHRASES = {
    "law_no.6.of_.2025.pdf": ["الجريدة الرسمية", "رئيس الجمهورية", "قانون رقم ٦ لسنة ٢٠٢٥"],
    "law_no._159_for_2023.pdf": ["الجريدة الرسمية"],
    "law-160-2023-wezary.pdf": ["وزير المالية", "الضريبة على القيمة المضافة"],
    "law_no.1-2007.pdf": ["قانون الضريبة على الدخل", "رئيس الجمهورية", "باسم الشعب"],
    "law-323-efatora8.pdf": ["رئيس مصلحة الضرائب المصرية"],
    "anti_cyber_crime_law.pdf": ["نظام مكافحة جرائم", "الرحمن الرحيم"],
    "basic_law_of_governance.pdf": ["الرحمن الرحيم", "أمر ملكي"],
    "criminal_procedure_law.pdf": ["الرحمن الرحيم", "مرسوم ملكي"],
    "saudi_nationality_law.pdf": ["نظام الجنسية العربية السعودية", "الرحمن الرحيم"],
    "right_to_left_01.pdf": ["تحسين الإنتاجية وحل المشكلات"],
    "arabic.pdf": ["مرحباً اسمي سلطان"],
    "mednine.pdf": ["سيدي مخلوف"],
    "habibi.pdf": ["حبيبي"],
}


def pypdf_pages(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in pypdf.PdfReader(path).pages]


def pdfium_pages(path: Path) -> list[str]:
    document = pypdfium2.PdfDocument(str(path))
    return [document[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(document))]


def plumber_pages(path: Path) -> list[str]:
    with pdfplumber.open(path) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


METHODS = {
    "pypdf": lambda p: pypdf_pages(p),
    "pypdfium2": lambda p: pdfium_pages(p),
    "pdfplumber": lambda p: plumber_pages(p),
    "pypdf+repair": lambda p: [repair(t) for t in pypdf_pages(p)],
    "pypdfium2+repair": lambda p: [repair(t) for t in pdfium_pages(p)],
    "pipeline": lambda p: [page.text for page in load_pdf(p).pages],
}


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def cells_found(text: str, cells: list[str]) -> str:
    flat = squash(text)
    return f"{sum(squash(c) in flat for c in cells)}/{len(cells)} cells"


def similarity(text: str, reference: str) -> str:
    return f"{difflib.SequenceMatcher(None, squash(text), squash(reference)).ratio():.2f} sim"


def main(root: Path) -> None:
    cells = json.loads((root / "arabic-tabula/expected_cells.json").read_text())
    docling = root / "arabic-docling-rtl/groundtruth"
    reference = {
        "arabic-tabula/arabic.pdf": lambda t: cells_found(t, [c["text"] for c in cells["arabic.pdf"]]),
        "arabic-tabula/mednine.pdf": lambda t: cells_found(t, [c["text"] for c in cells["mednine.pdf"]]),
        "arabic-docling-rtl/right_to_left_01.pdf": lambda t: similarity(
            t, re.sub(r"^#+ ", "", (docling / "right_to_left_01.docling.md").read_text(), flags=re.M)
        ),
        "arabic-pypdf-samples/habibi.pdf": lambda t: similarity(
            t, (root / "arabic-pypdf-samples/habibi.expected.txt").read_text()
        ),
    }
    no_reference = [
        "arabic-docling-rtl/right_to_left_02.pdf",
        *sorted(str(p.relative_to(root)) for p in (root / "arabic-saudi-laws").glob("*.pdf")),
        *sorted(str(p.relative_to(root)) for p in (root / "english-unsc-debates").glob("*.pdf")),
    ]
    print(f"{'file':48} " + " ".join(f"{m:>17}" for m in METHODS))
    for name, measure in reference.items():
        texts = {m: "\n".join(read(root / name)) for m, read in METHODS.items()}
        print(f"{name:48} " + " ".join(f"{measure(texts[m]):>17}" for m in METHODS))
    print("mean page quality (no reference text):")
    for name in no_reference:
        row = []
        for read in METHODS.values():
            pages = read(root / name)
            row.append(f"{sum(quality(t) for t in pages) / max(1, len(pages)):.2f} q")
        print(f"{name:48} " + " ".join(f"{r:>17}" for r in row))
    print("per page (egypt laws): raw pypdf quality -> pipeline extractor and quality, note")
    for path in sorted((root / "arabic-egypt-laws-dev").glob("*.pdf")):
        raw = pypdf_pages(path)
        for page in load_pdf(path).pages:
            before = quality(raw[page.number - 1])
            after = f"{page.extractor:9} {page.quality:.2f}"
            print(f"{path.name:32} p{page.number:<3} {before:.2f} -> {after}  {page.note or ''}")
    print("\nper PDF, the pipeline with OCR (cold cache):\n")
    columns = ["file", "pages", "text / repaired / OCR / not indexed", "raw pypdf quality", "served quality"]
    columns += ["pages/s", "phrases in order (reversed)"]
    print("| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|")
    for path in sorted(root.rglob("*.pdf")):
        print(pipeline_row(path, root), flush=True)


def pipeline_row(path: Path, root: Path) -> str:
    raw = {"pypdf": pypdf_pages(path), "pypdfium2": pdfium_pages(path)}
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        pages = load_pdf(path, Path(cache)).pages
        seconds = time.perf_counter() - start
    methods = Counter(how_read(page, raw) for page in pages)
    served = [page.quality for page in pages if page.text.strip()]
    served_quality = f"{sum(served) / len(served):.2f}" if served else "-"
    text = normalize("\n".join(page.text for page in pages)).replace("\n", " ")
    phrases = [normalize(phrase) for phrase in KNOWN_PHRASES.get(path.name, [])]
    in_order = sum(phrase in text for phrase in phrases)
    reversed_ = sum(" ".join(reversed(phrase.split())) in text for phrase in phrases if " " in phrase)
    counts = " / ".join(str(methods[m]) for m in ("text", "repaired", "OCR", "not indexed"))
    before = sum(quality(t) for t in raw["pypdf"]) / max(1, len(pages))
    found = f"{in_order}/{len(phrases)} ({reversed_})" if phrases else "-"
    cells = [str(path.relative_to(root)), str(len(pages)), counts, f"{before:.2f}", served_quality]
    return "| " + " | ".join([*cells, f"{len(pages) / seconds:.1f}", found]) + " |"


def how_read(page: ExtractedPage, raw: dict[str, list[str]]) -> str:
    """OCR, not indexed, or the extractor's text: as it came (up to NFKC and spacing) or repaired."""
    if page.extractor == OCR_ENGINE:
        return "OCR"
    if not page.text.strip():
        return "not indexed"
    extracted = unicodedata.normalize("NFKC", raw[page.extractor][page.number - 1])
    return "text" if squash(extracted) == squash(page.text) else "repaired"


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[2] / "shared/data/pdf"))
