"""Files to text: one loader per format, chosen by extension and checked against the content."""

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Protocol

import pebble

from assistant.errors import UnreadableFileError
from assistant.loaders.base import Extracted, ExtractedPage
from assistant.loaders.html import load_html
from assistant.loaders.image import load_image
from assistant.loaders.metadata import find_date, guess_title
from assistant.loaders.ocr import Progress as OcrProgress
from assistant.loaders.pdf import load_pdf
from assistant.loaders.text import load_text
from assistant.loaders.word import load_docx
from assistant.textnorm import detect_language
from assistant.types import PageInfo, SourceDocument

PAGE_SEPARATOR = "\n\n"

LOADERS: dict[str, Callable[[Path], Extracted]] = {
    ".docx": load_docx,
    ".html": load_html,
    ".htm": load_html,
    ".md": load_text,
    ".txt": load_text,
}


class _OcrLoader(Protocol):
    """A format that may need OCR, which caches what it reads and reports the pages it has read."""

    def __call__(self, path: Path, cache: Path | None, /, *, progress: OcrProgress | None) -> Extracted: ...


OCR_LOADERS: dict[str, _OcrLoader] = {
    ".pdf": load_pdf,
    **{suffix: load_image for suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff")},
}
SUFFIXES = sorted([*LOADERS, *OCR_LOADERS])
_TIFF = (b"II*\x00", b"MM\x00*")
# Magic numbers of the binary formats, and where they must lie, so a renamed file is caught before it is parsed.
_SIGNATURES: dict[str, tuple[tuple[bytes, ...], int]] = {
    ".pdf": ((b"%PDF-",), 1024),
    ".docx": ((b"PK\x03\x04",), 4),
    ".png": ((b"\x89PNG\r\n\x1a\n",), 8),
    ".jpg": ((b"\xff\xd8\xff",), 3),
    ".jpeg": ((b"\xff\xd8\xff",), 3),
    ".tif": (_TIFF, 4),
    ".tiff": (_TIFF, 4),
}
_HINTS = {".doc": "save it as .docx", ".rtf": "save it as .docx", ".xlsx": "export it as text"}

__all__ = ["SUFFIXES", "Extracted", "ExtractedPage", "IsolatedLoader", "check", "load", "to_source_document"]


def load(
    path: Path, max_bytes: int, ocr_cache: Path | None = None, ocr_progress: OcrProgress | None = None
) -> Extracted:
    """Read one file into pages of text, or raise UnreadableFileError saying why not."""
    check(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix in OCR_LOADERS:
        extracted = OCR_LOADERS[suffix](path, ocr_cache, progress=ocr_progress)
    else:
        extracted = LOADERS[suffix](path)
    if not any(page.text.strip() for page in extracted.pages):
        notes = {page.note for page in extracted.pages if page.note}
        raise UnreadableFileError("no text could be extracted" + (f": {'; '.join(sorted(notes))}" if notes else ""))
    return extracted


class IsolatedLoader:
    """Reads files in a child process, each within a time budget.

    A file that makes a parser hang, or crashes one in native code, is reported as unreadable
    and costs neither the rest of the batch nor the app. pebble kills and replaces the child
    on a timeout (concurrent.futures cannot stop a running task). The child is forked: a
    spawned or forkserver child re-imports the parent's main script first (app.py, and with it
    Gradio: seconds per batch; a script read from standard input cannot be re-imported at all),
    and the loaders it runs are already imported here and use none of the parent's threads.
    The child tells the pages it has OCR'd through a pipe it inherits: it writes each message
    before its result, and the pool's own thread writes an end marker once the result (or the
    child's death) is known, so the reader needs no polling.
    """

    def __init__(self, max_bytes: int, seconds: float, ocr_cache: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self.seconds = seconds
        self.ocr_cache = ocr_cache
        self._pool: pebble.ProcessPool | None = None
        self._context = multiprocessing.get_context("fork")
        self._reader, self._writer = self._context.Pipe(duplex=False)

    def load(self, path: Path, ocr_progress: OcrProgress | None = None) -> Extracted:
        if self._pool is None:
            self._pool = pebble.ProcessPool(
                max_workers=1, context=self._context, initializer=_report_pages_to, initargs=(self._writer,)
            )
        future = self._pool.schedule(_load_reporting, args=(path, self.max_bytes, self.ocr_cache), timeout=self.seconds)
        future.add_done_callback(lambda _: self._writer.send(None))
        # Messages are a few bytes, so each is one atomic write, even from a child killed mid-file.
        while (message := self._reader.recv()) is not None:
            if ocr_progress is not None:
                ocr_progress(*message)
        try:
            return future.result()
        except TimeoutError:
            raise UnreadableFileError(
                f"reading it took longer than {self.seconds:g} s (ASSISTANT_LOAD_TIMEOUT), so it was skipped"
            ) from None
        except pebble.ProcessExpired as error:
            raise UnreadableFileError(
                f"the reader crashed on it (exit code {error.exitcode}), so it was skipped"
            ) from None

    def __enter__(self) -> "IsolatedLoader":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._pool is not None:
            if kind is None:
                self._pool.close()
            else:
                self._pool.stop()  # Ctrl-C or a failure: do not wait for a file in progress
            self._pool.join()
        self._reader.close()
        self._writer.close()


_pages_read: Connection | None = None  # in the loader's child: where it reports OCR progress


def _report_pages_to(pages: Connection) -> None:
    global _pages_read
    _pages_read = pages


def _load_reporting(path: Path, max_bytes: int, ocr_cache: Path | None) -> Extracted:
    pages = _pages_read
    assert pages is not None
    return load(path, max_bytes, ocr_cache, lambda done, total: pages.send((done, total)))


def check(path: Path, max_bytes: int) -> None:
    """Refuse a file by type, size and magic number, reading no more than its first kilobyte."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        hint = f" ({_HINTS[suffix]})" if suffix in _HINTS else ""
        kinds = ", ".join(SUFFIXES)
        raise UnreadableFileError(f"unsupported file type '{suffix or path.name}'{hint}; supported: {kinds}")
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(1024)
    except OSError as error:
        raise UnreadableFileError(f"cannot read the file ({error.strerror})") from error
    if size == 0:
        raise UnreadableFileError("the file is empty")
    if size > max_bytes:
        raise UnreadableFileError(
            f"the file is too large ({size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB, "
            "set by ASSISTANT_MAX_FILE_MB)"
        )
    if suffix in _SIGNATURES:
        magics, within = _SIGNATURES[suffix]
        if not any(magic in head[:within] for magic in magics):
            raise UnreadableFileError(f"the content is not {suffix[1:].upper()}, whatever its name says")


def to_source_document(extracted: Extracted, source: str, content_hash: str, added_at: str) -> SourceDocument:
    """Join the pages into one text, remembering where each page lies in it."""
    parts: list[str] = []
    pages: list[PageInfo] = []
    offset = 0
    for page in extracted.pages:
        if parts:
            offset += len(PAGE_SEPARATOR)
        parts.append(page.text)
        pages.append(
            PageInfo(
                number=page.number,
                start=offset,
                end=offset + len(page.text),
                quality=page.quality,
                extractor=page.extractor,
                note=page.note,
            )
        )
        offset += len(page.text)
    text = PAGE_SEPARATOR.join(parts)
    return SourceDocument(
        doc_id=content_hash[:16],
        content_hash=content_hash,
        source=source,
        title=extracted.title or guess_title(text, fallback=Path(source).stem),
        date=extracted.date or find_date(text),
        format=extracted.format,
        language=detect_language(text),
        text=text,
        pages=pages,
        added_at=added_at,
    )
