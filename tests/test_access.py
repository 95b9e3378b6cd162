"""Collections and read grants: who may read what, through every handler of the app and through
gradio_client, with a document whose words would show a leak."""

import json
import socket
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from click.testing import CliRunner

from assistant.access import AccessError, AccessStore, confine
from assistant.audit import AuditLog
from assistant.cli import main
from assistant.errors import AssistantError
from assistant.service import Assistant
from assistant.types import SearchFilter
from assistant.ui import Handlers, build_ui
from assistant.users import UserStore
from tests.conftest import KUWAIT_AR

PASSWORD = "correct horse battery"
# The negotiation file: none of these words may reach a user who is not granted its collection.
SECRET_AR = (
    "مفاوضات الزيتون السرية\n"
    "اتفق المفاوضون في عملية زيتونة-سبعة على تسليم 4321 طناً من القمح عبر ميناء العقبة. "
    "ويرأس الوفد المفاوض السفير كمال برهوم، ويعقد الاجتماع المقبل في جنيف."
)
LEAKS = ("زيتون", "4321", "برهوم", "العقبة", "negotiation.txt", "مفاوضات")
SECRET_QUESTION = "كم طناً من القمح اتفق المفاوضون على تسليمه؟"  # none of the LEAKS in it
PUBLIC_QUESTION = "كم دولة شاركت في اجتماع الكويت؟"
# name -> (role, the collections granted: to the user, or through the group "negotiators")
USERS = {
    "mona": ("official", ["public"]),
    "nadia": ("official", []),
    "omar": ("official", ["group:negotiators"]),
    "sami": ("staff", ["public"]),
    "salwa": ("staff", ["public", "secret"]),
    "huda": ("admin", []),
}


def reads_secret(name: str) -> bool:
    role, grants = USERS[name]
    return role == "admin" or "secret" in grants or "group:negotiators" in grants


@pytest.fixture
def collections_app(settings, tmp_path) -> Handlers:
    settings = settings.model_copy(update={"extractive_min_similarity": 0.2})
    users = UserStore(settings.data_dir / "users.json")
    assistant = Assistant(settings)
    access = assistant.access  # made before the users: none of them reads "default" by migration
    for name, (role, _) in USERS.items():
        users.add(name, role, PASSWORD)
    access.create("public")
    access.create("secret")
    access.create_group("negotiators")
    access.set_membership("negotiators", "omar", member=True)
    access.grant("secret", group="negotiators")
    for name, (_, grants) in USERS.items():
        for collection in grants:
            if not collection.startswith("group:"):
                access.grant(collection, user=name)
    folder = tmp_path / "docs"
    (folder / "public").mkdir(parents=True)
    (folder / "secret").mkdir()
    (folder / "public" / "kuwait.txt").write_text(KUWAIT_AR, encoding="utf-8")
    (folder / "secret" / "negotiation.txt").write_text(SECRET_AR, encoding="utf-8")
    assistant.ingest([folder / "public"], collections=["public"])
    assistant.ingest([folder / "secret"], collections=["secret"])
    return Handlers(assistant, users, AuditLog(settings.data_dir / "audit.jsonl"))


def as_user(name: str) -> gr.Request:
    return gr.Request(username=name)


def outputs(call: Any) -> str:
    """All an endpoint gives back (each streamed update, a file's content too), as one string, or the refusal."""
    try:
        result = call()
        if hasattr(result, "__next__"):
            result = list(result)
        result = _read_download(result)
    except gr.Error as error:
        return f"refused: {error.message}"
    return json.dumps(result, ensure_ascii=False, default=str)


ENDPOINTS = {
    "ask": lambda app, r: app.ask(SECRET_QUESTION, [], "auto · تلقائي", r),
    "ask in English": lambda app, r: app.ask(
        "How many tonnes of wheat did the negotiators agree to deliver?", [], "English", r
    ),
    "ask scoped to secret": lambda app, r: app.ask(SECRET_QUESTION, [], "auto · تلقائي", r, ["secret"]),
    "outline": lambda app, r: app.outline("تسليم القمح", "auto · تلقائي", "short (3 points) · قصيرة", r),
    "outline scoped": lambda app, r: app.outline("القمح", "auto · تلقائي", "short (3 points) · قصيرة", r, ["secret"]),
    "write note": lambda app, r: app.write_note("تسليم القمح", "العربية", "كمية القمح\nالوفد المفاوض", r),
    "download the last answer": lambda app, r: app.download_answer(_last_answer(app, r), r),
    "documents": lambda app, r: app.documents(r),
    "golden check": lambda app, r: app.golden_check(r),
    "remove a document": lambda app, r: app.remove("0000000000000000", r),
    "documents on opening": lambda app, r: app.admin_view(r),
    "collections on opening": lambda app, r: app.collections_view(r),
    "status": lambda app, r: app.status(r),
    "on load": lambda app, r: app.on_load(r),
}


def _last_answer(app: Handlers, request: gr.Request) -> dict[str, Any] | None:
    """The answer the session holds after asking, which the download endpoint is given."""
    try:
        *_, (_, _, answer, _) = app.ask(SECRET_QUESTION, [], "auto · تلقائي", request)
    except gr.Error:
        return None
    return answer


def _read_download(result: Any) -> Any:
    return Path(result).read_text(encoding="utf-8") if isinstance(result, str) and Path(result).is_file() else result


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("user", USERS)
def test_no_word_of_a_collection_reaches_a_user_not_granted_it(collections_app, user, endpoint):
    shown = outputs(lambda: ENDPOINTS[endpoint](collections_app, as_user(user)))
    leaked = [word for word in LEAKS if word in shown]
    if not reads_secret(user):
        assert leaked == [], f"{user} ({USERS[user][0]}) saw {leaked} through {endpoint}: {shown[:300]}"


@pytest.mark.parametrize("user", [name for name in USERS if reads_secret(name)])
def test_a_user_granted_the_collection_is_answered_from_it(collections_app, user):
    *_, (chat, sources, answer, _) = collections_app.ask(SECRET_QUESTION, [], "auto · تلقائي", as_user(user))
    assert answer["answered"], chat[-1]["content"]
    assert "4321" in chat[-1]["content"]
    assert "negotiation.txt" in sources


def test_a_user_with_no_grant_sees_nothing_and_is_told_so(collections_app):
    *_, (chat, sources, answer, _) = collections_app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("nadia"))
    assert not answer["answered"]
    assert answer["passages"] == []
    assert sources == ""
    assert "النطاق" in chat[-1]["content"]  # "no document you may read is within this scope"
    with pytest.raises(AssistantError, match="scope"):  # a note, too, is refused rather than written from nothing
        collections_app.assistant.outline("الكويت", scope=collections_app.scope(as_user("nadia")))


def test_a_note_scoped_to_a_collection_cites_only_its_documents(collections_app):
    app = collections_app
    markdown = app.write_note("الاجتماعات", "العربية", "عدد الدول\nالقمح", as_user("huda"), ["public"])[1]
    assert "kuwait" in markdown or "الكويت" in markdown
    assert [word for word in LEAKS if word in markdown] == []
    outline = app.outline("القمح والدول", "auto · تلقائي", "short (3 points) · قصيرة", as_user("salwa"), ["public"])
    assert [word for word in LEAKS if word in outline] == []


def test_scores_a_reader_sees_do_not_tell_what_other_collections_hold(collections_app):
    """A word that is in the secret document and one that is nowhere score alike for a public reader."""
    app = collections_app
    scope = app.scope(as_user("mona"))
    in_secret, nowhere = ("اجتماع الكويت دولة " + word for word in ("برهوم", "بلعوم"))
    scored = [
        [(hit.chunk_id, hit.score) for hit in app.assistant.search(q, k=3, scope=scope)] for q in (in_secret, nowhere)
    ]
    assert scored[0] == scored[1]


def test_a_scope_of_every_collection_the_index_holds_lists_no_chunk_ids(collections_app):
    snapshot = collections_app.assistant.snapshot()
    assert snapshot.admitted(SearchFilter(collections=["default", "public", "secret"])) is None
    assert snapshot.admitted(SearchFilter(collections=["public"])) is not None
    assert len(snapshot.admitted(SearchFilter(collections=["public", "secret"], languages=["en"]))) == 0


def test_a_public_reader_is_answered_from_public_only(collections_app):
    *_, (_, _, answer, _) = collections_app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("mona"))
    assert answer["answered"]
    assert {p["hit"]["source"].rsplit("/", 1)[-1] for p in answer["passages"]} == {"kuwait.txt"}


def test_asking_for_a_collection_not_granted_narrows_to_nothing_rather_than_widening(collections_app):
    *_, (_, _, answer, _) = collections_app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("mona"), ["secret"])
    assert not answer["answered"]
    assert answer["passages"] == []
    assert confine(SearchFilter(collections=["secret"]), frozenset({"public"})) == SearchFilter(collections=[])


def test_the_audit_log_records_the_collections_each_question_searched(collections_app):
    list(collections_app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("salwa"), ["public"]))
    list(collections_app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("mona")))
    list(collections_app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("huda")))
    asked = [e for e in collections_app.audit.entries() if e["action"] == "ask"]
    assert [e["collections"] for e in asked] == [["public"], ["public"], "every collection"]


def test_a_removed_user_keeps_no_grant_for_a_new_user_of_that_name(collections_app, tmp_path, monkeypatch):
    settings = collections_app.assistant.settings
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "fake")
    assert CliRunner().invoke(main, ["users", "remove", "salwa"]).exit_code == 0
    added = CliRunner().invoke(main, ["users", "add", "salwa", "--role", "staff", "--password-stdin"], input=PASSWORD)
    assert added.exit_code == 0, added.output
    assert collections_app.readable(as_user("salwa")) == frozenset()


def test_a_deleted_collection_grants_nothing_even_when_made_again(collections_app):
    assistant = collections_app.assistant
    with pytest.raises(AccessError, match="only"):
        assistant.delete_collection("secret")  # its document is in no other collection
    assert assistant.delete_collection("secret", remove_documents=True) == 1
    assert [d.source for d in assistant.info().documents if "negotiation" in d.source] == []
    assistant.access.create("secret")
    assert assistant.access.collections()["secret"] == {"users": [], "groups": []}
    assert collections_app.readable(as_user("omar")) == frozenset()


def test_renaming_a_collection_carries_its_documents_and_grants(collections_app):
    assistant = collections_app.assistant
    assert assistant.rename_collection("secret", "مفاوضات-2026") == 1
    assert collections_app.readable(as_user("omar")) == frozenset({"مفاوضات-2026"})
    *_, (chat, _, answer, _) = collections_app.ask(SECRET_QUESTION, [], "auto · تلقائي", as_user("omar"))
    assert answer["answered"]
    assert "4321" in chat[-1]["content"]
    with pytest.raises(AccessError):
        assistant.rename_collection("default", "other")
    with pytest.raises(AssistantError, match="no collection"):
        assistant.ingest([], collections=["secret"])  # the old name is gone


def test_a_document_added_to_a_second_collection_belongs_to_both(collections_app, tmp_path):
    assistant = collections_app.assistant
    assistant.ingest([tmp_path / "docs" / "secret"], collections=["public"])
    (negotiation,) = [d for d in assistant.info().documents if d.source.endswith("negotiation.txt")]
    assert negotiation.collections == ["secret", "public"]
    assert "4321" in outputs(lambda: collections_app.ask(SECRET_QUESTION, [], "auto · تلقائي", as_user("mona")))


def test_a_new_version_of_a_file_stays_in_the_collections_of_the_one_it_replaces(collections_app, tmp_path):
    assistant = collections_app.assistant
    path = tmp_path / "docs" / "secret" / "negotiation.txt"
    path.write_text(SECRET_AR.replace("4321", "5000"), encoding="utf-8")
    report = assistant.ingest([path])  # no collection named: must not fall into "default"
    assert report.updated == [str(path)]
    (negotiation,) = [d for d in assistant.info().documents if d.source.endswith("negotiation.txt")]
    assert negotiation.collections == ["secret"]


def test_admins_manage_collections_and_grants_in_the_app_and_others_may_not(collections_app):
    app = collections_app
    message, rows = app.create_collection("تقارير", as_user("huda"))
    assert "تقارير" in message
    assert ["تقارير", 0, ""] in rows
    message, rows = app.grant_access("تقارير", "mona", as_user("huda"))
    assert ["تقارير", 0, "mona"] in rows
    app.grant_access("تقارير", "group:negotiators", as_user("huda"))
    assert app.readable(as_user("omar")) == frozenset({"secret", "تقارير"})
    app.revoke_access("تقارير", "mona", as_user("huda"))
    assert app.readable(as_user("mona")) == frozenset({"public"})
    with pytest.raises(gr.Error, match="no user"):
        app.grant_access("تقارير", "nobody", as_user("huda"))
    message, groups = app.set_group("محللون", "mona، sami", as_user("huda"))
    assert ["group:محللون", "mona, sami"] in groups
    app.grant_access("تقارير", "group:محللون", as_user("huda"))
    assert "تقارير" in app.readable(as_user("sami"))
    _, groups = app.set_group("محللون", "sami", as_user("huda"))
    assert ["group:محللون", "sami"] in groups
    assert "تقارير" not in app.readable(as_user("mona"))
    for _ in range(10):
        app.guard.attempt("mona", "10.0.0.7")
    assert ["locked: mona", "10 failed attempts"] in app.collections_view(as_user("huda"))[1]
    app.unlock("mona", as_user("huda"))
    assert app.guard.locked() == []
    for name in ("mona", "salwa"):
        for call in (
            lambda r: app.create_collection("x", r),
            lambda r, name=name: app.grant_access("secret", name, r),
            lambda r: app.delete_collection("public", r),
            lambda r: app.rename_collection("public", "y", r),
            lambda r, name=name: app.set_group("negotiators", name, r),
            lambda r: app.unlock("mona", r),
        ):
            with pytest.raises(gr.Error, match="Not permitted"):
                call(as_user(name))
    assert app.readable(as_user("mona")) == frozenset({"public"})


def test_the_admin_uploads_a_batch_into_a_collection(collections_app, tmp_path):
    upload = tmp_path / "water.txt"
    upload.write_text("مؤتمر المياه\nحضر 45 خبيراً مؤتمر المياه في عمّان.", encoding="utf-8")
    rows, documents, _ = collections_app.upload([str(upload)], as_user("huda"), ["secret"])
    assert rows[0][1] == "added"
    assert [row[4] for row in documents if row[2] == "water.txt"] == ["secret"]
    assert "45" not in outputs(
        lambda: collections_app.ask("كم خبيراً حضر مؤتمر المياه؟", [], "auto · تلقائي", as_user("mona"))
    )
    with pytest.raises(gr.Error, match="no collection"):
        collections_app.upload([str(upload)], as_user("huda"), ["nonexistent"])


def test_a_scope_by_the_documents_own_date_and_language(collections_app):
    app = collections_app
    with pytest.raises(gr.Error, match="YYYY-MM-DD"):
        list(app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("mona"), None, "31/12/2024"))
    *_, (_, _, answer, _) = app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("mona"), None, "2030-01-01")
    assert not answer["answered"]  # no document is dated: a date range admits none of them
    *_, (_, _, answer, _) = app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("mona"), None, "", "", "en")
    assert not answer["answered"]  # the Kuwait passages are Arabic


def test_the_access_file_is_private_and_a_damaged_one_is_a_clear_error(collections_app):
    path = collections_app.assistant.access.path
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(AccessError, match="damaged"):
        AccessStore(path).readable("mona", "official")


def test_a_lost_access_file_is_not_made_again_as_on_first_start(collections_app):
    """Once made, a missing registry means it was lost: everyone reads nothing until it is restored."""
    path = collections_app.assistant.access.path
    path.unlink()
    with pytest.raises(AccessError, match="missing"):
        collections_app.readable(as_user("nadia"))
    assert outputs(lambda: collections_app.ask(PUBLIC_QUESTION, [], "auto · تلقائي", as_user("mona"))).startswith(
        "refused: the access file"
    )


def test_a_name_left_on_documents_by_an_interrupted_delete_cannot_be_made_again_until_it_is_finished(
    collections_app, monkeypatch
):
    assistant = collections_app.assistant
    monkeypatch.setattr(Assistant, "_refile", lambda self, change: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        assistant.delete_collection("secret", remove_documents=True)  # the registry entry is gone, the tags stay
    monkeypatch.undo()
    with pytest.raises(AccessError, match="still carry"):
        assistant.create_collection("secret")  # would hand the negotiation file to the new readers
    assert assistant.delete_collection("secret", remove_documents=True) == 1  # run again, it finishes
    assistant.create_collection("secret")
    assistant.access.grant("secret", user="mona")
    assert [
        word
        for word in LEAKS
        if word in outputs(lambda: collections_app.ask(SECRET_QUESTION, [], "auto · تلقائي", as_user("mona")))
    ] == []


def test_the_first_start_with_collections_keeps_earlier_users_reading_the_default(settings, corpus):
    users = UserStore(settings.data_dir / "users.json")
    users.add("early", "official", PASSWORD)
    assistant = Assistant(settings)
    assistant.ingest([corpus])
    assert assistant.access.readable("early", "official") == frozenset({"default"})
    users.add("later", "official", PASSWORD)
    assert assistant.access.readable("later", "official") == frozenset()


def test_collections_and_grants_from_the_command_line(settings, corpus, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "fake")
    run = CliRunner()

    def ok(*args: str, given: str | None = None) -> str:
        result = run.invoke(main, list(args), input=given)
        assert result.exit_code == 0, result.output
        return result.output

    ok("users", "add", "rana", "--role", "official", "--password-stdin", given=PASSWORD)
    ok("collections", "create", "ملفات-الخليج")
    ok("index", "add", str(corpus / "kuwait.txt"), "--collection", "ملفات-الخليج")
    ok("groups", "create", "gulf")
    ok("groups", "add", "gulf", "rana")
    ok("access", "grant", "ملفات-الخليج", "--group", "gulf")
    assert ok("access", "show", "rana").strip() == "ملفات-الخليج"
    listing = ok("collections", "list")
    assert "ملفات-الخليج\t1 documents\treaders: group:gulf" in listing
    refused = run.invoke(main, ["index", "add", str(corpus), "--collection", "nowhere"])
    assert refused.exit_code == 1
    assert "no collection 'nowhere'" in refused.output
    assert run.invoke(main, ["access", "grant", "ملفات-الخليج"]).exit_code == 2  # neither --user nor --group
    ok("collections", "rename", "ملفات-الخليج", "gulf-files")
    assert ok("access", "show", "rana").strip() == "gulf-files"
    ok("access", "revoke", "gulf-files", "--group", "gulf")
    assert ok("access", "show", "rana").strip() == "nothing"
    actions = [e["action"] for e in AuditLog(settings.data_dir / "audit.jsonl").entries()]
    assert {"collection_create", "access_grant", "collection_rename", "access_revoke"} <= set(actions)


@pytest.mark.slow
def test_gradio_client_called_directly_gets_only_granted_collections(collections_app):
    """The same endpoints called over HTTP with gradio_client, as any script could, past the UI."""
    from gradio_client import Client

    app = collections_app
    ui = build_ui(app.assistant, app.users, app.audit)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ui.queue().launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        auth=lambda name, password: app.users.authenticate(name, password) is not None,
        quiet=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for user in ("mona", "nadia", "omar"):
            client = Client(url, auth=(user, PASSWORD), verbose=False)
            chat, sources, _ = client.predict(  # the session's answer (a gr.State) is not sent out
                SECRET_QUESTION, [], "auto · تلقائي", ["secret"], "", "", "any", api_name="/ask"
            )
            shown = json.dumps([chat, sources], ensure_ascii=False)
            leaked = [word for word in LEAKS if word in shown]
            assert (leaked != []) == reads_secret(user), (user, leaked)
            try:
                shown = client.predict(
                    "القمح", "auto · تلقائي", "short (3 points) · قصيرة", [], "", "", "any", api_name="/outline"
                )
            except Exception as error:  # officials may not brief: refused
                shown = str(error)
            assert not [word for word in LEAKS if word in shown]
            with pytest.raises(Exception, match="Not permitted"):
                client.predict("secret", "mona", api_name="/grant_access")
    finally:
        ui.close()
