"""Scale benchmark: what an update, an open and a search cost as the index grows.

    python benchmarks/scale.py                          # 10k and 100k chunks, and the baseline
    python benchmarks/scale.py --sizes 10000 100000 1000000 --baseline none --json

Everything goes through the Assistant facade with the deterministic fake embedder (384
dimensions, as multilingual-e5-small), so the index's own work is what is timed: hostile-text
rules, chunking, windows, the document store, vectors, keyword postings, commits. The texts are
synthetic one-chunk documents of Arabic and English words drawn with Zipf frequencies, in daily
batches (--batch documents each). For each size it reports the first and last batch's
chunks/s, adding, removing and re-adding one document (seconds, bytes written, peak RSS of the
process doing it), opening the index and answering a first search, the RSS of a process with
the index open, search p50/p95 (the index's own dense and keyword searches of 50 candidates
each, and the whole retrieval: embedding, both searches, fusion, window scores) alone and under
4 concurrent searches, and the disk used. Questions are drawn before the clock starts.

--baseline REV (default: b2aea98, the last commit with whole-generation rewrites) runs the same
measurements on that revision's code, checked out into a temporary git worktree, in the same
run. FAISS uses one thread (`faiss.omp_set_num_threads(1)`), as the app does per request.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DIMENSION = 384
ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
ENGLISH = "abcdefghijklmnopqrstuvwxyz"


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words = set()
    while len(words) < size:
        letters = ARABIC if len(words) % 2 else ENGLISH
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 8))))
    return sorted(words)


class Texts:
    """Synthetic documents of about one chunk each, Zipf-distributed words, reproducible by number."""

    def __init__(self, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.words = vocabulary(30_000, rng)
        self.weights = [1 / (rank + 1) for rank in range(len(self.words))]

    def text(self, number: int, words: int = 110) -> str:
        rng = random.Random(number)
        return f"وثيقة {number}\n" + " ".join(rng.choices(self.words, self.weights, k=words)) + "."

    def items(self, first: int, count: int) -> list[tuple[str, str, str]]:
        return [(f"doc-{n:07d}", f"وثيقة {n}", self.text(n)) for n in range(first, first + count)]


def index_batch(assistant, items: list[tuple[str, str, str]]) -> None:
    """One batch written straight through the index (document store, vectors, keyword postings,
    one commit), without the per-document pipeline (hostile-text rules, date and language
    detection, sentence windows): what --build index times, where the pipeline's constant ~4 ms a
    chunk would make a 1M-chunk build take hours on 2 cores without telling anything about the index."""
    from assistant.chunking import chunk_document
    from assistant.index.snapshot import new_manifest
    from assistant.types import PageInfo, SourceDocument

    settings, embedder, store = assistant.settings, assistant.embedder, assistant.store
    fresh = new_manifest(embedder.name, embedder.model, embedder.dimension, settings.chunk_size, settings.chunk_overlap)
    added_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    with store.writing(settings.lock_timeout, "benchmarks/scale.py"):
        snapshot = store.writable(fresh)
        for source, title, text in items:
            digest = hashlib.sha256(text.encode()).hexdigest()
            page = PageInfo(number=1, start=0, end=len(text), quality=1.0, extractor="text")
            document = SourceDocument(
                doc_id=digest[:16], content_hash=digest, source=source, title=title, format="txt",
                language="ar", text=text, pages=[page], added_at=added_at,
            )  # fmt: skip
            chunks = chunk_document(document.doc_id, text, [page], settings.chunk_size, settings.chunk_overlap)
            vectors = embedder.embed_documents([text[c.start : c.end] for c in chunks])
            snapshot.add(document, chunks, vectors, [vector[None, :] for vector in vectors])
        store.commit(snapshot)


def written_bytes() -> int:
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("write_bytes"))


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def peak_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def settings_for(index_dir: Path):
    from assistant.settings import Settings

    return Settings(
        index_dir=index_dir,
        data_dir=index_dir.parent / "data",
        embedder="fake",
        fake_embedder_dim=DIMENSION,
        lexicon_dir=index_dir.parent / "no-dictionaries",
    )


def child(mode: str, index_dir: Path, number: int) -> dict:
    """One measurement in a process of its own, so its time and memory are its own."""
    import faiss

    faiss.omp_set_num_threads(1)
    from assistant.service import Assistant

    started, before = time.perf_counter(), written_bytes()
    assistant = Assistant(settings_for(index_dir))
    texts = Texts()
    if mode == "open":
        assistant.search(texts.text(number, 8), k=5)
    elif mode == "add":
        report = assistant.add_texts(texts.items(number, 1))
        assert report.added, report
    elif mode == "readd":
        report = assistant.add_texts(texts.items(number, 1))
        assert report.unchanged, report
    elif mode == "remove":
        assistant.remove(f"doc-{number:07d}")
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "written_mb": round((written_bytes() - before) / 2**20, 2),
        "rss_mb": round(rss_mb(), 1),
        "peak_mb": round(peak_mb(), 1),
    }


def run_child(mode: str, index_dir: Path, number: int, code: Path) -> dict:
    command = [sys.executable, __file__, "--child", mode, str(index_dir), str(number)]
    environment = {**os.environ, "PYTHONPATH": str(code)}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=code, check=False)
    if result.returncode:
        raise RuntimeError(f"{mode} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def searches(assistant, queries: list[str]) -> list[float]:
    """Seconds per question through the whole retrieval: embedding, both searches, fusion, windows."""
    latencies = []
    for query in queries:
        started = time.perf_counter()
        assistant.search(query, k=5)
        latencies.append(time.perf_counter() - started)
    return latencies


def index_searches(assistant, queries: list[str]) -> list[float]:
    """Seconds per question in the index alone: the dense and the keyword search of its candidates."""
    snapshot, depth = assistant.snapshot(), assistant.settings.search_candidates
    vectors = [assistant.embedder.embed_query(query) for query in queries]
    latencies = []
    for query, vector in zip(queries, vectors, strict=True):
        started = time.perf_counter()
        snapshot.dense_search(vector, depth)
        snapshot.keyword_search(query, depth)
        latencies.append(time.perf_counter() - started)
    return latencies


def ann_recall(assistant, queries: list[str]) -> float | None:
    """Recall@10 of the dense search against an exact scan of the same live vectors; None if it is exact."""
    vectors = getattr(assistant.snapshot(), "vectors", None)  # a baseline's flat index has no segments
    segments = [s for s in getattr(vectors, "segments", []) if len(s)]
    if not any(getattr(segment, "approximate", False) for segment in segments):
        return None
    live = [segment.live(vectors.deleted) for segment in segments]
    ids = np.concatenate(live)
    matrix = np.concatenate([s.vectors_of(i) for s, i in zip(segments, live, strict=True)])
    found = 0
    for query in queries:
        vector = assistant.embedder.embed_query(query)
        scores = matrix @ vector
        tenth_best = np.partition(scores, len(scores) - 10)[len(scores) - 10]
        # A hit scoring as high as the exact tenth counts: hashed bag-of-words vectors tie often.
        good = set(ids[scores >= tenth_best - 1e-6].tolist())
        found += min(10, len(good & {i for i, _ in vectors.search(vector, 10)}))
    return round(found / (10 * len(queries)), 4)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(size: int, batch: int, work: Path, code: Path, through_index: bool = False) -> dict:
    """Build an index of size one-chunk documents in batches, then time updates, opens and searches."""
    import faiss

    faiss.omp_set_num_threads(1)
    from assistant.service import Assistant

    index_dir = work / f"index-{size}"
    assistant, texts = Assistant(settings_for(index_dir)), Texts()
    batch_seconds, batch_sizes = [], []
    for first in range(0, size, batch):
        items = texts.items(first, min(batch, size - first))
        started = time.perf_counter()
        if through_index:
            index_batch(assistant, items)
        else:
            assistant.add_texts(items)
        batch_seconds.append(time.perf_counter() - started)
        batch_sizes.append(len(items))
    chunks, tenth = assistant.snapshot().manifest.chunks, max(1, len(batch_seconds) // 10)
    queries = [texts.text(size + n * 7919, 8) for n in range(400)]
    searches(assistant, queries[:20])  # warm: the segments' pages and the chunk cache
    alone, in_index = searches(assistant, queries[:200]), index_searches(assistant, queries[:200])
    together: list[float] = []

    def searcher(of: "Assistant", share: list[str]) -> None:
        together.extend(searches(of, share))

    threads = [threading.Thread(target=searcher, args=(assistant, queries[200 + 50 * t :][:50])) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recall = ann_recall(assistant, queries[:100])
    vectors = getattr(assistant.snapshot(), "vectors", None)
    approximate = sum(getattr(s, "approximate", False) for s in getattr(vectors, "segments", []))
    del assistant
    disk = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
    return {
        "chunks": chunks,
        # A tenth of the batches each: their merges are in the figure, as they are in an admin's wait.
        "first_tenth_chunks_per_s": round(sum(batch_sizes[:tenth]) / sum(batch_seconds[:tenth]), 1),
        "last_tenth_chunks_per_s": round(sum(batch_sizes[-tenth:]) / sum(batch_seconds[-tenth:]), 1),
        "median_batch_s": round(statistics.median(batch_seconds), 2),
        "slowest_batch_s": round(max(batch_seconds), 2),
        "add_one": run_child("add", index_dir, size + 10, code),
        "remove_one": run_child("remove", index_dir, size // 2, code),
        "readd_unchanged": run_child("readd", index_dir, size + 10, code),
        "open_and_first_search": run_child("open", index_dir, 3, code),
        "index_search_ms_p50": round(1000 * statistics.median(in_index), 2),
        "index_search_ms_p95": round(1000 * percentile(in_index, 0.95), 2),
        "search_ms_p50": round(1000 * statistics.median(alone), 2),
        "search_ms_p95": round(1000 * percentile(alone, 0.95), 2),
        "search_4_concurrent_ms_p50": round(1000 * statistics.median(together), 2),
        "search_4_concurrent_ms_p95": round(1000 * percentile(together, 0.95), 2),
        "ann_recall_at_10": recall,
        "approximate_segments": approximate,
        "disk_mb": round(disk / 2**20, 1),
        "raw_vectors_mb": round(chunks * DIMENSION * 4 / 2**20, 1),
    }


def run(sizes: list[int], batch: int, code: Path, through_index: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="scale-") as folder:
        results = {}
        for size in sizes:
            results[str(size)] = measure(size, batch, Path(folder), code, through_index)
            shutil.rmtree(Path(folder) / f"index-{size}", ignore_errors=True)
            print(f"  {size} chunks: {json.dumps(results[str(size)])}", file=sys.stderr, flush=True)
        return results


def baseline(revision: str, sizes: list[int], batch: int) -> dict:
    """The same measurements on another revision's code, from a temporary git worktree."""
    with tempfile.TemporaryDirectory(prefix="scale-baseline-") as folder:
        tree = Path(folder) / "code"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision], check=True)
        try:
            command = [sys.executable, str(ROOT / "benchmarks/scale.py"), "--measure", str(tree), "--batch", str(batch)]
            command += ["--sizes", *map(str, sizes)]
            environment = {**os.environ, "PYTHONPATH": str(tree)}
            result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=tree, check=True)
            return json.loads(result.stdout)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


ROWS = [
    ("first tenth of the batches, chunks/s", lambda r: r["first_tenth_chunks_per_s"]),
    ("last tenth of the batches, chunks/s", lambda r: r["last_tenth_chunks_per_s"]),
    ("median / slowest batch, s", lambda r: f"{r['median_batch_s']} / {r['slowest_batch_s']}"),
    ("add one document, s", lambda r: r["add_one"]["seconds"]),
    ("  MB written", lambda r: r["add_one"]["written_mb"]),
    ("  peak RSS MB", lambda r: r["add_one"]["peak_mb"]),
    ("remove one document, s", lambda r: r["remove_one"]["seconds"]),
    ("  MB written", lambda r: r["remove_one"]["written_mb"]),
    ("re-add an unchanged document, s", lambda r: r["readd_unchanged"]["seconds"]),
    ("open + first search, s", lambda r: r["open_and_first_search"]["seconds"]),
    ("RSS with the index open, MB", lambda r: r["open_and_first_search"]["rss_mb"]),
    ("raw vectors, MB", lambda r: r["raw_vectors_mb"]),
    ("index search p50 / p95, ms", lambda r: f"{r['index_search_ms_p50']} / {r['index_search_ms_p95']}"),
    ("whole retrieval p50 / p95, ms", lambda r: f"{r['search_ms_p50']} / {r['search_ms_p95']}"),
    (" 4 concurrent p50 / p95, ms", lambda r: f"{r['search_4_concurrent_ms_p50']} / {r['search_4_concurrent_ms_p95']}"),
    ("ANN recall@10 vs exact", lambda r: r.get("ann_recall_at_10") or "exact"),
    ("  compressed segments (8-bit scan, exact scores)", lambda r: r.get("approximate_segments", 0)),
    ("disk, MB", lambda r: r["disk_mb"]),
]


def table(now: dict, before: dict | None) -> str:
    sizes = list(now)
    header = "| | " + " | ".join(f"{int(s):,} chunks" for s in sizes) + " |"
    lines = [header, "|---" * (len(sizes) + 1) + "|"]
    for label, value in ROWS:
        cells = []
        for size in sizes:
            cell = str(value(now[size]))
            if before and size in before:
                cell = f"{value(before[size])} → **{cell}**"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch", type=int, default=3_300, help="Documents (one chunk each) per batch.")
    parser.add_argument("--baseline", default="b2aea98", help="A git revision to measure too, or 'none'.")
    parser.add_argument(
        "--build",
        choices=["assistant", "index"],
        default="assistant",
        help="Build the batches through Assistant.add_texts, or straight through the index (see index_batch).",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "INDEX_DIR", "NUMBER"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the code root to measure, JSON out
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]), int(args.child[2]))))
        return
    if args.measure:
        print(json.dumps(run(args.sizes, args.batch, args.measure)))
        return
    if args.build == "index" and args.baseline != "none":
        parser.error("--build index writes through today's index API: use it with --baseline none")
    before = None if args.baseline == "none" else baseline(args.baseline, args.sizes, args.batch)
    now = run(args.sizes, args.batch, ROOT, args.build == "index")
    if args.json:
        print(json.dumps({"baseline": before, "now": now}, indent=2))
    else:
        print(f"baseline {args.baseline} → this tree" if before else "this tree")
        print(table(now, before))


if __name__ == "__main__":
    main()
