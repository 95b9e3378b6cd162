"""OCR quality and speed on ../shared/data/pdf: the measurement behind assistant/loaders/ocr.py.

Run: python benchmarks/ocr_quality.py [SHARED_PDF_DIR] [--truth DIR] [--tesserocr] [--quick]

- Character error rate (CER) against transcriptions: DIR holds `<pdf stem>.p<N>.txt`, page N
  of that PDF typed from the rendered page (kept out of the project: the laws are third-party).
  CER is over the whole page, lines joined by spaces; "letters" counts Arabic and Latin letters
  only, so it shows the text apart from digits, punctuation and reading order; "numbers" is how
  many of the page's numbers come back exactly (Arabic-Indic read as 0-9).
- Word recall against text layers: born-digital pages rendered and read as if scanned, their
  text as the project's PDF loader extracts it as the reference (imperfect for the Saudi laws,
  whose layer has broken glyphs, but equally so for every setting). Words are compared after
  the keyword normalisation, as search sees them.
- One setting is varied at a time from the product's (scans at their own resolution, other
  pages at 200 dpi, psm 3, languages by script): languages `ara`, `ara+eng`; psm 4 and 6;
  300 dpi for pages that are not scans; every page at 300 dpi (scans resampled too).
- Digits (Arabic-Indic and 0-9) and a two-column page (psm 3, 4, 6) made here with fpdf2.
- Speed: rendering seconds per page; Tesseract CPU seconds per page (children's user+sys, which a
  busy machine does not inflate much); and a 48-page law read end to end on all cores, cold and
  from the cache, both as text pages and printed to a 200-dpi scan, with the share of the
  machine that other processes took meanwhile (wall times mean little on a shared machine).
- `--tesserocr`: the same pages through tesserocr, if it is importable (it is not a dependency:
  `pip install --target /tmp/t tesserocr` and PYTHONPATH=/tmp/t), against Debian's binary.
"""

import argparse
import contextlib
import difflib
import os
import re
import resource
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pypdfium2
from fpdf import FPDF

from assistant.loaders import ocr
from assistant.loaders.ocr import OcrSettings, ocr_pdf, tesseract_missing
from assistant.loaders.pdf import load_pdf
from assistant.sample import FONT, write_pdf
from assistant.textnorm import normalize

# (folder, file, pages, script) read as scans; the reference is the text layer.
TEXT_LAYER_PAGES = [
    ("arabic-egypt-laws-dev", "law_no.6.of_.2025.pdf", range(1, 6), "Arabic"),
    ("arabic-saudi-laws", "anti_cyber_crime_law.pdf", range(1, 8), "Arabic"),
    ("arabic-saudi-laws", "saudi_nationality_law.pdf", range(1, 10), "Arabic"),
    ("arabic-docling-rtl", "right_to_left_01.pdf", range(1, 2), "Arabic"),
    ("english-unsc-debates", "unsc_debates_1992-2023_arxiv1906.10969v3.pdf", range(2, 7), "Latin"),
]
LONG_DOCUMENT = ("arabic-saudi-laws", "criminal_procedure_law.pdf")
PRODUCT = OcrSettings()
# name: (settings, whether scans are rendered at their own resolution)
VARIANTS = {
    "product": (PRODUCT, True),
    "languages ara": (replace(PRODUCT, languages="ara"), True),
    "languages ara+eng": (replace(PRODUCT, languages="ara+eng"), True),
    "psm 4": (replace(PRODUCT, psm=4), True),
    "psm 6": (replace(PRODUCT, psm=6), True),
    "300 dpi (pages not scans)": (replace(PRODUCT, dpi=300), True),
    "every page at 300 dpi": (replace(PRODUCT, dpi=300), False),
}
_INVISIBLE = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\u0640\u064b-\u0652\u0670]")
_NOT_LETTER = re.compile(r"[^\u0621-\u064aA-Za-z]")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")


@dataclass
class Truth:
    pdf: Path
    page: int
    text: str


def levenshtein(a: str, b: str) -> int:
    """Edit distance by Hyyrö's bit-parallel algorithm: one big-integer step per character of b."""
    if not a:
        return len(b)
    mask = (1 << len(a)) - 1
    high = 1 << (len(a) - 1)
    peq: dict[str, int] = {}
    for i, char in enumerate(a):
        peq[char] = peq.get(char, 0) | (1 << i)
    pv, mv, score = mask, 0, len(a)
    for char in b:
        eq = peq.get(char, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def clean(text: str) -> str:
    """What a reader would count as the same text: no diacritics, tatweel or direction marks."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return " ".join(text.replace("–", "-").replace("—", "-").split())


def cer(reference: str, hypothesis: str) -> float:
    return levenshtein(reference, hypothesis) / max(1, len(reference))


def numbers_found(reference: str, hypothesis: str) -> tuple[int, int]:
    wanted = re.findall(r"\d+", reference.translate(_DIGITS))
    got = Counter(re.findall(r"\d+", hypothesis.translate(_DIGITS)))
    return sum(1 for number in wanted if got[number] > 0), len(wanted)


def word_recall(reference: str, hypothesis: str) -> tuple[int, int]:
    wanted = Counter(word for word in normalize(reference).split() if len(word) > 2)
    got = Counter(normalize(hypothesis).split())
    return sum(min(count, got[word]) for word, count in wanted.items()), sum(wanted.values())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_truths(shared: Path, folder: Path | None) -> list[Truth]:
    truths = []
    for file in sorted(folder.glob("*.p*.txt")) if folder else []:
        stem, page = re.fullmatch(r"(.+)\.p(\d+)\.txt", file.name).groups()  # type: ignore[union-attr]
        pdf = next(shared.rglob(f"{stem}.pdf"), None)
        if pdf is not None:
            truths.append(Truth(pdf, int(page), file.read_text(encoding="utf-8")))
    return truths


@contextlib.contextmanager
def scans_resampled(resampled: bool):
    """Render scans at the settings' dpi like every other page, instead of at their own."""
    own = ocr._render_dpi
    if resampled:
        ocr._render_dpi = lambda page, default: default
    try:
        yield
    finally:
        ocr._render_dpi = own


def read(
    pdf: Path, pages: list[int], settings: OcrSettings, own_resolution: bool = True
) -> tuple[dict[int, str], float, float]:
    """Texts by page, and Tesseract CPU seconds and wall seconds per page."""
    cpu, start = children_cpu(), time.perf_counter()
    with scans_resampled(not own_resolution):
        result = ocr_pdf(pdf, pages, None, settings)
    wall = time.perf_counter() - start
    return {page.number: page.text for page in result}, (children_cpu() - cpu) / len(pages), wall / len(pages)


def quality(shared: Path, truths: list[Truth], quick: bool) -> None:
    print("## Quality, one setting varied at a time\n")
    groups = [] if quick else [(shared / f / n, list(p), s) for f, n, p, s in TEXT_LAYER_PAGES]
    groups = [group for group in groups if group[0].exists()]
    references = {pdf: load_pdf(pdf) for pdf, _, _ in groups}
    head = [f"{t.pdf.stem[:14]} p{t.page} CER / letters / numbers" for t in truths]
    head += [f"recall {pdf.stem[:14]}" for pdf, _, _ in groups] + ["Tesseract CPU s/page", "wall s/page"]
    print("| setting | " + " | ".join(head) + " |")
    print("|---" * (len(head) + 1) + "|")
    for name, (settings, own_resolution) in VARIANTS.items():
        cells, cpu, wall, pages = [], 0.0, 0.0, 0
        for truth in truths:
            texts, page_cpu, page_wall = read(truth.pdf, [truth.page], settings, own_resolution)
            reference, hypothesis = clean(truth.text), clean(texts[truth.page])
            found, total = numbers_found(reference, hypothesis)
            letters = cer(_NOT_LETTER.sub("", reference), _NOT_LETTER.sub("", hypothesis))
            cells.append(f"{cer(reference, hypothesis):.3f} / {letters:.3f} / {found}/{total}")
            cpu, wall, pages = cpu + page_cpu, wall + page_wall, pages + 1
        for pdf, numbers, _ in groups:
            texts, page_cpu, page_wall = read(pdf, numbers, settings, own_resolution)
            counts = [word_recall(references[pdf].pages[n - 1].text, texts[n]) for n in numbers]
            cells.append(f"{sum(c[0] for c in counts) / max(1, sum(c[1] for c in counts)):.3f}")
            cpu, wall, pages = cpu + page_cpu * len(numbers), wall + page_wall * len(numbers), pages + len(numbers)
        print(f"| {name} | " + " | ".join(cells) + f" | {cpu / pages:.2f} | {wall / pages:.2f} |", flush=True)
    print()


def digits() -> None:
    """Arabic text with its numbers in Arabic-Indic and in Western digits, rendered cleanly."""
    print("## Digits on a clean rendered page (numbers found exactly)\n")
    lines = {
        "Arabic-Indic": "صدر القانون رقم ١٥٩ لسنة ٢٠٢٣ في ٢٥ يوليو، والقانون رقم ٩١ لسنة ٢٠٠٥.",
        "Western": "صدر القانون رقم 159 لسنة 2023 في 25 يوليو، والقانون رقم 91 لسنة 2005.",
    }
    with tempfile.TemporaryDirectory() as folder:
        pdf = write_pdf(Path(folder) / "digits.pdf", list(lines.values()))
        texts, _, _ = read(pdf, [1, 2], PRODUCT)
    for number, (kind, line) in enumerate(lines.items(), 1):
        found, total = numbers_found(line, texts[number])
        print(f"- {kind}: {found}/{total}; read as «{clean(texts[number])}»")
    print()


def columns() -> None:
    """Two-column pages, Arabic (right column first) and English, in three type sizes."""
    print("## Two columns: pages read column by column (≥95% of the words in reading order)\n")
    texts = {
        "Arabic": (
            "يعمل بالدليل الإرشادي المرافق في شأن الضريبة على القيمة المضافة للخدمات الرقمية. " * 4,
            "تلغى الإعفاءات من الضرائب والرسوم المقررة لجهات الدولة في الأنشطة الاقتصادية. " * 4,
        ),
        "English": (
            "The foreign ministers of the Global Coalition met in Washington and agreed to act. " * 4,
            "Speakers said that social media companies must do more to remove extremist content. " * 4,
        ),
    }
    in_order: Counter[int] = Counter()
    with tempfile.TemporaryDirectory() as folder:
        for size in (9, 11, 13):
            for language, (first, second) in texts.items():
                pdf = FPDF()
                pdf.add_font("dejavu", fname=str(FONT))
                pdf.set_font("dejavu", size=size)
                pdf.set_text_shaping(True)
                pdf.add_page()
                arabic = language == "Arabic"
                for x, text in ((110 if arabic else 10, first), (10 if arabic else 110, second)):
                    pdf.set_xy(x, 20)
                    pdf.multi_cell(90, size / 2, text, align="R" if arabic else "L")
                path = Path(folder) / f"{language}-{size}.pdf"
                pdf.output(str(path))
                expected = normalize(first + " " + second).split()
                for psm in (3, 4, 6):
                    got = normalize(read(path, [1], replace(PRODUCT, psm=psm))[0][1]).split()
                    matcher = difflib.SequenceMatcher(None, expected, got, autojunk=False)
                    in_order[psm] += sum(b.size for b in matcher.get_matching_blocks()) / len(expected) >= 0.95
    print("- " + ", ".join(f"psm {psm}: {in_order[psm]} of 6" for psm in (3, 4, 6)) + "\n")


def speed(shared: Path, truths: list[Truth], quick: bool) -> None:
    print("## Speed\n")
    for truth in truths:
        page = pypdfium2.PdfDocument(str(truth.pdf))[truth.page - 1]
        for dpi in sorted({200, 300, ocr._render_dpi(page, PRODUCT.dpi)}):
            start = time.perf_counter()
            page.render(scale=dpi / 72, grayscale=True).to_pil()
            print(f"- {truth.pdf.name} p{truth.page} rendered at {dpi} dpi: {time.perf_counter() - start:.2f} s")
    long = shared / LONG_DOCUMENT[0] / LONG_DOCUMENT[1]
    if quick or not long.exists():
        print()
        return
    with tempfile.TemporaryDirectory() as folder:
        # The same law as a scanner would give it: every page an image at 200 dpi, no text.
        document = pypdfium2.PdfDocument(str(long))
        images = [document[i].render(scale=200 / 72, grayscale=True).to_pil() for i in range(len(document))]
        scan = Path(folder) / "scan.pdf"
        images[0].save(scan, save_all=True, append_images=images[1:], resolution=200)
        for pdf, kind in ((long, f"text pages rendered at {PRODUCT.dpi} dpi"), (scan, "200-dpi scan")):
            pages = list(range(1, len(images) + 1))
            cache = Path(folder) / f"cache-{pdf.stem}"
            for run in ("cold", "cached"):
                cpu, own, busy, start = children_cpu(), time.process_time(), machine_busy(), time.perf_counter()
                ocr_pdf(pdf, pages, cache, PRODUCT)
                wall = time.perf_counter() - start
                ours = children_cpu() - cpu + time.process_time() - own
                others = max(0.0, machine_busy() - busy - ours) / (wall * ocr._cores())
                print(
                    f"- {long.name} ({kind}), {len(pages)} pages, {run}, {ocr._cores()} cores: {wall:.1f} s "
                    f"({wall / len(pages):.2f} s/page; Tesseract CPU {(children_cpu() - cpu) / len(pages):.2f} s/page; "
                    f"other processes took {others:.0%} of the machine meanwhile)",
                    flush=True,
                )
    print()


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (Linux), to see what else ran."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def tesserocr_comparison(shared: Path, truths: list[Truth]) -> None:
    """tesserocr's bundled Tesseract against Debian's binary, the same languages for both."""
    try:
        import tesserocr  # type: ignore[import-not-found]
    except ImportError:
        print("## tesserocr: not importable, comparison skipped\n")
        return
    tessdata = next(Path("/usr/share/tesseract-ocr").glob("*/tessdata"), None)
    print(f"## tesserocr ({tesserocr.tesseract_version().splitlines()[0]}) against the binary, same images\n")
    cases = [(t.pdf, [t.page], "Arabic", {t.page: t.text}) for t in truths]
    for folder, name, numbers, script in TEXT_LAYER_PAGES:
        pdf = shared / folder / name
        if pdf.exists():
            extracted = load_pdf(pdf)
            cases.append((pdf, list(numbers), script, {n: extracted.pages[n - 1].text for n in numbers}))
    print("| file | binary recall | tesserocr recall | binary CPU s/page | tesserocr CPU s/page |")
    print("|---|---|---|---|---|")
    for pdf, numbers, script, references in cases:
        language = "ara" if script == "Arabic" else "eng+ara"
        binary, binary_cpu, _ = read(pdf, numbers, replace(PRODUCT, languages=language, workers=1))
        document = pypdfium2.PdfDocument(str(pdf))
        own: dict[int, str] = {}
        own_cpu = 0.0
        with tesserocr.PyTessBaseAPI(path=str(tessdata), lang=language, psm=PRODUCT.psm) as api:
            for number in numbers:
                page = document[number - 1]
                dpi = ocr._render_dpi(page, PRODUCT.dpi)  # the image the binary was given
                image = page.render(scale=dpi / 72, grayscale=True).to_pil()
                start = time.process_time()
                api.SetImageBytes(image.tobytes(), image.width, image.height, 1, image.width)
                api.SetSourceResolution(dpi)
                own[number] = api.GetUTF8Text()
                own_cpu += (time.process_time() - start) / len(numbers)
        recalls = []
        for texts in (binary, own):
            counts = [word_recall(references[n], texts[n]) for n in numbers]
            recalls.append(sum(c[0] for c in counts) / max(1, sum(c[1] for c in counts)))
        print(f"| {pdf.stem[:30]} | {recalls[0]:.3f} | {recalls[1]:.3f} | {binary_cpu:.2f} | {own_cpu:.2f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("shared", nargs="?", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/pdf")
    parser.add_argument("--truth", type=Path, help="folder of <pdf stem>.p<N>.txt transcriptions")
    parser.add_argument("--tesserocr", action="store_true", help="also compare tesserocr, if importable")
    parser.add_argument("--quick", action="store_true", help="transcribed pages only; no long document")
    parser.add_argument("--only", choices=["quality", "digits", "columns", "speed", "tesserocr"], help="one part")
    args = parser.parse_args()
    if (message := tesseract_missing()) is not None:
        sys.exit(message)
    if not args.shared.is_dir():
        sys.exit(f"{args.shared} is absent: pass the shared PDF folder")
    truths = load_truths(args.shared, args.truth)
    if args.only in (None, "quality"):
        quality(args.shared, truths, args.quick)
    if args.only in (None, "digits"):
        digits()
    if args.only in (None, "columns"):
        columns()
    if args.only in (None, "speed"):
        speed(args.shared, truths, args.quick)
    if args.only == "tesserocr" or (args.only is None and args.tesserocr):
        tesserocr_comparison(args.shared, truths)


if __name__ == "__main__":
    main()
