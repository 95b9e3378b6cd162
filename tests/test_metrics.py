"""Metrics on hand-computed cases."""

import json
import math

import pytest

from assistant.metrics import (
    bootstrap_intervals,
    load_jsonl,
    load_squad,
    load_squad_sentences,
    mean,
    mrr_at,
    ndcg_at,
    recall_at,
    score,
)


def test_recall_counts_relevant_found_within_k():
    ranked = ["a", "b", "c", "d", "e", "f"]
    assert recall_at(ranked, {"c"}, 1) == 0
    assert recall_at(ranked, {"c"}, 5) == 1
    assert recall_at(ranked, {"a", "f"}, 5) == 0.5
    assert recall_at(ranked, {"z"}, 10) == 0  # the relevant passage was never retrieved


def test_mrr_is_the_inverse_rank_of_the_first_relevant():
    assert mrr_at(["a", "b", "c"], {"c", "b"}, 10) == 0.5
    assert mrr_at(["a", "b", "c"], {"z"}, 10) == 0
    assert mrr_at(["a"] * 10 + ["c"], {"c"}, 10) == 0  # beyond the cut-off


def test_ndcg_by_hand():
    # relevant at ranks 2 and 4 of two relevant: (1/log2 3 + 1/log2 5) / (1 + 1/log2 3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at(["x", "a", "y", "b"], {"a", "b"}, 10) == pytest.approx(expected)
    assert ndcg_at(["a"], {"a"}, 10) == 1.0
    assert ndcg_at(["x", "y"], {"a"}, 10) == 0.0


def test_a_document_ranked_twice_counts_once():
    # Two chunks of one passage tie for the top: the passage holds rank 1, the next one rank 2.
    metrics = score(["p1", "p1", "p2"], {"p2"})
    assert metrics["recall@1"] == 0
    assert metrics["mrr@10"] == 0.5


def test_mean_over_questions():
    assert mean([score(["a"], {"a"}), score(["b"], {"a"})])["recall@1"] == 0.5
    assert mean([])["ndcg@10"] == 0.0


def test_bootstrap_intervals_hold_the_mean_and_tell_a_real_difference_from_noise():
    hits = [score(["a"], {"a"})] * 60 + [score(["b", "a"], {"a"})] * 40  # recall@1 0.6
    low, high = bootstrap_intervals(hits)["recall@1"]
    assert low < 0.6 < high
    assert high - low < 0.25
    assert bootstrap_intervals(hits, hits)["recall@1"] == [0.0, 0.0]  # the same method: no difference
    better = [score(["a"], {"a"})] * 90 + [score(["b", "a"], {"a"})] * 10
    low, high = bootstrap_intervals(better, hits)["recall@1"]
    assert 0 < low < 0.3 < high
    assert bootstrap_intervals([]) == {}


def test_a_repeated_squad_context_is_one_passage_under_its_first_key(tmp_path):
    qas = [{"id": f"q{i}", "question": "سؤال؟"} for i in range(3)]
    paragraphs = [{"context": "نص عربي", "qas": qas[:1]}, {"context": "نص آخر", "qas": qas[1:2]}]
    data = {"data": [{"title": "T", "paragraphs": paragraphs}, {"title": "U", "paragraphs": [
        {"context": "نص عربي", "qas": qas[2:]}]}]}  # fmt: skip
    (tmp_path / "ar.json").write_text(json.dumps(data), encoding="utf-8")
    loaded = load_squad(tmp_path / "ar.json")
    assert loaded.passages == [("0.0", "T", "نص عربي"), ("0.1", "T", "نص آخر")]
    assert [q.relevant for q in loaded.questions] == [{"0.0"}, {"0.1"}, {"0.0"}]


def test_squad_questions_from_a_parallel_file(tmp_path):
    def squad(context, question):
        qas = [{"id": "q1", "question": question}]
        return {"data": [{"title": "T", "paragraphs": [{"context": context, "qas": qas}]}]}

    (tmp_path / "ar.json").write_text(json.dumps(squad("نص عربي", "سؤال؟")), encoding="utf-8")
    (tmp_path / "en.json").write_text(json.dumps(squad("text", "Q?")), encoding="utf-8")
    plain = load_squad(tmp_path / "ar.json")
    crossed = load_squad(tmp_path / "ar.json", tmp_path / "en.json")
    assert plain.passages == [("0.0", "T", "نص عربي")]
    assert (plain.questions[0].text, plain.questions[0].language) == ("سؤال؟", "ar")
    assert (crossed.questions[0].text, crossed.questions[0].language) == ("Q?", "en")
    assert crossed.questions[0].relevant == {"0.0"}


def test_xquad_r_sentences_are_passages_and_the_answer_sentence_is_gold(tmp_path):
    def paragraph(sentences, qas):
        context, breaks = "", []
        for sentence in sentences:
            breaks.append([len(context), len(context) + len(sentence)])
            context += sentence + " "
        return {"context": context, "sentences": sentences, "sentence_breaks": breaks, "qas": qas}

    first = ["عقد الاجتماع في الكويت.", "شاركت فيه 28 دولة."]
    answered = [{"id": "q1", "question": "كم دولة شاركت؟", "answers": [{"answer_start": len(first[0]) + 10}]},
                {"id": "q2", "question": "أين عقد الاجتماع؟", "answers": [{"answer_start": 16}]}]  # fmt: skip
    again = [{"id": "q3", "question": "ما عدد الدول؟", "answers": [{"answer_start": 11}]}]
    data = {"data": [{"title": "T", "paragraphs": [paragraph(first, answered), paragraph([first[1]], again)]}]}
    (tmp_path / "ar.json").write_text(json.dumps(data), encoding="utf-8")
    loaded = load_squad_sentences(tmp_path / "ar.json")
    assert loaded.passages == [("0.0.0", "T", first[0]), ("0.0.1", "T", first[1])]  # the repeat is one passage
    assert [q.relevant for q in loaded.questions] == [{"0.0.1"}, {"0.0.0"}, {"0.0.1"}]


def test_jsonl_questions_and_a_clear_error_for_a_missing_field(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "d1", "lang": "ar", "question": "كم دولة؟", "gold_docs": ["a.txt"], "answerable": true}\n'
        '{"id": "d2", "question": "Unknown?", "gold_docs": [], "answerable": false}\n',
        encoding="utf-8",
    )
    questions = load_jsonl(path).questions
    assert [q.relevant for q in questions] == [{"a.txt"}, set()]
    assert questions[1].language == "en"
    assert not questions[1].answerable
    path.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="needs the field 'question'"):
        load_jsonl(path)
