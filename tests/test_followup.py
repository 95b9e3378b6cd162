"""Follow-up questions read with their history: detection, the words carried over, the earlier
answer's passages kept, `--history FILE`, the app's chat; and the LLM's rewrite."""

import json

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.errors import AssistantError
from assistant.followup import carried_over, check_history, reads_as_follow_up
from assistant.llm import ScriptedChatModel
from assistant.service import Assistant

KUWAIT_HISTORY = [
    {"role": "user", "content": "كم دولة شاركت في اجتماع الكويت؟"},
    {"role": "assistant", "content": "شاركت ثماني وعشرون دولة في اجتماع الكويت [1]."},
]
# Two meetings, each chaired by someone else: «ومن ترأسه؟» alone cannot tell which is meant.
CHAIRED = {
    "kuwait.txt": "اجتماع الكويت\nعقدت مجموعة العمل المعنية بالاتصالات المضادة اجتماعها في الكويت بمشاركة ثماني "
    "وعشرين دولة.\n\nوترأس الاجتماع ممثلو الكويت والولايات المتحدة، وكان ذلك في الرابع من أيار.\n",
    "rome.txt": "اجتماع روما\nعقد وزراء التحالف اجتماعهم في روما بحضور ممثلي أربعين دولة ومنظمة.\n\n"
    "وترأس الاجتماع وزير الخارجية الإيطالي، وكان ذلك في شهر شباط.\n",
}
ROME_HISTORY = [
    {"role": "user", "content": "كم دولة حضرت اجتماع روما؟"},
    {"role": "assistant", "content": "حضر ممثلو أربعين دولة ومنظمة اجتماع روما [1]."},
]


@pytest.mark.parametrize(
    "question",
    ["ومن ترأسه؟", "وماذا عن تركيا؟", "متى؟", "ما هي أهدافها الرئيسية في المنطقة؟", "And who chaired it?",
     "Where was it held?", "What about Turkey?", "How did they pay for that?"],
)  # fmt: skip
def test_questions_that_lean_on_the_one_before_are_follow_ups(question):
    assert reads_as_follow_up(question)


@pytest.mark.parametrize(
    "question",
    ["كم دولة شاركت في اجتماع الكويت؟", "ما هي مشاريع تحلية المياه في الأردن؟",
     "ما أهداف التحالف الدولي ضد داعش في سوريا؟", "How many countries joined the Kuwait meeting?",
     "What share of humanitarian support does the United States provide?"],
)  # fmt: skip
def test_questions_that_stand_alone_are_searched_as_asked(question):
    assert not reads_as_follow_up(question)
    assert carried_over(question, KUWAIT_HISTORY).query == question


def test_a_follow_up_carries_the_earlier_questions_key_words_and_its_answer():
    asked = carried_over("ومن ترأسه؟", KUWAIT_HISTORY)
    assert asked.query.startswith("ومن ترأسه؟")
    assert {"اجتماع", "الكويت", "دولة", "شاركت"} <= set(asked.query.split())
    assert "كم" not in asked.query.split()  # the old question's asking words are not carried
    assert asked.earlier_answer == KUWAIT_HISTORY[1]["content"]
    third = carried_over("ومتى كان ذلك؟", [*KUWAIT_HISTORY, {"role": "user", "content": "ومن ترأسه؟"}])
    assert "الكويت" in third.query  # a follow-up of a follow-up reaches back to the subject
    assert carried_over("ومن ترأسه؟", []).query == "ومن ترأسه؟"


def test_a_history_that_is_not_a_list_of_messages_is_refused_clearly():
    with pytest.raises(AssistantError, match="role"):
        check_history({"role": "user"})
    with pytest.raises(AssistantError, match="role"):
        check_history([{"role": "robot", "content": "x"}])
    assert check_history([{"role": "system", "content": "x"}, KUWAIT_HISTORY[0]]) == [KUWAIT_HISTORY[0]]


@pytest.fixture
def kuwait(settings, tmp_path) -> Assistant:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in CHAIRED.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "football.md").write_text("نهائي الكأس\nفاز النادي الإفريقي على الترجي في نهائي الكأس.", encoding="utf-8")
    (folder / "budget.txt").write_text("Budget\nThe finance ministry presented the budget.", encoding="utf-8")
    assistant = Assistant(settings.model_copy(update={"chunk_size": 120, "chunk_overlap": 0}))
    assistant.ingest([folder])
    return assistant


def test_the_follow_up_is_answered_from_the_subject_of_the_conversation(kuwait):
    for history, chair in [(KUWAIT_HISTORY, "ممثلو الكويت"), (ROME_HISTORY, "الإيطالي")]:
        (best, *_) = kuwait.search("ومن ترأسه؟", k=2, history=history)
        assert chair in best.text
    answer = kuwait.ask("ومن ترأسه؟", history=KUWAIT_HISTORY)
    assert answer.question == "ومن ترأسه؟"
    assert answer.searched_for is not None
    assert "الكويت" in answer.searched_for


def test_the_cli_reads_the_history_file(kuwait, tmp_path, monkeypatch):
    settings = kuwait.settings
    for name, value in [("DATA_DIR", settings.data_dir), ("INDEX_DIR", settings.index_dir), ("EMBEDDER", "fake"),
                        ("CHUNK_SIZE", 120), ("CHUNK_OVERLAP", 0), ("LEXICON_DIR", settings.lexicon_dir)]:  # fmt: skip
        monkeypatch.setenv(f"ASSISTANT_{name}", str(value))
    history = tmp_path / "history.json"
    history.write_text(json.dumps(KUWAIT_HISTORY, ensure_ascii=False), encoding="utf-8")
    run = CliRunner()
    searched = run.invoke(main, ["search", "ومن ترأسه؟", "-k", "2", "--history", str(history)])
    assert searched.exit_code == 0, searched.output
    assert "searched for: ومن ترأسه؟" in searched.output
    assert "ممثلو الكويت" in searched.output
    asked = run.invoke(main, ["ask", "ومن ترأسه؟", "--json", "--history", str(history)])
    assert json.loads(asked.output)["searched_for"].startswith("ومن ترأسه؟")
    history.write_text('{"role": "user"}', encoding="utf-8")
    refused = run.invoke(main, ["search", "ومن ترأسه؟", "--history", str(history)])
    assert refused.exit_code == 1
    assert "JSON list" in refused.output


def test_with_an_llm_the_follow_up_is_rewritten_into_a_standalone_question(kuwait):
    model = ScriptedChatModel(replies=["من ترأس اجتماع الكويت لمجموعة الاتصالات المضادة؟"])
    assistant = Assistant(kuwait.settings, chat_model=model)
    asked = assistant.follow_up("ومن ترأسه؟", KUWAIT_HISTORY)
    assert asked.query == "من ترأس اجتماع الكويت لمجموعة الاتصالات المضادة؟"
    assert asked.rewritten_by == "llm"
    assert asked.earlier_answer == KUWAIT_HISTORY[1]["content"]
    answered_instead = Assistant(kuwait.settings, chat_model=ScriptedChatModel(replies=["NO_ANSWER"]))
    assert answered_instead.follow_up("ومن ترأسه؟", KUWAIT_HISTORY).rewritten_by == "earlier question"


class _Broken(ScriptedChatModel):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        raise RuntimeError("connection refused")


def test_a_model_that_fails_to_rewrite_falls_back_to_the_offline_reading(kuwait):
    assistant = Assistant(kuwait.settings, chat_model=_Broken(replies=[]))
    asked = assistant.follow_up("ومن ترأسه؟", KUWAIT_HISTORY)
    assert asked.rewritten_by == "earlier question"
    assert "الكويت" in asked.query


def test_the_apps_chat_is_the_history_of_the_next_question(kuwait):
    from assistant.audit import AuditLog
    from assistant.ui import Handlers

    app = Handlers(kuwait, None, AuditLog(kuwait.settings.data_dir / "audit.jsonl"))
    *_, (chat, _, first, _) = app.ask("كم دولة شاركت في اجتماع الكويت؟", [], "auto · تلقائي", None)
    *_, (chat, _, second, _) = app.ask("ومن ترأسه؟", chat, "auto · تلقائي", None)
    assert second["searched_for"].startswith("ومن ترأسه؟")
    assert "searched for" in chat[-1]["content"]
    assert any("ممثلو الكويت" in passage["hit"]["text"] for passage in second["passages"])
    assert app.audit.entries()[-1]["searched_for"] == second["searched_for"]
    assert first["searched_for"] is None
