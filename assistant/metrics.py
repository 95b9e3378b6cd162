"""Retrieval metrics, question sets, and ranking an index's documents for each question.

Metrics are computed on documents (for SQuAD-style sets, passages), not chunks: a method's
chunk ranking is reduced to the order in which documents first appear in it, so a passage
split into two chunks counts once. Equal scores are broken by chunk order upstream, so
every ranking here is a strict order.
"""

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder
from assistant.index import Snapshot
from assistant.retrieval import rank
from assistant.settings import Settings
from assistant.textnorm import detect_language

METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
DEPTH = 10


def recall_at(ranked: list[str], relevant: set[str], k: int) -> float:
    """Share of the relevant documents found in the first k."""
    return len(set(ranked[:k]) & relevant) / len(relevant)


def mrr_at(ranked: list[str], relevant: set[str], k: int) -> float:
    """1 / rank of the first relevant document within k, else 0."""
    return next((1 / i for i, key in enumerate(ranked[:k], 1) if key in relevant), 0.0)


def ndcg_at(ranked: list[str], relevant: set[str], k: int) -> float:
    """Binary-relevance nDCG: gains discounted by log2(rank + 1), over the ideal ordering."""
    dcg = sum(1 / math.log2(i + 1) for i, key in enumerate(ranked[:k], 1) if key in relevant)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def score(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    """All metrics for one question; ranked may repeat a document, which counts once."""
    ranked = list(dict.fromkeys(ranked))
    return {
        "recall@1": recall_at(ranked, relevant, 1),
        "recall@5": recall_at(ranked, relevant, 5),
        "recall@10": recall_at(ranked, relevant, 10),
        "mrr@10": mrr_at(ranked, relevant, 10),
        "ndcg@10": ndcg_at(ranked, relevant, 10),
    }


def mean(scores: list[dict[str, float]]) -> dict[str, float]:
    return {m: round(sum(s[m] for s in scores) / len(scores), 4) if scores else 0.0 for m in METRICS}


def bootstrap_intervals(
    scores: list[dict[str, float]], baseline: list[dict[str, float]] | None = None, resamples: int = 2000
) -> dict[str, list[float]]:
    """95% percentile-bootstrap interval of each metric's mean over questions.

    With baseline (the same questions scored by another method), the interval is of the paired
    difference scores - baseline: an interval above zero says the first method is better, not
    noise. Resampled with a fixed seed, so a report is reproducible.
    """
    if not scores:
        return {}
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(scores), size=(resamples, len(scores)))
    intervals = {}
    for metric in METRICS:
        values = np.array([s[metric] for s in scores])
        if baseline is not None:
            values = values - np.array([b[metric] for b in baseline])
        means = values[picks].mean(axis=1)
        intervals[metric] = [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]
    return intervals


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    relevant: frozenset[str]
    language: str
    answerable: bool = True


@dataclass
class QuestionSet:
    """Questions, and for SQuAD-style sets the passages to index as (key, title, text)."""

    name: str
    questions: list[Question]
    passages: list[tuple[str, str, str]] = field(default_factory=list)


def load_squad(path: Path, questions_from: Path | None = None) -> QuestionSet:
    """Each distinct context is a passage; a question's relevant passage is its own context.

    A context that appears twice is one passage, keyed by its first place: the index keeps one
    copy of a text (content dedup), so a question on the second copy must be scored against it.
    With questions_from, question texts come from a parallel file with the same ids (e.g.
    English XQuAD questions against the Arabic paragraphs).
    """
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    other = {}
    if questions_from is not None:
        for article in json.loads(questions_from.read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                other.update({qa["id"]: qa["question"] for qa in paragraph["qas"]})
    passages, questions = [], []
    key_of_context: dict[str, str] = {}
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            key = key_of_context.setdefault(paragraph["context"], f"{a}.{p}")
            if key == f"{a}.{p}":
                passages.append((key, article.get("title", key), paragraph["context"]))
            for qa in paragraph["qas"]:
                text = other.get(qa["id"], qa["question"]) if questions_from else qa["question"]
                if questions_from and qa["id"] not in other:
                    continue
                questions.append(Question(qa["id"], text.strip(), frozenset({key}), detect_language(text)))
    return QuestionSet(path.stem + (f"<-{questions_from.stem}" if questions_from else ""), questions, passages)


def load_squad_sentences(path: Path, questions_from: Path | None = None) -> QuestionSet:
    """An XQuAD-R file with each sentence as a passage: a question's relevant passage is the
    sentence holding its answer's start (the LAReQA setting). Repeated sentences are one
    passage, as in `load_squad`; questions_from as there."""
    paragraphs = load_squad(path, questions_from)
    question_of = {q.id: q for q in paragraphs.questions}
    passages, questions = [], []
    key_of_sentence: dict[str, str] = {}
    for a, article in enumerate(json.loads(path.read_text(encoding="utf-8"))["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            keys = []
            for s, sentence in enumerate(paragraph["sentences"]):
                key = key_of_sentence.setdefault(sentence.strip(), f"{a}.{p}.{s}")
                if key == f"{a}.{p}.{s}":
                    passages.append((key, article.get("title", key), sentence.strip()))
                keys.append(key)
            for qa in paragraph["qas"]:
                start = qa["answers"][0]["answer_start"]
                sentence = next(i for i, (b, e) in enumerate(paragraph["sentence_breaks"]) if b <= start < e)
                if qa["id"] in question_of:
                    questions.append(dataclasses.replace(question_of[qa["id"]], relevant=frozenset({keys[sentence]})))
    return QuestionSet(paragraphs.name + "-sentences", questions, passages)


def load_jsonl(path: Path) -> QuestionSet:
    """The seeds-dev-qa format: question, lang, gold_docs (file names), answers, answerable."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        try:
            questions.append(
                Question(
                    str(item.get("id", number)),
                    item["question"],
                    frozenset(item.get("gold_docs", [])),
                    item.get("lang") or detect_language(item["question"]),
                    bool(item.get("answerable", True)),
                )
            )
        except KeyError as missing:
            raise ValueError(f"{path}:{number}: a question needs the field {missing}") from None
    return QuestionSet(path.stem, questions)


def document_key(snapshot: Snapshot, doc_id: str) -> str:
    """How question sets name a document: the passage key, else the file name."""
    document = snapshot.document(doc_id)
    assert document is not None, doc_id  # named by a ranking of this snapshot
    source = document.source
    return source.split(":", 1)[1] if source.startswith("passage:") else Path(source).name


@dataclass(frozen=True)
class Ranked:
    """One question's document rankings by the index's own methods, and its top scores."""

    hybrid: list[str]
    dense: list[str]
    keyword: list[str]
    top_dense_score: float
    top_fused_score: float


def top_documents(snapshot: Snapshot, ranking: list[tuple[str, float]]) -> list[str]:
    """A chunk ranking as the first DEPTH documents in order of first appearance."""
    keys = dict.fromkeys(document_key(snapshot, snapshot.chunk(chunk_id).doc_id) for chunk_id, _ in ranking)
    return list(keys)[:DEPTH]


def rank_documents(snapshot: Snapshot, embedder: Embedder, settings: Settings, question: str) -> Ranked:
    rankings = rank(snapshot, embedder, settings, question, settings.search_candidates)
    return Ranked(
        hybrid=top_documents(snapshot, rankings.fused),
        dense=top_documents(snapshot, rankings.dense),
        keyword=top_documents(snapshot, rankings.keyword_alone(snapshot)),
        top_dense_score=rankings.dense[0][1] if rankings.dense else 0.0,
        top_fused_score=rankings.fused[0][1] if rankings.fused else 0.0,
    )


def evaluate_snapshot(
    snapshot: Snapshot, embedder: Embedder, settings: Settings, questions: list[Question]
) -> dict[str, dict[str, float]]:
    """Hybrid-search metrics of each answerable question, by question id."""
    return {
        q.id: score(rank_documents(snapshot, embedder, settings, q.text).hybrid, set(q.relevant))
        for q in questions
        if q.answerable and q.relevant
    }
