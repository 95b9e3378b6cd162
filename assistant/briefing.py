"""Briefing notes: outline first, then each part written from its own retrieval and checked.

A note is rendered to Markdown, the one text form staff edit; Word files are made from that
Markdown, so an edited note exports the same way. Arabic paragraphs are laid out right to
left in both (a dir="rtl" block in Markdown, bidi paragraphs and runs in Word).
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt
from docx.text.paragraph import Paragraph

from assistant.answering import MARKER, Answerer, final_answer, format_passages, with_markers, without_markers
from assistant.extractive import ExtractiveAnswerer
from assistant.llm import explained
from assistant.prompting import NO_ANSWER, phrases, render
from assistant.textnorm import detect_language, normalize
from assistant.types import Answer, AnswerSentence, BriefingNote, BriefSection, Citation, Conflict, Hit, page_span

Search = Callable[[str, int], list[Hit]]
# Called with (step done, steps in all, what is being written).
Progress = Callable[[int, int, str], None]

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|[٠-٩]+[.)])\s*")


def outline(answerer: Answerer, search: Search, topic: str, language: str, points: int) -> list[str]:
    """The key points a note on topic should cover, as the model proposes them from the passages."""
    hits = search(topic, 2 * points)
    if not hits:
        return []
    if isinstance(answerer.model, ExtractiveAnswerer):
        passages = answerer.number(hits)
        return answerer.model.outline(topic, passages, points, answerer.stored_windows(passages))
    messages = render(
        answerer.settings.prompts_dir,
        language,
        "outline",
        passages=format_passages(answerer.number(hits)),
        topic=topic,
        points=str(points),
    )
    try:
        reply = str(answerer.model.invoke(messages).content)
    except Exception as error:
        raise explained(error, answerer.settings) from error
    headings = []
    for line in reply.splitlines():
        heading = " ".join(MARKER.sub("", _BULLET.sub("", line)).strip(" *#:").split())
        if heading and heading != NO_ANSWER and len(heading) <= 200:
            headings.append(heading)
    return list(dict.fromkeys(headings))[:points]


def write_note(
    answerer: Answerer,
    search: Search,
    topic: str,
    language: str,
    headings: list[str],
    progress: Progress | None = None,
) -> BriefingNote:
    """Write every part of the note from its own passages, then gather conflicts and gaps."""
    words = phrases(answerer.settings.prompts_dir, language)
    k = answerer.settings.answer_passages
    steps = len(headings) + 2
    parts: list[Answer] = []
    questions = [topic, *(f"{heading} — {topic}" for heading in headings), f"{topic} — {words['background_question']}"]
    for done, question in enumerate(questions, 1):
        if progress:
            progress(done - 1, steps, question)
        parts.append(
            final_answer(answerer.stream(question, language, search(question, k), task="section", topic=topic))
        )
    if progress:
        progress(steps, steps, "")
    gaps = [h for h, a in zip(headings, parts[1:-1], strict=True) if not a.answered]
    bottom_line, *key_answers, background = _without_repeats(parts)
    passages = {(p.hit.doc_id, p.hit.start): p.hit for part in parts for p in part.passages}
    conflicts = answerer.conflicts(topic, answerer.number(list(passages.values()))) if passages else []
    return BriefingNote(
        topic=topic,
        language=language,
        title=words["title"].format(topic=topic),
        bottom_line=bottom_line,
        key_points=[
            BriefSection(heading=h, answer=a) for h, a in zip(headings, key_answers, strict=True) if a.answered
        ],
        background=background,
        conflicts=conflicts,
        gaps=gaps,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model=answerer.model_name,
    )


def _without_repeats(parts: list[Answer]) -> list[Answer]:
    """The parts with no sentence said twice: a claim, or a quote of the same words, stays where it came first.

    A part left with nothing supported is not answered: its point is made elsewhere in the note.
    """
    seen: set[object] = set()
    kept_parts = []
    for part in parts:
        kept = []
        for sentence in part.sentences:
            quotes = {(c.doc_id, c.start, c.end) for c in sentence.citations}
            keys = {normalize(without_markers(sentence.text)), *quotes}
            if sentence.verdict != "structure" and keys & seen:
                continue
            seen |= keys if sentence.verdict != "structure" else set()
            kept.append(sentence)
        answered = part.answered and any(s.verdict == "supported" for s in kept)
        text = "\n".join(s.text for s in kept) if answered else part.text
        kept_parts.append(part.model_copy(update={"sentences": kept, "answered": answered, "text": text}))
    return kept_parts


# -- Markdown ---------------------------------------------------------------------------------


class _References:
    """Numbers the note's citations 1..n across all its parts, by the words they quote."""

    def __init__(self) -> None:
        self.cited: dict[tuple[str, int, int], tuple[int, Citation]] = {}

    def numbers(self, citations: list[Citation]) -> list[int]:
        numbers = []
        for citation in citations:
            key = (citation.doc_id, citation.start, citation.end)
            if key not in self.cited:
                self.cited[key] = (len(self.cited) + 1, citation)
            numbers.append(self.cited[key][0])
        return list(dict.fromkeys(numbers))


def to_markdown(note: BriefingNote, prompts_dir: Path) -> str:
    words = phrases(prompts_dir, note.language)
    references = _References()

    def sentences(answer: Answer) -> str:
        if not answer.answered:
            return ""
        return " ".join(_sentence(s, references, words) for s in answer.sentences if s.verdict != "structure")

    lines = [f"# {note.title}", ""]
    lines += [f"## {words['bottom_line']}", "", sentences(note.bottom_line) or words["declined"], ""]
    lines += [f"## {words['key_points']}", ""]
    lines += [f"- **{point.heading}**: {sentences(point.answer)}" for point in note.key_points]
    lines += ["", f"## {words['background']}", "", sentences(note.background) or words["declined"], ""]
    lines += [f"## {words['conflicts_gaps']}", ""]
    lines += [f"- {_conflict(c, references, words)}" for c in note.conflicts] or [f"- {words['no_conflicts']}"]
    lines += [f"- {words['not_said'].format(point=gap)}" for gap in note.gaps]
    comma = "، " if note.language == "ar" else ", "
    lines += ["", f"## {words['references']}", ""]
    for number, citation in references.cited.values():
        quote = " ".join(citation.quote.split())
        pages = page_span(citation.page_start, citation.page_end, "–")
        lines.append(f"{number}. {citation.title}{comma}{words['page']} {pages}: «{quote}»")
    lines += ["", f"## {words['sources']}", ""]
    for title, date, source, doc_id, pages in _sources(references):
        # A file name and the content's id: a server's paths mean nothing to the reader, the id finds the document.
        reference = f"{Path(source).name}{comma}{words['document_id'].format(doc_id=doc_id)}"
        lines.append(f"- {title} ({date or words['undated']}){comma}{reference}{comma}{words['page']} {pages}")
    count = len({c.doc_id for _, c in references.cited.values()})
    lines += ["", f"*{words['prepared'].format(date=note.created_at[:10], count=count)}*"]
    body = "\n".join(lines)
    return f'<div dir="rtl">\n\n{body}\n\n</div>\n' if note.language == "ar" else body + "\n"


def _sentence(sentence: AnswerSentence, references: _References, words: dict[str, str]) -> str:
    """A sentence with its markers renumbered across the note, flagged when not borne out."""

    def renumber(marker: re.Match[str]) -> str:
        local = {int(n) for n in re.findall(r"\d+", marker.group(0))}
        numbers = references.numbers([c for c in sentence.citations if c.n in local])
        return "".join(f"[{n}]" for n in numbers)

    text = _BULLET.sub("", MARKER.sub(renumber, sentence.text))
    flag = f" ⚠ ({words[sentence.verdict]})" if sentence.verdict in ("unverified", "uncited") else ""
    return text + flag


def _conflict(conflict: Conflict, references: _References, words: dict[str, str]) -> str:
    separator = "؛ " if detect_language(words["conflicts"]) == "ar" else "; "
    figures = separator.join(with_markers(f.value, references.numbers([f.citation])) for f in conflict.figures)
    return f"{words['conflicts']} {figures}"


def _sources(references: _References) -> list[tuple[str, str | None, str, str, str]]:
    """One line per cited document: title, date, source, id and the pages cited, in order of first citation."""
    documents: dict[str, list[Citation]] = {}
    for _, citation in references.cited.values():
        documents.setdefault(citation.doc_id, []).append(citation)
    rows = []
    for citations in documents.values():
        pages = sorted({p for c in citations for p in range(c.page_start, c.page_end + 1)})
        first = citations[0]
        rows.append((first.title, first.date, first.source, first.doc_id, ", ".join(map(str, pages))))
    return rows


# -- Word ---------------------------------------------------------------------------------------


def markdown_to_docx(markdown: str, path: Path) -> Path:
    """A Word file of a note's Markdown: headings, bullets, numbered references, RTL Arabic."""
    document = Document()
    _complex_script_defaults(document)
    for line in markdown.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("<div", "</div")):
            continue
        if heading := re.match(r"^(#{1,3})\s+(.*)", stripped):
            level = len(heading.group(1)) - 1
            paragraph = document.add_heading(level=level)
            _add_runs(paragraph, heading.group(2))
        elif bullet := re.match(r"^[-*]\s+(.*)", stripped):
            paragraph = document.add_paragraph(style="List Bullet")
            _add_runs(paragraph, bullet.group(1))
        elif numbered := re.match(r"^(\d+)\.\s+(.*)", stripped):
            # The number is written out: references are cited by it, so it must not be renumbered.
            paragraph = document.add_paragraph()
            _add_runs(paragraph, f"[{numbered.group(1)}] {numbered.group(2)}")
        else:
            paragraph = document.add_paragraph()
            _add_runs(paragraph, stripped)
        if detect_language(paragraph.text) == "ar":
            _right_to_left(paragraph)
    document.save(str(path))
    return path


def _add_runs(paragraph: Paragraph, text: str) -> None:
    """Runs of text, **bold** and *italic* as in the Markdown."""
    for part in re.split(r"(\*\*[^*]+\*\*|\*[^*]+\*)", text):
        if not part:
            continue
        if part.startswith("**"):
            paragraph.add_run(part[2:-2]).bold = True
        elif part.startswith("*") and len(part) > 1:
            paragraph.add_run(part[1:-1]).italic = True
        else:
            paragraph.add_run(part)


def _right_to_left(paragraph: Paragraph) -> None:
    properties = paragraph._p.get_or_add_pPr()
    properties.insert(0, OxmlElement("w:bidi"))
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for run in paragraph.runs:
        run._r.get_or_add_rPr().append(OxmlElement("w:rtl"))


def _complex_script_defaults(document: Any) -> None:
    """Arabic (complex script) text in a font that has it, at the body size, marked as Arabic."""
    style = document.styles["Normal"]
    style.font.size = Pt(11)
    run_properties = style.element.get_or_add_rPr()
    fonts = run_properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        run_properties.append(fonts)
    fonts.set(qn("w:cs"), "Arial")
    size = OxmlElement("w:szCs")
    size.set(qn("w:val"), "22")
    run_properties.append(size)
    language = OxmlElement("w:lang")
    language.set(qn("w:bidi"), "ar-SA")
    run_properties.append(language)
