"""Hybrid search: dense and keyword rankings fused by weighted reciprocal rank fusion.

Scores of the two methods differ in kind (cosine vs BM25), so only ranks are fused
(as txtai's hybrid search does). Keyword search cannot match across languages, so for a
passage in another language than the question its rank counts with the smaller
`cross_lingual_keyword_weight`: an English question keeps finding Arabic passages by meaning.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from assistant.embeddings import Embedder
from assistant.index import Snapshot
from assistant.settings import Settings
from assistant.textnorm import detect_language
from assistant.types import Hit


@dataclass(frozen=True)
class Rankings:
    """Chunk rows ranked by each method, best first, with each method's own scores."""

    dense: list[tuple[int, float]]
    keyword: list[tuple[int, float]]
    fused: list[tuple[int, float]]


def ranks(ranking: list[tuple[int, float]]) -> dict[int, int]:
    """1-based rank of each row in a ranking."""
    return {row: position for position, (row, _) in enumerate(ranking, 1)}


def rank(snapshot: Snapshot, embedder: Embedder, settings: Settings, query: str, candidates: int) -> Rankings:
    """Dense, keyword and fused rankings of the chunks for query."""
    if not query.strip() or not snapshot.chunks:
        return Rankings([], [], [])
    dense = snapshot.dense_search(embedder.embed_query(query), candidates)
    keyword = snapshot.keyword.search(query, candidates)
    return Rankings(dense, keyword, fuse(snapshot, settings, detect_language(query), dense, keyword))


def fuse(
    snapshot: Snapshot,
    settings: Settings,
    query_language: str,
    dense: list[tuple[int, float]],
    keyword: list[tuple[int, float]],
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of two rankings, best first; ties broken by row."""
    dense_rank, keyword_rank = ranks(dense), ranks(keyword)

    def fused(row: int) -> float:
        score = 0.0
        if row in dense_rank:
            score += settings.dense_weight / (settings.rrf_k + dense_rank[row])
        if row in keyword_rank:
            same = query_language == "other" or snapshot.chunks[row].language == query_language
            weight = settings.keyword_weight if same else settings.cross_lingual_keyword_weight
            score += weight / (settings.rrf_k + keyword_rank[row])
        return score

    rows = sorted(dense_rank.keys() | keyword_rank.keys(), key=lambda r: (-fused(r), r))
    return [(row, fused(row)) for row in rows]


def hybrid_search(snapshot: Snapshot, embedder: Embedder, settings: Settings, query: str, k: int) -> list[Hit]:
    """The k best chunks for query, each with its fused score and per-method ranks."""
    rankings = rank(snapshot, embedder, settings, query, max(k, settings.search_candidates))
    dense_rank, keyword_rank = ranks(rankings.dense), ranks(rankings.keyword)
    hits = []
    for row, score in rankings.fused[:k]:
        chunk = snapshot.chunks[row]
        document = snapshot.documents[chunk.doc_id]
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
                dense_rank=dense_rank.get(row),
                keyword_rank=keyword_rank.get(row),
                language=chunk.language,
                ocr_confidence=document.ocr_confidence(chunk.page_start, chunk.page_end),
            )
        )
    return hits


class AssistantRetriever(BaseRetriever):
    """The assistant's hybrid search as a LangChain retriever, for use in any chain."""

    assistant: Any
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [
            Document(page_content=hit.text, metadata=hit.model_dump(exclude={"text"}))
            for hit in self.assistant.search(query, k=self.k)
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
