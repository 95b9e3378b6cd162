"""The eval command end to end, and the quality gate on reindex."""

import json

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.evaluation import run_evaluation
from assistant.service import Assistant
from tests.conftest import FOOTBALL_AR

ON_EVERY_VECTOR_STORE = True  # every test here that builds an index runs on FAISS and on milvus-lite


def question(qid, lang, text, gold):
    return {"id": qid, "lang": lang, "question": text, "gold_docs": gold, "answerable": bool(gold)}


GOLDEN = [
    question("g1", "ar", "نهائي كأس تونس لكرة القدم", ["football.md"]),
    question("g2", "ar", "اجتماع الكويت للاتصالات", ["kuwait.txt"]),
    question("g3", "en", "annual budget for hospitals", ["budget.txt"]),
    question("g4", "en", "Mars rover landing", []),
]


@pytest.fixture
def golden(tmp_path):
    path = tmp_path / "golden.jsonl"
    path.write_text("\n".join(json.dumps(g, ensure_ascii=False) for g in GOLDEN), encoding="utf-8")
    return path


def test_jsonl_evaluation_of_the_live_index(settings, corpus, golden):
    Assistant(settings).ingest([corpus])
    report = run_evaluation(settings, golden)
    assert set(report["methods"]) == {"hybrid", "dense", "keyword", "langchain"}
    for metrics in report["methods"].values():
        assert set(metrics) == {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
    assert report["methods"]["hybrid"]["recall@1"] == 1.0
    assert report["counts"] == {
        "questions": 4, "answerable": 3, "unscored": 0, "unanswerable": 1, "documents": 3, "distractors": 0,
        "chunks": 3,
    }  # fmt: skip
    assert report["unanswerable"]["questions"][0]["id"] == "g4"
    assert set(report["by_language_pair"]) == {"ar→ar", "en→en"}
    low, high = report["intervals"]["hybrid"]["recall@5"]
    assert low <= report["methods"]["hybrid"]["recall@5"] <= high


def test_evaluation_writes_nothing_into_the_live_index(settings, corpus, golden):
    assistant = Assistant(settings)
    assistant.ingest([corpus])
    generation = assistant.store.live_generation()
    before = _index_files(settings.index_dir)
    first = run_evaluation(settings, golden)
    assert _index_files(settings.index_dir) == before
    assert assistant.store.live_generation() == generation
    assert list((settings.index_dir.parent / "eval").glob("live-index-langchain-*.npy"))
    assert run_evaluation(settings, golden)["methods"] == first["methods"]  # from the cache, the same


def _index_files(directory):
    """The index's files and their sizes, less SQLite's shared-memory and log files, which readers open."""
    files = [p for p in directory.rglob("*") if p.is_file() and not p.name.endswith(("-wal", "-shm"))]
    return sorted((p.relative_to(directory), p.stat().st_size) for p in files)


def test_squad_evaluation_with_distractors_and_questions_from(settings, tmp_path):
    def squad(questions):
        paragraphs = [
            {"context": "فاز النادي الإفريقي بكأس تونس لكرة القدم.", "qas": [{"id": "q1", "question": questions[0]}]},
            {"context": "اجتمع وزراء الخارجية في الكويت.", "qas": [{"id": "q2", "question": questions[1]}]},
        ]
        return {"data": [{"title": "t", "paragraphs": paragraphs}]}

    arabic = squad(["من فاز بكأس تونس؟", "أين اجتمع الوزراء؟"])
    english = squad(["Who won the cup?", "Where did ministers meet?"])
    (tmp_path / "ar.json").write_text(json.dumps(arabic), encoding="utf-8")
    (tmp_path / "en.json").write_text(json.dumps(english), encoding="utf-8")
    news = tmp_path / "news.jsonl"
    articles = [{"docno": str(i), "title": "خبر", "text": f"خبر محلي رقم {i} عن الطقس"} for i in range(5)]
    news.write_text("\n".join(json.dumps(a) for a in articles), encoding="utf-8")
    report = run_evaluation(settings, tmp_path / "ar.json", distractors=3, distractors_file=news)
    assert report["counts"]["documents"] == 5
    assert report["counts"]["distractors"] == 3
    assert report["methods"]["keyword"]["recall@1"] == 1.0
    cache = sorted((settings.index_dir.parent / "eval").iterdir())
    assert [p.name.split("-")[:2] for p in cache] == [["ar", "d3"], ["ar", "d3"]]  # the index, LangChain's vectors
    again = run_evaluation(settings, tmp_path / "ar.json", tmp_path / "en.json", distractors=3, distractors_file=news)
    assert sorted((settings.index_dir.parent / "eval").iterdir()) == cache  # the caches are reused
    assert again["questions_from"].endswith("en.json")
    assert set(again["by_language_pair"]) == {"en→ar"}


def test_a_question_on_a_repeated_context_is_scored_against_the_copy_the_index_keeps(settings, tmp_path):
    # SQuAD-style sets repeat a paragraph under a second key; the index keeps one copy (content
    # dedup), so a question on the second copy is a hit when that copy ranks first.
    kuwait = "اجتمع وزراء الخارجية في الكويت وشاركت ثماني وعشرون دولة."
    tunis = "فاز النادي الإفريقي بكأس تونس لكرة القدم."
    paragraphs = [
        {"context": kuwait, "qas": [{"id": "q1", "question": "كم دولة شاركت في اجتماع الكويت؟"}]},
        {"context": tunis, "qas": [{"id": "q2", "question": "من فاز بكأس تونس؟"}]},
        {"context": kuwait, "qas": [{"id": "q3", "question": "أين اجتمع وزراء الخارجية؟"}]},
    ]
    path = tmp_path / "repeated.json"
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": paragraphs}]}), encoding="utf-8")
    report = run_evaluation(settings, path)
    assert report["counts"]["documents"] == 2
    assert report["counts"]["answerable"] == 3
    assert report["counts"]["unscored"] == 0
    assert report["methods"]["keyword"]["recall@1"] == 1.0


def test_a_gold_document_missing_from_the_index_is_reported_not_scored(settings, corpus, tmp_path):
    Assistant(settings).ingest([corpus])
    path = tmp_path / "golden.jsonl"
    questions = [*GOLDEN, question("g5", "ar", "ميزانية المستشفيات السنوية", ["not-indexed.txt"])]
    path.write_text("\n".join(json.dumps(g, ensure_ascii=False) for g in questions), encoding="utf-8")
    report = run_evaluation(settings, path)
    assert report["unscored"] == ["g5"]
    assert report["counts"]["answerable"] == 3
    assert report["methods"]["hybrid"]["recall@1"] == 1.0


def test_eval_command_prints_a_table_json_and_a_plot(settings, corpus, golden, tmp_path):
    env = {"ASSISTANT_EMBEDDER": "fake", "ASSISTANT_CHUNK_SIZE": "300", "ASSISTANT_CHUNK_OVERLAP": "60"}
    runner = CliRunner()
    assert runner.invoke(main, ["index", "add", str(corpus)], env=env).exit_code == 0
    table = runner.invoke(main, ["eval", str(golden), "--plot", str(tmp_path / "chart.png")], env=env)
    assert table.exit_code == 0, table.output
    assert "recall@5" in table.output
    assert "langchain" in table.output
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads(runner.invoke(main, ["eval", str(golden), "--json", "--limit", "2"], env=env).output)
    assert report["counts"]["questions"] == 2


def test_gate_refuses_a_worse_index_and_keeps_the_old_one_serving(settings, corpus, golden):
    assistant = Assistant(settings)
    assistant.ingest([corpus])
    assert assistant.set_golden_questions(golden) == 3
    before = assistant.store.live_generation()

    # football.md becomes a cooking article while twelve copies of the football story take
    # its place at the top: g1's gold document falls out of the top 5.
    flood = corpus / "flood"
    flood.mkdir()
    for i in range(12):
        (flood / f"copy{i}.txt").write_text(f"{FOOTBALL_AR} نسخة {i}", encoding="utf-8")
    (corpus / "football.md").write_text("مقال عن الطبخ والحلويات الشرقية.", encoding="utf-8")

    report = assistant.ingest([corpus], gate=True)
    assert report.gate is not None
    assert not report.gate.passed
    assert report.gate.recall_at_5_after < report.gate.recall_at_5_before
    assert any(q.startswith("g1:") for q in report.gate.worse)
    assert assistant.store.live_generation() == before  # not switched
    assert Assistant(settings).search("نهائي كأس تونس", k=1)[0].source.endswith("football.md")
    assert Assistant(settings).info().last_evaluation.passed is False


def test_gate_passes_a_harmless_change(settings, corpus, golden):
    assistant = Assistant(settings)
    assistant.ingest([corpus])
    assistant.set_golden_questions(golden)
    (corpus / "extra.txt").write_text("مقال عن الطبخ والحلويات الشرقية.", encoding="utf-8")
    report = assistant.ingest([corpus], gate=True)
    assert report.gate.passed
    assert report.added[0].endswith("extra.txt")
    assert assistant.snapshot().manifest.documents == 4


def test_gate_without_golden_questions_says_how_to_add_them(settings, corpus):
    result = CliRunner().invoke(
        main, ["index", "add", str(corpus), "--gate"], env={"ASSISTANT_EMBEDDER": "fake", "ASSISTANT_CHUNK_SIZE": "300"}
    )
    assert result.exit_code == 1
    assert "index golden" in result.output
    assert not (settings.index_dir / "CURRENT").exists()  # refused before any indexing
