"""Strip the boilerplate that pasted or saved web pages carry, without touching article text.

Our reference documents are news pages pasted as text: they bring UI labels (تصغير، تكبير),
"most read" lists, prayer-time widgets, clock lines, separators, repeated headlines and runs
of JavaScript-escaped Arabic (u0627u0644...). Each rule removes whole lines only, so what
remains is the author's text, verbatim.
"""

import re

_UI_LABELS = {
    "تصغير", "تكبير", "طباعة", "مشاركة", "شارك", "حفظ", "إرسال", "ارسال", "تعليق", "تعليقات",
    "ad", "advertisement", "إعلان", "اعلان", "share", "print", "comments", "يومي", "اسبوعي",
    "أسبوعي", "شهري", "daily", "weekly", "monthly", "...", "…",
}  # fmt: skip
_SECTION_ENDS = {
    "الأكثر قراءة", "الاكثر قراءة", "الأكثر مشاهدة", "الأكثر تداولا", "اقرأ أيضا", "اقرأ أيضاً",
    "اقرأ ايضا", "مواضيع ذات صلة", "أخبار ذات صلة", "most read", "most popular", "read more",
    "related articles",
}  # fmt: skip
_PRAYERS = {"الفجر", "الشروق", "الظهر", "العصر", "المغرب", "العشاء"}
# A word holding two escapes in a row, tried only where a word starts: "\S*(?:u....){2,}\S*"
# backtracked over the rest of a word from each of its letters, and a 2 MB blob never finished.
_ESCAPE_RUN = re.compile(r"(?<!\S)(?=\S*?(?:u[0-9a-fA-F]{4}){2})\S+")
# Possessive spaces, so that a long run is not tried at every split between two quantifiers;
# the "$" alternative keeps a time followed by nothing but spaces a clock line, as before.
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(?:\s*+(?:[صم]|am|pm|$))?(?:\s++بتوقيت\s++\S++)?$", re.IGNORECASE)
_NO_LETTERS = re.compile(r"^[\W_]*$")
_BULLET = re.compile(r"^[•·\-–*]\s*")


def clean_web_text(text: str) -> str:
    """Drop boilerplate lines; keep paragraphs separated by one blank line."""
    kept: list[str] = []
    seen: set[str] = set()
    in_trailing_list = False
    for raw in text.splitlines():
        line = _ESCAPE_RUN.sub("", raw).strip()
        key = _BULLET.sub("", line).strip().casefold()
        if not key:
            if raw.strip() and not line:
                continue  # a line that was nothing but escapes
            kept.append("")
            continue
        if key in _SECTION_ENDS:
            in_trailing_list = True
            continue
        if in_trailing_list and len(key.split()) < 8:
            continue  # an item of a "most read" list
        in_trailing_list = False
        if _is_boilerplate(key):
            continue
        if len(key.split()) >= 3 and key in seen:
            continue  # a headline repeated by the page template
        seen.add(key)
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _is_boilerplate(key: str) -> bool:
    return bool(
        key in _UI_LABELS
        or key in _PRAYERS
        or bool(_CLOCK.match(key))
        or bool(_NO_LETTERS.match(key))
        or (len(key.split()) == 2 and key.split()[0] in _PRAYERS and _CLOCK.match(key.split()[1]))
    )
