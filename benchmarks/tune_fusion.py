"""Grid over the fusion settings on a cached evaluation index; the numbers behind the defaults.

Run: python benchmarks/tune_fusion.py DATASET [--questions-from F] [--distractors N]

Dense and keyword rankings do not depend on the fusion settings, so each question is
searched once and only the fusion is recomputed for every point of the grid. Prints hybrid
Recall@5 and MRR@10 per point, best first, next to dense and keyword alone.
"""

import argparse
import itertools
from pathlib import Path

from assistant.evaluation import prepare
from assistant.metrics import mean, score, top_documents
from assistant.retrieval import fuse
from assistant.settings import Settings
from assistant.textnorm import detect_language

GRID = {
    "rrf_k": [10, 30, 60, 100],
    "keyword_weight": [0.25, 0.5, 1.0, 1.5],
    "cross_lingual_keyword_weight": [0.0, 0.1, 0.25, 0.5, 1.0],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--questions-from", type=Path)
    parser.add_argument("--distractors", type=int, default=0)
    args = parser.parse_args()
    settings = Settings()
    setup = prepare(settings, args.dataset, args.questions_from, args.distractors)
    snapshot = setup.assistant.snapshot()
    embedder = setup.assistant.embedder
    questions = [q for q in setup.questions if q.answerable and q.relevant]

    searched = []
    for question in questions:
        dense = snapshot.dense_search(embedder.embed_query(question.text), settings.search_candidates)
        keyword = snapshot.keyword.search(question.text, settings.search_candidates)
        searched.append((question, detect_language(question.text), dense, keyword))

    def metrics(rank_of):
        return mean([score(rank_of(d, k, lang), set(q.relevant)) for q, lang, d, k in searched])

    dense_only = metrics(lambda d, k, lang: top_documents(snapshot, d))
    keyword_only = metrics(lambda d, k, lang: top_documents(snapshot, k))
    print(f"{args.dataset.name}: {len(questions)} questions, {len(snapshot.documents)} documents")
    print(f"dense only   recall@5 {dense_only['recall@5']:.4f}  mrr@10 {dense_only['mrr@10']:.4f}")
    print(f"keyword only recall@5 {keyword_only['recall@5']:.4f}  mrr@10 {keyword_only['mrr@10']:.4f}")
    results = []
    for values in itertools.product(*GRID.values()):
        point = dict(zip(GRID, values, strict=True))
        tuned = settings.model_copy(update=point)
        hybrid = metrics(lambda d, k, lang, s=tuned: top_documents(snapshot, fuse(snapshot, s, lang, d, k)))
        results.append((hybrid["recall@5"], hybrid["mrr@10"], point))
    results.sort(key=lambda r: (-r[0], -r[1]))
    default = next(r for r in results if all(r[2][n] == getattr(settings, n) for n in GRID))
    for recall, mrr, point in [*results[:8], default]:
        mark = "  <- current settings" if point == default[2] else ""
        print(f"hybrid recall@5 {recall:.4f}  mrr@10 {mrr:.4f}  {point}{mark}")


if __name__ == "__main__":
    main()
