"""The app's handlers called directly, for each tab and each role, with a scripted model."""

import json
import stat
from pathlib import Path

import gradio as gr
import pytest
from click.testing import CliRunner
from docx import Document

from assistant.audit import AuditLog
from assistant.cli import main
from assistant.errors import AssistantError
from assistant.llm import ScriptedChatModel
from assistant.rendering import render_answer
from assistant.sample import index_sample_if_empty, write_pdf
from assistant.service import Assistant
from assistant.ui import Handlers, _safe_name, build_ui
from assistant.users import UserStore
from tests.conftest import KUWAIT_AR

ON_EVERY_VECTOR_STORE = True  # every test here that builds an index runs on FAISS and on milvus-lite

PASSWORD = "correct horse battery"


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel(replies=[])


@pytest.fixture
def app(settings, corpus, model, tmp_path) -> Handlers:
    settings = settings.model_copy(update={"data_dir": tmp_path / "data"})
    users = UserStore(settings.data_dir / "users.json")
    for name, role in [("mona", "official"), ("sami", "staff"), ("huda", "admin")]:
        users.add(name, role, PASSWORD)
    assistant = Assistant(settings, chat_model=model)
    assistant.ingest([corpus])
    return Handlers(assistant, users, AuditLog(settings.data_dir / "audit.jsonl"))


def as_user(name: str) -> gr.Request:
    return gr.Request(username=name)


def kuwait_reply(app: Handlers) -> str:
    """A reply citing whichever passage holds the Kuwait document."""
    hits = app.assistant.search("كم دولة شاركت في اجتماع الكويت؟", k=20)
    n = next(i for i, hit in enumerate(hits, 1) if "الكويت" in hit.text)
    return f"شاركت ثماني وعشرون دولة في اجتماع الكويت [{n}]. وحضر وزراء كثيرون من أوروبا وآسيا."


# -- roles ------------------------------------------------------------------------------------------


ADMIN_CALLS = [
    lambda app, r: app.documents(r),
    lambda app, r: app.remove("abc", r),
    lambda app, r: app.upload([], r),
    lambda app, r: app.golden_check(r),
]
BRIEF_CALLS = [
    lambda app, r: app.outline("اجتماع الكويت", "auto · تلقائي", "short (3 points) · قصيرة", r),
    lambda app, r: app.write_note("اجتماع الكويت", "العربية", "الاجتماع", r),
    lambda app, r: app.export_word("# مذكرة", r),
]


@pytest.mark.parametrize("call", ADMIN_CALLS + BRIEF_CALLS)
def test_an_official_may_only_ask(app, call):
    with pytest.raises(gr.Error, match="Not permitted"):
        call(app, as_user("mona"))
    assert app.audit.entries()[-1]["action"] == "denied"
    assert app.audit.entries()[-1]["user"] == "mona"


@pytest.mark.parametrize("call", ADMIN_CALLS)
def test_staff_may_not_administer(app, call):
    with pytest.raises(gr.Error, match="Not permitted"):
        call(app, as_user("sami"))


def test_an_unknown_or_removed_user_may_do_nothing(app):
    app.users.remove("mona")
    with pytest.raises(gr.Error, match="Not permitted"):
        list(app.ask("سؤال", [], "auto · تلقائي", as_user("mona")))
    with pytest.raises(gr.Error):
        app.status(as_user("nobody"))


@pytest.mark.parametrize(
    ("user", "visible"), [("mona", [True, False, False]), ("sami", [True, True, False]), ("huda", [True, True, True])]
)
def test_tabs_shown_follow_the_role(app, user, visible):
    *tabs, greeting, ask_collections, note_collections, upload_collections = app.on_load(as_user(user))
    assert [tab["visible"] for tab in tabs] == visible
    assert user in greeting
    assert ask_collections["choices"] == note_collections["choices"] == ["default"]
    assert upload_collections["choices"] == (["default"] if user == "huda" else [])


def test_the_document_list_on_opening_is_for_admins_only(app):
    assert app.admin_view(as_user("mona")) == ([], {})
    rows, statistics = app.admin_view(as_user("huda"))
    assert len(rows) == 3
    assert statistics["documents"] == 3


def test_without_a_users_file_the_local_user_is_an_admin(app):
    local = Handlers(app.assistant, None, app.audit)
    assert local.role(None) == ("local", "admin")
    rows, _ = local.documents(None)
    assert len(rows) == 3


# -- Ask --------------------------------------------------------------------------------------------


def test_ask_streams_then_shows_a_checked_answer_with_its_sources(app, model):
    model.enqueue(kuwait_reply(app))
    updates = list(app.ask("كم دولة شاركت في اجتماع الكويت؟", [], "auto · تلقائي", as_user("mona")))
    assert len(updates) > 2  # streamed
    history, sources, last_answer, cleared = updates[-1]
    assert cleared == ""
    question, answer = history
    assert "dir='rtl'" in question["content"]
    assert "dir='rtl'" in answer["content"]
    assert "<a href='#source-" in answer["content"]
    assert "class='unverified'" in answer["content"]  # the uncited second sentence
    assert "<mark>" in sources
    assert "ثماني وعشرين دولة" in sources
    assert "kuwait.txt" in sources
    download = Path(app.download_answer(last_answer, as_user("mona")))
    assert "ثماني وعشرون دولة" in download.read_text(encoding="utf-8")
    assert "«عقدت مجموعة العمل" in download.read_text(encoding="utf-8")
    entry = app.audit.entries()[-1]
    assert entry["action"] == "ask"
    with pytest.raises(gr.Error, match="Ask a question first"):
        app.download_answer(None, as_user("mona"))
    assert entry["user"] == "mona"
    assert entry["passages"]
    assert entry["citations"][0]["doc_id"]


def test_an_english_question_reads_left_to_right_and_a_refusal_is_plain(app, model):
    model.enqueue("NO_ANSWER")
    history, sources, _, _ = list(app.ask("What is the capital of Brazil?", [], "auto · تلقائي", as_user("mona")))[-1]
    assert "dir='ltr'" in history[-1]["content"]
    assert "do not answer this question" in history[-1]["content"]
    assert sources == ""


def test_an_arabic_quote_in_an_english_answer_is_laid_out_right_to_left(app, model):
    from assistant.types import AnswerSentence

    model.enqueue(kuwait_reply(app))
    answer = app.assistant.ask("كم دولة شاركت في اجتماع الكويت؟")
    citations = answer.sentences[0].citations
    mixed = answer.model_copy(
        update={
            "language": "en",
            "sentences": [
                AnswerSentence(text="The documents say:", citations=[], verdict="structure"),
                AnswerSentence(text="- شاركت ثماني وعشرون دولة [1]", citations=citations, verdict="supported"),
            ],
        }
    )
    html = render_answer(mixed)
    assert html.startswith("<div dir='ltr'")  # the English answer
    assert "<div dir='ltr' style='text-align:start'>The documents say:</div>" in html
    assert "<div dir='rtl' style='text-align:start'>- شاركت ثماني وعشرون دولة <a href='#source-1'" in html


def test_an_english_claim_on_an_arabic_passage_shows_the_original_arabic_quote_beside_it(app, model):
    from assistant.types import AnswerSentence

    model.enqueue(kuwait_reply(app))
    answer = app.assistant.ask("كم دولة شاركت في اجتماع الكويت؟")
    citations = answer.sentences[0].citations
    english = answer.model_copy(
        update={
            "language": "en",
            "sentences": [
                AnswerSentence(text="Twenty-eight countries took part [1].", citations=citations, verdict="supported")
            ],
        }
    )
    shown = render_answer(english)
    quote = " ".join(citations[0].quote.split())
    assert f"<div dir='rtl' style='text-align:start'><span class='quote'>«{quote}» [1]</span></div>" in shown
    assert "class='quote'" not in render_answer(answer)  # an Arabic claim on an Arabic passage: no repeat


def test_render_answer_escapes_document_html(app, model):
    model.enqueue(kuwait_reply(app))
    answer = app.assistant.ask("كم دولة شاركت في اجتماع الكويت؟")
    injected = answer.sentences[0].model_copy(update={"text": "<script>alert(1)</script> [1]"})
    assert "<script>" not in render_answer(answer.model_copy(update={"sentences": [injected]}))


# -- Brief ------------------------------------------------------------------------------------------


def test_staff_draft_edit_and_export_an_arabic_note(app, model):
    model.enqueue("اجتماع الكويت\nميزانية المدارس")
    outline = app.outline("اجتماع الكويت", "auto · تلقائي", "short (3 points) · قصيرة", as_user("sami"))
    assert outline == "اجتماع الكويت\nميزانية المدارس"
    model.enqueue("NO_ANSWER", kuwait_reply(app).split(". ")[0] + ".", "NO_ANSWER", "NO_ANSWER")
    editor, preview = app.write_note("اجتماع الكويت", "auto · تلقائي", outline, as_user("sami"))
    assert editor["rtl"] is True
    assert "## النقاط الرئيسية" in preview
    assert "لا تذكر الوثائق: ميزانية المدارس." in preview
    edited = preview.replace("## الخلفية", "## الخلفية والسياق")
    word = app.export_word(edited, as_user("sami"))
    paragraphs = [p.text for p in Document(word).paragraphs]
    assert "الخلفية والسياق" in paragraphs
    markdown = app.export_markdown(edited, as_user("sami"))
    assert Path(markdown).read_text(encoding="utf-8") == edited
    actions = [e["action"] for e in app.audit.entries()]
    assert actions[-3:] == ["brief", "export_note", "export_note"]


# -- Admin ------------------------------------------------------------------------------------------


def test_admin_uploads_a_batch_where_bad_files_are_refused_and_good_ones_indexed(app, tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    good = batch / "تقرير الدوحة.pdf"
    write_pdf(good, ["عقد منتدى الأمن العالمي في الدوحة بمشاركة خبراء من دول عديدة"])
    (batch / "image.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (batch / "empty.txt").write_bytes(b"")
    (batch / "tool.exe").write_bytes(b"MZ" + bytes(100))
    traversal = batch / "sub"
    traversal.mkdir()
    (traversal / "..%2F..%2Fevil.txt").write_text(KUWAIT_AR + " الدوحة", encoding="utf-8")
    files = [str(p) for p in [good, batch / "image.pdf", batch / "empty.txt", batch / "tool.exe"]]
    files.append(str(traversal / "..%2F..%2Fevil.txt"))
    rows, documents, statistics = app.upload(files, as_user("huda"))
    results = {name: result for name, result, _ in rows}
    assert results["تقرير الدوحة.pdf"] == "added"
    assert results["image.pdf"] == "refused"
    assert results["empty.txt"] == "refused"
    assert results["tool.exe"] == "refused"
    assert results["..%2F..%2Fevil.txt"] == "added"
    stored = sorted(p.name for p in app.uploads.iterdir())
    assert stored == ["2F..%2Fevil.txt", "تقرير_الدوحة.pdf"] or all("/" not in name for name in stored)
    assert all(p.parent == app.uploads for p in app.uploads.iterdir())
    assert statistics["documents"] == 5
    assert len(documents) == 5
    assert app.audit.entries()[-1]["action"] == "index_add"


def test_file_names_are_sanitised():
    assert _safe_name("../../etc/passwd") == "passwd"
    assert _safe_name("..\\..\\boot.ini") == "boot.ini"
    assert _safe_name(".hidden.txt") == "hidden.txt"
    assert _safe_name("تقرير الدوحة (نهائي).pdf") == "تقرير_الدوحة_نهائي_.pdf"
    assert _safe_name("...") == "upload"


def test_admin_removes_a_document_and_runs_the_golden_check(app, tmp_path):
    rows, _ = app.documents(as_user("huda"))
    kuwait = next(row for row in rows if row[2] == "kuwait.txt")
    assert kuwait[4] == "default"  # its collections
    assert kuwait[6] == "ar"
    assert kuwait[9] == 1.0
    golden = tmp_path / "golden.jsonl"
    golden.write_text(
        json.dumps({"id": "g1", "lang": "ar", "question": "نهائي كأس تونس", "gold_docs": ["football.md"],
                    "answers": [], "answerable": True}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    app.assistant.set_golden_questions(golden)
    assert "recall@5 **1.000**" in app.golden_check(as_user("huda"))
    message, rows, statistics = app.remove(kuwait[0], as_user("huda"))
    assert "kuwait.txt" in message
    assert statistics["documents"] == 2
    assert [e["action"] for e in app.audit.entries()][-2:] == ["golden_check", "index_remove"]


def test_status_shows_model_embedder_and_manifest_to_admins(app):
    status = app.status(as_user("huda"))
    assert "scripted" not in status
    assert '"embedder": "fake"' in status
    assert "**Version** 0.1.0" in status


def test_status_tells_others_only_how_many_documents_they_may_read(app):
    status = app.status(as_user("mona"))
    assert "**Embedder** fake" in status
    assert '"documents you may read": 3' in status
    assert "last_failures" not in status
    assert str(app.assistant.settings.index_dir) not in status
    app.assistant.access.revoke("default", user="mona")
    assert '"documents you may read": 0' in app.status(as_user("mona"))


def test_the_ui_builds_with_every_endpoint_named(app):
    ui = build_ui(app.assistant, app.users, app.audit)
    names = {d.api_name for d in ui.fns.values() if d.api_name}
    assert {"ask", "outline", "write_note", "export_word", "upload", "remove_document", "golden_check"} <= names


# -- users and the sample collection ----------------------------------------------------------------


def test_users_cli_stores_salted_hashes_only(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    for name in ("ali", "رنا"):
        result = runner.invoke(
            main, ["users", "add", name, "--role", "staff", "--password-stdin"], input=PASSWORD + "\n"
        )
        assert result.exit_code == 0, result.output
    path = tmp_path / "data/users.json"
    text = path.read_text(encoding="utf-8")
    assert PASSWORD not in text
    stored = json.loads(text)["users"]
    assert stored["ali"]["salt"] != stored["رنا"]["salt"]
    assert stored["ali"]["hash"] != stored["رنا"]["hash"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = UserStore(path)
    assert users.authenticate("ali", PASSWORD) == "staff"
    assert users.authenticate("ali", "wrong password") is None
    assert users.authenticate("nobody", PASSWORD) is None
    assert runner.invoke(main, ["users", "list"]).output == "ali\tstaff\nرنا\tstaff\n"
    assert runner.invoke(main, ["users", "remove", "ali"]).exit_code == 0
    result = runner.invoke(main, ["users", "add", "x", "--role", "admin", "--password-stdin"], input="short\n")
    assert result.exit_code == 1
    assert "at least 8 characters" in result.output


def test_the_sample_collection_is_indexed_once_on_first_start(settings, tmp_path):
    assistant = Assistant(settings)
    report = index_sample_if_empty(assistant, tmp_path / "sample")
    assert report is not None
    assert len(report.added) == 4
    assert not report.failed
    formats = {d.format for d in assistant.snapshot().documents()}
    assert formats == {"txt", "md", "html", "pdf"}
    pdf = next(d for d in assistant.snapshot().documents() if d.format == "pdf")
    assert len(pdf.pages) == 2
    assert "وعاد نحو ثلاثين ألف طفل إلى المدارس في شرق الموصل." in pdf.text
    assert "25 percent" in pdf.text
    assert index_sample_if_empty(assistant, tmp_path / "sample") is None


def test_index_changes_from_the_shell_are_audited_too(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "fake")
    runner = CliRunner()
    assert runner.invoke(main, ["index", "add", str(corpus)]).exit_code == 0
    assert runner.invoke(main, ["index", "add", str(corpus)]).exit_code == 0  # nothing changed: no entry
    assert runner.invoke(main, ["index", "remove", str(corpus / "kuwait.txt")]).exit_code == 0
    entries = AuditLog(tmp_path / "data/audit.jsonl").entries()
    assert [e["action"] for e in entries] == ["index_add", "index_remove"]
    assert entries[0]["user"].startswith("cli:")
    assert len(entries[0]["added"]) == 3


# -- errors reach the user as messages ----------------------------------------------------------------


class CrashingChatModel(ScriptedChatModel):
    """Streams the start of a reply, then fails as a model process that died would."""

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        chunks = super()._stream(messages, stop, run_manager, **kwargs)
        yield next(chunks)
        raise AssistantError("The local model stopped while answering; it is being restarted. Ask again.")


def test_a_model_that_dies_mid_answer_costs_that_answer_only(app, settings):
    app.assistant._chat_model = CrashingChatModel(replies=[kuwait_reply(app)])
    chat = list(app.ask("كم دولة شاركت في اجتماع الكويت؟", [], "auto · تلقائي", as_user("mona")))[-1][0]
    assert "شاركت" in chat[-1]["content"]  # what was written before the crash stays
    assert "⚠ The local model stopped while answering" in chat[-1]["content"]
    assert app.audit.entries()[-1]["action"] == "ask_failed"
    app.assistant._chat_model = ScriptedChatModel(replies=[kuwait_reply(app)])
    chat, sources, answer, _ = list(app.ask("كم دولة شاركت في اجتماع الكويت؟", chat, "auto · تلقائي", as_user("mona")))[
        -1
    ]
    assert answer["answered"]
    assert "mark" in sources


def test_an_unexpected_error_in_any_handler_is_one_line_for_the_user(app, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise KeyError("manifest")

    monkeypatch.setattr(app.assistant, "info", broken)
    monkeypatch.setattr(app.assistant, "outline", broken)
    for call in (
        lambda: app.documents(as_user("huda")),
        lambda: app.status(as_user("mona")),
        lambda: app.outline("اجتماع الكويت", "auto · تلقائي", "short (3 points) · قصيرة", as_user("sami")),
    ):
        with pytest.raises(gr.Error, match=r"Something went wrong \(KeyError: 'manifest'\); it has been logged"):
            call()
    assert "Traceback" in caplog.text  # the details are in the server's log, not in front of the user


def test_an_uploaded_document_with_instructions_for_the_assistant_is_flagged_to_the_admin(app, tmp_path):
    from tests.test_hostile import PLANTED_NOTE_AR

    (tmp_path / "ملاحظة.txt").write_text(PLANTED_NOTE_AR, encoding="utf-8")
    rows, documents, _ = app.upload([str(tmp_path / "ملاحظة.txt")], as_user("huda"))
    ((name, result, detail),) = rows
    assert (name, result) == ("ملاحظة.txt", "added")
    assert detail.startswith("withheld text addressed to an AI (document:")
    (row,) = [r for r in documents if r[2] == "ملاحظة.txt"]
    assert row[11] == 1  # the "withheld" column
    assert "orders to drop earlier instructions" in row[12]


def test_a_second_admin_uploading_during_a_write_waits_then_is_told_who_is_writing(app, tmp_path):
    app.assistant.settings = app.assistant.settings.model_copy(update={"lock_timeout": 0.5})
    (tmp_path / "note.txt").write_text("ملاحظة عن اجتماع الدوحة الأخير", encoding="utf-8")
    busy = r"admin huda, uploading in the app, pid \d+.*waited 0.5 s"
    with app.assistant.store.writing(actor="admin huda, uploading in the app"), pytest.raises(gr.Error, match=busy):
        app.upload([str(tmp_path / "note.txt")], as_user("huda"))
    rows, _, statistics = app.upload([str(tmp_path / "note.txt")], as_user("huda"))
    assert rows == [["note.txt", "added", ""]]
    assert statistics["documents"] == 4


def test_exports_are_private_files_with_names_no_one_can_guess(app, model):
    first = Path(app.export_markdown("# مذكرة\n\nنص المذكرة", as_user("sami")))
    second = Path(app.export_markdown("# مذكرة\n\nنص المذكرة", as_user("sami")))
    assert first != second
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(app.exports.stat().st_mode) == 0o700
    assert app.exports.name.startswith("assistant-exports-")
    assert app.exports.name != "assistant-exports-"
    assert first.read_text(encoding="utf-8") == "# مذكرة\n\nنص المذكرة"
