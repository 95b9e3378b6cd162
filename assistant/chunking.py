"""Sentence-aware chunking that knows Arabic punctuation, with exact offsets into the text.

A chunk is a run of whole sentences up to `size` characters; the next chunk starts with
the last sentences of the previous one, up to `overlap` characters. A sentence longer than
`size` is cut at clause marks (، ؛ , ;) and then at spaces. Chunks keep their character
offsets and page span, so a citation can point at exact words.
"""

import bisect
import hashlib
import re

from assistant.textnorm import detect_language
from assistant.types import Chunk, PageInfo

# A sentence ends at . ! ? ؟ … (with closing quotes or brackets) before a space, or at a newline.
# Tried only where a run of marks starts, and without backtracking: a long run of dots
# would otherwise be scanned again from each of its dots (quadratic).
_SENTENCE_END = re.compile(r"(?<![.!?؟…])[.!?؟…]++[\"'”’»)\]]*+(?=\s)|\n")
_CLAUSE_END = re.compile(r"[،؛,;:](?=\s)")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences in text, trimmed of surrounding white space."""
    spans = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return [trimmed for span in spans if (trimmed := _trim(text, *span))]


def chunk_spans(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Character spans of the chunks of text."""
    pieces = [piece for span in split_sentences(text) for piece in _cut_long(text, span, size)]
    chunks = []
    first = 0
    while first < len(pieces):
        last = first
        while last + 1 < len(pieces) and pieces[last + 1][1] - pieces[first][0] <= size:
            last += 1
        chunks.append((pieces[first][0], pieces[last][1]))
        if last + 1 >= len(pieces):
            break
        # Step back over whole pieces that fit in the overlap, always moving forward.
        following = last + 1
        while following - 1 > first and pieces[last][1] - pieces[following - 1][0] <= overlap:
            following -= 1
        first = following
    return chunks


def chunk_document(doc_id: str, text: str, pages: list[PageInfo], size: int, overlap: int) -> list[Chunk]:
    """Chunks of one document, with page spans; vector ids are assigned by the index."""
    page_starts = [page.start for page in pages]

    def page_at(offset: int) -> int:
        return pages[max(0, bisect.bisect_right(page_starts, offset) - 1)].number

    chunks = []
    for start, end in chunk_spans(text, size, overlap):
        digest = hashlib.sha256(f"{doc_id}:{start}:{end}".encode()).hexdigest()[:20]
        chunks.append(
            Chunk(
                chunk_id=digest,
                doc_id=doc_id,
                vector_id=-1,
                start=start,
                end=end,
                page_start=page_at(start),
                page_end=page_at(end - 1),
                language=detect_language(text[start:end]),
            )
        )
    return chunks


def _cut_long(text: str, span: tuple[int, int], size: int) -> list[tuple[int, int]]:
    start, end = span
    if end - start <= size:
        return [span]
    pieces = []
    while end - start > size:
        window = text[start : start + size]
        cut = max((m.end() for m in _CLAUSE_END.finditer(window)), default=0)
        if cut < size // 3:
            cut = window.rfind(" ") + 1
        if cut < size // 3:
            cut = size  # one unbroken run of letters: cut where we must
        if trimmed := _trim(text, start, start + cut):
            pieces.append(trimmed)
        start += cut
    if trimmed := _trim(text, start, end):
        pieces.append(trimmed)
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
