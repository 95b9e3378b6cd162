"""Numbered passages -> a model's reply -> an answer whose every citation has been checked.

The model sees the passages delimited and numbered, and cites them as [1], [2]. After it
has written, each sentence is checked against the passages it cites: its content words
(after Arabic normalisation) or its meaning (embedding similarity, which works across
languages) must be found there, and every number it states must appear in a cited passage.
Markers that point at no passage are removed. Each citation carries the passage's words
that best support the sentence, with their offsets in the document, so an official can read
the original Arabic behind an English answer and the other way round.
"""

import itertools
import json
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from assistant import hostile
from assistant.chunking import split_sentences
from assistant.embeddings import Embedder
from assistant.extractive import ExtractiveAnswerer, windows_with_vectors
from assistant.llm import JSON_REPLY, explained, writes_json
from assistant.prompting import NO_ANSWER, phrases, render
from assistant.settings import Settings
from assistant.textnorm import detect_language, tokenize
from assistant.types import (
    Answer,
    AnswerSentence,
    Citation,
    Conflict,
    Figure,
    Hit,
    Passage,
    SourceDocument,
    WithheldText,
    page_span,
)

_DIGITS = "0-9٠-٩۰-۹"
# Share of the shorter sentence's content words (number and unit aside) two figures must share to count the same thing.
_SAME_THING = 0.5
_TEMPLATE_TOKENS = 400  # the answer templates' instructions, in tokens, with room to spare
# Passages for a local model: with the template about 700 tokens, read in about 5 s on 2 cores.
_LOCAL_PROMPT_TOKENS = 300
MARKER = re.compile(rf"\[\s*([{_DIGITS}]+(?:\s*[,،]\s*[{_DIGITS}]+)*)\s*\]")
# A number and the scale word that may follow it: "30 ألف", "2.5 million".
_NUMBER = re.compile(
    rf"([{_DIGITS}]+(?:[.,٫٬][{_DIGITS}]+)*)(?:\s+(ألف|آلاف|الف|مليون|ملايين|مليار|thousand|million|billion)\b)?"
)
_SCALES = {"ألف": 10**3, "آلاف": 10**3, "الف": 10**3, "thousand": 10**3, "مليون": 10**6, "ملايين": 10**6,
           "million": 10**6, "مليار": 10**9, "billion": 10**9}  # fmt: skip
_PUNCTUATION = "،,.;؛:!?؟»«\"'()[]"
_LIST_NUMBER = re.compile(rf"[{_DIGITS}]+[.)]")
_LIST_PREFIX = re.compile(rf"^\s*(?:[-*•]|[{_DIGITS}]+[.)])\s+")
# The counted thing follows its number within two words: "14 دولة", "28 countries".
_FIGURE = re.compile(rf"(?<![{_DIGITS}.,])([{_DIGITS}]+(?:[.,٫٬][{_DIGITS}]+)*)\s+((?:\S+\s+)?\S+)")


def answer_language(question: str, requested: str | None) -> str:
    """The requested language, else the question's; anything not Arabic is answered in English."""
    if requested:
        return requested
    return "ar" if detect_language(question) == "ar" else "en"


def final_answer(events: Iterator[str | Answer]) -> Answer:
    """The Answer at the end of a stream of text pieces."""
    for event in events:
        if isinstance(event, Answer):
            return event
    raise RuntimeError("the answer stream ended without an answer")


def format_passages(passages: list[Passage]) -> str:
    """The passages as the model sees them: delimited, numbered, unable to close their block."""
    blocks = []
    for passage in passages:
        if passage.excerpt == []:
            continue  # none of it fitted the prompt's budget
        hit = passage.hit
        pages = page_span(hit.page_start, hit.page_end)
        text = _inert(passage.shown_text())
        blocks.append(f'<passage id="{passage.n}" title="{_inert(hit.title)}" pages="{pages}">\n{text}\n</passage>')
    return "\n".join(blocks)


def _inert(text: str) -> str:
    """Document text that cannot open or close a tag, nor end an attribute."""
    return text.replace("<", "‹").replace(">", "›").replace('"', "״")


@dataclass
class _Evidence:
    """The sentences of one passage, their tokens, and their embeddings (computed once, when first needed)."""

    passage: Passage
    spans: list[tuple[int, int]]
    tokens: list[set[str]]
    languages: list[str]
    embed: Callable[[], np.ndarray]
    _vectors: np.ndarray | None = None

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = self.embed()
        return self._vectors

    def overlap(self, claim: set[str]) -> float:
        """The share of a claim's words found anywhere in the passage."""
        return len(claim & set().union(*self.tokens)) / max(1, len(claim))


class Answerer:
    """Asks a chat model about numbered passages and checks what it says."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        model: "BaseChatModel | ExtractiveAnswerer",
        model_name: str,
        documents: Callable[[], Mapping[str, SourceDocument]],
        window_vectors: Callable[[str], np.ndarray | None] = lambda chunk_id: None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.model = model
        self.model_name = model_name
        self._documents = documents
        self._window_vectors = window_vectors
        # A model held to llm.REPLY_SCHEMA; its JSON is read back into sentences with [n] markers.
        self.json_replies = not isinstance(model, ExtractiveAnswerer) and writes_json(settings)

    def stream(
        self, question: str, language: str, hits: list[Hit], task: str = "answer", topic: str | None = None
    ) -> Iterator[str | Answer]:
        """Yield the reply as it is written, then the checked Answer.

        The reply is held back while it could still be the NO_ANSWER marker, which the user
        never sees: the final Answer then says in their language that the documents do not answer.
        """
        words = phrases(self.settings.prompts_dir, language)
        if self._about_the_assistant(question):  # not asked of the documents: no model sees it
            yield self._declined(question, language, [], words["declined_instruction"])
            return
        if not hits:
            yield self._declined(question, language, [], words["declined_empty"])
            return
        numbered = passages = self.number(hits)
        if isinstance(self.model, ExtractiveAnswerer):
            prompt_tokens = None
            pieces = _lines(self.model.answer(question, language, passages, self.stored_windows(passages)))
        else:
            passages = self._excerpts(question, numbered, passage_budget(self.settings))
            messages = self._prompt(task, language, question, topic, passages)
            prompt_tokens = sum(estimate_tokens(str(m.content)) for m in messages)
            pieces = self._stream(messages)
        started = time.perf_counter()
        timed = _Timed(pieces)
        reply = yield from _held_back(self._readable(timed))
        if not isinstance(self.model, ExtractiveAnswerer) and _declines(reply):
            # A small model declines what its passages answer: if one of them holds a close window,
            # it is asked again with that passage alone, a prompt it can read.
            best = ExtractiveAnswerer(self.embedder, self.settings).closest(
                question, passages, self.stored_windows(passages)
            )
            if best is not None:
                single = self._excerpts(question, [numbered[best - 1]], passage_budget(self.settings))
                retried = self._stream(self._prompt(task, language, question, topic, single))
                reply = yield from _held_back(self._readable(retried))
        # A note gathers conflicting figures across all its parts, so its parts leave them out.
        answer = self.check(question, language, passages, reply, with_conflicts=task == "answer")
        seconds = round(timed.first if timed.first is not None else time.perf_counter() - started, 3)
        yield answer.model_copy(update={"prompt_tokens": prompt_tokens, "first_piece_seconds": seconds})

    def check(
        self, question: str, language: str, passages: list[Passage], reply: str, with_conflicts: bool = True
    ) -> Answer:
        """Check every sentence of a reply against the passages it cites."""
        words = phrases(self.settings.prompts_dir, language)
        warnings = [words["withheld"].format(n=p.n, title=p.hit.title) for p in passages if p.withheld]
        if _declines(reply):
            return self._declined(question, language, passages, words["declined"], warnings)
        evidence: dict[int, _Evidence] = {}
        sentences: list[AnswerSentence] = []
        kept: list[str] = []
        missing = words["not_said"].split("{point}")[0]  # "The documents do not say: …" claims nothing
        for text in _sentences_with_markers(reply):
            if text.startswith(missing) and not MARKER.search(text):
                sentence = AnswerSentence(text=text, citations=[], verdict="structure")
            else:
                sentence = self._check_sentence(text, passages, evidence)
            if sentence.verdict in ("unverified", "uncited") and self.settings.unverified_sentences == "drop":
                continue
            sentences.append(sentence)
            kept.append(sentence.text)
        if not any(s.verdict == "supported" for s in sentences):
            # Kept, though not shown as an answer: they say why nothing could be said.
            return self._declined(question, language, passages, words["declined"], warnings, sentences)
        conflicts = self.conflicts(question, passages) if with_conflicts else []
        text = "\n".join(kept)
        unstated = [c for c in conflicts if not all(f.value in text for f in c.figures)]
        if unstated:
            sentences.append(self._conflict_sentence(words["conflicts"], unstated))
            text += "\n" + sentences[-1].text
        return Answer(
            question=question,
            language=language,
            answered=True,
            text=text,
            sentences=sentences,
            passages=passages,
            conflicts=conflicts,
            warnings=warnings,
            model=self.model_name,
        )

    def _declined(
        self,
        question: str,
        language: str,
        passages: list[Passage],
        text: str,
        warnings: list[str] | None = None,
        sentences: list[AnswerSentence] | None = None,
    ) -> Answer:
        return Answer(
            question=question,
            language=language,
            answered=False,
            text=text,
            sentences=sentences or [],
            passages=passages,
            warnings=warnings or [],
            model=self.model_name,
        )

    def _prompt(
        self, task: str, language: str, question: str, topic: str | None, passages: list[Passage]
    ) -> list[BaseMessage]:
        variables = {"passages": format_passages(passages), "question": question}
        if task == "section":
            variables["topic"] = topic or question
        messages = render(self.settings.prompts_dir, language, task, **variables)
        if self.json_replies:  # the template's rules stand; the form of the reply is JSON's
            form = phrases(self.settings.prompts_dir, language)["json_reply"]
            messages[0] = messages[0].model_copy(update={"content": f"{messages[0].content}\n{form}"})
        return messages

    def _readable(self, pieces: Iterable[str]) -> Iterable[str]:
        return _json_sentences(pieces) if self.json_replies else pieces

    def _stream(self, messages: list[BaseMessage]) -> Iterator[str]:
        """The model's reply in pieces; its client's errors said as a user can act on them."""
        assert not isinstance(self.model, ExtractiveAnswerer)
        try:
            body = JSON_REPLY if self.json_replies else None
            for chunk in self.model.stream(messages, extra_body=body) if body else self.model.stream(messages):
                yield str(chunk.content)
        except Exception as error:
            raise explained(error, self.settings) from error

    def _excerpts(self, question: str, passages: list[Passage], budget: int) -> list[Passage]:
        """The passages cut to their windows nearest the question, best first, until the budget is spent.

        Reading the prompt is most of a small local model's wait before its first word (about 110
        tokens a second on 2 cores), so when the passages do not fit, only their windows that bear
        on the question go in, in text order; a passage none of whose windows made it is left out.
        """
        if sum(estimate_tokens(p.shown_text()) for p in passages) <= budget:
            return passages
        windows, vectors = windows_with_vectors(passages, self.stored_windows(passages), self.embedder)
        if not windows:
            return passages
        scores = vectors @ self.embedder.embed_query(question)
        chosen: dict[int, list[tuple[int, int]]] = {p.n: [] for p in passages}
        used = 0
        for i in np.argsort(-scores):
            cost = estimate_tokens(windows[i].text)
            if used and used + cost > budget:
                continue
            chosen[windows[i].n].append((windows[i].start, windows[i].end))
            used += cost
        return [p.model_copy(update={"excerpt": sorted(chosen[p.n])}) for p in passages]

    def _about_the_assistant(self, question: str) -> bool:
        """`hostile.about_the_assistant`; the question's vector is the one retrieval embedded (cached)."""
        classifier = hostile.classifier_for(self.embedder.model, reads="questions")
        vector = self.embedder.embed_query(question) if classifier else None
        return hostile.about_the_assistant(question, classifier, vector)

    def stored_windows(self, passages: list[Passage]) -> dict[int, np.ndarray]:
        """The window vectors the index holds for these passages, by passage number."""
        return {p.n: vectors for p in passages if (vectors := self._window_vectors(p.hit.chunk_id)) is not None}

    def number(self, hits: list[Hit]) -> list[Passage]:
        """Number the hits 1..n, each with the text of it that its document withholds."""
        documents = self._documents()
        passages = []
        for n, hit in enumerate(hits, 1):
            document = documents.get(hit.doc_id)
            spans = hostile.withheld_in(document) if document else hostile.find_hostile(hit.text)
            offset = 0 if document else hit.start  # without its document, the hit's own text was judged
            withheld = [
                WithheldText(start=max(start, hit.start), end=min(end, hit.end), reason=span.reason)
                for span in spans
                if (start := span.start + offset) < hit.end and hit.start < (end := span.end + offset)
            ]
            passages.append(Passage(n=n, hit=hit, withheld=withheld))
        return passages

    # -- one sentence ---------------------------------------------------------------------

    def _check_sentence(self, text: str, passages: list[Passage], evidence: dict[int, _Evidence]) -> AnswerSentence:
        cited = []
        for match in MARKER.finditer(text):
            for number in re.split(r"[,،]", _ascii_digits(match.group(1))):
                if 1 <= int(number) <= len(passages) and int(number) not in cited:
                    cited.append(int(number))
        # Markers that point at no passage go; the valid ones are rewritten in one form.
        claim = without_markers(text)
        shown = with_markers(claim, cited)
        claim_tokens = set(tokenize(_LIST_PREFIX.sub("", claim)))
        numbers = {_values(match)[-1] for match in _NUMBER.finditer(_LIST_PREFIX.sub("", claim))}
        if not cited:
            if claim.endswith((":", "：")) or claim.startswith("#") or (len(claim_tokens) < 3 and not numbers):
                return AnswerSentence(text=shown, citations=[], verdict="structure")
            return AnswerSentence(text=shown, citations=[], verdict="uncited", reason="no citation")
        for n in cited:
            if n not in evidence:
                evidence[n] = self._evidence(passages[n - 1])
        citations = []
        best_overlap = max(evidence[n].overlap(claim_tokens) for n in cited)
        best_similarity = 0.0
        if best_overlap >= self.settings.citation_min_overlap:
            # The passage holds the claim's words (a quote always does): the sentence holding most of them is cited.
            for n in cited:
                shared = [len(claim_tokens & tokens) for tokens in evidence[n].tokens]
                citations.append(self._citation(evidence[n], shared.index(max(shared))))
        else:
            query = self.embedder.embed_query(claim)
            language = detect_language(claim)
            for n in cited:
                quote_index, similarity = self._best_quote(evidence[n], claim_tokens, query, language)
                best_similarity = max(best_similarity, similarity)
                citations.append(self._citation(evidence[n], quote_index))
        cited_numbers = {
            value for n in cited for match in _NUMBER.finditer(passages[n - 1].hit.text) for value in _values(match)
        }
        missing = sorted(numbers - cited_numbers)
        if missing:
            verdict, reason = "unverified", f"the cited passages do not state {', '.join(missing)}"
        elif (
            best_overlap >= self.settings.citation_min_overlap
            or best_similarity >= self.settings.citation_min_similarity
        ):
            verdict, reason = "supported", None
        else:
            verdict = "unverified"
            reason = (
                "the cited passages do not say this "
                f"(word overlap {best_overlap:.2f}, similarity {best_similarity:.2f})"
            )
        return AnswerSentence(text=shown, citations=citations, verdict=verdict, reason=reason)

    def _evidence(self, passage: Passage) -> _Evidence:
        text, offset = passage.hit.text, passage.hit.start
        spans = [(s, e) for s, e in split_sentences(text) if not passage.withholds(offset + s, offset + e)]
        spans = spans or [(0, len(text))]
        sentences = [text[start:end] for start, end in spans]
        return _Evidence(
            passage=passage,
            spans=spans,
            tokens=[set(tokenize(s)) for s in sentences],
            languages=[detect_language(s) for s in sentences],
            embed=lambda: self.embedder.embed_documents(sentences),
        )

    def _best_quote(
        self, evidence: _Evidence, claim_tokens: set[str], query: np.ndarray, language: str
    ) -> tuple[int, float]:
        """The passage sentence that best supports a claim, and the best similarity of any of them.

        The similarity of a sentence in the other language is raised by the cross-lingual
        discount, so that one threshold serves both.
        """
        discount = self.settings.cross_lingual_discount
        similarities = evidence.vectors @ query + np.array(
            [discount * (lang != language) for lang in evidence.languages]
        )
        overlaps = [len(claim_tokens & tokens) / max(1, len(claim_tokens)) for tokens in evidence.tokens]
        best = max(range(len(evidence.spans)), key=lambda i: similarities[i] + overlaps[i])
        return best, float(similarities.max())

    def _citation(self, evidence: _Evidence, index: int) -> Citation:
        hit = evidence.passage.hit
        start, end = evidence.spans[index]
        return self.citation_for(evidence.passage.n, hit, hit.start + start, hit.start + end)

    def citation_for(self, n: int, hit: Hit, start: int, end: int) -> Citation:
        """A citation of the document words [start, end) of a hit, with the pages they lie on."""
        document = self._documents().get(hit.doc_id)
        pages = document.pages if document else []
        first = next((p.number for p in pages if p.start <= start < p.end), hit.page_start)
        last = next((p.number for p in pages if p.start < end <= p.end), first)
        quote = document.text[start:end] if document else hit.text[start - hit.start : end - hit.start]
        return Citation(
            n=n,
            doc_id=hit.doc_id,
            source=hit.source,
            title=hit.title,
            date=document.date if document else None,
            page_start=first,
            page_end=last,
            quote=quote,
            start=start,
            end=end,
            language=detect_language(quote),
            ocr_confidence=document.ocr_confidence(first, last) if document else hit.ocr_confidence,
        )

    # -- conflicting figures ------------------------------------------------------------------

    def conflicts(self, question: str, passages: list[Passage]) -> list[Conflict]:
        """Different figures for the same counted thing at the same event, stated in different documents.

        Only sentences on the question's subject count: they share a content word with it
        besides the counted thing, or (across languages) are close to it in meaning. Two figures
        are for the same thing only when their sentences say the same around the number (most of
        their content words shared): 14 countries at a conference and 28 at a working group's
        meeting, or 68 in the whole coalition, are different things, not a conflict.
        """
        question_tokens = set(tokenize(question))
        query = self.embedder.embed_query(question)
        found: dict[tuple[str, str, str], tuple[Figure, set[str]]] = {}  # (unit, value, doc) -> figure, context
        for passage in passages:
            text = passage.hit.text
            for start, end in split_sentences(text):
                if passage.withholds(passage.hit.start + start, passage.hit.start + end):
                    continue
                sentence = text[start:end]
                for match in _FIGURE.finditer(sentence):
                    unit_tokens = tokenize(match.group(2))
                    if not unit_tokens:
                        continue
                    unit = unit_tokens[0]
                    if not self._on_subject(sentence, question_tokens - {unit}, query):
                        continue
                    value = _plain_number(match.group(1))
                    key = (unit, value, passage.hit.doc_id)
                    if key in found:
                        continue
                    citation = self.citation_for(
                        passage.n, passage.hit, passage.hit.start + start, passage.hit.start + end
                    )
                    shown = f"{match.group(1)} {match.group(2).split()[0].strip(_PUNCTUATION)}"
                    context = {t for t in tokenize(_NUMBER.sub(" ", sentence)) if t != unit}
                    found[key] = (Figure(value=shown, citation=citation), context)
        return _same_thing_conflicts(found)

    def _on_subject(self, sentence: str, subject: set[str], query: np.ndarray) -> bool:
        if subject & set(tokenize(sentence)):
            return True
        if detect_language(sentence) == detect_language(" ".join(subject)):
            return False
        vector = self.embedder.embed_documents([sentence])[0]
        return float(vector @ query) + self.settings.cross_lingual_discount >= self.settings.citation_min_similarity

    def _conflict_sentence(self, lead: str, conflicts: list[Conflict]) -> AnswerSentence:
        parts = [f"{figure.value} [{figure.citation.n}]" for conflict in conflicts for figure in conflict.figures]
        separator = "؛ " if detect_language(lead) == "ar" else "; "
        return AnswerSentence(
            text=f"{lead} {separator.join(parts)}",
            citations=[figure.citation for conflict in conflicts for figure in conflict.figures],
            verdict="supported",
        )


def _same_thing_conflicts(found: dict[tuple[str, str, str], tuple[Figure, set[str]]]) -> list[Conflict]:
    """Groups of figures, one counted thing each, where another document gives a different value in the same words."""
    keys = list(found)
    group = {key: key for key in keys}

    def root(key: tuple[str, str, str]) -> tuple[str, str, str]:
        while group[key] != key:
            key = group[key]
        return key

    for first, second in itertools.combinations(keys, 2):
        (unit, value, document), (other_unit, other_value, other_document) = first, second
        if unit != other_unit or value == other_value or document == other_document:
            continue
        mine, theirs = found[first][1], found[second][1]
        if len(mine & theirs) >= _SAME_THING * min(len(mine), len(theirs)):
            group[root(second)] = root(first)
    members: dict[tuple[str, str, str], dict[str, Figure]] = {}
    for key in keys:  # a value given by several documents is listed once, with its first source
        members.setdefault(root(key), {}).setdefault(key[1], found[key][0])
    conflicts = []
    for by_value in members.values():
        if len(by_value) > 1:
            figures = list(by_value.values())
            conflicts.append(Conflict(unit=figures[0].value.split()[-1], figures=figures))
    return conflicts


def passage_budget(settings: Settings) -> int:
    """Tokens of passages a prompt may carry: as set, else by backend, never more than the context leaves."""
    budget = settings.llm_prompt_tokens or (_LOCAL_PROMPT_TOKENS if settings.llm == "llamacpp" else 6000)
    if settings.llm == "llamacpp":  # the template and the reply need room too
        budget = min(budget, settings.llm_context - settings.llm_max_tokens - _TEMPLATE_TOKENS)
    return max(100, budget)


def estimate_tokens(text: str) -> int:
    """Tokens a BPE tokenizer makes of a text, roughly: one per 4 bytes of UTF-8 (Arabic letters are 2 bytes)."""
    return len(text.encode("utf-8")) // 4 + 1


class _Timed:
    """Pieces passed through, noting the seconds until the first one."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self.pieces, self.started = pieces, time.perf_counter()
        self.first: float | None = None

    def __iter__(self) -> Iterator[str]:
        for piece in self.pieces:
            if self.first is None:
                self.first = time.perf_counter() - self.started
            yield piece


# One complete item of a REPLY_SCHEMA answer, in the grammar's key order: its sentence (a JSON string) and passages.
_JSON_ITEM = re.compile(r'"sentence"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"passages"\s*:\s*\[([\d\s,]*)\]')
_JSON_DECLINED = re.compile(r'"not_in_documents"\s*:\s*true')


def _json_sentences(pieces: Iterable[str]) -> Iterator[str]:
    """A JSON reply (llm.REPLY_SCHEMA) as lines of text with [n] markers, each yielded once its item is
    complete (a reply cut off by the token limit keeps its complete sentences); NO_ANSWER when it
    says the documents do not answer and gives no sentence."""
    reply, done = "", 0
    for piece in pieces:
        reply += piece
        items = _JSON_ITEM.findall(reply)
        for sentence, numbers in items[done:]:
            markers = "".join(f"[{n}]" for n in dict.fromkeys(numbers.replace(",", " ").split()))
            yield f"{json.loads(sentence).strip()} {markers}".strip() + "\n"
        done = len(items)
    if not done and _JSON_DECLINED.search(reply):
        yield NO_ANSWER


def _held_back(pieces: Iterable[str]) -> Generator[str, None, str]:
    """Yield a reply as it grows, holding it back while it could still be NO_ANSWER; return all of it."""
    reply, shown = "", 0
    for piece in pieces:
        reply += piece
        if not NO_ANSWER.startswith(reply.strip()):
            yield reply[shown:]
            shown = len(reply)
    return reply


def _declines(reply: str) -> bool:
    """Whether a reply says the passages do not answer (or says nothing)."""
    return NO_ANSWER in reply or not reply.strip()


def _lines(reply: str) -> Iterator[str]:
    """A whole reply streamed a line at a time."""
    yield from re.findall(r"[^\n]*\n|[^\n]+", reply)


def _sentences_with_markers(reply: str) -> list[str]:
    """The reply's sentences; a marker written after the full stop stays with its sentence,
    and a list number ("2.") with the item it numbers."""
    sentences: list[str] = []
    number = ""
    for start, end in split_sentences(reply):
        text = reply[start:end]
        if _LIST_NUMBER.fullmatch(text.strip()):
            number = text.strip() + " "
        elif sentences and not number and not MARKER.sub("", text).strip(" .،,"):
            sentences[-1] += " " + text
        elif sentences and not number and (marker := MARKER.match(text)):
            sentences[-1] += " " + marker.group(0)
            sentences.append(text[marker.end() :].strip())
        else:
            sentences.append(number + text)
            number = ""
    return [s for s in sentences if s.strip() and s.strip() != NO_ANSWER]


def without_markers(text: str) -> str:
    """A sentence without its citation markers, its spacing tidied."""
    # The join leaves single spaces, so " " is exact; "\s+" would rescan a long run from each of its spaces.
    return re.sub(r" ([.!?؟،,;؛:])", r"\1", " ".join(MARKER.sub(" ", text).split()))


def with_markers(claim: str, numbers: list[int]) -> str:
    """Markers after the last word, before the full stop: "... 28 countries [1][2]."."""
    markers = "".join(f"[{n}]" for n in numbers)
    if not markers:
        return claim
    body, stop = (claim[:-1], claim[-1]) if claim.endswith((".", "!", "?", "؟")) else (claim, "")
    return f"{body} {markers}{stop}"


def _values(number: re.Match[str]) -> list[str]:
    """A number as written, and (last) its value with the scale word applied: "30 ألف" -> 30, 30000."""
    written = _plain_number(number.group(1))
    if not number.group(2):
        return [written]
    try:
        scaled = float(written) * _SCALES[number.group(2)]
    except ValueError:
        return [written]
    return [written, f"{scaled:.0f}" if scaled.is_integer() else f"{scaled:g}"]


def _ascii_digits(text: str) -> str:
    return text.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789"))


def _plain_number(number: str) -> str:
    """A number without thousands separators, in ASCII digits: ٣٠٬٠٠٠ and 30,000 -> 30000."""
    digits = _ascii_digits(number).replace("٬", "").replace("٫", ".")
    if re.fullmatch(r"\d{1,3}(,\d{3})+", digits):
        digits = digits.replace(",", "")
    return digits.rstrip(".,")
