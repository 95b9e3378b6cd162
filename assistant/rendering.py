"""Answers as the app shows them: chat HTML laid out in each sentence's own direction, sources
with the cited words marked, and the chat read back as plain messages."""

import html
import re
from pathlib import Path
from typing import Any

from assistant.answering import MARKER, without_markers
from assistant.followup import Message
from assistant.textnorm import detect_language
from assistant.types import Answer


def conversation(chat: list[dict[str, Any]]) -> list[Message]:
    """The chat as plain messages, the history a follow-up question is read with."""
    plain = []
    for message in chat or []:
        content = message.get("content")
        if message.get("role") in ("user", "assistant") and isinstance(content, str):
            text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())
            plain.append({"role": message["role"], "content": text})
    return plain


def render_answer(answer: Answer) -> str:
    """The checked answer as chat HTML: markers link to their sources, doubtful sentences stand out."""
    searched = (
        f"<p class='meta'>searched for · بحث عن: {html.escape(answer.searched_for)}</p>" if answer.searched_for else ""
    )
    if not answer.answered:
        return directed(html.escape(answer.text), answer.language) + searched
    parts = []
    for sentence in answer.sentences:
        text = MARKER.sub(
            lambda m: "".join(
                f"<a href='#source-{n}' class='marker'>[{n}]</a>" for n in re.findall(r"\d+", m.group(0))
            ),
            html.escape(sentence.text),
        )
        if sentence.verdict in ("unverified", "uncited"):
            label = "unverified · غير متحقق منها" if sentence.verdict == "unverified" else "no citation · بلا إحالة"
            text = f"<span class='unverified' title='{html.escape(sentence.reason or '')}'>{text} ⚠ {label}</span>"
        # Each sentence is laid out in its own script's direction: an Arabic quote in an English
        # answer keeps its bullet and marker on its right, as an English one in an Arabic answer on its left.
        language = detect_language(without_markers(sentence.text))
        parts.append(directed(text, language))
        # A claim in one language resting on a passage in the other: the original words beside it.
        for citation in sentence.citations:
            if citation.language in ("ar", "en") and citation.language != language and citation.quote.strip():
                quote = html.escape(" ".join(citation.quote.split()))
                parts.append(directed(f"<span class='quote'>«{quote}» [{citation.n}]</span>", citation.language))
    warnings = "".join(f"<p class='meta'>⚠ {html.escape(w)}</p>" for w in answer.warnings)
    return directed("".join(parts), answer.language) + warnings + searched


def render_sources(answer: Answer) -> str:
    """Each cited passage with the cited words highlighted, its title, page and file."""
    blocks = []
    for passage in answer.passages:
        cited = [c for c in answer.citations if c.n == passage.n]
        if not cited:
            continue
        hit = passage.hit
        text = html.escape(hit.text)
        for citation in cited:
            quote = html.escape(hit.text[citation.start - hit.start : citation.end - hit.start])
            if quote:
                text = text.replace(quote, f"<mark>{quote}</mark>", 1)
        pages = ", ".join(sorted({f"p. {c.page_start}" for c in cited}))
        confidences = [c.ocr_confidence for c in cited if c.ocr_confidence is not None]
        ocr = f" · read by OCR, confidence {min(confidences):.0%}" if confidences else ""
        blocks.append(
            f"<div class='source' id='source-{passage.n}'>"
            f"<div dir='auto'><b>[{passage.n}] {html.escape(hit.title)}</b></div>"
            f"<div class='meta' dir='ltr'>{html.escape(Path(hit.source).name)} · {pages}{ocr}</div>"
            f"<p dir='{_direction(hit.text)}' style='text-align:start'>{text}</p></div>"
        )
    return "<div class='sources'>" + "".join(blocks) + "</div>" if blocks else ""


def ocr_label(confidence: float | None) -> str:
    return "" if confidence is None else f", read by OCR, confidence {confidence:.0%}"


def _direction(text: str) -> str:
    return "rtl" if detect_language(text) == "ar" else "ltr"


def directed(content: str, language: str | None = None) -> str:
    """HTML content in a block laid out in its language's direction (given, or read from it)."""
    direction = {"ar": "rtl", "en": "ltr"}.get(language or "") or _direction(content)
    return f"<div dir='{direction}' style='text-align:start'>{content}</div>"
