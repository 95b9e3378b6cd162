"""Follow-up questions: what the conversation so far adds to a question's search.

The history is a list of OpenAI-style messages ({"role": "user" | "assistant", "content"}), as the
app's chat, `--history FILE` and the API all give it. With an LLM, a follow-up is rewritten into a
standalone question (prompts/<language>/rewrite.txt) and that is searched. Without one (the
offline default), a question that reads as a follow-up (short, opening with a conjunction, or
pointing back with a pronoun: «ومن ترأسه؟», "And who chaired it?") is searched together with the
key words of the question before it; and the passages the previous answer quoted stay candidates,
found again by its words (a client sends back only the answer's text, which quotes them).
"""

import re
from dataclasses import dataclass

from assistant.errors import AssistantError
from assistant.textnorm import content_words, detect_language, words
from assistant.types import Hit

Message = dict[str, str]


class HistoryError(AssistantError):
    """A conversation history that is not a list of messages."""


# A question with this many content words or fewer says too little to be searched alone.
SHORT = 3
EARLIER = 3  # passages found again by the earlier answer's words, as candidates
# Weights of the three searches a follow-up makes (fused): read with its history, as asked, the earlier answer.
WITH_HISTORY, AS_ASKED, EARLIER_ANSWER = 1.0, 0.6, 0.4
RANK_CONSTANT = 10  # few candidates: ranks, not the constant, should decide
CARRIED_WORDS = 8  # of the earlier question: enough for its subject, not so many that they drown the new one
# Asking words the stop lists leave in: carried over, they would ask the old question again.
_QUESTION_WORDS = {"many", "much", "which", "لماذا", "أي", "اي", "ماهي"}
_EN_OPENINGS = ("and", "what about", "how about", "also", "then")
_EN_POINTING = {"it", "its", "they", "them", "their", "he", "she", "him", "his", "her"}
_EN_POINTING |= {"there", "that", "this", "those", "these", "then"}  # pronouns, then places, things, times
_AR_POINTING = {"هذا", "هذه", "ذلك", "تلك", "هناك", "هنالك", "ذاك", "هؤلاء", "أولئك", "حينها", "آنذاك", "نفسه", "نفسها"}
# و or ف before a question word: «ومن»، «وما»، «وكم»، «فمتى».
_AR_OPENING = re.compile(r"^[وف](?:من|ما|ماذا|كم|متى|أين|اين|كيف|هل|لماذا|أي|ماهي)$")
# An attached pronoun on a word of 4 letters or more: ترأسه، قادها، أهدافها، عليهم; not مياه or اتجاه.
_AR_ATTACHED = re.compile(r"^[\u0621-\u064a]{2,}[^ا](?:ه|ها|هم|هما|هن)$")
_AR_WITH_PRONOUN = re.compile(r"^[وف]?(?:عن|في|من|ل|ب|على|علي|إلى|الى|إلي|الي|مع|لدى|لدي)(?:ه|ها|هم|هما|هن)$")


@dataclass(frozen=True)
class FollowUp:
    """What to search for a question asked after others."""

    question: str
    query: str  # what to search: the question itself when it stands alone
    earlier_answer: str | None = None  # the previous answer's text, whose passages stay candidates
    rewritten_by: str | None = None  # "llm", "earlier question", or None: searched as asked
    also: tuple[str, ...] = ()  # other readings searched beside query, e.g. the offline one beside a model's

    @property
    def changed(self) -> bool:
        return self.rewritten_by is not None


def reads_as_follow_up(question: str) -> bool:
    """Whether a question leans on the one before it: too short to stand alone, opening with a
    conjunction, or pointing back (a pronoun, a demonstrative, an Arabic attached pronoun)."""
    said = words(question)
    if not said:
        return False
    if len(content_words(question)) <= SHORT:
        return True
    plain = " ".join(said)
    if detect_language(question) == "en":
        return plain.startswith(_EN_OPENINGS) or bool(_EN_POINTING & set(said))
    return bool(
        _AR_OPENING.match(said[0])
        or _AR_POINTING & set(said)
        or any(_AR_ATTACHED.match(word) or _AR_WITH_PRONOUN.match(word) for word in said)
    )


def carried_over(question: str, history: list[Message]) -> FollowUp:
    """The offline reading of a follow-up: the question with the key words of the last question it
    follows (itself carried over when it too was a follow-up), and the last answer's text."""
    asked = [m["content"] for m in history if m.get("role") == "user" and m.get("content", "").strip()]
    if not asked or not reads_as_follow_up(question):
        return FollowUp(question, question)
    context = asked[0]
    for earlier in asked[1:]:
        context = _with_words_of(earlier, context) if reads_as_follow_up(earlier) else earlier
    return FollowUp(question, _with_words_of(question, context), _last_answer(history), "earlier question")


def _last_answer(history: list[Message]) -> str | None:
    answers = [m["content"] for m in history if m.get("role") == "assistant" and m.get("content", "").strip()]
    return answers[-1] if answers else None


def history_text(history: list[Message], turns: int = 6) -> str:
    """The last turns as a model reads them in the rewrite prompt."""
    lines = [
        f"{m['role']}: {' '.join(m['content'].split())}" for m in history if m.get("role") in ("user", "assistant")
    ]
    return "\n".join(lines[-turns:])


def check_history(history: object) -> list[Message]:
    """A history as a client sent it, or a clear error: a list of {"role", "content"} messages."""
    if not isinstance(history, list) or not all(
        isinstance(m, dict) and m.get("role") in ("user", "assistant", "system") and isinstance(m.get("content"), str)
        for m in history
    ):
        raise HistoryError(
            'the history must be a JSON list of {"role": "user" | "assistant", "content": "..."} messages'
        )
    return [{"role": m["role"], "content": m["content"]} for m in history if m["role"] != "system"]


def _with_words_of(question: str, earlier: str) -> str:
    new = set(content_words(question))
    key = [w for w in content_words(earlier) if w not in _QUESTION_WORDS]
    carried = [w for w in dict.fromkeys(key) if w not in new][:CARRIED_WORDS]
    return f"{question} {' '.join(carried)}".strip()


def fused(rankings: list[tuple[list[Hit], float]], k: int) -> list[Hit]:
    """The k best hits of several searches by weighted reciprocal rank: a passage found by the
    follow-up read with its history and by its own words, or cited before, rises above one that
    only shares the earlier question's words."""
    scores: dict[str, float] = {}
    found: dict[str, Hit] = {}
    for hits, weight in rankings:
        for rank, hit in enumerate(hits, 1):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + weight / (RANK_CONSTANT + rank)
            found.setdefault(hit.chunk_id, hit)
    best = sorted(scores, key=lambda chunk_id: -scores[chunk_id])[:k]
    return [found[chunk_id] for chunk_id in best]
