"""Hybrid search: dense and keyword scores fused by a query-adaptive convex combination.

Each method's scores are scaled to 0..1 within the query's candidates (dense by min-max,
BM25 by its best score), then combined as (1 - a) * dense + a * keyword (Bruch et al.,
"An Analysis of Fusion Functions for Hybrid Retrieval", 2023: convex fusion of normalised
scores beats reciprocal rank fusion and needs few examples to tune). The keyword weight a is
set per query: `keyword_weight` scaled by how much of the question's rarity (IDF mass) the
best keyword match holds. A question whose rare words its best match shares is one keyword
search answers well; one it barely matches leaves the ranking to meaning. A passage in the
other language is matched by keyword against the question translated word by word
(`assistant.lexicon`), with the flat `cross_lingual_keyword_weight`: on the dev sets that
search's best match was no surer a sign where it held more of the question. The combination
is applied as dense + a / (1 - a) * keyword, which ranks as (1 - a) * dense + a * keyword
where every candidate has the same a, and keeps a passage scored with the cross-lingual
weight comparable with one scored with the question's own: a convex mix would scale the
meaning of each by its own 1 - a, and so rank a passage in the other language down for the
weight alone.

A second, dense stage re-scores the candidates by their best sentence window (the window
vectors stored at ingest; arithmetic only): a passage whose one sentence answers the question
rises above a passage that is about the topic as a whole, which matters most when an English
question meets an Arabic passage.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from assistant.embeddings import Embedder
from assistant.index import Snapshot
from assistant.index.base import Ranking
from assistant.lexicon import translate_query
from assistant.settings import Settings
from assistant.textnorm import detect_language
from assistant.types import Hit, SearchFilter

OTHER_LANGUAGE = {"en": "ar", "ar": "en"}


@dataclass(frozen=True)
class Rankings:
    """Chunk ids ranked by each method, best first, with each method's own scores."""

    dense: Ranking
    keyword: Ranking
    crossed: Ranking  # keyword search with the question translated (`crossed_keyword`)
    fused: Ranking
    language: str = "other"  # the question's

    def keyword_ranks(self, snapshot: Snapshot) -> dict[str, int]:
        """Each chunk's rank in the keyword ranking that scored it: as written, or translated."""
        same, other = keyword_by_language(snapshot, self.language, self.keyword, self.crossed)
        as_written, translated = ranks(self.keyword), ranks(self.crossed)
        return {chunk: as_written[chunk] for chunk, _ in same} | {chunk: translated[chunk] for chunk, _ in other}

    def keyword_alone(self, snapshot: Snapshot) -> Ranking:
        """Keyword search as the fusion reads it: each passage scored by the search in its language,
        each search's scores scaled by its best, best first (what evaluation reports as keyword)."""
        same, other = keyword_by_language(snapshot, self.language, self.keyword, self.crossed)
        scaled = [(chunk, score / (hits[0][1] or 1.0)) for hits in (same, other) if hits for chunk, score in hits]
        return sorted(scaled, key=lambda item: (-item[1], item[0]))


def in_language(snapshot: Snapshot, chunk_id: str, language: str) -> bool:
    """Whether a chunk's passage is in the question's language (any, for a question in neither)."""
    return language not in OTHER_LANGUAGE or snapshot.chunk(chunk_id).language == language


def keyword_by_language(
    snapshot: Snapshot, language: str, keyword: Ranking, crossed: Ranking
) -> tuple[Ranking, Ranking]:
    """The keyword hits that count: passages in the question's language from the search as written,
    the others from the translated search; each in its ranking's order."""
    same = [(chunk, score) for chunk, score in keyword if in_language(snapshot, chunk, language)]
    return same, [(chunk, score) for chunk, score in crossed if not in_language(snapshot, chunk, language)]


def ranks(ranking: Ranking) -> dict[str, int]:
    """1-based rank of each chunk in a ranking."""
    return {chunk: position for position, (chunk, _) in enumerate(ranking, 1)}


def rank(
    snapshot: Snapshot,
    embedder: Embedder,
    settings: Settings,
    query: str,
    candidates: int,
    scope: SearchFilter | None = None,
) -> Rankings:
    """Dense, keyword and fused rankings for query of the chunks within scope (every chunk by default)."""
    among = snapshot.admitted(scope)
    if not query.strip() or not snapshot.manifest.chunks or (among is not None and not len(among)):
        return Rankings([], [], [], [])
    query_vector = embedder.embed_query(query)
    language = detect_language(query)
    dense = snapshot.dense_search(query_vector, candidates, among)
    keyword = snapshot.keyword_search(query, candidates, among)
    crossed = crossed_keyword(snapshot, settings, query, language, keyword, candidates, among)
    trust = keyword_trust(keyword_share(snapshot, query, keyword, among), settings)
    windows = best_windows(snapshot, query_vector, dense, keyword + crossed) if settings.window_weight else {}
    fused = fuse(snapshot, settings, language, dense, keyword, crossed, trust, windows)
    return Rankings(dense, keyword, crossed, fused, language)


def crossed_keyword(
    snapshot: Snapshot,
    settings: Settings,
    query: str,
    language: str,
    keyword: Ranking,
    candidates: int,
    among: np.ndarray | None = None,
) -> Ranking:
    """Keyword ranking for passages in the other language: the question translated word by word."""
    other = OTHER_LANGUAGE.get(language)
    translated = translate_query(settings.lexicon_dir, query, language, other) if other else query
    return keyword if translated == query else snapshot.keyword_search(translated, candidates, among)


def keyword_share(snapshot: Snapshot, query: str, keyword: Ranking, among: np.ndarray | None = None) -> float:
    """The share of the query's IDF mass that its best keyword match contains; 0 with no match."""
    return snapshot.matched_share(query, keyword[0][0], among) if keyword else 0.0


def keyword_trust(share: float, settings: Settings) -> float:
    """0..1: how far a query's keyword ranking is to be trusted, from its `keyword_share`.

    Mapped linearly from `keyword_trust_from` (trust 0) to `keyword_trust_full` (trust 1). On
    the dev sets, keyword search beat dense at rank 1 only where the share was above about 0.5.
    """
    low, high = settings.keyword_trust_from, settings.keyword_trust_full
    return min(1.0, max(0.0, (share - low) / (high - low)))


def best_windows(snapshot: Snapshot, query_vector: np.ndarray, dense: Ranking, keyword: Ranking) -> dict[str, float]:
    """Each candidate chunk's best window similarity; a chunk stored without windows keeps its own."""
    chunk_score = dict(dense)
    best = {}
    for chunk in dict.fromkeys(c for c, _ in dense + keyword):
        windows = snapshot.window_vectors(chunk)
        if windows is not None and len(windows):
            best[chunk] = float((windows @ query_vector).max())
        elif chunk in chunk_score:
            best[chunk] = chunk_score[chunk]
    return best


def fuse(
    snapshot: Snapshot,
    settings: Settings,
    query_language: str,
    dense: Ranking,
    keyword: Ranking,
    crossed: Ranking,
    trust: float,
    windows: dict[str, float],
) -> Ranking:
    """The normalised scores fused (see the module's note) plus the window stage, best first; ties broken by chunk id.

    A passage in the question's language takes its keyword score from `keyword`, one in the other
    language from `crossed`; each scaled by the best score among the passages it applies to. Its
    dense and window similarities are raised by `cross_lingual_discount`, what the embedder loses
    on a translation: without it a question's own-language passages crowd out the one that
    answers in the other (Arabic questions on XQuAD's English paragraphs among Arabic news:
    R@5 0.54 without it, 0.80 with it).
    """

    def lifted(chunk: str, similarity: float) -> float:
        return similarity + (0.0 if in_language(snapshot, chunk, query_language) else settings.cross_lingual_discount)

    dense_score = {chunk: lifted(chunk, score) for chunk, score in dense}
    windows = {chunk: lifted(chunk, score) for chunk, score in windows.items()}
    same, other = keyword_by_language(snapshot, query_language, keyword, crossed)
    keyword_score, crossed_score = dict(same), dict(other)
    low = min(dense_score.values(), default=0.0)
    spread = max(dense_score.values(), default=0.0) - low or 1.0  # one candidate: every score the same
    top_keyword = max(keyword_score.values(), default=1.0)
    top_crossed = max(crossed_score.values(), default=1.0)

    def fused(chunk: str) -> float:
        if not in_language(snapshot, chunk, query_language):
            weight, match = settings.cross_lingual_keyword_weight, crossed_score.get(chunk, 0.0) / top_crossed
        else:
            weight, match = trust * settings.keyword_weight, keyword_score.get(chunk, 0.0) / top_keyword
        meaning = (dense_score.get(chunk, low) - low) / spread
        meaning += settings.window_weight * max(0.0, windows.get(chunk, low) - low) / spread
        return meaning + weight / (1 - weight) * match

    scores = {chunk: fused(chunk) for chunk in dense_score.keys() | keyword_score.keys() | crossed_score.keys()}
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def hybrid_search(
    snapshot: Snapshot, embedder: Embedder, settings: Settings, query: str, k: int, scope: SearchFilter | None = None
) -> list[Hit]:
    """The k best chunks for query within scope, each with its fused score and per-method ranks."""
    rankings = rank(snapshot, embedder, settings, query, max(k, settings.search_candidates), scope)
    dense_rank, keyword_rank = ranks(rankings.dense), rankings.keyword_ranks(snapshot)
    hits = []
    for chunk_id, score in rankings.fused[:k]:
        chunk = snapshot.chunk(chunk_id)
        document = snapshot.document(chunk.doc_id)
        assert document is not None, chunk.doc_id
        hits.append(
            Hit(
                doc_id=chunk.doc_id,
                chunk_id=chunk.chunk_id,
                source=document.source,
                title=document.title,
                page_start=chunk.page_start,
                page_end=chunk.page_end,
                start=chunk.start,
                end=chunk.end,
                text=snapshot.chunk_text(chunk),
                score=round(score, 6),
                dense_rank=dense_rank.get(chunk_id),
                keyword_rank=keyword_rank.get(chunk_id),
                language=chunk.language,
                ocr_confidence=document.ocr_confidence(chunk.page_start, chunk.page_end),
            )
        )
    return hits


class AssistantRetriever(BaseRetriever):
    """The assistant's hybrid search as a LangChain retriever, for use in any chain.

    Its scope (the caller's collections, documents, dates, languages) is applied inside the
    search like everywhere else; `invoke(query, k=..., scope=...)` overrides either for one call,
    and a scope given for a call is narrowed by the retriever's own, never widened past it.
    """

    assistant: Any
    k: int = 5
    scope: SearchFilter | None = None

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        scope: SearchFilter | None = None,
    ) -> list[Document]:
        within = self.scope if scope is None else scope.narrowed_by(self.scope)
        return [
            Document(page_content=hit.text, metadata=hit.model_dump(exclude={"text"}))
            for hit in self.assistant.search(query, k=k or self.k, scope=within)
        ]


def diversify(hits: list[Hit], k: int, per_document: int) -> list[Hit]:
    """The best k hits with at most per_document from any one document, best first.

    An answer drawn from several documents can show where they agree and where their
    figures differ; the top hits alone often come from one long document.
    """
    taken: Counter[str] = Counter()
    chosen = []
    for hit in hits:
        if taken[hit.doc_id] < per_document:
            taken[hit.doc_id] += 1
            chosen.append(hit)
    return chosen[:k]
