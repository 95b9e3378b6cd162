"""Answer quality and speed on a question set, for the LLM configured in the environment.

    ASSISTANT_INDEX_DIR=indexes/seeds python -m assistant index add ../shared/data/seeds
    ASSISTANT_INDEX_DIR=indexes/seeds python benchmarks/answer_quality.py ../shared/data/eval/seeds-dev-qa.jsonl
    ASSISTANT_LLM=llamacpp ASSISTANT_LLM_MODEL_PATH=model.gguf ASSISTANT_INDEX_DIR=indexes/seeds \\
        python benchmarks/answer_quality.py ../shared/data/eval/seeds-dev-qa.jsonl

Several question files may be given. Per question: whether the answer contains an expected answer string
(every one of them for a question marked "all_answers", one asked in several parts) (in its text, or in the
text and the document words its citations quote, which is what an official sees beside an
English answer built on Arabic passages); citation precision (citations into a gold
document); the share of claim sentences not supported by their citations; refusals; seconds
to the first streamed piece, to the model's first token and to the checked answer.
"""

import json
import sys
import time
from pathlib import Path

from assistant.answering import final_answer
from assistant.llm import describe
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.textnorm import normalize
from assistant.types import Answer


def contains(answer: Answer, expected: list[str], with_quotes: bool, every: bool) -> bool:
    """Whether the answer holds an expected string (all of them, for a question in several parts)."""
    shown = normalize(answer.text + (" ".join(c.quote for c in answer.citations) if with_quotes else ""))
    found = [normalize(e) in shown for e in expected]
    return all(found) if every else any(found)


def main(paths: list[Path]) -> None:
    settings = Settings()
    assistant = Assistant(settings)
    questions = [
        json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    rows = []
    for question in questions:
        started = time.perf_counter()
        first = None
        events = []
        for event in assistant.ask_stream(question["question"]):
            if first is None:
                first = time.perf_counter() - started
            events.append(event)
        answer = final_answer(iter(events))
        total = time.perf_counter() - started
        expected, every = question["answers"], question.get("all_answers", False)
        gold = set(question.get("gold_docs", []))
        citations = answer.citations
        claims = [s for s in answer.sentences if s.verdict != "structure"]
        rows.append(
            {
                "id": question["id"],
                "answerable": question["answerable"],
                "answered": answer.answered,
                "contains": contains(answer, expected, False, every) if expected else None,
                "contains_with_quotes": contains(answer, expected, True, every) if expected else None,
                "words": len(answer.text.split()),
                "citations": len(citations),
                "gold_citations": sum(Path(c.source).name in gold for c in citations),
                "claims": len(claims),
                "not_supported": sum(s.verdict in ("unverified", "uncited") for s in claims),
                "first": first or total,  # the first words shown (with a JSON reply: its first checked-form sentence)
                "first_token": answer.first_piece_seconds,  # the model's first token
                "prompt_tokens": answer.prompt_tokens,
                "total": total,
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    citations = sum(r["citations"] for r in rows)
    claims = sum(r["claims"] for r in rows)
    names = ", ".join(path.name for path in paths)
    print(f"{describe(settings)}, embedder {settings.embedder}, {len(rows)} questions from {names}")
    print("| measure | value |\n|---|---|")
    in_text = sum(bool(r["contains"]) for r in answerable)
    print(f"| answer contains an expected string (text) | {in_text}/{len(answerable)} |")
    quoted = sum(bool(r["contains_with_quotes"]) for r in answerable)
    print(f"| ... (text or cited words) | {quoted}/{len(answerable)} |")
    print(f"| answerable questions declined | {sum(not r['answered'] for r in answerable)}/{len(answerable)} |")
    answered = [r for r in answerable if r["answered"]]
    words = sum(r["words"] for r in answered) / max(1, len(answered))
    print(f"| words per answer, mean (answered questions) | {words:.0f} |")
    print(f"| unanswerable questions declined | {sum(not r['answered'] for r in unanswerable)}/{len(unanswerable)} |")
    gold = sum(r["gold_citations"] for r in rows)
    precision = f"{gold / citations:.2f} ({gold}/{citations})" if citations else "no citations"
    print(f"| citation precision (into a gold document) | {precision} |")
    unverified = sum(r["not_supported"] for r in rows)
    print(f"| claim sentences unverified or uncited | {unverified}/{claims} |")
    firsts = sorted(r["first"] for r in rows)
    totals = sorted(r["total"] for r in rows)
    print(f"| seconds to first piece, median (max) | {firsts[len(firsts) // 2]:.2f} ({firsts[-1]:.2f}) |")
    print(f"| seconds to checked answer, median (max) | {totals[len(totals) // 2]:.2f} ({totals[-1]:.2f}) |")
    tokens = sorted(r["first_token"] for r in rows if r["first_token"] is not None)
    if tokens:
        median, slowest = tokens[len(tokens) // 2], tokens[-1]
        print(f"| seconds to the model's first token, median (max) | {median:.2f} ({slowest:.2f}) |")


if __name__ == "__main__":
    main([Path(arg) for arg in sys.argv[1:]])
