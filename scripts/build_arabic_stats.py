"""Build assistant/data/arabic_word_order.tsv.gz, the word-order statistics of assistant/loaders/arabic_text.py.

Run: python scripts/build_arabic_stats.py [CORPUS_JSONL] [OUTPUT]

Counts, over the title and text of every article of the Arabic news corpus, in the project's
normalised spelling: how often each pair of adjacent Arabic words occurs (pairs seen at least
MIN_PAIR_COUNT times, which keeps the file small and drops one-off noise), the commonest words,
and the same pairs counted by word class. What each kind of evidence is worth is fitted first:
counted on nine articles in ten, a logistic fit on lines cut from the tenth (of 2 to 12 words,
like PDF lines) makes the sum of weighted evidence log-odds. The output is gzipped TSV, one
`kind<TAB>key<TAB>count` a line under `# key: value` header lines, rebuilt byte for byte from
the same corpus.
"""

import gzip
import json
import random
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np

from assistant.loaders.arabic_text import COMMON_WORDS, ORDER_STATS, OrderStats, word_class, word_runs
from assistant.textnorm import NORMALIZATION_VERSION

MIN_PAIR_COUNT = 3
HELD_OUT = 10  # every tenth article


def read(corpus: Path) -> list[list[list[str]]]:
    """Each article as its runs of adjacent Arabic words, normalised."""
    articles = []
    with corpus.open(encoding="utf-8") as file:
        for record in map(json.loads, file):
            paragraphs = f"{record.get('title') or ''}\n{record.get('text') or ''}".split("\n")
            articles.append([run for paragraph in paragraphs for run in word_runs(paragraph)])
    return articles


def count(articles: list[list[list[str]]]) -> tuple[Counter[str], Counter[tuple[str, str]], OrderStats]:
    lines = [words for article in articles for words in article]
    words = Counter(word for line in lines for word in line)
    pairs = Counter(pair for line in lines for pair in pairwise(line))
    common = frozenset(word for word, _ in words.most_common(COMMON_WORDS))
    classes: Counter[tuple[str, str]] = Counter()
    for line in lines:
        kinds = [word_class(word, common) for word in line]
        classes.update(pairwise(kinds))
    kept = {pair: n for pair, n in pairs.items() if n >= MIN_PAIR_COUNT}
    return words, pairs, OrderStats(common, kept, classes)


def fit_weights(stats: OrderStats, articles: list[list[list[str]]]) -> tuple[float, float]:
    """Weights that make word and class evidence log-odds of the order given (logistic, no intercept)."""
    cut = random.Random(0)
    lines = []
    for run in (run for article in articles for run in article):
        start = 0
        while start + 2 <= len(run):
            size = cut.randint(2, 12)
            lines.append(run[start : start + size])
            start += size
    features = np.array([stats.pair_evidence(line) for line in lines if len(line) >= 2])
    # Each line read as given (the right order) and reversed (evidence negated), so no intercept.
    x = np.vstack([features, -features])
    y = np.r_[np.ones(len(features)), np.zeros(len(features))]
    weights = np.zeros(2)
    for _ in range(50):  # Newton's method; converges in a handful of steps
        p = 1 / (1 + np.exp(-x @ weights))
        hessian = x.T @ (x * (p * (1 - p))[:, None])
        weights -= np.linalg.solve(hessian, x.T @ (p - y))
    return float(weights[0]), float(weights[1])


def build(corpus: Path, output: Path) -> None:
    articles = read(corpus)
    held_out = articles[::HELD_OUT]
    training = [article for i, article in enumerate(articles) if i % HELD_OUT]
    word_weight, class_weight = fit_weights(count(training)[2], held_out)
    words, pairs, stats = count(articles)
    header = {
        "what": "Arabic word-order statistics for assistant/loaders/arabic_text.py",
        "built by": "scripts/build_arabic_stats.py",
        "corpus": f"{corpus.name}: {len(articles)} articles, {sum(words.values())} Arabic words, "
        f"{len(pairs)} word pairs",
        "normalization": NORMALIZATION_VERSION,
        "rows": f"common (the {COMMON_WORDS} commonest words), pair (word pairs seen >= {MIN_PAIR_COUNT} times), "
        "class (pairs of word classes)",
        "word weight": f"{word_weight:.4f}",
        "class weight": f"{class_weight:.4f}",
    }
    rows = [f"# {key}: {value}" for key, value in header.items()]
    rows += [f"common\t{word}\t{words[word]}" for word in sorted(stats.common)]
    rows += [f"pair\t{a} {b}\t{n}" for (a, b), n in sorted(stats.pairs.items())]
    rows += [f"class\t{a} {b}\t{n}" for (a, b), n in sorted(stats.classes.items())]
    data = gzip.compress(("\n".join(rows) + "\n").encode("utf-8"), compresslevel=9, mtime=0)
    output.write_bytes(data)
    print(
        f"{output}: {len(stats.pairs)} pairs, {len(stats.classes)} class pairs, {len(data) / 1024:.0f} KB; "
        f"weights {word_weight:.3f} (words), {class_weight:.3f} (classes)"
    )


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    corpus = root.parent / "shared/data/eval/news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl"
    build(
        Path(sys.argv[1]) if len(sys.argv) > 1 else corpus,
        Path(sys.argv[2]) if len(sys.argv) > 2 else root / "assistant" / "data" / ORDER_STATS.name,
    )
