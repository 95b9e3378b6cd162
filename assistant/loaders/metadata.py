"""Title and date as a document states them, in Arabic or English."""

import re
from datetime import date

from assistant.textnorm import normalize

# Month names after textnorm.normalize: Gulf/Egyptian, Levantine and English.
_MONTHS = {
    "يناير": 1, "كانون الثاني": 1, "january": 1,
    "فبراير": 2, "شباط": 2, "february": 2,
    "مارس": 3, "اذار": 3, "march": 3,
    "ابريل": 4, "نيسان": 4, "april": 4,
    "مايو": 5, "ايار": 5, "may": 5,
    "يونيو": 6, "يونيه": 6, "حزيران": 6, "june": 6,
    "يوليو": 7, "يوليه": 7, "تموز": 7, "july": 7,
    "اغسطس": 8, "اب": 8, "august": 8,
    "سبتمبر": 9, "ايلول": 9, "september": 9,
    "اكتوبر": 10, "تشرين الاول": 10, "october": 10,
    "نوفمبر": 11, "تشرين الثاني": 11, "november": 11,
    "ديسمبر": 12, "كانون الاول": 12, "december": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
# "22 اذار مارس 2017" (normalize turns the slash of "آذار/مارس" into a space), "14 October 2021"
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}}) ({_MONTH})(?: (?:{_MONTH}))? (\d{{4}})\b")
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH}) (\d{{1,2}}) (\d{{4}})\b")
# 2017/03/22 or 2017-03-22, whose separators normalize has turned into spaces.
_NUMERIC = re.compile(r"\b(\d{4}) (\d{1,2}) (\d{1,2})\b")


def find_date(text: str) -> str | None:
    """The first Gregorian date the text states, as ISO 8601; Hijri dates are skipped."""
    flat = " ".join(normalize(text[:20000]).split())
    found = []
    for match in _DAY_MONTH_YEAR.finditer(flat):
        found.append((match.start(), int(match[3]), _MONTHS[match[2]], int(match[1])))
    for match in _MONTH_DAY_YEAR.finditer(flat):
        found.append((match.start(), int(match[3]), _MONTHS[match[1]], int(match[2])))
    for match in _NUMERIC.finditer(flat):
        found.append((match.start(), int(match[1]), int(match[2]), int(match[3])))
    for _, year, month, day in sorted(found):
        try:
            if 1900 <= year <= 2100:
                return date(year, month, day).isoformat()
        except ValueError:
            continue
    return None


def guess_title(text: str, fallback: str) -> str:
    """The first line that reads like a headline: a few words, no date, no closing full stop.

    A line of one to three words is a section label ("عرب وعالم") when a longer headline
    follows within two lines, and the title itself otherwise ("Budget report").
    """
    lines = [line.strip(" •\t") for line in text.splitlines() if line.strip(" •\t")][:8]
    headlines = [line for line in lines if _reads_like_headline(line)]
    for line in headlines:
        following = lines[lines.index(line) + 1 : lines.index(line) + 3]
        if len(line.split()) < 4 and any(_reads_like_headline(f) and len(f.split()) >= 4 for f in following):
            continue
        return line[:200]
    return fallback


def _reads_like_headline(line: str) -> bool:
    return 1 <= len(line.split()) <= 25 and not line.endswith(".") and not find_date(line)
