"""What every loader returns: pages of text, with how well each was read."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExtractedPage:
    number: int
    text: str
    quality: float = 1.0
    extractor: str = "text"
    note: str | None = None


@dataclass(frozen=True)
class Extracted:
    format: str
    pages: list[ExtractedPage]
    title: str | None = None
    date: str | None = None
    warnings: list[str] = field(default_factory=list)
