"""Image files (PNG, JPEG, TIFF) to text with Tesseract: a multi-page TIFF gives a page per frame."""

from pathlib import Path

from assistant.errors import UnreadableFileError
from assistant.loaders.base import Extracted, ExtractedPage
from assistant.loaders.ocr import OcrSettings, Progress, ocr_image, tesseract_missing


def load_image(
    path: Path,
    cache_dir: Path | None = None,
    settings: OcrSettings | None = None,
    progress: Progress | None = None,
) -> Extracted:
    """Read every page of the image; its quality is Tesseract's mean word confidence."""
    message = tesseract_missing()
    if message is not None:
        raise UnreadableFileError(message)
    pages = []
    for page in ocr_image(path, cache_dir, settings, progress):
        note = page.error
        if note is None and not page.text.strip():
            note = "OCR found no text on this page"
        pages.append(ExtractedPage(page.number, page.text, page.confidence, "tesseract", note))
    return Extracted(format=path.suffix.lower().lstrip("."), pages=pages)
