"""Plain text and Markdown: decoded, web boilerplate stripped."""

from pathlib import Path

from charset_normalizer import from_bytes

from assistant.errors import UnreadableFileError
from assistant.loaders.base import Extracted, ExtractedPage
from assistant.loaders.webclean import clean_web_text

_CONTROL = {*range(0, 9), 11, 12, *range(14, 32)}


def load_text(path: Path) -> Extracted:
    text = clean_web_text(decode(path.read_bytes()))
    return Extracted(format=path.suffix.lower().lstrip("."), pages=[ExtractedPage(1, text)])


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 by BOM; else the best-guessed legacy encoding.

    Arabic files from older Windows systems are often cp1256, which charset-normalizer
    recognises; bytes that fit no encoding, or decode to control characters, are refused.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    elif b"\x00" in data[:8192]:
        raise UnreadableFileError("this looks like binary data, not text")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            guess = from_bytes(data).best()
            if guess is None:
                raise UnreadableFileError("the text is in no encoding we recognise") from None
            text = str(guess)
    sample = text[:20000]
    if sample and sum(ord(ch) in _CONTROL for ch in sample) / len(sample) > 0.01:
        raise UnreadableFileError("this looks like binary data, not text")
    return text
