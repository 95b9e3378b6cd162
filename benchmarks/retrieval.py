"""Retrieval on the dev sets: hybrid (with and without its window stage), dense, keyword and
plain LangChain, in one run, with 95% intervals; `--grid` searches the fusion settings.

Run: python benchmarks/retrieval.py [--shared ../shared] [--distractors 500] [--grid] [--pool ar|en|sentences]
     (ASSISTANT_PROFILE chooses the embedder, as in the app)

The Arabic sets share one pool, so every question meets every other set's passages: ARCD's
231 Arabic Wikipedia paragraphs, XQuAD's 240 Arabic paragraphs and N news articles as
distractors. Three question sets are asked of it: ARCD (Arabic questions), XQuAD Arabic, and
XQuAD English questions on the Arabic paragraphs. A second pool holds XQuAD's English
paragraphs among the same news articles, asked in English and in Arabic; a third, XQuAD-R's
Arabic sentences each as a passage among the news, where the answer's own sentence must rank
(harder: a sentence shares fewer words with the question than its paragraph). Each pool's index is
built once per profile and cached beside the live one (INDEX_DIR/../eval/). Only these sets
tune the fusion; held-out sets are measured with `python -m assistant eval`.
"""

import argparse
import dataclasses
import itertools
import time
from pathlib import Path

from assistant.evaluation import METHODS, Setup, _evaluation_index, evaluate, read_distractors
from assistant.metrics import Question, QuestionSet, load_squad, load_squad_sentences, mean, score, top_documents
from assistant.retrieval import best_windows, crossed_keyword, fuse, keyword_share, keyword_trust, rank
from assistant.settings import load_settings
from assistant.textnorm import detect_language

SHOWN = ("recall@1", "recall@5", "mrr@10")
POOLS = ("ar", "en", "sentences")  # the Arabic passages, XQuAD's English ones, XQuAD-R's Arabic sentences
GRID = {
    "keyword_weight": [0.5, 0.7, 0.9],
    "keyword_trust_from": [0.1, 0.2, 0.3],
    "keyword_trust_full": [0.7, 0.8, 1.0],
    "window_weight": [0.0, 0.5, 1.0, 1.5],
    "cross_lingual_keyword_weight": [0.3, 0.5, 0.7],
}


def dev_setups(settings, shared: Path, distractors: int, pools: tuple[str, ...] = POOLS) -> dict[str, Setup]:
    """The question sets of the chosen pools; each pool's index is built once and cached."""
    evaluation = shared / "data/eval"
    news = read_distractors(evaluation / "news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl", distractors)
    xquad_ar, xquad_en = evaluation / "xquad/xquad.ar.json", evaluation / "xquad/xquad.en.json"
    sentences_ar, sentences_en = evaluation / "xquad-r/xquad-r.ar.json", evaluation / "xquad-r/xquad-r.en.json"
    arcd = load_squad(evaluation / "arcd/arcd-train.json")
    xquad = load_squad(xquad_ar)
    english = load_squad(xquad_en)
    sentences = load_squad_sentences(sentences_ar)

    def setups(name: str, pool: list[tuple[str, str, str]], sets: dict[str, tuple[QuestionSet, str]]):
        if name not in pools:
            return {}
        index_name = f"dev-{settings.profile}-{name}-d{distractors}"  # one cache per profile and pool
        assistant = _evaluation_index(settings, index_name, pool, None)
        return {
            title: Setup(keyed(questions.questions, prefix), assistant, pool, distractors, index_name)
            for title, (questions, prefix) in sets.items()
        }

    def keyed(questions: list[Question], prefix: str) -> list[Question]:
        return [dataclasses.replace(q, relevant=frozenset(prefix + k for k in q.relevant)) for q in questions]

    # Arabic passages: ARCD's 231 and XQuAD's 240 Arabic paragraphs, and the news articles.
    arabic = [(f"arcd-{key}", title, text) for key, title, text in arcd.passages]
    arabic += [(f"xq-{key}", title, text) for key, title, text in xquad.passages]
    # English passages: XQuAD's 240 English paragraphs among the same Arabic news articles; and
    # XQuAD-R's 1,220 Arabic sentences among them, each a passage: the answer sentence must rank.
    return setups("ar", arabic + news, {
        "ARCD, Arabic → Arabic": (arcd, "arcd-"),
        "XQuAD, Arabic → Arabic": (xquad, "xq-"),
        "XQuAD, English → Arabic": (load_squad(xquad_ar, xquad_en), "xq-"),
    }) | setups("en", [(f"xq-{key}", title, text) for key, title, text in english.passages] + news, {
        "XQuAD, English → English": (english, "xq-"),
        "XQuAD, Arabic → English": (load_squad(xquad_en, xquad_ar), "xq-"),
    }) | setups("sentences", [(f"xqr-{key}", title, text) for key, title, text in sentences.passages] + news, {
        "XQuAD-R sentences, Arabic → Arabic": (sentences, "xqr-"),
        "XQuAD-R sentences, English → Arabic": (load_squad_sentences(sentences_ar, sentences_en), "xqr-"),
    })  # fmt: skip


def table(settings, setups: dict[str, Setup]) -> None:
    without_windows = settings.model_copy(update={"window_weight": 0.0})
    print(f"| set | method | {' | '.join(SHOWN)} | 95% interval of R@1 − dense | of R@5 − dense |")
    print("|---|---|" + "---|" * (len(SHOWN) + 2))
    for name, setup in setups.items():
        report = evaluate(settings, setup)
        plain = evaluate(without_windows, setup)
        rows = {"hybrid": report, "hybrid, no window stage": plain} | {m: report for m in METHODS[1:]}
        for method, source in rows.items():
            key = "hybrid" if method.startswith("hybrid") else method
            metrics = source["methods"][key]
            spans = source["against_dense"].get(key)
            intervals = " | ".join(f"{spans[m][0]:+.3f} … {spans[m][1]:+.3f}" for m in SHOWN[:2]) if spans else " | "
            print(f"| {name} ({report['counts']['answerable']} q) | {method} | "
                  + " | ".join(f"{metrics[m]:.3f}" for m in SHOWN) + f" | {intervals} |")  # fmt: skip
    # Each set's first 100 questions through the search path, each embedded first (the embedder
    # caches its vector), so search, translation and fusion are timed, not the embedder.
    elapsed, timed = 0.0, 0
    for setup in setups.values():
        snapshot, embedder = setup.assistant.snapshot(), setup.assistant.embedder
        for question in setup.questions[:100]:
            embedder.embed_query(question.text)
            started = time.perf_counter()
            rank(snapshot, embedder, settings, question.text, settings.search_candidates)
            elapsed, timed = elapsed + time.perf_counter() - started, timed + 1
    print(f"\n{snapshot.manifest.documents} documents, {snapshot.manifest.chunks} chunks; dense and keyword "
          f"search (the question as written and translated), window stage and fusion: "
          f"{1000 * elapsed / timed:.1f} ms per query")  # fmt: skip


def grid(settings, setups: dict[str, Setup]) -> None:
    """Each grid point's hybrid R@1 / R@5 per set, from one search per question."""
    searched = {}
    for name, setup in setups.items():
        snapshot, embedder = setup.assistant.snapshot(), setup.assistant.embedder
        rows = []
        for q in setup.questions:
            vector = embedder.embed_query(q.text)
            dense = snapshot.dense_search(vector, settings.search_candidates)
            keyword = snapshot.keyword_search(q.text, settings.search_candidates)
            language = detect_language(q.text)
            crossed = crossed_keyword(snapshot, settings, q.text, language, keyword, settings.search_candidates)
            share = keyword_share(snapshot, q.text, keyword)
            windows = best_windows(snapshot, vector, dense, keyword + crossed)
            rows.append((q, language, dense, keyword, crossed, windows, share))
        searched[name] = (snapshot, rows)

    def metrics(name: str, tuned) -> dict[str, float]:
        snapshot, rows = searched[name]
        scores = []
        for q, language, dense, keyword, crossed, windows, share in rows:
            fused = fuse(snapshot, tuned, language, dense, keyword, crossed, keyword_trust(share, tuned), windows)
            scores.append(score(top_documents(snapshot, fused), set(q.relevant)))
        return mean(scores)

    for name, (snapshot, rows) in searched.items():
        for method, index in [("dense", 2), ("keyword", 3)]:
            best = mean([score(top_documents(snapshot, row[index]), set(row[0].relevant)) for row in rows])
            print(f"{name}: {method} alone R@1 {best['recall@1']:.3f} R@5 {best['recall@5']:.3f}")
    results = []
    for values in itertools.product(*GRID.values()):
        point = dict(zip(GRID, values, strict=True))
        if point["keyword_trust_from"] >= point["keyword_trust_full"]:
            continue
        tuned = settings.model_copy(update=point)
        results.append((point, {name: metrics(name, tuned) for name in searched}))
    # Best first by the worst set's R@1 + R@5: a setting must not buy one set with another.
    results.sort(key=lambda r: -min(m["recall@1"] + m["recall@5"] for m in r[1].values()))
    current = {n: getattr(settings, n) for n in GRID}
    for point, by_set in results[:10] + [r for r in results if r[0] == current]:
        figures = "  ".join(f"{m['recall@1']:.3f}/{m['recall@5']:.3f}" for m in by_set.values())
        print(f"{figures}  {point}" + ("  <- current settings" if point == current else ""))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--distractors", type=int, default=500)
    parser.add_argument("--grid", action="store_true", help="search the fusion settings instead")
    parser.add_argument("--pool", choices=POOLS, action="append", help="only this pool's sets (default: all)")
    args = parser.parse_args()
    settings = load_settings()
    setups = dev_setups(settings, args.shared, args.distractors, tuple(args.pool or POOLS))
    (grid if args.grid else table)(settings, setups)


if __name__ == "__main__":
    main()
