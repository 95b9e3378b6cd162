"""Word (.docx) files: paragraphs and tables in document order, split at explicit page breaks."""

from pathlib import Path

import docx
from docx.oxml.ns import qn

from assistant.errors import UnreadableFileError
from assistant.loaders.base import Extracted, ExtractedPage

_PAGE_BREAK = f".//{qn('w:br')}[@{qn('w:type')}='page']"
_BREAK_BEFORE = f".//{qn('w:pageBreakBefore')}"


def load_docx(path: Path) -> Extracted:
    try:
        document = docx.Document(str(path))
    except Exception as error:  # python-docx raises zip, XML and package errors alike
        raise UnreadableFileError(f"not a readable Word document ({type(error).__name__})") from error
    pages: list[list[str]] = [[]]
    for block in document.element.body.iterchildren():
        if block.tag == qn("w:p"):
            if block.findall(_BREAK_BEFORE) and pages[-1]:
                pages.append([])
            pages[-1].append("".join(t.text or "" for t in block.iter(qn("w:t"))))
            if block.findall(_PAGE_BREAK):
                pages.append([])
        elif block.tag == qn("w:tbl"):
            for row in block.iter(qn("w:tr")):
                cells = ["".join(t.text or "" for t in cell.iter(qn("w:t"))) for cell in row.iter(qn("w:tc"))]
                pages[-1].append(" | ".join(c.strip() for c in cells))
    properties = document.core_properties
    return Extracted(
        format="docx",
        pages=[ExtractedPage(n, "\n".join(lines).strip()) for n, lines in enumerate(pages, 1)],
        title=(properties.title or "").strip() or None,
        date=properties.created.date().isoformat() if properties.created else None,
    )
