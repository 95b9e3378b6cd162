"""The embedder profiles side by side: ingest speed, query latency, memory (recall: retrieval.py).

Run: python benchmarks/embedders.py [--paragraphs 60] [--questions 50] [--shared ../shared]

Each profile runs in its own child process, so each memory figure is its own: the model is
loaded (timed), then the first N ARCD paragraphs go through the assistant's ingest path
(chunks, and the sentence windows stored beside them, all embedded), then M XQuAD questions,
half Arabic and half English, are embedded one at a time as a search embeds them.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.settings import PROFILES


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(profile: str, shared: Path, paragraphs: int, questions: int, work: Path) -> dict:
    from assistant.metrics import load_squad
    from assistant.service import Assistant
    from assistant.settings import Settings

    evaluation = shared / "data/eval"
    passages = load_squad(evaluation / "arcd/arcd-train.json").passages[:paragraphs]
    arabic = load_squad(evaluation / "xquad/xquad.ar.json").questions
    english = load_squad(evaluation / "xquad/xquad.en.json").questions
    asked = [q.text for q in arabic[: questions // 2]] + [q.text for q in english[-(questions - questions // 2) :]]

    assistant = Assistant(Settings(profile=profile, index_dir=work / "index"))
    started = time.perf_counter()
    _ = assistant.embedder.dimension  # loads the model
    load_seconds = time.perf_counter() - started
    loaded_mb = peak_mb()
    started = time.perf_counter()
    assistant.add_texts([(f"passage:{key}", title, text) for key, title, text in passages])
    ingest_seconds = time.perf_counter() - started
    snapshot = assistant.snapshot()
    windows = sum(len(snapshot.window_vectors(chunk.chunk_id) or []) for chunk in snapshot.chunks())
    latencies = []
    for text in asked:
        started = time.perf_counter()
        assistant.embedder.embed_query(text)
        latencies.append(1000 * (time.perf_counter() - started))
    return {
        "model": assistant.embedder.model,
        "dimension": assistant.embedder.dimension,
        "load_s": round(load_seconds, 1),
        "chunks": snapshot.manifest.chunks,
        "windows": windows,
        "ingest_s": round(ingest_seconds, 1),
        "chunks_per_s": round(snapshot.manifest.chunks / ingest_seconds, 2),
        "texts_per_s": round((snapshot.manifest.chunks + windows) / ingest_seconds, 1),
        "query_p50_ms": round(statistics.median(latencies), 1),
        "query_p95_ms": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
        "rss_loaded_mb": round(loaded_mb),
        "rss_peak_mb": round(peak_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paragraphs", type=int, default=60)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--child", metavar="PROFILE")
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as work:
            figures = child(args.child, args.shared, args.paragraphs, args.questions, Path(work))
        print(json.dumps(figures))
        return
    rows = {}
    for profile in PROFILES:
        command = [sys.executable, __file__, "--child", profile, "--shared", str(args.shared),
                   "--paragraphs", str(args.paragraphs), "--questions", str(args.questions)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            print(f"{profile}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        rows[profile] = json.loads(done.stdout.strip().splitlines()[-1])
    keys = [k for k in next(iter(rows.values()), {}) if k != "model"]
    print(f"{args.paragraphs} ARCD paragraphs ingested, {args.questions} questions embedded one at a time\n")
    print("| profile | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for profile, figures in rows.items():
        print(f"| {profile} | " + " | ".join(str(figures[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
