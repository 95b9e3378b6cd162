"""Evidence about extracted text: which of its words are real, and which order of its words and digits reads.

PDF text layers fail in ways that look alike to a character count: visual word order, reversed
Arabic-Indic digit runs, glyph codes, a legacy Arabic code page read as Latin. Each question
here is answered by statistics rather than by the look of a line:

- word order: how much more often the news corpus has each pair of adjacent words in the order
  given than reversed (assistant/data/arabic_word_order.tsv.gz, built by
  scripts/build_arabic_stats.py);
- digit order: whether a run reads as a plausible year, and whether it has a leading zero;
- readability: the share of words found in wordfreq's Arabic, Persian and English lists.
"""

import gzip
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from itertools import groupby, pairwise

import regex

from assistant.textnorm import NORMALIZATION_VERSION, detect_language, fold_presentation_forms, normalize

ORDER_STATS = files("assistant") / "data" / "arabic_word_order.tsv.gz"
# The commonest words stand for themselves in the word-class fallback; others by their affixes.
COMMON_WORDS = 100
# A clitic prefix and an ending, in normalised spelling (ة is ه), each the longest that leaves
# a stem of two letters or more.
_AFFIXES = re.compile(
    "(?P<prefix>وال|بال|فال|كال|لل|ال|و|ب|ل|ف|ك)?(?P<stem>..+?)(?P<suffix>ات|ين|ون|يه|ها|هم|ه|ي|ا|ن|ت)?", re.DOTALL
)
# Add-half smoothing of a pair's two counts; the class table is larger, so add-one there.
_PAIR_SMOOTHING = 0.5
_CLASS_SMOOTHING = 1.0
# Word-order evidence from more words than a dense page holds changes no decision, only the cost.
_ENOUGH_WORDS = 2000

_ARABIC_LETTERS = re.compile("[\u0621-\u064a]+")
_DIGIT_RUN = re.compile("[\u0660-\u0669\u06f0-\u06f9]+(?:[٫٬.,][\u0660-\u0669\u06f0-\u06f9]+)*")
_EASTERN_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# Years in laws and gazettes: Gregorian, and Hijri (1300 AH is 1882).
_YEARS = (range(1900, 2101), range(1300, 1501))

# wordfreq buckets are centibels of frequency: the first 700 hold words seen at least once in
# ten million (zipf 2). Rarer entries add little coverage of legal text and much noise.
_FREQUENT_BUCKETS = 700
_OUTER_PUNCTUATION = regex.compile(r"^[\p{P}\p{S}]+|[\p{P}\p{S}]+$")
_ARABIC_SCRIPT_WORD = re.compile("[\u0621-\u065f\u0670-\u06d3\u06d5-\u06ed\u06fa-\u06ff]+")
_LATIN_WORD = re.compile("[A-Za-z\u00c0-\u024f]+(?:['’][A-Za-z\u00c0-\u024f]+)?")
# Names and acronyms are readable though no word list has them all.
_NAME_OR_ACRONYM = re.compile("[A-Z][a-z]+(?:'s)?|[A-Z]{2,6}")
# Web and mail addresses read as what they are, whatever their parts.
_ADDRESS = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+", re.IGNORECASE)
# Numbers joined into more parts than a date or a time has are codes: "/58/52/48/59".
_MOST_NUMBER_PARTS = 3
# Codes, addresses and handles: Latin words and numbers joined by these.
_JOINERS = re.compile(r"[./:@_\-–#&+=?]+")
_NONZERO = "[1-9\u0661-\u0669\u06f1-\u06f9]"
_DIGIT = r"[0-9\u0660-\u0669\u06f0-\u06f9]"
# A number: no leading zero beyond two digits ("09" in a date; "0041" is a glyph code), twelve
# digits at most (a hex run is longer), thousands and decimal separators.
_NUMBER = re.compile(
    rf"(?:{_DIGIT}{{1,2}}|{_NONZERO}{_DIGIT}{{2,11}}|{_NONZERO}{_DIGIT}{{0,2}}(?:[,٬]{_DIGIT}{{3}})+)"
    rf"(?:[.,٫]{_DIGIT}+)?%?٪?"
)
_CLITICS = ("وبال", "وال", "فال", "بال", "كال", "ولل", "لل", "ال", "و", "ف", "ب", "ل", "ك", "س")
_PRONOUNS = ("هما", "كما", "هم", "هن", "كم", "نا", "ها", "ه", "ك", "ي")
# Letters of Persian and Urdu that Arabic does not use: a page with them keeps its kaf and yeh.
_NOT_ARABIC = re.compile("[پچژگٹڈڑںےہ]")
_FARSI_YEH_INSIDE = re.compile("ی(?=[\u0621-\u064a\u066e-\u06d3])")

# cp1256 bytes shown as cp1252 (or latin-1) characters, mapped back to what the bytes meant.
_CP1256_READ_AS_LATIN = {
    **{byte: bytes([byte]).decode("cp1256") for byte in range(0x80, 0x100)},
    **{
        ord(bytes([byte]).decode("cp1252")): bytes([byte]).decode("cp1256")
        for byte in range(0x80, 0xA0)
        if byte not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)  # undefined in cp1252
    },
}
_LATIN_HIGH = re.compile("[\u00c0-\u00ff]")
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class OrderStats:
    """Counts of adjacent word pairs and of word-class pairs, and what each kind of evidence is worth."""

    common: frozenset[str]
    pairs: Mapping[tuple[str, str], int]
    classes: Mapping[tuple[str, str], int]
    # Fitted on held-out news lines (scripts/build_arabic_stats.py), so that evidence is log-odds.
    word_weight: float = 1.0
    class_weight: float = 1.0

    def pair_evidence(self, words: list[str]) -> tuple[float, float]:
        """Unweighted log-odds of words in this order against reversed: from word pairs, and from the
        classes of pairs the corpus never saw."""
        by_words = by_classes = 0.0
        kinds: dict[str, str] = {}  # a text repeats its words: classify each once
        for first, second in pairwise(words):
            forward = self.pairs.get((first, second), 0)
            backward = self.pairs.get((second, first), 0)
            if forward or backward:
                by_words += math.log((forward + _PAIR_SMOOTHING) / (backward + _PAIR_SMOOTHING))
                continue
            for word in (first, second):
                if word not in kinds:
                    kinds[word] = word_class(word, self.common)
            a, b = kinds[first], kinds[second]
            forward, backward = self.classes.get((a, b), 0), self.classes.get((b, a), 0)
            by_classes += math.log((forward + _CLASS_SMOOTHING) / (backward + _CLASS_SMOOTHING))
        return by_words, by_classes

    def evidence(self, words: list[str]) -> float:
        by_words, by_classes = self.pair_evidence(words)
        return self.word_weight * by_words + self.class_weight * by_classes


def word_runs(text: str) -> list[list[str]]:
    """The runs of adjacent Arabic words of a line, in normalised spelling: what the word-order
    statistics count pairs in. A number or a Latin word breaks a run (in visual order it moves)."""
    words = groupby(normalize(text).split(), key=lambda word: bool(_ARABIC_LETTERS.fullmatch(word)))
    return [run for arabic, group in words if arabic and len(run := list(group)) >= 2]


def word_class(word: str, common: frozenset[str]) -> str:
    """A common word stands for itself; any other for its clitic prefix and ending, e.g. ال_ه."""
    if word in common:
        return word
    affixes = _AFFIXES.fullmatch(word)
    if affixes is None:  # one letter: no room for affixes
        return "_"
    return f"{affixes['prefix'] or ''}_{affixes['suffix'] or ''}"


def order_evidence(text: str) -> float:
    """Log-odds that the Arabic lines of a text read in the order given rather than reversed.

    A sum over adjacent word pairs of log(count in this order / count reversed) in the news
    corpus, the likelihood ratio of a bigram model; a pair it never saw falls back to the counts
    of its word classes, which carry grammar (a preposition before a noun, a noun before its
    definite adjective) to words the corpus lacks.
    """
    stats = order_stats()
    evidence = 0.0
    budget = _ENOUGH_WORDS
    for line in text.split("\n"):
        if detect_language(line) != "ar":
            continue
        for run in word_runs(line):
            if budget <= 0:
                return evidence
            evidence += stats.evidence(run[:budget])
            budget -= len(run)
    return evidence


def digit_evidence(line: str) -> int:
    """Positive if the Arabic-Indic numbers of a line read right as given, negative if reversed, 0 if no telling.

    Each run votes for the reading in which it looks like a number: a year (1900-2100, or Hijri
    1300-1500) counts twice, no leading zero once; a part of a date (next to / - :) may have a
    leading zero ("٠٩/٠٤") and so casts no vote on that.
    """
    votes = 0
    for match in _DIGIT_RUN.finditer(line):
        run = match.group().translate(_EASTERN_DIGITS)
        if not run.isdigit() or len(run) < 2:
            continue
        backwards = run[::-1]
        if len(run) == 4:
            votes += 2 * (_is_year(run) - _is_year(backwards))
        around = line[max(0, match.start() - 2) : match.start()] + line[match.end() : match.end() + 2]
        if not any(c in "/-:" for c in around):
            votes += (run[0] != "0") - (backwards[0] != "0")
    return votes


def _is_year(digits: str) -> bool:
    return digits[0] != "0" and any(int(digits) in years for years in _YEARS)


def reverse_digit_runs(line: str) -> str:
    """Each Arabic-Indic number of a line written the other way round (separators included: ٥٧,٠ is ٠,٧٥)."""
    return _DIGIT_RUN.sub(lambda m: m.group()[::-1], line)


def unify_arabic_letters(text: str) -> str:
    """Persian kaf and yeh, which many Arabic fonts map to, as the Arabic letters (unless the text is Persian).

    Inside a word yeh becomes ي; at the end ى, which looks the same there (Egyptian usage).
    """
    if _NOT_ARABIC.search(text):
        return text
    text = _FARSI_YEH_INSIDE.sub("ي", text)
    return text.replace("ی", "ى").replace("ک", "ك")


def redecode_legacy(text: str) -> str:
    """Arabic that was stored in cp1256 and read as cp1252 or latin-1 (ÇáÞÇäæä), decoded again.

    Exact: each of those characters stands for one cp1256 byte; ASCII is common to both. Only
    words with no Arabic letter are decoded: a Latin letter inside an Arabic word is a broken
    glyph map (اÇلي), not a code page.
    """
    return _WORD.sub(lambda m: _redecode_word(m.group()), text)


def _redecode_word(word: str) -> str:
    if _LATIN_HIGH.search(word) and not _ARABIC_SCRIPT.search(word):
        return word.translate(_CP1256_READ_AS_LATIN)
    return word


def quality(text: str) -> float:
    """The share of a text's words that a reader would recognise, weighted by length: 0 (none) to 1 (all).

    A word counts if it is a number, an address, a name or acronym in Latin letters, or in wordfreq's
    Arabic, Persian or English lists (an Arabic word also behind a clitic or before a pronoun
    suffix, in the project's normalised spelling). Glyph codes, hex runs, mojibake and letters
    mixed with symbols do not; lone punctuation is not a word. Weighting by length keeps the
    short tokens that garbage matches by chance ("yz", "X") from lifting its score.
    """
    verdicts = _judge(text)
    letters = sum(length for _, length in verdicts)
    return round(sum(length for known, length in verdicts if known) / letters, 3) if letters else 0.0


def words_judged(text: str) -> int:
    """How many tokens of a text `quality` judged: the evidence behind its score."""
    return len(_judge(text))


def _judge(text: str) -> list[tuple[bool, int]]:
    """Each token's verdict (a word a reader would know, or not) and length."""
    verdicts: list[tuple[bool, int]] = []
    arabic: list[str] = []
    for raw in text.split():
        token = _OUTER_PUNCTUATION.sub("", fold_presentation_forms(raw))
        if _ARABIC_SCRIPT_WORD.fullmatch(token):
            arabic.append(token)
        elif token:
            verdicts.append((_is_number(token) or _is_latin_text(token) or _is_address(token), len(token)))
    if arabic:
        vocabulary = _arabic_words()
        spelled = normalize("\n".join(arabic)).split("\n")  # one call: far faster than word by word
        verdicts += [
            (any(stem in vocabulary for stem in _stems(word)), len(token))
            for word, token in zip(spelled, arabic, strict=True)
        ]
    return verdicts


def _is_address(token: str) -> bool:
    return _ADDRESS.fullmatch(token) is not None


def _is_number(token: str) -> bool:
    return _NUMBER.fullmatch(token) is not None


def _is_latin_text(token: str) -> bool:
    if _LATIN_WORD.fullmatch(token):
        return token.casefold().replace("’", "'") in _english_words() or bool(_NAME_OR_ACRONYM.fullmatch(token))
    parts = [part for part in _JOINERS.split(token) if part]
    if len(parts) < 2 or (all(map(_is_number, parts)) and len(parts) > _MOST_NUMBER_PARTS):
        return False
    return all(_is_number(part) or _is_latin_text(part) for part in parts)


def _stems(word: str) -> Iterable[str]:
    """The word, and what is left of it without a clitic prefix and/or a pronoun suffix."""
    bases = [word, *(word[len(c) :] for c in _CLITICS if word.startswith(c) and len(word) - len(c) >= 2)]
    for base in bases:
        yield base
        yield from (base[: -len(p)] for p in _PRONOUNS if base.endswith(p) and len(base) - len(p) >= 2)


@cache
def _arabic_words() -> frozenset[str]:
    """wordfreq's Arabic list (large) and Persian list (the only one it has), normalised."""
    import wordfreq  # on first use: importing it costs a sixth of a second

    arabic = wordfreq.read_cBpack(wordfreq.available_languages("large")["ar"])[:_FREQUENT_BUCKETS]
    persian = wordfreq.read_cBpack(wordfreq.available_languages("small")["fa"])
    words = [word for buckets in (arabic, persian) for bucket in buckets for word in bucket]
    return frozenset(normalize("\n".join(words)).split("\n"))  # one call: normalising word by word takes seconds


@cache
def _english_words() -> frozenset[str]:
    import wordfreq

    english = wordfreq.read_cBpack(wordfreq.available_languages("large")["en"])[:_FREQUENT_BUCKETS]
    return frozenset(word for bucket in english for word in bucket)


@cache
def order_stats() -> OrderStats:
    """The shipped statistics, read once."""
    header: dict[str, str] = {}
    common: set[str] = set()
    tables: dict[str, dict[tuple[str, str], int]] = {"pair": {}, "class": {}}
    with gzip.open(ORDER_STATS.open("rb"), "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                header[key.strip()] = value.strip()
                continue
            kind, key, count = line.rstrip("\n").split("\t")
            if kind == "common":
                common.add(key)
            else:
                first, second = key.split(" ")
                tables[kind][first, second] = int(count)
    if header.get("normalization") != NORMALIZATION_VERSION:
        # The counts are keyed by normalised words: under other rules most would never match.
        raise RuntimeError(f"{ORDER_STATS} is out of date: run scripts/build_arabic_stats.py")
    weights = {"word_weight": float(header["word weight"]), "class_weight": float(header["class weight"])}
    return OrderStats(frozenset(common), tables["pair"], tables["class"], **weights)
