"""Word-by-word translation of a question for keyword search in the other language.

A small multilingual embedder carries much of a question's meaning across languages, not all:
with multilingual-e5-small one English question in ten misses its Arabic passage in the top 5
on XQuAD. Translating the question's words with a bilingual dictionary and searching the
keyword index with the result is dictionary-based cross-language retrieval (Ballesteros and
Croft 1997; Pirkola 1998): it needs no model, and it matches the rare words (places, offices,
things) that dense similarity blurs. A word the dictionary lacks (a name, a number) is kept as
written: names in Latin letters and digits also occur in Arabic text.

The dictionaries are FreeDict's English-Arabic and Arabic-English (the Arabeyes word lists,
GPL-2+), which Debian ships for dictd (`dict-freedict-eng-ara`, `dict-freedict-ara-eng`). The
format is simple enough to read here rather than through a dictionary tool: an index of
headword, offset and length (in dictd's base-64 digits) into a gzip-compressed body, whose
entry is the headword line and then one translation per line ("1. ...", "2. ..."). Without
the files a question is searched as written, as before this module existed.
"""

import gzip
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assistant.textnorm import normalize, tokenize, words

log = logging.getLogger(__name__)

DICTIONARIES = {("en", "ar"): "freedict-eng-ara", ("ar", "en"): "freedict-ara-eng"}
SENSES_PER_WORD = 2  # the first senses are the common ones; more add noise terms, not recall
_BASE64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_SENSE_NUMBER = re.compile(r"^\d+\.\s*")


def _dictd_number(digits: str) -> int:
    value = 0
    for digit in digits:
        value = value * 64 + _BASE64[digit]
    return value


def read_dictd(index: Path, body: Path) -> dict[str, list[str]]:
    """Each headword of a dictd dictionary with its translations, in the dictionary's order."""
    text = gzip.decompress(body.read_bytes())
    entries: dict[str, list[str]] = {}
    for line in index.read_text(encoding="utf-8").splitlines():
        headword, offset, length = line.split("\t")
        if headword.startswith("00-database"):  # the dictionary's own description
            continue
        start = _dictd_number(offset)
        lines = text[start : start + _dictd_number(length)].decode("utf-8").splitlines()[1:]
        # "2. حاسبة - آلة" : the number goes, and a gloss after " - " explains rather than translates
        senses = [_SENSE_NUMBER.sub("", s).split(" - ")[0].strip() for s in lines]
        entries.setdefault(headword, []).extend(s for s in senses if s)
    return entries


@dataclass(frozen=True)
class Lexicon:
    """Translations by a word's normalised form, and by its keyword token for inflected forms."""

    by_form: dict[str, tuple[str, ...]]
    by_token: dict[str, tuple[str, ...]]

    @classmethod
    def from_entries(cls, entries: dict[str, list[str]]) -> "Lexicon":
        by_form: dict[str, tuple[str, ...]] = {}
        by_token: dict[str, tuple[str, ...]] = {}
        # Shorter headwords first: among the words that share a stem, the plain one gives its senses.
        for headword in sorted(entries, key=len):
            senses = tuple(entries[headword][:SENSES_PER_WORD])
            by_form.setdefault(normalize(headword), senses)
            tokens = tokenize(headword)
            if len(tokens) == 1:
                by_token.setdefault(tokens[0], senses)
        return cls(by_form, by_token)

    def translate(self, text: str) -> str:
        """The text's words in the other language, word by word; a word it lacks stays as written."""
        out: list[str] = []
        for word in words(text):
            tokens = tokenize(word)
            if not tokens:  # a stop word
                continue
            out.extend(self.by_form.get(normalize(word)) or self.by_token.get(tokens[0]) or (word,))
        return " ".join(out)


def _files(directory: Path, name: str) -> tuple[Path, Path] | None:
    index, body = directory / f"{name}.index", directory / f"{name}.dict.dz"
    return (index, body) if index.is_file() and body.is_file() else None


@cache
def load_lexicon(directory: Path, source: str, target: str) -> Lexicon | None:
    """The SOURCE→TARGET lexicon in directory, or None (logged once) when its files are absent."""
    name = DICTIONARIES[(source, target)]
    files = _files(directory, name)
    if files is None:
        log.warning("no %s→%s dictionary in %s: cross-language keyword search uses the question as written "
                    "(apt-get install dict-%s)", source, target, directory, name)  # fmt: skip
        return None
    return Lexicon.from_entries(read_dictd(*files))


def available_lexicons(directory: Path) -> list[str]:
    """The translation directions whose dictionaries are in directory, e.g. ["en→ar", "ar→en"]."""
    return [f"{source}→{target}" for (source, target), name in DICTIONARIES.items() if _files(directory, name)]


def translate_query(directory: Path, query: str, source: str, target: str) -> str:
    """query in the target language for keyword search, or as written without a dictionary."""
    lexicon = load_lexicon(directory, source, target)
    return lexicon.translate(query) if lexicon else query
