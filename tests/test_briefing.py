"""Briefing notes: outline, parts written from their own passages, Markdown and Word exports."""

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from pydantic import Field

from assistant.briefing import markdown_to_docx, to_markdown
from assistant.llm import ScriptedChatModel
from assistant.service import Assistant
from tests.conftest import indexed_folder
from tests.test_answering import KUWAIT_14, KUWAIT_28

TOPIC = "اجتماعات الكويت لمواجهة دعاية داعش"


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel(replies=[])


KUWAIT_FILES = {"conference.txt": KUWAIT_14, "working-group.txt": KUWAIT_28}


@pytest.fixture
def kuwait(settings, tmp_path, model) -> Assistant:
    return indexed_folder(settings, model, tmp_path / "kuwait", KUWAIT_FILES)


def cite(sentence: str):
    """A scripted reply that copies a sentence and cites whichever passage contains it."""

    def reply(messages) -> str:
        prompt = messages[-1].content
        n = prompt[: prompt.index(sentence)].count("<passage ")
        return f"{sentence} [{n}]."

    return reply


class ReplyingModel(ScriptedChatModel):
    """Replies computed from the prompt, for parts whose passage numbering is not known ahead."""

    writers: list = Field(default_factory=list)

    def _reply(self, messages):
        self.history.append(messages)
        return self.writers.pop(0)(messages) if self.writers else "NO_ANSWER"


def test_outline_lines_are_cleaned_of_numbers_bullets_and_markers(kuwait, model):
    model.enqueue("1. مؤتمر الاتصالات [1]\n- اجتماع مجموعة العمل\n\n* مؤتمر الاتصالات\nNO_ANSWER")
    assert kuwait.outline(TOPIC, points=5) == ["مؤتمر الاتصالات", "اجتماع مجموعة العمل"]
    assert "<topic>" in model.history[-1][1].content


def test_arabic_note_is_written_part_by_part_with_conflicts_and_gaps(settings, tmp_path):
    model = ReplyingModel(replies=[])
    model.writers = [
        cite("استضافت الكويت أمس مؤتمر الاتصالات الخاص بالتحالف بحضور ممثلي 14 دولة"),  # bottom line
        cite("استضافت الكويت اجتماع مجموعة العمل بمشاركة 28 دولة في الاجتماع"),  # key point 1
        lambda messages: "NO_ANSWER",  # key point 2: the documents are silent
        cite("وناقش المؤتمر الرسائل المضادة لتنظيم داعش على الإنترنت"),  # background
    ]
    assistant = indexed_folder(settings, model, tmp_path / "kuwait", KUWAIT_FILES)
    steps = []
    note = assistant.brief(
        TOPIC, headings=["اجتماع مجموعة العمل", "ميزانية التحالف"], progress=lambda d, t, _: steps.append((d, t))
    )
    assert note.language == "ar"
    assert note.title == f"مذكرة إحاطة: {TOPIC}"
    assert note.bottom_line.answered
    assert [p.heading for p in note.key_points] == ["اجتماع مجموعة العمل"]
    assert note.gaps == ["ميزانية التحالف"]
    assert note.conflicts == []  # 14 at the conference and 28 at the working group are different things
    # Each part asked the model about its own retrieval.
    questions = [m[1].content.split("<question>")[1].split("</question>")[0] for m in model.history]
    assert questions[1].startswith("اجتماع مجموعة العمل")
    assert questions[2].startswith("ميزانية التحالف")
    assert steps[-1] == (4, 4)

    markdown = to_markdown(note, settings.prompts_dir)
    assert markdown.startswith('<div dir="rtl">')
    for heading in ("## الخلاصة", "## النقاط الرئيسية", "## الخلفية", "## معلومات متعارضة أو ناقصة", "## المراجع"):
        assert heading in markdown
    assert "لا تذكر الوثائق: ميزانية التحالف." in markdown
    assert "- **اجتماع مجموعة العمل**: استضافت الكويت اجتماع مجموعة العمل بمشاركة 28 دولة في الاجتماع [2]." in markdown
    # References are numbered across the note and quote the documents.
    assert "1. مؤتمر الاتصالات، ص 1: «استضافت الكويت أمس" in markdown
    assert "conference.txt" in markdown
    assert "working-group.txt" in markdown
    assert str(tmp_path) not in markdown  # sources by title, date, file name and id: no path of the server
    assert "المعرّف " in markdown

    path = markdown_to_docx(markdown, tmp_path / "note.docx")
    document = Document(str(path))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == f"مذكرة إحاطة: {TOPIC}"
    assert document.paragraphs[0].style.name == "Title"
    assert any(t.startswith("[1] مؤتمر الاتصالات") for t in texts)
    arabic = [p for p in document.paragraphs if "الكويت" in p.text]
    assert arabic
    for paragraph in arabic:
        assert paragraph._p.pPr.find(qn("w:bidi")) is not None
        assert paragraph.alignment == WD_ALIGN_PARAGRAPH.RIGHT
        assert all(run._r.rPr.find(qn("w:rtl")) is not None for run in paragraph.runs)


def test_a_note_says_no_sentence_twice(settings, tmp_path):
    same = "استضافت الكويت أمس مؤتمر الاتصالات الخاص بالتحالف بحضور ممثلي 14 دولة"
    model = ReplyingModel(replies=[])
    model.writers = [
        cite(same),  # bottom line
        cite(same),  # key point 1: only what the bottom line said
        cite("استضافت الكويت اجتماع مجموعة العمل بمشاركة 28 دولة في الاجتماع"),  # key point 2
        cite(same),  # background
    ]
    assistant = indexed_folder(settings, model, tmp_path / "kuwait", KUWAIT_FILES)
    note = assistant.brief(TOPIC, headings=["مؤتمر الاتصالات", "اجتماع مجموعة العمل"])
    markdown = to_markdown(note, settings.prompts_dir)
    assert markdown.count("بحضور ممثلي 14 دولة") == 2  # once in the note, once in its reference
    assert [p.heading for p in note.key_points] == ["اجتماع مجموعة العمل"]
    assert note.gaps == []  # a point made elsewhere is not a gap
    assert not note.background.answered


def test_english_note_markdown_is_left_to_right_and_marks_unverified_sentences(settings, corpus):
    model = ReplyingModel(replies=[])
    budget = cite("The finance ministry presented the annual budget to parliament")
    model.writers = [
        lambda messages: "NO_ANSWER",
        lambda messages: budget(messages) + " Spending on defence rises by 90 percent" + budget(messages)[-5:],
        lambda messages: "NO_ANSWER",
    ]
    assistant = Assistant(settings, chat_model=model)
    assistant.ingest([corpus])
    note = assistant.brief("Annual budget", language="en", headings=["Spending"])
    markdown = to_markdown(note, settings.prompts_dir)
    assert not markdown.startswith("<div")
    assert "## Bottom line\n\nThe documents in the collection do not answer this question." in markdown
    assert "- **Spending**: The finance ministry presented the annual budget to parliament [1]." in markdown
    assert "Spending on defence rises by 90 percent [2]. ⚠ (unverified)" in markdown
    document = Document(str(markdown_to_docx(markdown, settings.index_dir.parent / "note.docx")))
    english = next(p for p in document.paragraphs if "Spending" in p.text)
    assert english._p.pPr.find(qn("w:bidi")) is None


def test_cli_brief_writes_word_and_markdown(corpus, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_EMBEDDER", "fake")
    monkeypatch.setenv("ASSISTANT_EXTRACTIVE_MIN_SIMILARITY", "0.1")
    runner = CliRunner()
    assert runner.invoke(main, ["index", "add", str(corpus)]).exit_code == 0
    for name in ("note.docx", "note.md"):
        result = runner.invoke(main, ["brief", "اجتماع الكويت ومواجهة داعش", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    markdown = (tmp_path / "note.md").read_text(encoding="utf-8")
    assert "ثماني وعشرين دولة" in markdown
    assert "## المصادر" in markdown
    assert any("الكويت" in p.text for p in Document(str(tmp_path / "note.docx")).paragraphs)
    result = runner.invoke(main, ["brief", "x", "--out", str(tmp_path / "note.pdf")])
    assert result.exit_code == 2
    assert "must end in .docx or .md" in result.output


@pytest.mark.shared
@pytest.mark.parametrize(
    "topic", ["جهود التحالف الدولي لمواجهة دعاية داعش على الإنترنت", "اجتماعات الكويت لمواجهة دعاية داعش"]
)
def test_a_note_on_the_reference_documents_repeats_no_sentence_and_lists_no_false_conflict(seeds_assistant, topic):
    note = seeds_assistant.brief(topic)
    # 14 countries at the conference, 28 at the working group and 68 members of the coalition are different things.
    assert note.conflicts == []
    claims = [
        s.text
        for answer in [note.bottom_line, *(p.answer for p in note.key_points), note.background]
        if answer.answered
        for s in answer.sentences
        if s.verdict != "structure"
    ]
    assert claims
    assert len(claims) == len(set(claims))
