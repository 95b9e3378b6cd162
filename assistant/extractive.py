"""The offline answerer: no LLM, it quotes the passages' words that answer, each with its marker.

It reads the numbered passages themselves (never a prompt), so it cannot quote anything a
prompt adds or escapes, and it never sees withheld text. An answer is one to three quotes:
for each part of the question ("How many countries joined and who chaired it?") the passage
window closest to it in meaning, or a line saying the documents do not say it. Windows are
sentences, and long sentences cut at clause ends, so a quote is a sentence's worth of words,
not a paragraph; every quote is the passage's exact text, so numbers and names stay exact.
"""

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from assistant.chunking import split_sentences
from assistant.embeddings import Embedder
from assistant.prompting import NO_ANSWER, phrases
from assistant.settings import Settings
from assistant.textnorm import detect_language, normalize, tokenize
from assistant.types import Passage

# A quote longer than this is cut at its clause ends (، ؛ , ;) into windows.
MOST_WORDS = 40
# Bump when window_spans cuts differently: window vectors stored by older rules are not used.
WINDOWS_VERSION = "windows-2"
_HEADLINE_WORDS = 15
_CLOSES = re.compile(r"[.!?؟…]['\"”»)]*$")
_FEWEST_WORDS = 5
_CLAUSE_END = re.compile(r"[،؛,;:](?=\s)")
# Where a question joins a second one: "... and who chaired it?", «... ومن ترأسه؟», "...? And when ...".
_SECOND_PART = re.compile(
    r"\s+(?:and|as well as)\s+(?=(?:who|what|when|where|which|how|why|whom|whose)\b)"
    r"|\s+و(?=(?:من|ما|ماذا|متى|أين|اين|كم|كيف|لماذا|هل|أي|اي)\s)"
    r"|(?<=[?؟])\s+",
    re.IGNORECASE,
)
# What a question asks for, and what a window must then state: a quantity, or a time.
_HOW_MANY = re.compile(
    r"\b(?:how many|how much|what (?:share|percentage|number|proportion))\b|(?:^|\s)كم\s|نسبة|عدد", re.IGNORECASE
)
_WHEN = re.compile(
    r"\b(?:when|what (?:date|day|year|month)|in which year)\b|(?:^|\s)متى|(?:أي|اي) (?:عام|سنة|يوم|تاريخ)",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"[0-9٠-٩]|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred"
    r"|thousand|million|billion|dozens?)\b|(?:^|\s)[وب]?(?:ال)?(?:واحد|اثن|ثلاث|أربع|اربع|خمس|ست|سبع|ثمان|تسع|عشر|مئ|مائ"
    r"|ألف|الف|آلاف|مليون|ملايين|مليار|نصف|ربع|ثلث)",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"[0-9٠-٩]|\b(?:january|february|march|april|may|june|july|august|september|october|november|december|today"
    r"|yesterday|year|month|week)\b|يناير|فبراير|مارس|أبريل|ابريل|مايو|يونيو|يوليو|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر"
    r"|نوفمبر|ديسمبر|كانون|شباط|آذار|نيسان|أيار|حزيران|تموز|آب|أيلول|تشرين|اليوم|أمس|امس|عام|العام|سنة|شهر|أسبوع",
    re.IGNORECASE,
)
# Shared words (weighted by rarity) add to a window's similarity.
_WORD_WEIGHT = 0.06
_SAME_QUOTE = 0.7  # share of a window's words already quoted that makes it a repeat
_SPREAD = 0.03  # a second quote for a one-part question must score within this of the first


@dataclass(frozen=True)
class Window:
    """A quotable stretch of a passage: offsets into the passage's hit text."""

    n: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Pool:
    """The windows a reply is chosen from, with what every choice needs of them, computed once."""

    windows: list[Window]
    vectors: np.ndarray
    tokens: list[set[str]]
    languages: list[str]


class ExtractiveAnswerer:
    """Quotes the passage windows that answer each part of a question; declines when none comes close."""

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.embedder = embedder
        self.settings = settings

    def answer(
        self, question: str, language: str, passages: list[Passage], stored: Mapping[int, np.ndarray] | None = None
    ) -> str:
        """The reply, with markers: a lead line and a quote per part, or NO_ANSWER.

        stored: the window vectors computed at ingest, by passage number; windows without are embedded now.
        """
        pool = self._pool(passages, stored)
        if not pool.windows:
            return NO_ANSWER
        parts = question_parts(question)
        words = phrases(self.settings.prompts_dir, language)
        floor = self.settings.extractive_min_similarity
        # Parts are answered in order, each by a window not quoted yet. A later part ("and who
        # chaired it?") is matched with the first part beside it, which says what "it" is, but
        # pulls toward the first part's answer: its window must also share a word with it
        # ("ترأسه" and «وترأست» share a stem), or be close to it alone.
        alone = [self._similarities(part, pool) for part in parts]
        quoted: list[Window] = []
        missing: list[str] = []
        for index, part in enumerate(parts):
            if index == 0:
                best = self._best(part, pool, alone[0], quoted)
            else:
                beside = self._similarities(f"{part} {parts[0]}", pool)
                own = set(tokenize(part))
                related = np.array([bool(own & tokens) for tokens in pool.tokens])
                best = self._best(part, pool, np.where(related | (alone[index] >= floor), beside, -1.0), quoted)
            if best is None:
                missing.append(part)
            else:
                quoted.append(best)
        if not quoted:
            return NO_ANSWER
        if len(parts) == 1:  # a second quote when it says nearly as much: the answer is often split over two
            second = self._best(parts[0], pool, alone[0], quoted, _SPREAD)
            if second is not None:
                quoted.append(second)
        lines = [words["according"], *(f"- {w.text} [{w.n}]" for w in quoted)]
        lines += [words["not_said"].format(point=part.rstrip("?؟ ")) for part in missing]
        return "\n".join(lines)

    def closest(
        self, question: str, passages: list[Passage], stored: Mapping[int, np.ndarray] | None = None
    ) -> int | None:
        """The number of the passage whose window answers the question best, if any comes close enough."""
        pool = self._pool(passages, stored)
        if not pool.windows:
            return None
        best = self._best(question, pool, self._similarities(question, pool), [])
        return None if best is None else best.n

    def outline(
        self, topic: str, passages: list[Passage], points: int, stored: Mapping[int, np.ndarray] | None = None
    ) -> list[str]:
        """The titles of the passages that have something to say on the topic."""
        pool = self._pool(passages, stored)
        if not pool.windows:
            return []
        scores = self._similarities(topic, pool)
        relevant = {
            w.n
            for w, score in zip(pool.windows, scores, strict=True)
            if score >= self.settings.extractive_min_similarity
        }
        titles = [" ".join(p.hit.title.split()) for p in passages if p.n in relevant and p.hit.title.strip()]
        return list(dict.fromkeys(titles))[:points]

    def _pool(self, passages: list[Passage], stored: Mapping[int, np.ndarray] | None) -> _Pool:
        windows, vectors = windows_with_vectors(passages, stored or {}, self.embedder)
        return _Pool(
            windows, vectors, [set(tokenize(w.text)) for w in windows], [detect_language(w.text) for w in windows]
        )

    def _best(
        self,
        part: str,
        pool: _Pool,
        similarities: np.ndarray,
        quoted: list[Window],
        within: float | None = None,
    ) -> Window | None:
        """The window that best answers this part, if it is close enough and not a repeat of a quote."""
        wanted = set(tokenize(part))
        # A shared word counts by how rare it is among the windows: "Kuwait" in every one says nothing.
        rarity = {t: math.log((len(pool.windows) + 1) / (1 + sum(t in ts for ts in pool.tokens))) + 1 for t in wanted}
        total = sum(rarity.values()) or 1.0
        scores = similarities + np.array(
            [_WORD_WEIGHT * sum(rarity[t] for t in wanted & ts) / total for ts in pool.tokens]
        )
        # "How many" is not answered by a window without a number, nor "when" by one without a time.
        needs = [pattern for asks, pattern in ((_HOW_MANY, _NUMBER), (_WHEN, _TIME)) if asks.search(part)]
        scores[[any(not p.search(w.text) for p in needs) for w in pool.windows]] = -np.inf
        floor = self.settings.extractive_min_similarity
        top = float(scores.max())
        for index in np.argsort(-scores):
            window = pool.windows[index]
            too_far = within is not None and scores[index] < top - within
            if scores[index] == -np.inf or similarities[index] < floor or too_far:
                return None
            if not any(_repeats(window, other) for other in quoted):
                return window
        return None

    def _similarities(self, query: str, pool: _Pool) -> np.ndarray:
        """Cosine similarities, as if every window were in the query's language (see cross_lingual_discount)."""
        language = detect_language(query)
        discount = self.settings.cross_lingual_discount
        shift = np.array([discount * (window_language != language) for window_language in pool.languages])
        return pool.vectors @ self.embedder.embed_query(query) + shift


def question_parts(question: str) -> list[str]:
    """The questions a question asks: two when it joins a second with "and who …", «ومن …»."""
    parts = [p.strip() for p in _SECOND_PART.split(question.strip()) if p and p.strip()]
    return [p for p in parts if len(p.split()) >= 2] or [question.strip()]


def window_text(text: str, start: int, end: int) -> str:
    """A window as it is quoted and embedded, at ingest and when answering alike: its words, single-spaced."""
    return " ".join(text[start:end].split())


def window_spans(text: str, title: str) -> list[tuple[int, int]]:
    """Where a chunk's quotable windows lie in its text: its sentences, long ones cut at clause ends."""
    title = " ".join(title.split())
    spans = []
    for start, end in split_sentences(text):
        for piece_start, piece_end in _pieces(text, start, end):
            piece = window_text(text, piece_start, piece_end)
            if len(piece.split()) >= _FEWEST_WORDS and piece != title and not _headline(text, piece_start, piece_end):
                spans.append((piece_start, piece_end))
    return spans


def _headline(text: str, start: int, end: int) -> bool:
    """A line of its own that reads as a heading: short, no closing full stop, or a bullet's label.

    Quoted as an answer it says less than the sentences under it ("• آلن: توسيع الحرب …").
    """
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end].strip()
    if line != text[start:end].strip():
        return False
    return line.startswith(("•", "-", "*")) or (len(line.split()) <= _HEADLINE_WORDS and not _CLOSES.search(line))


def windows_of(passage: Passage, vectors: np.ndarray | None = None) -> list[tuple[Window, np.ndarray | None]]:
    """The passage's windows that are not withheld, each with its stored vector if there is one."""
    text, offset = passage.hit.text, passage.hit.start
    spans = window_spans(text, passage.hit.title)
    stored = vectors if vectors is not None and len(vectors) == len(spans) else None
    return [
        (Window(passage.n, start, end, window_text(text, start, end)), None if stored is None else stored[i])
        for i, (start, end) in enumerate(spans)
        if not passage.withholds(offset + start, offset + end)
    ]


def windows_with_vectors(
    passages: list[Passage], stored: Mapping[int, np.ndarray], embedder: Embedder
) -> tuple[list[Window], np.ndarray]:
    """Every window of the passages and its vector: stored at ingest, or embedded now."""
    pairs = [pair for p in passages for pair in windows_of(p, stored.get(p.n))]
    unstored = [w.text for w, vector in pairs if vector is None]
    embedded = iter(embedder.embed_documents(unstored)) if unstored else iter(())
    vectors = [vector if vector is not None else next(embedded) for _, vector in pairs]
    return [w for w, _ in pairs], np.array(vectors, dtype=np.float32).reshape(len(pairs), embedder.dimension)


def _pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A sentence, or when it is long, runs of its clauses of up to MOST_WORDS words."""
    if len(text[start:end].split()) <= MOST_WORDS:
        return [(start, end)]
    cuts = [start, *(m.end() for m in _CLAUSE_END.finditer(text, start, end)), end]
    pieces: list[tuple[int, int]] = []
    first = cuts[0]
    for previous, cut in itertools.pairwise(cuts):
        if len(text[first:cut].split()) > MOST_WORDS and previous > first:
            pieces.append((first, previous))
            first = previous
    pieces.append((first, end))
    # A clause still longer than that is cut at word boundaries: a quote is never a paragraph.
    return [span for piece in pieces for span in _by_words(text, *piece)]


def _by_words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
    return [
        (start + words[i][0], start + words[min(i + MOST_WORDS, len(words)) - 1][1])
        for i in range(0, len(words), MOST_WORDS)
    ]


def _repeats(window: Window, other: Window) -> bool:
    mine, theirs = set(normalize(window.text).split()), set(normalize(other.text).split())
    return window == other or len(mine & theirs) >= _SAME_QUOTE * max(1, min(len(mine), len(theirs)))
