"""Arabic and English text normalisation and the keyword tokenizer: the one source of truth.

Keyword search, and later citation checking, compare text only through these functions.
Embeddings see the original text, never the normalised form.
"""

import re
import unicodedata
from functools import cache

import regex
import Stemmer

# Bump when any rule below changes: indexes record it and refuse to mix versions.
NORMALIZATION_VERSION = "ar-en-1"

_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")
_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
_LETTER_FOLDS = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        "ک": "ك",  # Persian kaf
        "ی": "ي",  # Persian yeh
        "ۀ": "ه",
    }
)
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_ARABIC_LETTER = re.compile("[\u0621-\u064a\u0671-\u06d3]")
_LATIN_LETTER = re.compile("[A-Za-z]")
_WORD = re.compile(r"\w+")
_PUNCTUATION_OR_SYMBOL = regex.compile(r"[\p{P}\p{S}]")

# Compared after folding, so any spelling (على/علي، أن/ان) matches.
_STOPWORDS_AR = {
    word.translate(_LETTER_FOLDS)
    for word in """في من على الى عن مع هذا هذه ذلك تلك التي الذي الذين اللذين ان او ثم هو هي هم
    انه انها كان كانت قد لا ما لم لن كما بين عند كل بعض غير حيث اذا منذ خلال و ف ب ل
    وقد وفي ومن وهو وهي وان اما ايضا الا حتى لدى لقد هل كم ماذا متى اين كيف""".split()
}
_STOPWORDS_EN = set(
    """a an the of to in on at by for from with and or but is are was were be been being
    it its this that these those as what which who whom whose how when where why did do
    does has have had not no into than then there their they them he she his her we our
    you your i me my""".split()
)


def fold_presentation_forms(text: str) -> str:
    """Map Arabic presentation-form glyphs (what many PDFs store) to ordinary letters."""
    return _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def normalize(text: str) -> str:
    """Fold the spelling variants that Arabic writers use interchangeably, and case.

    Alef and hamza forms, alef maqsura, taa marbuta, diacritics, tatweel, Arabic-Indic and
    Persian digits, punctuation (Arabic and Latin) become one form each.
    """
    text = _letters_light(text)
    return text.translate(_LETTER_FOLDS)


def _letters_light(text: str) -> str:
    """Normalisation that keeps the letters a stemmer needs (taa marbuta, hamza)."""
    text = fold_presentation_forms(text)
    text = _DIACRITICS.sub("", text).replace(_TATWEEL, "")
    text = text.translate(_DIGITS)
    return _PUNCTUATION_OR_SYMBOL.sub(" ", text).casefold()


@cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


def tokenize(text: str) -> list[str]:
    """Keyword-search tokens: normalised, stop words dropped, Arabic and English stemmed.

    Snowball's Arabic stemmer strips the article and clitics (بال، لل، ال) and suffixes; it
    does not strip a conjunction wa before the article, so we do (والاتصالات -> الاتصالات).
    """
    tokens = []
    for word in words(text):
        if _ARABIC_LETTER.match(word):
            if word.startswith("وال") and len(word) > 5:
                word = word[1:]
            if word.translate(_LETTER_FOLDS) in _STOPWORDS_AR:
                continue
            tokens.append(_stemmer("arabic").stemWord(word).translate(_LETTER_FOLDS))
        elif word not in _STOPWORDS_EN:
            tokens.append(_stemmer("english").stemWord(word) if word.isalpha() else word)
    return tokens


def content_words(text: str) -> list[str]:
    """The words that carry meaning, as written (not stemmed): stop words and question words dropped."""
    return [w for w in words(text) if w.translate(_LETTER_FOLDS) not in _STOPWORDS_AR and w not in _STOPWORDS_EN]


def words(text: str) -> list[str]:
    """The text's words, without diacritics or tatweel, casefolded: what `tokenize` stems."""
    return _WORD.findall(_letters_light(text))


def detect_language(text: str) -> str:
    """'ar' or 'en' by which script dominates the letters, 'other' when neither does."""
    arabic = len(_ARABIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if arabic == latin == 0:
        return "other"
    return "ar" if arabic >= latin else "en"


def arabic_letter_count(text: str) -> int:
    return len(_ARABIC_LETTER.findall(text))
