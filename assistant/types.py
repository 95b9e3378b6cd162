"""The data the assistant passes around. Vectors are never fields: they live in the index."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The extractor name of pages read by OCR; their quality is the engine's mean word confidence.
OCR_ENGINE = "tesseract"
# The collection of a document added without one, and of every document indexed before collections.
DEFAULT_COLLECTION = "default"


def page_span(first: int, last: int, dash: str = "-") -> str:
    """Pages as people write them: "3", or "3-4" when a passage runs over."""
    return f"{first}{dash}{last}" if last != first else str(first)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PageInfo(_Model):
    """Where one page of a document lies in the document text, and how well it was read."""

    number: int = Field(description="1-based page number as in the original file.")
    start: int = Field(description="Offset of the page's first character in the document text.")
    end: int = Field(description="Offset just past the page's last character.")
    quality: float = Field(description="Extraction quality from 0 (unusable) to 1 (clean).")
    extractor: str = Field(description="Which extractor produced the text, e.g. pypdf.")
    note: str | None = Field(None, description="What went wrong on this page, if anything.")


class WithheldText(_Model):
    """Document text addressed to an AI (instructions, answer rules): kept, never served as content."""

    start: int = Field(description="Offset in the document text.")
    end: int
    reason: str = Field(description="What it does, e.g. 'orders to drop earlier instructions'.")


class SourceDocument(_Model):
    """A document as indexed: its exact text and where it came from."""

    doc_id: str = Field(description="Stable id: the first 16 hex digits of content_hash.")
    content_hash: str = Field(description="SHA-256 of the file's bytes.")
    source: str = Field(description="Where the file is: its absolute, resolved path (or a name for added texts).")
    also_at: list[str] = Field(default_factory=list, description="Other paths that hold the same content.")
    title: str
    date: str | None = Field(None, description="ISO date the document states, if any.")
    collections: list[str] = Field(default_factory=lambda: [DEFAULT_COLLECTION])
    format: str = Field(description="pdf, docx, html, md or txt.")
    language: str = Field(description="Dominant language: ar, en or other.")
    text: str = Field(description="The text as indexed; chunk offsets point into it.")
    pages: list[PageInfo]
    added_at: str = Field(description="When it was indexed (ISO 8601, UTC).")
    withheld: list[WithheldText] = Field(
        default_factory=list, description="Text addressed to an AI, never searched, quoted or sent to a model."
    )
    checked_by: str | None = Field(
        None, description="The rules that found `withheld` (assistant.hostile.RULES_VERSION); None: not checked."
    )

    def served(self, start: int, end: int) -> str:
        """The text [start, end) as searched and served: what is withheld is blanked, offsets kept."""
        text = self.text[start:end]
        for span in self.withheld:
            first, last = max(span.start, start) - start, min(span.end, end) - start
            if first < last:
                text = text[:first] + " " * (last - first) + text[last:]
        return text

    @property
    def locations(self) -> list[str]:
        """Every path the content is found at, the source first."""
        return [self.source, *self.also_at]

    def ocr_confidence(self, first_page: int, last_page: int) -> float | None:
        """The lowest OCR confidence among these pages, or None when none of them was read by OCR."""
        scores = [p.quality for p in self.pages if first_page <= p.number <= last_page and p.extractor == OCR_ENGINE]
        return min(scores) if scores else None


class Chunk(_Model):
    """A retrievable passage: a span of one document's text."""

    chunk_id: str
    doc_id: str
    vector_id: int = Field(description="The id of this chunk's vector in FAISS.")
    start: int
    end: int
    page_start: int
    page_end: int
    language: str


class SearchFilter(_Model):
    """Which chunks a search may return. A field left None admits every value; a list admits only
    its values, so an empty list admits nothing."""

    documents: list[str] | None = Field(None, description="Document ids.")
    collections: list[str] | None = None
    languages: list[str] | None = Field(None, description="The passage's own language: ar, en or other.")
    date_from: str | None = Field(
        None, description="ISO date, inclusive, on the date the document states; undated documents are left out."
    )
    date_to: str | None = Field(None, description="ISO date, inclusive.")

    def narrowed_by(self, other: "SearchFilter | None") -> "SearchFilter":
        """What both filters admit: each list intersected (None admits all), the later start date, the earlier end."""
        if other is None:
            return self

        def both(mine: list[str] | None, theirs: list[str] | None) -> list[str] | None:
            if mine is None or theirs is None:
                return theirs if mine is None else mine
            return [value for value in mine if value in set(theirs)]

        starts = [d for d in (self.date_from, other.date_from) if d is not None]
        ends = [d for d in (self.date_to, other.date_to) if d is not None]
        return SearchFilter(
            documents=both(self.documents, other.documents),
            collections=both(self.collections, other.collections),
            languages=both(self.languages, other.languages),
            date_from=max(starts) if starts else None,
            date_to=min(ends) if ends else None,
        )

    def admits_document(self, document: "SourceDocument") -> bool:
        if self.documents is not None and document.doc_id not in self.documents:
            return False
        if self.collections is not None and not set(document.collections) & set(self.collections):
            return False
        if self.date_from is None and self.date_to is None:
            return True
        if document.date is None:
            return False
        return (self.date_from or "") <= document.date <= (self.date_to or "9999")

    def admits(self, document: "SourceDocument", chunk: "Chunk") -> bool:
        return self.admits_document(document) and (self.languages is None or chunk.language in self.languages)


class Hit(_Model):
    """A search result: a chunk with its text, its source and how each method ranked it."""

    doc_id: str
    chunk_id: str
    source: str
    title: str
    page_start: int
    page_end: int
    start: int
    end: int
    text: str
    score: float = Field(description="Fused reciprocal-rank score; higher is better.")
    dense_rank: int | None = Field(description="1-based rank in dense search, None if absent.")
    keyword_rank: int | None = Field(description="1-based rank in keyword search.")
    language: str
    ocr_confidence: float | None = Field(
        None, description="Set when its pages were read by OCR: the engine's confidence."
    )


class FileFailure(_Model):
    """A file that could not be indexed, and why, in words an admin can act on."""

    source: str
    reason: str


class IndexManifest(_Model):
    """What an index was built with; an index refuses queries built with other settings."""

    format_version: int
    app_version: str
    embedder: str
    embedder_model: str
    dimension: int
    normalization_version: str
    chunk_size: int
    chunk_overlap: int
    documents: int
    chunks: int
    next_vector_id: int
    built_at: str
    last_failures: list[FileFailure] = Field(default_factory=list)


class GateResult(_Model):
    """How the golden questions fared on the new index against the live one."""

    passed: bool
    questions: int
    recall_at_5_before: float | None = Field(description="None when there was no live index.")
    recall_at_5_after: float
    margin: float
    worse: list[str] = Field(description="Questions whose relevant documents fell out of the top 5.")
    evaluated_at: str


class DocumentInfo(_Model):
    """One indexed document as the documents table and `index info` show it."""

    doc_id: str
    source: str
    title: str
    date: str | None
    collections: list[str]
    format: str
    language: str
    pages: int
    chunks: int
    quality: float = Field(description="The lowest page's extraction quality, 0..1.")
    ocr_pages: int
    withheld: int = Field(description="Passages withheld as addressed to an AI.")
    withheld_reasons: list[str]
    page_notes: list[str]


class IndexInfo(_Model):
    """What `index info` reports: the live generation, its manifest, its documents."""

    index_dir: str
    generation: str | None
    manifest: IndexManifest
    documents: list[DocumentInfo]
    golden_questions: bool = Field(description="Whether golden questions gate each reindex.")
    last_evaluation: GateResult | None


class IngestReport(BaseModel):
    """The outcome of one `index add`, file by file."""

    model_config = ConfigDict(extra="forbid")

    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    moved: list[str] = Field(default_factory=list, description="Files found at a new path: the new path.")
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    failed: list[FileFailure] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    gate: GateResult | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.moved or self.removed)


class Passage(_Model):
    """A retrieved chunk as numbered for the model: [n] in an answer points at it."""

    n: int
    hit: Hit
    withheld: list[WithheldText] = Field(
        default_factory=list,
        description="Its text addressed to an AI (document offsets, within the hit): kept from the model and answers.",
    )

    excerpt: list[tuple[int, int]] | None = Field(
        None, description="The parts of the hit's text a model is shown (offsets in it), when not all of it fits."
    )

    def shown_text(self) -> str:
        """The hit's text as a model sees it: what is withheld replaced by […], and only the excerpt if any."""
        if self.excerpt is not None:  # windows of the passage, never withheld text
            return " … ".join(" ".join(self.hit.text[start:end].split()) for start, end in self.excerpt)
        text, offset = self.hit.text, self.hit.start
        for span in sorted(self.withheld, key=lambda w: w.start, reverse=True):
            text = text[: span.start - offset] + "[…]" + text[span.end - offset :]
        return text

    def withholds(self, start: int, end: int) -> bool:
        """Whether any of the document text [start, end) is withheld."""
        return any(span.start < end and start < span.end for span in self.withheld)


class Citation(_Model):
    """Where a cited sentence's evidence lies: the passage and the exact words quoted from it."""

    n: int = Field(description="The passage number the marker used.")
    doc_id: str
    source: str
    title: str
    date: str | None
    page_start: int = Field(description="Page of the quoted words (first page if they span two).")
    page_end: int
    quote: str = Field(description="The passage's words that best support the sentence, verbatim.")
    start: int = Field(description="Offset of the quote in the document text.")
    end: int
    language: str
    ocr_confidence: float | None = Field(None, description="Set when the quoted page was read by OCR.")


Verdict = Literal["supported", "unverified", "uncited", "structure"]


class AnswerSentence(_Model):
    """One sentence of an answer, its citations, and whether they bear it out."""

    text: str
    citations: list[Citation]
    verdict: Verdict = Field(
        description="supported: its passages say it; unverified: cited but not borne out (or a number "
        "its passages lack); uncited: a claim without a marker; structure: a heading or lead-in."
    )
    reason: str | None = Field(None, description="Why a sentence is not supported.")


class Figure(_Model):
    """One figure for a quantity, as one passage states it."""

    value: str
    citation: Citation


class Conflict(_Model):
    """Passages that give different figures for the same kind of thing."""

    unit: str = Field(description="The counted thing as written after the number, e.g. دولة.")
    figures: list[Figure]


class Answer(_Model):
    """A checked answer: text, sentences with verdicts, the passages behind it."""

    question: str
    language: str
    answered: bool = Field(description="False when the assistant declines: the documents do not answer.")
    text: str
    sentences: list[AnswerSentence]
    passages: list[Passage]
    conflicts: list[Conflict] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    model: str = Field(description="Which backend wrote it.")
    generation: str | None = Field(None, description="The index generation every passage was read from.")
    searched_for: str | None = Field(
        None, description="What was searched when it was not the question as asked: a follow-up read with its history."
    )
    prompt_tokens: int | None = Field(None, description="The prompt sent to the model, in tokens (estimated).")
    first_piece_seconds: float | None = Field(None, description="Seconds from asking the model to its first words.")

    @property
    def citations(self) -> list[Citation]:
        """Every distinct citation, in order of first use."""
        seen: dict[tuple[int, int, int], Citation] = {}
        for sentence in self.sentences:
            for citation in sentence.citations:
                seen.setdefault((citation.n, citation.start, citation.end), citation)
        return list(seen.values())


class BriefSection(_Model):
    heading: str
    answer: Answer


class BriefingNote(_Model):
    """A briefing note: every section an answer of its own, checked the same way."""

    topic: str
    language: str
    title: str
    bottom_line: Answer
    key_points: list[BriefSection]
    background: Answer
    conflicts: list[Conflict]
    gaps: list[str] = Field(description="Outline points the documents do not answer.")
    created_at: str
    model: str
