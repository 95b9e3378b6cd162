import json
from pathlib import Path

from click.testing import CliRunner

from assistant.cli import main

HIT_KEYS = {"doc_id", "source", "title", "page_start", "page_end", "text", "score", "dense_rank", "keyword_rank"}


def run(*args, env=None):
    result = CliRunner().invoke(main, list(args), env={"ASSISTANT_EMBEDDER": "fake", **(env or {})})
    return result


def test_add_info_search_remove(corpus):
    result = run("index", "add", str(corpus))
    assert result.exit_code == 0, result.output
    assert "added: 3" in result.output
    assert "failed: 0" in result.output

    info = run("index", "info")
    assert "3 documents" in info.output
    assert "embedder fake" in info.output

    result = run("search", "نهائي كأس تونس", "-k", "2", "--json")
    hits = json.loads(result.output)
    assert len(hits) == 2
    assert set(hits[0]) >= HIT_KEYS
    assert hits[0]["source"].endswith("football.md")

    doc_id = hits[0]["doc_id"]
    assert run("index", "remove", doc_id).exit_code == 0
    assert "2 documents" in run("index", "info").output


def test_failures_are_listed_with_reasons_and_kept_in_info(corpus):
    (corpus / "scan.pdf").write_bytes(b"not a pdf at all")
    result = run("index", "add", str(corpus))
    assert result.exit_code == 0
    assert "failed: 1" in result.output
    assert "scan.pdf: the content is not PDF" in result.output
    info = json.loads(run("index", "info", "--json").output)
    assert info["manifest"]["last_failures"][0]["source"].endswith("scan.pdf")


def test_errors_are_one_clear_line_not_a_traceback(corpus):
    result = run("search", "الكويت")
    assert result.exit_code == 1
    assert "there is no index" in result.output
    assert "Traceback" not in result.output
    run("index", "add", str(corpus))
    result = run("search", "الكويت", env={"ASSISTANT_FAKE_EMBEDDER_DIM": "32"})
    assert result.exit_code == 1
    assert "256 dimensions" in result.output
    assert "32 dimensions" in result.output
    result = run("index", "add", str(corpus), env={"ASSISTANT_CHUNK_SIZE": "500"})
    assert result.exit_code == 1
    assert "rebuild it" in result.output


def test_text_search_output_shows_title_page_and_ranks(corpus):
    run("index", "add", str(corpus))
    result = run("search", "annual budget")
    assert result.exit_code == 0
    assert "1. Budget report" in result.output
    assert "p1" in result.output
    assert "dense#" in result.output


def test_a_rename_then_prune_is_reported_as_a_move(corpus):
    run("index", "add", str(corpus))
    (corpus / "kuwait.txt").rename(corpus / "اجتماع-الكويت.txt")
    result = run("index", "add", str(corpus), "--prune")
    assert result.exit_code == 0, result.output
    assert "moved: 1" in result.output
    assert "removed: 0" in result.output
    assert "3 documents" in run("index", "info").output


def test_an_invalid_option_or_setting_is_one_line_naming_what_to_fix(corpus):
    run("index", "add", str(corpus))
    result = run("search", "الكويت", "-k", "-1")
    assert result.exit_code == 2
    assert "-1 is not in the range x>=1" in result.output
    assert "Traceback" not in result.output
    result = run("search", "الكويت", env={"ASSISTANT_CHUNK_SIZE": "5", "ASSISTANT_LLM": "gpt"})
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert "ASSISTANT_CHUNK_SIZE='5': Input should be greater than or equal to 100" in line
    assert "ASSISTANT_LLM='gpt': Input should be 'extractive', 'openai', 'llamacpp' or 'fake'" in line
    result = run("index", "info", env={"ASSISTANT_INDEX_DIRECTORY": "x"})
    assert "ASSISTANT_INDEX_DIRECTORY is not a setting (did you mean ASSISTANT_INDEX_DIR?)" in result.output


def test_an_unexpected_error_is_one_line_and_its_traceback_is_kept(corpus, monkeypatch):
    run("index", "add", str(corpus))

    def broken(*args, **kwargs):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr("assistant.service.Assistant.search", broken)
    result = run("search", "الكويت")
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: unexpected RuntimeError: something inside broke (a bug; the details are in ")
    log = line.rsplit(" ", 1)[-1].rstrip(")")
    assert "Traceback" in Path(log).read_text(encoding="utf-8")


def test_search_and_ask_within_a_scope(corpus):
    (corpus / "kuwait-2024.txt").write_text(
        "اجتماع الكويت الثاني\nعقد في 10 مارس 2024 اجتماع ثانٍ في الكويت بمشاركة ثلاثين دولة.", encoding="utf-8"
    )
    assert run("index", "add", str(corpus)).exit_code == 0
    question = "اجتماع الكويت"

    def sources(*scope):
        result = run("search", question, "-k", "5", "--json", *scope)
        assert result.exit_code == 0, result.output
        return [Path(hit["source"]).name for hit in json.loads(result.output)]

    assert set(sources()) >= {"kuwait.txt", "kuwait-2024.txt"}
    assert sources("--document", str(corpus / "football.md")) == ["football.md"]  # however poor a match
    assert sources("--since", "2024-01-01", "--until", "2024-12-31") == ["kuwait-2024.txt"]  # the others are undated
    assert sources("--passage-language", "en") == ["budget.txt"]
    assert sources("--collection", "default", "--passage-language", "ar", "--until", "2023-12-31") == []
    assert "No passages found." in run("search", question, "--collection", "negotiation").output
    declined = json.loads(run("ask", question, "--json", "--collection", "negotiation").output)
    assert declined["answered"] is False
    assert declined["citations"] == []
    unknown = run("search", question, "--document", "no-such-file.txt")
    assert unknown.exit_code == 2
    assert "no indexed document is no-such-file.txt" in unknown.output
    assert run("search", question, "--since", "10/03/2024").exit_code == 2  # not an ISO date
