"""Pathological files are read, or refused with a reason, within seconds: text processing is linear.

Each input here once made a pattern, or an edit of the HTML tree, take super-linear time: one 2 MB
word kept `index add` busy for hours, 100,000 nested HTML blocks for minutes. Linear code reads
each in a second or two; the budget leaves room for a slow two-core machine.
"""

import base64
import random
import signal
import string
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import docx
import pytest
from fpdf import FPDF

from assistant.chunking import chunk_spans
from assistant.errors import UnreadableFileError
from assistant.loaders import Extracted, load
from assistant.loaders.pdf import repair
from assistant.sample import FONT
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.textnorm import tokenize

MB = 2**20
BUDGET = 10.0
# A test still running after this fails instead of stalling the run: the old patterns took hours.
WATCHDOG_SECONDS = 60

T = TypeVar("T")


def _fill(unit: str, size: int = 2 * MB) -> str:
    """unit repeated to size bytes of UTF-8."""
    return unit * (size // len(unit.encode()))


ARABIC_WORD = _fill("ابتثجحخدذرزسشصضطظعغفقكلمنهوي")
ARABIC_INDIC_DIGITS = _fill("٠١٢٣٤٥٦٧٨٩")
BASE64_BLOB = base64.b64encode(random.Random(0).randbytes(3 * MB // 2)).decode()
LATIN_WORD = _fill(string.ascii_lowercase)

# (text, whether the text loader keeps it whole): a line of no letters, or of nothing but
# JavaScript escapes, is boilerplate and leaves the file with no text.
TEXTS = [
    pytest.param(LATIN_WORD, True, id="one 2 MB word"),
    pytest.param(_fill("u"), True, id="u repeated"),
    pytest.param(_fill("a"), True, id="a repeated"),
    pytest.param(_fill("0"), True, id="0 repeated"),
    pytest.param(_fill("ا"), True, id="alef repeated"),
    pytest.param(ARABIC_WORD, True, id="one 2 MB Arabic word"),
    pytest.param(ARABIC_INDIC_DIGITS, True, id="Arabic-Indic digit run"),
    pytest.param(BASE64_BLOB, True, id="base64 blob"),
    pytest.param(_fill("u0627u06"), True, id="almost escapes"),
    pytest.param(_fill("the quick brown fox "), True, id="one line without punctuation"),
    pytest.param("12:30" + _fill(" ") + "x", True, id="a clock and 2 MB of spaces"),
    pytest.param(_fill("u0627"), False, id="escapes without separators"),
    pytest.param(_fill("."), False, id="dots"),
    pytest.param(_fill(" "), False, id="spaces"),
    pytest.param(_fill("\n"), False, id="newlines"),
]
MINIFIED = "".join(f"<p>Item {i}: <b>bold</b> and <a href='#{i}'>a link</a>.</p>" for i in range(36_000))
HTML = [
    pytest.param("<div>" * 100_000 + "deep" + "</div>" * 100_000, "deep", id="100,000 nested div"),
    pytest.param("<b>" * 100_000 + "deep", "deep", id="100,000 unclosed nested b"),
    pytest.param(f"<html><body>{MINIFIED}</body></html>", "Item 35999: bold and a link.", id="2 MB minified"),
    pytest.param(f"<p>{BASE64_BLOB}</p>", BASE64_BLOB, id="2 MB word"),
    pytest.param(f"<p>{ARABIC_WORD}</p>", ARABIC_WORD, id="2 MB Arabic word"),
]


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        # pytest.fail, not TimeoutError, which the code under test may catch and report.
        pytest.fail(f"still running after {WATCHDOG_SECONDS} s", pytrace=False)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(WATCHDOG_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _in_time(work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - start
    assert elapsed < BUDGET, f"took {elapsed:.1f} s"
    return result


def _read(path: Path) -> Extracted | None:
    """The file read within the budget; None if it was refused with a reason (any other error fails)."""

    def read() -> Extracted | None:
        try:
            return load(path, 8 * MB)
        except UnreadableFileError:
            return None

    return _in_time(read)


@pytest.mark.parametrize(("text", "kept"), TEXTS)
def test_text_file(tmp_path, text, kept):
    path = tmp_path / "pathological.txt"
    path.write_text(text, encoding="utf-8")
    extracted = _read(path)
    if kept:
        assert extracted is not None
        assert extracted.pages[0].text == text.strip()
    else:
        assert extracted is None


@pytest.mark.parametrize(("markup", "text"), HTML)
def test_html_file(tmp_path, markup, text):
    path = tmp_path / "pathological.html"
    path.write_text(markup, encoding="utf-8")
    extracted = _read(path)
    assert extracted is not None
    assert text in extracted.pages[0].text


@pytest.mark.parametrize(
    "text",
    [LATIN_WORD, ARABIC_WORD, ARABIC_INDIC_DIGITS, _fill("u0627")],
    ids=["one 2 MB word", "one 2 MB Arabic word", "Arabic-Indic digit run", "escapes without separators"],
)
def test_docx_with_one_2_mb_paragraph(tmp_path, text):
    document = docx.Document()
    document.add_paragraph(text)
    document.save(str(tmp_path / "pathological.docx"))
    extracted = _read(tmp_path / "pathological.docx")
    assert extracted is not None
    assert extracted.pages[0].text == text


def test_docx_with_deeply_nested_tables(tmp_path):
    # Each row once read its whole subtree: 80 levels of 16 KB came out as 1.6 GB of text.
    levels = [f"level {n} " * 2000 for n in range(80)]  # about as deep as the XML parser allows
    document = docx.Document()
    table = document.add_table(rows=1, cols=1)
    for text in levels:
        table.cell(0, 0).paragraphs[0].text = text
        table = table.cell(0, 0).add_table(rows=1, cols=1)
    document.save(str(tmp_path / "nested.docx"))
    extracted = _read(tmp_path / "nested.docx")
    assert extracted is not None
    assert extracted.pages[0].text == "\n".join(text.strip() for text in levels)


@pytest.mark.parametrize(
    "word",
    # The mixed word reads as a broken glyph map, so the page is read by pdfium as well.
    [LATIN_WORD, ARABIC_WORD, ARABIC_INDIC_DIGITS, _fill("ا#")],
    ids=["one 2 MB word", "one 2 MB Arabic word", "Arabic-Indic digit run", "Arabic mixed with symbols"],
)
def test_pdf_whose_text_is_one_huge_word(tmp_path, word):
    pdf = FPDF()
    pdf.add_font("dejavu", fname=str(FONT))
    pdf.set_font("dejavu", size=8)
    pdf.add_page()
    pdf.text(10, 20, word)  # one line running far off the page: one text object, a small file
    pdf.output(str(tmp_path / "pathological.pdf"))
    extracted = _read(tmp_path / "pathological.pdf")
    assert extracted is not None
    assert len(extracted.pages[0].text) == len(word)


def test_pdf_repair_of_a_visual_line_with_a_huge_digit_run():
    # Presentation forms and a leading word at the end mark the line as visual: it is reversed,
    # and its Arabic-Indic digit run is put back in order.
    line = "ﺍﻟﻜﻮﻳﺖ " + ARABIC_INDIC_DIGITS + " ﻓﻲ"
    assert _in_time(lambda: repair(line)) == "في " + ARABIC_INDIC_DIGITS[::-1] + " الكويت"


@pytest.mark.parametrize(
    "text",
    [LATIN_WORD, ARABIC_WORD, _fill("the quick brown fox "), _fill("."), _fill("a\n")],
    ids=["one 2 MB word", "one 2 MB Arabic word", "one sentence without punctuation", "dots", "short lines"],
)
def test_tokens_and_bounded_chunks(text):
    _in_time(lambda: tokenize(text))
    spans = _in_time(lambda: chunk_spans(text, size=900, overlap=150))
    assert max(end - start for start, end in spans) <= 900
    assert spans[0][0] == 0
    assert spans[-1][1] == len(text.rstrip())


def test_ingest_of_a_one_word_base64_file(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_text(BASE64_BLOB[:1_600_000], encoding="ascii")
    assistant = Assistant(Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "data", embedder="fake"))
    report = _in_time(lambda: assistant.ingest([path]))
    assert not report.failed
    assert len(report.added) == 1
