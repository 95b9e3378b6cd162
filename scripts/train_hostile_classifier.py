"""Fit assistant/data/hostile_classifier.<embedder model>.npz, the classifier of assistant/hostile.py.

Run: python scripts/train_hostile_classifier.py [--cache DIR] [--threshold P]

A logistic regression (scikit-learn) over the vectors of windows (assistant.extractive.window_spans,
embedded as ingest embeds them, by the default embedder or the one the settings name), labelled:

- hostile: tests/data/injection/train-sentences.jsonl's hostile texts, and the windows of the dev
  sets' hostile documents that carry the planted payload, or a cue of the rules inside a block
  they flag;
- ordinary: train-sentences' benign texts, the dev sets' benign paragraphs, the reference
  documents, and ordinary Arabic and English text from ../shared: news articles 0, 20, 40 … (with
  their titles), one half of XQuAD's English paragraphs and of the pages of the paper on the UN
  Security Council debates; articles 10, 30 … and the other halves stay unseen, to set the threshold.

The threshold is the probability above which a window is withheld: by default the smallest one
that flags no more than MAX_ORDINARY_FLAGS of the unseen ordinary windows (ordinary text must stay
answerable), printed with what it catches of the held-back set heldout2. The output holds the
weights, the bias and the threshold, nothing that runs code when read.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from assistant.embeddings import build_embedder
from assistant.extractive import window_spans, window_text
from assistant.hostile import Classifier, classifier_path, find_hostile, judge
from assistant.settings import Settings

ROOT = Path(__file__).parents[1]
SETS = ROOT / "tests/data/injection"
SHARED = ROOT.parent / "shared/data"
ORDINARY_EVERY = 20  # every 20th article: 0 trains, 10 checks
ORDINARY_PER_SOURCE = 3000  # windows per ordinary source and role, at most
MAX_ORDINARY_FLAGS = 0.0003  # about one window in 3,000: one news article in 600
# Benign text written to look like an instruction (staff guides, speeches, news about chatbots) counts
# this many times an ordinary window: it is where the classifier must learn the difference.
HARD_NEGATIVE_WEIGHT = 3.0


def rows(name: str) -> list[dict]:
    path = SETS / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def windows(text: str) -> list[str]:
    return [window_text(text, s, e) for s, e in window_spans(text, "")]


def news(offset: int) -> list[str]:
    path = SHARED / "eval/news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as file:
        articles = [json.loads(line) for i, line in enumerate(file) if i % ORDINARY_EVERY == offset]
    # Titles too: a "label: text" line is ordinary in the news and common in planted notes.
    texts = [f"{a['title'] or ''}.\n{a['text'] or ''}" for a in articles]
    return [w for text in texts for w in windows(text)][:ORDINARY_PER_SOURCE]


def xquad_english(half: int) -> list[str]:
    path = SHARED / "eval/xquad/xquad.en.json"
    if not path.exists():
        return []
    contexts = [p["context"] for a in json.loads(path.read_text())["data"] for p in a["paragraphs"]]
    return [w for i, c in enumerate(contexts) if i % 2 == half for w in windows(c)][:ORDINARY_PER_SOURCE]


def security_council(half: int) -> list[str]:
    path = SHARED / "pdf/english-unsc-debates/unsc_debates_1992-2023_arxiv1906.10969v3.pdf"
    if not path.exists():
        return []
    from pypdf import PdfReader

    pages = PdfReader(path).pages
    texts = [pages[i].extract_text() or "" for i in range(half, min(len(pages), 80), 2)]
    return [w for text in texts for w in windows(" ".join(text.split()))][:ORDINARY_PER_SOURCE]


def seeds() -> list[str]:
    return [w for path in sorted((SHARED / "seeds").glob("*.txt")) for w in windows(path.read_text(encoding="utf-8"))]


def hostile_windows_of_documents(names: list[str]) -> list[str]:
    """Windows of planted documents that carry the payload, or a cue of the rules inside a block they flag."""
    found = []
    for attack in (a for name in names for a in rows(name)):
        text = attack["document"]
        flagged = find_hostile(text)
        for s, e in window_spans(text, ""):
            piece = window_text(text, s, e)
            cued = judge(piece).score > 0 and any(w.start <= s < w.end for w in flagged)
            if cued or any(p in piece for p in attack["payload"]):
                found.append(piece)
    return found


class Vectors:
    """The embedder's window (or, with queries, question) vectors, kept on disk between runs when a cache is given."""

    def __init__(self, settings: Settings, cache: Path | None, queries: bool = False) -> None:
        self.embedder = build_embedder(settings)
        self.queries = queries
        self.file = cache / ("query-vectors.npz" if queries else "vectors.npz") if cache else None
        self.known: dict[str, np.ndarray] = {}
        if self.file and self.file.exists():
            with np.load(self.file) as stored:
                self.known = {key: stored[key] for key in stored.files}

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.queries:  # one at a time, as retrieval embeds a question
            return np.stack([self.embedder.embed_query(t) for t in texts])
        return self.embedder.embed_documents(texts)

    def __call__(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode()).hexdigest()[:20] for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self.known}.items())
        if missing:
            vectors = self.embed([t for _, t in missing])
            self.known.update({k: v for (k, _), v in zip(missing, vectors, strict=True)})
            if self.file:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                np.savez(self.file, **self.known)
        dimension = self.embedder.dimension
        return np.stack([self.known[k] for k in keys]) if keys else np.zeros((0, dimension), np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, help="keep window vectors here between runs")
    parser.add_argument("--threshold", type=float, help="use this probability instead of choosing one")
    parser.add_argument("--c", type=float, default=3.0, help="inverse regularisation strength")
    args = parser.parse_args()
    settings = Settings()
    embed = Vectors(settings, args.cache)

    train = rows("train-sentences")
    hostile = [w for r in train if r["label"] == "hostile" for w in windows(r["text"])]
    hostile += hostile_windows_of_documents(["dev", "dev2"])
    ordinary_sources = {
        "written benign": [w for r in train if r["label"] == "benign" for w in windows(r["text"])]
        + [w for name in ("benign-dev", "benign-dev2") for r in rows(name) for w in windows(r["text"])],
        "reference documents": seeds(),
        "news": news(0),
        "xquad en": xquad_english(0),
        "security council": security_council(0),
    }
    ordinary = [w for texts in ordinary_sources.values() for w in texts]
    print(f"training windows: {len(hostile)} hostile, {len(ordinary)} ordinary", file=sys.stderr)
    for name, texts in ordinary_sources.items():
        print(f"  {name}: {len(texts)}", file=sys.stderr)

    x = np.vstack([embed(hostile), embed(ordinary)])
    y = np.array([1] * len(hostile) + [0] * len(ordinary))
    hard = len(ordinary_sources["written benign"])
    weight = np.array([1.0] * len(hostile) + [HARD_NEGATIVE_WEIGHT] * hard + [1.0] * (len(ordinary) - hard))
    model = LogisticRegression(C=args.c, class_weight="balanced", max_iter=5000).fit(x, y, sample_weight=weight)
    weights, bias = model.coef_[0].astype(np.float32), float(model.intercept_[0])

    unseen = {"news": news(10), "xquad en": xquad_english(1), "security council": security_council(1)}
    unseen_scores = Classifier(weights, bias, 1.0).probabilities(embed([t for ts in unseen.values() for t in ts]))
    allowed = int(MAX_ORDINARY_FLAGS * len(unseen_scores))  # the threshold sits just above the next one
    threshold = args.threshold or float(np.sort(unseen_scores)[::-1][allowed]) + 1e-4
    print(f"threshold: {threshold:.3f}", file=sys.stderr)
    print("threshold | heldout2 payloads served | benign-heldout2 flagged | unseen ordinary windows", file=sys.stderr)
    for candidate in sorted({threshold, 0.9, 0.95}):
        classifier = Classifier(weights, bias, candidate)
        served, flagged = held_back(classifier, embed)
        ordinary = {
            name: [t for t, f in zip(texts, classifier.flags(embed(texts), texts), strict=True) if f]
            for name, texts in unseen.items()
        }
        counts = ", ".join(f"{name} {len(found)}/{len(unseen[name])}" for name, found in ordinary.items())
        examples = [t for found in ordinary.values() for t in found][:3]
        print(f"{candidate:.3f} | {served} | {flagged} | {counts} {examples}", file=sys.stderr)

    path = classifier_path(embed.embedder.model)
    np.savez(path, weights=weights, bias=np.float32(bias), threshold=np.float32(threshold))
    print(f"wrote {path}", file=sys.stderr)


def held_back(classifier: Classifier, embed: Vectors) -> tuple[str, str]:
    """heldout2's documents whose payload the rules and classifier leave served, and its benign paragraphs they flag."""

    def withheld(text: str) -> list:
        spans = window_spans(text, "")
        texts = [window_text(text, s, e) for s, e in spans]
        flags = classifier.flags(embed(texts), texts) if spans else []
        return find_hostile(text, None, [span for span, f in zip(spans, flags, strict=True) if f])

    def served(text: str) -> str:
        for span in sorted(withheld(text), key=lambda w: w.start, reverse=True):
            text = text[: span.start] + text[span.end :]
        return text

    attacks, benign = rows("heldout2"), rows("benign-heldout2")
    missed = [a["id"] for a in attacks if any(p in served(a["document"]) for p in a["payload"])]
    flagged = [b["id"] for b in benign if withheld(b["text"])]
    return f"{len(missed)}/{len(attacks)} {missed}", f"{len(flagged)}/{len(benign)} {flagged}"


if __name__ == "__main__":
    main()
