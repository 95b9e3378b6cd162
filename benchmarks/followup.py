"""Second-turn recall on two-turn dialogues: the follow-up with its history, against the same
question written out in full, and the follow-up alone, for the model configured in the environment.

    ASSISTANT_INDEX_DIR=indexes/seeds python -m assistant index add ../shared/data/seeds
    ASSISTANT_INDEX_DIR=indexes/seeds python benchmarks/followup.py tests/data/dialogues/dev.jsonl
    ASSISTANT_LLM=llamacpp ASSISTANT_LLM_MODEL_PATH=model.gguf ASSISTANT_INDEX_DIR=indexes/seeds \\
        python benchmarks/followup.py tests/data/dialogues/dev.jsonl

A dialogue (tests/data/dialogues/README.md) is scored a hit at k when one of the first k passages
holds its gold quote (whitespace and spelling variants folded). The history is the first question
and the answer a citing assistant gave it, as a client would send them back.
"""

import json
import sys
import time
from pathlib import Path

from assistant.followup import Message
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.textnorm import normalize
from assistant.types import Hit

KS = (1, 5)


def found(hits: list[Hit], quote: str, k: int) -> bool:
    wanted = " ".join(normalize(quote).split())
    return any(wanted in " ".join(normalize(hit.text).split()) for hit in hits[:k])


def main(path: Path) -> None:
    assistant = Assistant(Settings())
    dialogues = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = []
    for dialogue in dialogues:
        history: list[Message] = [
            {"role": "user", "content": dialogue["turn1"]},
            {"role": "assistant", "content": dialogue["answer1"]},
        ]
        started = time.perf_counter()
        asked = assistant.follow_up(dialogue["turn2"], history)
        rewrite = time.perf_counter() - started
        searches = {
            "alone": assistant.search(dialogue["turn2"], k=max(KS)),
            "with history": assistant.search(asked, k=max(KS)),
            "written out": assistant.search(dialogue["full2"], k=max(KS)),
        }
        row = {
            "id": dialogue["id"],
            "lang": dialogue["lang"],
            "searched_for": asked.query,
            "rewrite_seconds": round(rewrite, 2),
        }
        row |= {f"{name} R@{k}": found(hits, dialogue["gold_quote"], k) for name, hits in searches.items() for k in KS}
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
    settings = assistant.settings
    print(f"{path.name}: {len(rows)} dialogues, model {settings.llm}, embedder {assistant.embedder.model}")
    columns = [f"{name} R@{k}" for name in ("alone", "with history", "written out") for k in KS]
    print("| set | n | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for language in ("ar", "en", "all"):
        chosen = [r for r in rows if language in ("all", r["lang"])]
        if chosen:
            rates = [f"{sum(r[c] for r in chosen) / len(chosen):.3f}" for c in columns]
            print(f"| {language} | {len(chosen)} | " + " | ".join(rates) + " |")
    rewrites = sorted(r["rewrite_seconds"] for r in rows)
    print(f"rewrite time per follow-up: median {rewrites[len(rewrites) // 2]:.2f} s, max {rewrites[-1]:.2f} s")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
