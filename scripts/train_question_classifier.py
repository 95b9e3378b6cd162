"""Fit assistant/data/hostile_question_classifier.<embedder model>.npz: which questions are addressed
to the assistant itself (its prompt, its rules, a new role or mode, a dictated answer) rather than
asked of the documents. assistant/hostile.py reads it beside the rules (`about_the_assistant`).

Run: python scripts/train_question_classifier.py [--cache DIR]

A logistic regression (scikit-learn) over each question's query vector, the one retrieval embeds,
so judging a question costs no embedding. Labelled:

- hostile: the hostile questions of tests/data/injection/questions-train.jsonl and questions-dev2.jsonl;
- ordinary: their questions about the documents and harmless off-topic requests (counted
  HARD_NEGATIVE_WEIGHT times: questions about instructions, rules and roles as a topic are where
  the classifier must learn the difference), the reference documents' dev questions, and every
  other question of ARCD and XQuAD (Arabic and English) from ../shared.

The threshold is the smallest probability that flags no more than MAX_ORDINARY_FLAGS of the other
ARCD and XQuAD questions, unseen in training (an official's question must not be declined); the
script prints what it catches of the held-back questions-heldout2.jsonl at that threshold.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from train_hostile_classifier import SHARED, Vectors, rows

from assistant.hostile import Classifier, about_the_assistant, classifier_path
from assistant.settings import Settings

ROOT = Path(__file__).parents[1]
MAX_ORDINARY_FLAGS = 0.001
HARD_NEGATIVE_WEIGHT = 3.0


def hostile_label(question: dict) -> bool:
    return question.get("hostile", not question["about_documents"])


def ordinary_questions(half: int) -> list[str]:
    """Every other question (half 0 or 1) of ARCD and XQuAD in Arabic and English."""
    paths = [SHARED / "eval" / name for name in ("arcd/arcd-train.json", "xquad/xquad.ar.json", "xquad/xquad.en.json")]
    found = []
    for path in (p for p in paths if p.exists()):
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        questions = [qa["question"].strip() for a in articles for p in a["paragraphs"] for qa in p["qas"]]
        found += questions[half::2]
    return found


def reference_questions() -> list[str]:
    paths = [SHARED / "eval/seeds-dev-qa.jsonl", ROOT / "tests/data/qa/seeds-dev-extra.jsonl"]
    lines = [line for p in paths if p.exists() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line)["question"] for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, help="keep question vectors here between runs")
    parser.add_argument("--c", type=float, default=3.0, help="inverse regularisation strength")
    args = parser.parse_args()
    embed = Vectors(Settings(), args.cache, queries=True)

    written = rows("questions-train") + rows("questions-dev2")
    hostile = [q["question"] for q in written if hostile_label(q)]
    hard = [q["question"] for q in written if not hostile_label(q)]
    ordinary = reference_questions() + ordinary_questions(0)
    print(f"training questions: {len(hostile)} hostile, {len(hard)} written ordinary, {len(ordinary)} ordinary",
          file=sys.stderr)  # fmt: skip

    x = np.vstack([embed(hostile), embed(hard), embed(ordinary)])
    y = np.array([1] * len(hostile) + [0] * (len(hard) + len(ordinary)))
    weight = np.array([1.0] * len(hostile) + [HARD_NEGATIVE_WEIGHT] * len(hard) + [1.0] * len(ordinary))
    model = LogisticRegression(C=args.c, class_weight="balanced", max_iter=5000).fit(x, y, sample_weight=weight)
    weights, bias = model.coef_[0].astype(np.float32), float(model.intercept_[0])

    unseen = ordinary_questions(1)
    unseen_scores = Classifier(weights, bias, 1.0).probabilities(embed(unseen))
    allowed = int(MAX_ORDINARY_FLAGS * len(unseen_scores))  # the threshold sits just above the next one
    threshold = float(np.sort(unseen_scores)[::-1][allowed]) + 1e-4
    classifier = Classifier(weights, bias, threshold)
    flagged = [t for t, f in zip(unseen, classifier.flags(embed(unseen), unseen), strict=True) if f]
    print(f"threshold {threshold:.3f}: unseen ordinary questions flagged {len(flagged)}/{len(unseen)} {flagged}",
          file=sys.stderr)  # fmt: skip

    held = rows("questions-heldout2")
    texts = [q["question"] for q in held]
    vectors = embed(texts)
    for label, wanted in (("hostile questions declined", True), ("questions about the documents declined", False)):
        chosen = [i for i, q in enumerate(held) if hostile_label(q) == wanted]
        rules = sum(about_the_assistant(texts[i], None, None) for i in chosen)
        both = sum(about_the_assistant(texts[i], classifier, vectors[i]) for i in chosen)
        print(f"heldout2 {label}: rules {rules}/{len(chosen)}, rules and classifier {both}/{len(chosen)}",
              file=sys.stderr)  # fmt: skip

    path = classifier_path(embed.embedder.model, reads="questions")
    np.savez(path, weights=weights, bias=np.float32(bias), threshold=np.float32(threshold))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
