"""OCR with Tesseract: PDF pages and image files to text, pages in parallel, cached by page image.

Tesseract is Debian's binary (`apt-get install tesseract-ocr tesseract-ocr-ara`), one process
per page. Each choice was measured with benchmarks/ocr_quality.py on ../shared pages: scans
against transcriptions typed off the page, born-digital pages read as if scanned.

- Debian's binary, not tesserocr: tesserocr's wheel bundles Tesseract 5.5.4 and Leptonica 1.87,
  which read Arabic worse than Debian's 5.3.0 from the same images (word recall 0.88 against
  0.94 on one law, 0.69 against 0.76 on another); it takes a third less CPU, which does not pay
  for lost words. Not pytesseract: it keeps the command and the child's environment in process
  globals, so Tesseract alone cannot be given OMP_THREAD_LIMIT=1, and it goes through
  temporary files; the TSV it would parse for us is a few lines.
- A thread per core, each waiting on a Tesseract limited to one OpenMP thread: OpenMP inside
  Tesseract spins rather than works (3.8 s of CPU for a page that takes 0.7 s on one thread),
  and threads, unlike processes, can be started from the daemonic worker that reads files.
  A 48-page law, scanned, reads in 27 s on 2 cores.
- Languages by script, `ara` for Arabic pages and `eng+ara` for Latin ones, found by Tesseract's
  orientation and script detection on a document's first page and on any page that reads
  poorly. `ara+eng` on Arabic pages lets the English model take Arabic words (letter errors
  0.4% against 4.1% on a clean law page, 1.6% against 7.5% on a fax), and `ara` cannot read
  English (word recall 0.04); the price is the odd English word on an Arabic page.
- Scans at their own resolution (see `_render_dpi`), other pages at 200 dpi: at 300 dpi
  Tesseract dropped lines of large print (word recall 0.69 against 0.76 on a Saudi law), read
  the other pages no better and took 20% more CPU.
- Page segmentation mode 3 (automatic): 4 and 6 assume one column and read two-column pages
  across the columns (none of 6 in order, against 4 of 6 with mode 3).
- Arabic-Indic digits (٠١٢…) come back wrong from the `ara` model, a known limit of its training
  data (1 number of 5 on a clean page); digits written 0-9 are read (5 of 5).

Results are cached by a hash of the rendered page image and of everything that changes what
Tesseract returns, so the same page is read once however many files hold it.
"""

import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pypdfium2
from PIL import Image, ImageOps, UnidentifiedImageError

from assistant.errors import UnreadableFileError

INSTALL_COMMAND = "apt-get install tesseract-ocr tesseract-ocr-ara"
REQUIRED_LANGUAGES = ("ara", "eng")
# Bump when the text built from Tesseract's output changes: cached pages are read again.
CACHE_VERSION = "ocr-1"

Progress = Callable[[int, int], None]

# Scans are rendered at their own resolution within these bounds (a 600-dpi A4 page is 35 Mpx).
_MIN_SCAN_DPI, _MAX_SCAN_DPI = 72, 600
# Below this Tesseract is guessing the orientation (its own `min_orientation_margin`).
_MIN_ORIENTATION_CONFIDENCE = 7.0
_SCRIPT_LANGUAGES = {"Arabic": "ara", "Latin": "eng+ara"}
_FALLBACK_LANGUAGES = "ara+eng"
# A reading below this mean confidence is checked for the wrong script or a turned page.
_CHECK_BELOW = 0.5
# Tesseract marks the direction of runs inside a line; they are invisible and split tokens.
_BIDI_MARKS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
# pdfium may not be called from two threads at once, even on different documents.
_PDFIUM = threading.Lock()


@dataclass(frozen=True)
class OcrSettings:
    """How pages are read. Every field but `workers` and `timeout` is part of the cache key."""

    dpi: int = 200  # for pages drawn from text and vectors; scans keep their own resolution
    psm: int = 3
    languages: str = "auto"  # "auto": by script; else a Tesseract -l value such as "ara+eng"
    workers: int = 0  # pages read at once; 0: one per core
    timeout: float = 120.0  # seconds for one page


@dataclass(frozen=True)
class OcrPage:
    number: int  # 1-based, in the file
    text: str  # lines as Tesseract found them, paragraphs separated by a blank line
    confidence: float  # mean word confidence, 0-1; 0 when no word was found
    languages: str  # the Tesseract languages the page was read with
    rotated: int = 0  # degrees the page was turned clockwise before it was read
    error: str | None = None  # why the page could not be read; such pages are not cached


@dataclass(frozen=True)
class _Engine:
    path: str
    version: str
    languages: frozenset[str]


@dataclass(frozen=True)
class _Job:
    number: int
    image: Image.Image  # mode "L"
    dpi: int  # 0: unknown, Tesseract estimates it from the text


def tesseract_missing() -> str | None:
    """None when Tesseract and its Arabic and English models are usable, else what to install."""
    path = shutil.which("tesseract")
    if path is None:
        return f"Tesseract is not installed, so scanned pages cannot be read; install it with: {INSTALL_COMMAND}"
    try:
        engine = _engine(path)
    except (OSError, subprocess.SubprocessError):
        return f"Tesseract ({path}) does not run; reinstall it with: {INSTALL_COMMAND}"
    missing = [language for language in REQUIRED_LANGUAGES if language not in engine.languages]
    if missing:
        return f"Tesseract lacks the {' and '.join(missing)} language data; install it with: {INSTALL_COMMAND}"
    return None


def ocr_pdf(
    path: Path,
    pages: Iterable[int],
    cache_dir: Path | None,
    settings: OcrSettings | None = None,
    progress: Progress | None = None,
) -> list[OcrPage]:
    """Render the given pages (1-based) of a PDF and read each with Tesseract, in page order.

    Scanned pages are rendered at their image's own resolution, others at `settings.dpi`.
    """
    settings = settings or OcrSettings()
    numbers = sorted(set(pages))
    if not numbers:
        return []
    try:
        with _PDFIUM:
            document = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as error:
        raise UnreadableFileError(f"pdfium cannot open the PDF to render its pages ({error})") from error
    try:
        if numbers[0] < 1 or numbers[-1] > len(document):
            raise ValueError(f"the PDF has pages 1 to {len(document)}, not {numbers[0]} to {numbers[-1]}")

        def jobs() -> Iterator[_Job]:
            for number in numbers:
                with _PDFIUM:
                    page = document[number - 1]
                    dpi = _render_dpi(page, settings.dpi)
                    bitmap = page.render(scale=dpi / 72, grayscale=True)
                    image = bitmap.to_pil().copy()  # a copy, so it does not depend on the bitmap's memory
                    bitmap.close()
                    page.close()
                yield _Job(number, image, dpi)

        return _read_all(jobs(), len(numbers), cache_dir, settings, progress)
    finally:
        with _PDFIUM:
            document.close()


def _render_dpi(page: pypdfium2.PdfPage, default: int) -> int:
    """The resolution to render a page at: a scan's own, unless the page also draws text.

    A page that an image covers for the most part is a scan, rendered at the image's own
    resolution so that the scanner's pixels reach Tesseract unchanged. Resampled, letters blur:
    a 200-dpi scan drawn at 300 dpi lost most of its words (mean confidence 0.58 against 0.92),
    and the 72-dpi fax in the dev set is read better at its own resolution than at 300 dpi
    (letter errors 1.6% against 4.2%). Text drawn over such an image (the Saudi laws print
    theirs over a 72-dpi background) needs the full resolution, so it gets at least `default`.
    Images inside form XObjects are not measured (their bounds are in the form's own space).
    """
    width, height = page.get_size()
    largest, area, has_text = None, 0.0, False
    for item in page.get_objects(filter=[pypdfium2.raw.FPDF_PAGEOBJ_IMAGE, pypdfium2.raw.FPDF_PAGEOBJ_TEXT]):
        if item.type == pypdfium2.raw.FPDF_PAGEOBJ_TEXT:
            has_text = True
            continue
        if item.level > 0:
            continue
        left, bottom, right, top = item.get_bounds()
        if (right - left) * (top - bottom) > area:
            largest, area = item, (right - left) * (top - bottom)
    if largest is None or area < 0.5 * width * height:
        return default
    pixels_wide, pixels_high = largest.get_px_size()
    dpi = round(72 * math.sqrt(pixels_wide * pixels_high / area))  # whichever way the image is turned
    return min(max(dpi, default) if has_text else max(dpi, _MIN_SCAN_DPI), _MAX_SCAN_DPI)


def ocr_image(
    path: Path,
    cache_dir: Path | None,
    settings: OcrSettings | None = None,
    progress: Progress | None = None,
) -> list[OcrPage]:
    """Read a PNG, JPEG or TIFF file with Tesseract; each frame of a multi-page TIFF is a page."""
    settings = settings or OcrSettings()
    try:
        image = Image.open(path, formats=["PNG", "JPEG", "TIFF"])
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as error:
        raise UnreadableFileError(f"not a readable PNG, JPEG or TIFF image ({error})") from error
    with image:
        # A camera's MPO holds the photo and its previews: only the first is the page.
        frames = 1 if image.format == "MPO" else getattr(image, "n_frames", 1)

        def jobs() -> Iterator[_Job]:
            for index in range(frames):
                image.seek(index)
                yield _Job(index + 1, _grey(image), _dpi(image))

        try:
            return _read_all(jobs(), frames, cache_dir, settings, progress)
        except (Image.DecompressionBombError, OSError, ValueError) as error:  # a damaged or truncated frame
            raise UnreadableFileError(f"the image cannot be decoded ({error})") from error


def _grey(frame: Image.Image) -> Image.Image:
    """The frame upright (as the camera's EXIF says) and in grey, transparency on white."""
    frame = ImageOps.exif_transpose(frame)
    if frame.mode.startswith("I;16"):  # 16-bit grey: converted as it is, all but black turns white
        frame = frame.convert("I").point(lambda value: value / 256)
    elif frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info:
        rgba = frame.convert("RGBA")
        frame = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return frame.convert("L")


def _dpi(frame: Image.Image) -> int:
    """The resolution the file declares, when it is a plausible one for a page."""
    declared = frame.info.get("dpi", (0, 0))[0]
    try:
        dpi = round(float(declared))
    except (TypeError, ValueError):
        return 0
    return dpi if 70 <= dpi <= 1200 else 0


def _read_all(
    jobs: Iterator[_Job], total: int, cache_dir: Path | None, settings: OcrSettings, progress: Progress | None
) -> list[OcrPage]:
    """Read pages on a thread per core, looking each up in the cache first.

    Pages are produced in the calling thread while others are read, and no more than one
    per thread waits, so a long document never sits in memory as images.
    """
    message = tesseract_missing()
    if message is not None:
        raise UnreadableFileError(message)
    engine = _engine(shutil.which("tesseract") or "tesseract")
    workers = settings.workers or _cores()
    results: dict[int, OcrPage] = {}
    pending: dict[Future[OcrPage], str] = {}

    def finish(page: OcrPage, key: str | None) -> None:
        results[page.number] = page
        if key is not None and cache_dir is not None and page.error is None:
            _store(cache_dir, key, page)
        if progress is not None:
            progress(len(results), total)

    def collect(block: bool) -> None:
        done, _ = wait(pending, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            finish(future.result(), pending.pop(future))

    # By script, the languages of this document, from the first page that had to be read.
    known: str | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr") as pool:
        for job in jobs:
            key = _key(job, engine, settings)
            cached = _load(cache_dir, key, job.number) if cache_dir is not None else None
            if cached is not None:
                finish(cached, None)
                continue
            if settings.languages != "auto":
                plan = (settings.languages, 0, True)
            elif known is None:
                languages, rotated, found = _detect(job, engine, settings)
                known = languages if found else None
                plan = (languages, rotated, True)
            else:
                plan = (known, 0, False)
            pending[pool.submit(_read_page, job, engine, settings, *plan)] = key
            collect(block=len(pending) > workers)
        while pending:
            collect(block=True)
    return [results[number] for number in sorted(results)]


def _read_page(
    job: _Job, engine: _Engine, settings: OcrSettings, languages: str, rotated: int, checked: bool
) -> OcrPage:
    """One page, in the given languages and turned by `rotated` degrees clockwise.

    Unless they were chosen for this very page (`checked`), a poor reading is checked: a page
    in another script than the document's, or turned, reads at a mean confidence of 0.25-0.32,
    the poorest good scan of the dev set at 0.72. Its own script and orientation are then
    detected and the better of the two readings kept.
    """
    try:
        page = _recognise(job, engine, settings, languages, rotated)
        if not checked and page.confidence < _CHECK_BELOW:
            better, turned, _ = _detect(job, engine, settings)
            if (better, turned) != (languages, rotated):
                page = max(page, _recognise(job, engine, settings, better, turned), key=lambda p: p.confidence)
    except subprocess.CalledProcessError as error:
        said = error.stderr.decode("utf-8", errors="replace").strip().splitlines() if error.stderr else []
        reason = said[-1] if said else f"exit code {error.returncode}"
        return OcrPage(job.number, "", 0.0, languages, rotated, error=f"Tesseract could not read this page ({reason})")
    except subprocess.TimeoutExpired:
        return OcrPage(job.number, "", 0.0, languages, rotated, error=f"Tesseract took over {settings.timeout:g} s")
    except OSError as error:
        return OcrPage(job.number, "", 0.0, languages, rotated, error=f"Tesseract did not start ({error})")
    return page


def _recognise(job: _Job, engine: _Engine, settings: OcrSettings, languages: str, rotated: int) -> OcrPage:
    image = job.image.rotate(-rotated, expand=True, fillcolor=255) if rotated else job.image
    tsv = _tesseract(engine, image, job.dpi, settings, ["-l", languages, "--psm", str(settings.psm), "tsv"])
    text, confidence = _text_from_tsv(tsv)
    return OcrPage(job.number, text, confidence, languages, rotated)


def _detect(job: _Job, engine: _Engine, settings: OcrSettings) -> tuple[str, int, bool]:
    """The page's languages by its script, the turn that sets it upright, and whether the script
    was found at all, from Tesseract's orientation and script detection.

    It costs 0.5-0.8 s a page whatever the resolution, close to reading an Arabic page, which
    is why it runs once a document and then only for pages that read poorly. Pages of 300 dpi
    or more are examined at half of it; no dev page in any of four rotations was turned wrong.
    """
    if "osd" not in engine.languages:
        return _FALLBACK_LANGUAGES, 0, False
    image, dpi = (job.image.reduce(2), job.dpi // 2) if job.dpi >= 300 else (job.image, job.dpi)
    try:
        report = _tesseract(engine, image, dpi, settings, ["--psm", "0"])
    except (subprocess.SubprocessError, OSError):
        return _FALLBACK_LANGUAGES, 0, False  # too few characters to tell, or no answer in time
    fields = dict(re.findall(r"^([A-Za-z ]+): (.+)$", report, flags=re.MULTILINE))
    script = fields.get("Script", "")
    languages = _SCRIPT_LANGUAGES.get(script, _FALLBACK_LANGUAGES)
    try:
        rotate, confidence = int(fields["Rotate"]), float(fields["Orientation confidence"])
    except (KeyError, ValueError):
        return languages, 0, script in _SCRIPT_LANGUAGES
    return languages, rotate % 360 if confidence >= _MIN_ORIENTATION_CONFIDENCE else 0, script in _SCRIPT_LANGUAGES


def _tesseract(engine: _Engine, image: Image.Image, dpi: int, settings: OcrSettings, args: list[str]) -> str:
    """Run Tesseract on an image given on stdin (as PGM, which costs no compression)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")
    command = [engine.path, "stdin", "stdout", *(["--dpi", str(dpi)] if dpi else []), *args]
    completed = subprocess.run(
        command,
        input=buffer.getvalue(),
        capture_output=True,
        timeout=settings.timeout,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        check=True,
    )
    return completed.stdout.decode("utf-8", errors="replace")


def _text_from_tsv(tsv: str) -> tuple[str, float]:
    """Words into lines and lines into paragraphs, in the reading order Tesseract gives them."""
    paragraphs: dict[tuple[str, str], dict[str, list[str]]] = {}
    confidences: list[float] = []
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) != 12 or fields[0] != "5":
            continue
        word = _BIDI_MARKS.sub("", fields[11]).strip()
        try:
            confidence = float(fields[10])
        except ValueError:
            continue
        if not word or confidence < 0:
            continue
        confidences.append(confidence)
        paragraphs.setdefault((fields[2], fields[3]), {}).setdefault(fields[4], []).append(word)
    text = "\n\n".join("\n".join(" ".join(words) for words in lines.values()) for lines in paragraphs.values())
    return text, round(sum(confidences) / len(confidences) / 100, 4) if confidences else 0.0


def _key(job: _Job, engine: _Engine, settings: OcrSettings) -> str:
    """The page's pixels and whatever else changes what Tesseract makes of them.

    The rendered image rather than the PDF's bytes: what Tesseract sees is exactly that, so
    one page in two files, or a PDF and the image it was made from, share an entry. With
    languages by script, the entry keeps the languages the page was first read with.
    """
    digest = hashlib.sha256()
    options = [CACHE_VERSION, engine.version, settings.languages, str(settings.psm), str(job.dpi)]
    digest.update("\0".join(options).encode())
    digest.update(f"\0{job.image.width}x{job.image.height}\0".encode())
    digest.update(job.image.tobytes())
    return digest.hexdigest()


def _load(cache_dir: Path, key: str, number: int) -> OcrPage | None:
    try:
        stored = json.loads((cache_dir / key[:2] / f"{key}.json").read_text(encoding="utf-8"))
        return OcrPage(
            number=number,
            text=str(stored["text"]),
            confidence=float(stored["confidence"]),
            languages=str(stored["languages"]),
            rotated=int(stored["rotated"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or damaged: read the page again


def _store(cache_dir: Path, key: str, page: OcrPage) -> None:
    """Write the entry atomically, so a reader never sees half of one.

    A cache that cannot be written (disk full, read-only) costs the next reading, not this one.
    """
    folder = cache_dir / key[:2]
    entry = {"text": page.text, "confidence": page.confidence, "languages": page.languages, "rotated": page.rotated}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, suffix=".tmp", delete=False) as file:
            json.dump(entry, file, ensure_ascii=False)
        os.replace(file.name, folder / f"{key}.json")
    except OSError:
        return


@cache
def _engine(path: str) -> _Engine:
    """The version and the installed languages of one Tesseract binary, asked once."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, env=env, check=True)
    listing = subprocess.run([path, "--list-langs"], capture_output=True, text=True, timeout=30, env=env, check=True)
    # Tesseract 5 prints both to stdout; some builds print the version to stderr.
    first_line = (version.stdout or version.stderr).strip().splitlines()[0]
    languages = frozenset(line.strip() for line in listing.stdout.splitlines()[1:] if line.strip())
    return _Engine(path, first_line, languages)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use, in a container too
    except AttributeError:
        return os.cpu_count() or 1
