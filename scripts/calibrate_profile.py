"""A profile's similarity thresholds, carried over from the default profile's by quantile.

    python scripts/calibrate_profile.py embeddinggemma [--shared ../shared]

The answer thresholds (`extractive_min_similarity`, `citation_min_similarity`) were tuned for
multilingual-e5-small, whose cosines crowd into 0.7-0.9; another model spreads the same pairs
over another range, so its thresholds cannot be the same numbers. They are carried over so that
each keeps its meaning: a threshold that the default model's similarities of question and
sentence pass in a share s of XQuAD-R's pairs becomes the value that the other model's pass in
the same share (quantile mapping over the same pairs). `cross_lingual_discount` follows what each
model loses on the same gold pair when the question is English and the sentence Arabic.
The pairs: each XQuAD-R question with every Arabic sentence of its own paragraph (the one that
answers and its neighbours) and with as many sentences of other paragraphs.
"""

import argparse
import json
import random
from pathlib import Path

import numpy as np

from assistant.embeddings import build_embedder
from assistant.settings import PROFILES, Settings

THRESHOLDS = ("extractive_min_similarity", "citation_min_similarity")


def pairs(shared: Path) -> tuple[list[str], list[str], list[str], list[tuple[int, int]], list[int]]:
    """Arabic questions, their English versions, the Arabic sentences, (question, sentence) pairs, gold sentences."""
    folder = shared / "data/eval/xquad-r"
    arabic = json.loads((folder / "xquad-r.ar.json").read_text(encoding="utf-8"))["data"]
    english = {
        qa["id"]: qa["question"]
        for article in json.loads((folder / "xquad-r.en.json").read_text(encoding="utf-8"))["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    }
    questions, translated, sentences, paired, gold = [], [], [], [], []
    own: list[range] = []
    for article in arabic:
        for paragraph in article["paragraphs"]:
            first = len(sentences)
            sentences += [s.strip() for s in paragraph["sentences"]]
            breaks = paragraph["sentence_breaks"]
            for qa in paragraph["qas"]:
                start = qa["answers"][0]["answer_start"]
                answering = next((i for i, (a, b) in enumerate(breaks) if a <= start < b), None)
                if answering is None or qa["id"] not in english:
                    continue
                questions.append(qa["question"])
                translated.append(english[qa["id"]])
                gold.append(first + answering)
                own.append(range(first, len(sentences)))
    chooser = random.Random(0)
    for q, sentences_of_own in enumerate(own):
        paired += [(q, s) for s in sentences_of_own]
        others = [
            s for s in chooser.sample(range(len(sentences)), 2 * len(sentences_of_own)) if s not in sentences_of_own
        ]
        paired += [(q, s) for s in others[: len(sentences_of_own)]]
    return questions, translated, sentences, paired, gold


def similarities(profile: str, texts: tuple[list[str], list[str], list[str]], paired, gold) -> tuple[np.ndarray, float]:
    """The profile's similarity of every pair, and its mean loss on the gold pairs when the question is English."""
    questions, translated, sentences = texts
    embedder = build_embedder(Settings(profile=profile))
    q = np.stack([embedder.embed_query(t) for t in questions])
    e = np.stack([embedder.embed_query(t) for t in translated])
    s = embedder.embed_documents(sentences)
    pair_scores = np.array([q[i] @ s[j] for i, j in paired])
    gap = float(np.mean([(q[i] - e[i]) @ s[g] for i, g in enumerate(gold)]))
    return pair_scores, gap


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", choices=sorted(set(PROFILES) - {"e5-small"}))
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    questions, translated, sentences, paired, gold = pairs(args.shared)
    texts = (questions, translated, sentences)
    print(f"{len(questions)} questions, {len(sentences)} sentences, {len(paired)} pairs")
    reference, reference_gap = similarities("e5-small", texts, paired, gold)
    scores, gap = similarities(args.profile, texts, paired, gold)
    default = Settings(profile="e5-small")
    for name in THRESHOLDS:
        threshold = getattr(default, name)
        share = float(np.mean(reference >= threshold))
        carried = float(np.quantile(scores, 1 - share))
        print(f"{name}: e5-small {threshold:.3f} (passed by {share:.1%} of pairs) -> {args.profile} {carried:.3f}")
    # The discount scales with the loss: the setting keeps its ratio to what the model loses.
    carried = default.cross_lingual_discount * gap / reference_gap
    print(f"cross_lingual_discount: e5-small {default.cross_lingual_discount:.3f} (it loses {reference_gap:.3f}) -> "
          f"{args.profile} {carried:.3f} (it loses {gap:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
