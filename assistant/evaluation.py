"""`python -m assistant eval`: retrieval quality of each method side by side, on a question set.

Methods: the product's hybrid search, its dense and keyword halves alone, and the plain
LangChain way with the same embedder (RecursiveCharacterTextSplitter + FAISS +
similarity_search). SQuAD-style sets are indexed into a cached evaluation index under
INDEX_DIR/../eval/, rebuilt when the file, the distractors or the settings change; the
LangChain baseline's vectors are cached there too (as a NumPy array, not a pickle) and
loaded with FAISS.from_embeddings, which builds the same store as FAISS.from_documents.
Nothing is written into the live index's directory, which only its writer changes.
"""

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embeddings import LangChainEmbeddings
from assistant.lexicon import available_lexicons
from assistant.metrics import (
    DEPTH,
    METRICS,
    Question,
    QuestionSet,
    bootstrap_intervals,
    document_key,
    load_jsonl,
    load_squad,
    mean,
    rank_documents,
    score,
)
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.textnorm import NORMALIZATION_VERSION

METHODS = ("hybrid", "dense", "keyword", "langchain")
Progress = Callable[[int, int, str], None]


def load_question_set(path: Path, questions_from: Path | None = None) -> QuestionSet:
    if path.suffix == ".jsonl":
        if questions_from:
            raise ValueError("--questions-from applies to SQuAD-format (.json) files")
        return load_jsonl(path)
    return load_squad(path, questions_from)


def find_distractors_file(dataset: Path) -> Path | None:
    """The ANT news corpus beside the evaluation sets, as ../shared lays them out."""
    for folder in dataset.resolve().parents[:3]:
        candidate = folder / "news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl"
        if candidate.exists():
            return candidate
    return None


def read_distractors(path: Path, count: int) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    with path.open(encoding="utf-8") as file:
        for line in file:
            if len(found) == count:
                break
            record = json.loads(line)
            if record.get("text", "").strip():
                found.append((f"news-{record['docno']}", record.get("title", ""), record["text"]))
    return found


@dataclass
class Setup:
    """What an evaluation runs on: the questions, the index answering them, and its pool."""

    questions: list[Question]
    assistant: Assistant
    pool: list[tuple[str, str, str]]
    distractors: int
    name: str = "live-index"


def prepare(
    settings: Settings,
    dataset: Path,
    questions_from: Path | None = None,
    distractors: int = 0,
    distractors_file: Path | None = None,
    progress: Progress | None = None,
) -> Setup:
    """Load the questions and find or build the index to ask them of."""
    question_set = load_question_set(dataset, questions_from)
    extra: list[tuple[str, str, str]] = []
    if distractors:
        source = distractors_file or find_distractors_file(dataset)
        if source is None:
            raise ValueError("--distractors needs the news corpus; give it with --distractors-file")
        extra = read_distractors(source, distractors)
    if question_set.passages or extra:
        pool = (question_set.passages or _documents_of(Assistant(settings))) + extra
        name = f"{dataset.stem}-d{len(extra)}"
        return Setup(question_set.questions, _evaluation_index(settings, name, pool, progress), pool, len(extra), name)
    assistant = Assistant(settings)  # a question file against the live document index
    return Setup(question_set.questions, assistant, _documents_of(assistant), 0)


def run_evaluation(
    settings: Settings,
    dataset: Path,
    questions_from: Path | None = None,
    distractors: int = 0,
    distractors_file: Path | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    setup = prepare(settings, dataset, questions_from, distractors, distractors_file, progress)
    report = evaluate(settings, setup, limit, progress)
    return {
        "dataset": str(dataset),
        "questions_from": str(questions_from) if questions_from else None,
        **report,
        "seconds": round(time.perf_counter() - started, 1),
    }


def evaluate(
    settings: Settings, setup: Setup, limit: int | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Each method's metrics on the setup's questions, with intervals, per language pair."""
    questions = setup.questions[:limit] if limit else setup.questions
    assistant = setup.assistant
    baseline = _langchain_store(assistant, setup.pool, _cache_root(settings), setup.name)
    snapshot = assistant.snapshot()

    per_method: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    by_pair: dict[str, dict[str, list[dict[str, float]]]] = {}
    language_of = {document_key(snapshot, d.doc_id): d.language for d in snapshot.documents()}
    unscored: list[str] = []
    unanswerable: list[dict[str, Any]] = []
    answerable_tops: list[float] = []
    for done, question in enumerate(questions, 1):
        ranked = rank_documents(snapshot, assistant.embedder, settings, question.text)
        if question.answerable and question.relevant:
            # A gold document the index does not hold cannot be found by any method: such a
            # question is reported, not scored as a miss of every method.
            relevant = set(question.relevant) & language_of.keys()
            if not relevant:
                unscored.append(question.id)
                continue
            pair = f"{question.language}→{'+'.join(sorted({language_of[key] for key in relevant}))}"
            lists = {
                "hybrid": ranked.hybrid,
                "dense": ranked.dense,
                "keyword": ranked.keyword,
                "langchain": _langchain_ranking(baseline, question.text),
            }
            for method, ranking in lists.items():
                metrics = score(ranking, relevant)
                per_method[method].append(metrics)
                by_pair.setdefault(pair, {m: [] for m in METHODS})[method].append(metrics)
            answerable_tops.append(ranked.top_dense_score)
        else:
            unanswerable.append(
                {
                    "id": question.id,
                    "question": question.text,
                    "top_dense_score": round(ranked.top_dense_score, 4),
                    "top_hybrid_score": round(ranked.top_fused_score, 6),
                    "top_document": ranked.hybrid[0] if ranked.hybrid else None,
                }
            )
        if progress:
            progress(done, len(questions), question.id)

    return {
        "settings": {
            "embedder": assistant.embedder.name,
            "embedder_model": assistant.embedder.model,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "keyword_weight": settings.keyword_weight,
            "keyword_trust_from": settings.keyword_trust_from,
            "keyword_trust_full": settings.keyword_trust_full,
            "cross_lingual_keyword_weight": settings.cross_lingual_keyword_weight,
            "lexicons": available_lexicons(settings.lexicon_dir),
            "window_weight": settings.window_weight,
            "search_candidates": settings.search_candidates,
            "normalization_version": NORMALIZATION_VERSION,
        },
        "counts": {
            "questions": len(questions),
            "answerable": len(per_method["hybrid"]),
            "unscored": len(unscored),
            "unanswerable": len(unanswerable),
            "documents": snapshot.manifest.documents,
            "distractors": setup.distractors,
            "chunks": snapshot.manifest.chunks,
        },
        "unscored": unscored,
        "methods": {method: mean(scores) for method, scores in per_method.items()},
        "intervals": {method: bootstrap_intervals(scores) for method, scores in per_method.items()},
        "against_dense": {
            method: bootstrap_intervals(scores, per_method["dense"])
            for method, scores in per_method.items()
            if method != "dense"
        },
        "by_language_pair": {
            pair: {method: mean(scores) for method, scores in methods.items()}
            for pair, methods in sorted(by_pair.items())
        },
        "unanswerable": {
            "questions": unanswerable,
            "answerable_top_dense_score": _summary(answerable_tops),
            "unanswerable_top_dense_score": _summary([u["top_dense_score"] for u in unanswerable]),
        },
    }


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": round(min(values), 4), "mean": round(sum(values) / len(values), 4), "max": round(max(values), 4)}


def _documents_of(assistant: Assistant) -> list[tuple[str, str, str]]:
    """The live index's documents as pool entries keyed by file name."""
    return [(Path(d.source).name, d.title, d.text) for d in assistant.snapshot().documents()]


def _evaluation_index(
    settings: Settings, name: str, pool: list[tuple[str, str, str]], progress: Progress | None
) -> Assistant:
    """An index of the pool, cached under INDEX_DIR/../eval/NAME-KEY; KEY changes with content and settings."""
    key = hashlib.sha256()
    for part in [settings.embedder, settings.embedder_model, settings.fake_embedder_dim, settings.chunk_size,
                 settings.chunk_overlap, NORMALIZATION_VERSION]:  # fmt: skip
        key.update(repr(part).encode())
    for passage_key, title, text in pool:
        key.update(f"{passage_key}\0{title}\0{text}\0".encode())
    root = _cache_root(settings)
    directory = root / f"{name}-{key.hexdigest()[:12]}"
    for stale in root.glob(f"{name}-*"):  # the same set with the same distractors, built before
        if stale != directory:
            shutil.rmtree(stale, ignore_errors=True)
    assistant = Assistant(settings.model_copy(update={"index_dir": directory}))
    if not assistant.store.exists():
        assistant.add_texts([(f"passage:{k}", title, text) for k, title, text in pool], progress)
    return assistant


def _langchain_store(assistant: Assistant, pool: list[tuple[str, str, str]], root: Path, name: str) -> Any:
    """RecursiveCharacterTextSplitter + FAISS with the same embedder; vectors cached as ROOT/NAME-langchain-KEY.npy."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    settings = assistant.settings
    splitter = RecursiveCharacterTextSplitter(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
    chunks = splitter.split_documents([Document(page_content=text, metadata={"key": key}) for key, _, text in pool])
    texts = [c.page_content for c in chunks]
    embedder = assistant.embedder
    digest = hashlib.sha256("\0".join([embedder.name, embedder.model, *texts]).encode()).hexdigest()[:12]
    cache = root / f"{name}-langchain-{digest}.npy"
    if cache.exists():
        vectors = np.load(cache, allow_pickle=False)
    else:
        vectors = embedder.embed_documents(texts)
        for old in root.glob(f"{name}-langchain-*.npy"):
            old.unlink(missing_ok=True)
        root.mkdir(parents=True, exist_ok=True)
        partial = root / f".{cache.name}.{os.getpid()}"
        with partial.open("wb") as file:  # np.save would add .npy to a name without it
            np.save(file, vectors, allow_pickle=False)
        os.replace(partial, cache)  # a reader never sees half a file
    return FAISS.from_embeddings(
        list(zip(texts, vectors.tolist(), strict=True)),
        LangChainEmbeddings(assistant.embedder),
        metadatas=[c.metadata for c in chunks],
    )


def _cache_root(settings: Settings) -> Path:
    """Evaluation caches: beside the live index directory, never inside it."""
    return settings.index_dir.parent / "eval"


def _langchain_ranking(store: Any, question: str) -> list[str]:
    documents = store.similarity_search(question, k=DEPTH * 4)
    return list(dict.fromkeys(d.metadata["key"] for d in documents))[:DEPTH]


def format_table(report: dict[str, Any]) -> str:
    def rows(methods: dict[str, dict[str, float]]) -> list[str]:
        return [
            f"{method:<12}" + "".join(f"{metrics[m]:>11.3f}" for m in METRICS) for method, metrics in methods.items()
        ]

    def spans(intervals: dict[str, dict[str, list[float]]]) -> list[str]:
        return [
            f"{method:<12}" + "".join(f"{f'{span[m][0]:+.3f} {span[m][1]:+.3f}':>15}" for m in METRICS)
            for method, span in intervals.items()
            if span
        ]

    lines = [f"{'method':<12}" + "".join(f"{m:>11}" for m in METRICS), *rows(report["methods"])]
    lines += ["-- 95% interval of the difference from dense (above zero: better than dense)"]
    lines += [f"{'':<12}" + "".join(f"{m:>15}" for m in METRICS), *spans(report["against_dense"])]
    if len(report["by_language_pair"]) > 1:
        for pair, methods in report["by_language_pair"].items():
            lines += [f"-- questions → passages in {pair}", *rows(methods)]
    if report["unscored"]:
        lines += [f"not scored (gold document not in the index): {', '.join(report['unscored'])}"]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(report["methods"])
    for i, (method, metrics) in enumerate(report["methods"].items()):
        axes.bar([x + i * width for x in range(len(METRICS))], [metrics[m] for m in METRICS], width, label=method)
    axes.set_xticks([x + width * (len(report["methods"]) - 1) / 2 for x in range(len(METRICS))], METRICS)
    axes.set_ylim(0, 1)
    axes.set_title(f"{Path(report['dataset']).name}: {report['counts']['answerable']} questions")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
