"""The Gradio app: Ask, Brief, Admin and Status tabs, with roles checked on the server.

Handlers are methods of `Handlers`, plain functions of the Assistant and the request's user,
testable without a browser. Every handler checks the user's permission itself: hiding a tab
is for convenience, not security, since any event can be called through the API.
"""

import atexit
import functools
import html
import inspect
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from assistant import __version__
from assistant.access import confine, searched_collections
from assistant.audit import AuditLog
from assistant.briefing import markdown_to_docx, to_markdown
from assistant.errors import AssistantError, UnreadableFileError
from assistant.llm import describe
from assistant.loaders import check
from assistant.logins import LoginGuard
from assistant.rendering import conversation, directed, ocr_label, render_answer, render_sources
from assistant.service import Assistant
from assistant.types import Answer, SearchFilter
from assistant.users import PERMISSIONS, UserStore

LENGTHS = {"short (3 points) · قصيرة": 3, "medium (5) · متوسطة": 5, "long (7) · طويلة": 7}
LANGUAGES = {"auto · تلقائي": None, "العربية": "ar", "English": "en"}
# Gradio fills a parameter whose default is a Progress with the event's progress bar.
PROGRESS = gr.Progress()
_UNSAFE_NAME = re.compile(r"[^\w.\-\u0600-\u06FF]+")
log = logging.getLogger(__name__)
Handler = TypeVar("Handler", bound=Callable[..., Any])
CSS = """
.unverified { background: #fff3cd; border-bottom: 2px dotted #b58105; }
.sources mark { background: #ffe58a; }
.source { border-inline-start: 3px solid #8aa; padding: 0.3em 0.8em; margin-bottom: 0.8em; }
.meta { font-size: small; color: #666; }
.quote { color: #444; font-size: 0.92em; border-inline-start: 2px solid #ccc; padding-inline-start: 0.5em; }
"""


def as_message(error: Exception) -> gr.Error:
    """An error as the user sees it: ours as they are, anything else as one line (logged in full)."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, AssistantError):
        return gr.Error(str(error))
    log.exception("a handler failed")
    return gr.Error(f"Something went wrong ({type(error).__name__}: {error}); it has been logged. / حدث خطأ غير متوقع.")


def user_facing(handler: Handler) -> Handler:
    """Wrap a handler (or a streaming one) so that no error reaches the user as a traceback."""
    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def streaming(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from handler(*args, **kwargs)
            except Exception as error:
                raise as_message(error) from None

        return streaming  # type: ignore[return-value]

    @functools.wraps(handler)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except Exception as error:
            raise as_message(error) from None

    return call  # type: ignore[return-value]


class Handlers:
    def __init__(self, assistant: Assistant, users: UserStore | None, audit: AuditLog) -> None:
        self.assistant = assistant
        self.users = users
        self.audit = audit
        self.uploads = assistant.settings.data_dir / "uploads"
        self.guard = LoginGuard(assistant.settings.data_dir / "logins.db")
        self._exports: Path | None = None

    @property
    def exports(self) -> Path:
        """This process's export folder, made on first use and removed at exit.

        Private (mode 0700, a name no one can guess), so no one else can read or plant exports;
        Gradio serves each file from its own cache, so removing the folder loses nothing.
        """
        if self._exports is None:
            self._exports = Path(tempfile.mkdtemp(prefix="assistant-exports-"))
            atexit.register(shutil.rmtree, self._exports, ignore_errors=True)
        return self._exports

    # -- who may do what ------------------------------------------------------------------

    def role(self, request: gr.Request | None) -> tuple[str, str | None]:
        """The user's name and role; without a users file (--no-auth, localhost only) an admin."""
        if self.users is None:
            return "local", "admin"
        name = getattr(request, "username", None) or ""
        return name, self.users.roles().get(name)

    def readable(self, request: gr.Request | None) -> frozenset[str] | None:
        """The collections the user may read (None: every one, for admins)."""
        name, role = self.role(request)
        return self.assistant.access.readable(name, role)

    def scope(
        self,
        request: gr.Request | None,
        collections: list[str] | None = None,
        since: str = "",
        until: str = "",
        passages: str = "any",
    ) -> SearchFilter | None:
        """What the user chose to search, narrowed to what they may read: the filter every read goes through."""
        chosen = SearchFilter(
            collections=list(collections) if collections else None,
            languages=None if passages in ("", "any") else [passages],
            date_from=_iso_date(since, "from"),
            date_to=_iso_date(until, "until"),
        )
        return confine(None if chosen == SearchFilter() else chosen, self.readable(request))

    def require(self, request: gr.Request | None, permission: str) -> str:
        name, role = self.role(request)
        if role is None or permission not in PERMISSIONS[role]:
            self.audit.record(name or "anonymous", "denied", permission=permission, role=role)
            raise gr.Error(f"Not permitted: {permission} needs another role than {role}. / غير مسموح.")
        return name

    @user_facing
    def on_load(self, request: gr.Request) -> tuple[Any, Any, Any, str, Any, Any, Any]:
        name, role = self.role(request)
        allowed = PERMISSIONS.get(role or "", frozenset())
        greeting = f"Signed in as **{name}** ({role}) · مرحباً"
        choices = self.collection_choices(request)
        return (
            gr.update(visible="ask" in allowed),
            gr.update(visible="brief" in allowed),
            gr.update(visible="admin" in allowed),
            greeting,
            gr.update(choices=choices, value=[]),
            gr.update(choices=choices, value=[]),
            gr.update(choices=choices if "admin" in allowed else [], value=[]),  # the names are no one else's business
        )

    def collection_choices(self, request: gr.Request | None) -> list[str]:
        """The collections the user may read, to narrow a question or a note to some of them."""
        readable = self.readable(request)
        return sorted(self.assistant.access.collections() if readable is None else readable)

    # -- Ask --------------------------------------------------------------------------------

    @user_facing
    def ask(
        self,
        question: str,
        history: list[dict[str, str]],
        language: str,
        request: gr.Request,
        collections: list[str] | None = None,
        since: str = "",
        until: str = "",
        passages: str = "any",
    ) -> Iterator[tuple[list[dict[str, str]], str, dict[str, Any] | None, str]]:
        """Stream the answer into the chat; then show it checked, with its sources.

        Only passages within the chosen scope and the user's collections are searched. The
        checked answer is also returned for the session's gr.State, from which it is downloaded.
        """
        user = self.require(request, "ask")
        scope = self.scope(request, collections, since, until, passages)
        question = question.strip()
        if not question:
            yield history, "", None, ""
            return
        earlier = conversation(history)
        history = [*history, {"role": "user", "content": directed(html.escape(question))}]
        partial = ""
        answer: Answer | None = None
        try:
            for event in self.assistant.ask_stream(question, LANGUAGES.get(language), scope, earlier):
                if isinstance(event, Answer):
                    answer = event
                    break
                partial += event
                yield [*history, {"role": "assistant", "content": directed(html.escape(partial))}], "", None, ""
        except Exception as error:  # the model died, the index is busy, ...: said in the chat, the session goes on
            message = f"⚠ {html.escape(as_message(error).message)}"
            shown = directed(html.escape(partial)) + message if partial else message
            self.audit.record(user, "ask_failed", question=question, error=str(error))
            yield [*history, {"role": "assistant", "content": shown}], "", None, ""
            return
        assert answer is not None
        self.audit.record(
            user,
            "ask",
            question=question,
            searched_for=answer.searched_for,
            collections=searched_collections(scope),
            scope=scope.model_dump(exclude_none=True) if scope else None,
            answered=answer.answered,
            model=answer.model,
            generation=answer.generation,
            prompt_tokens=answer.prompt_tokens,
            first_piece_seconds=answer.first_piece_seconds,
            passages=[{"n": p.n, "doc_id": p.hit.doc_id, "chunk_id": p.hit.chunk_id} for p in answer.passages],
            citations=[{"n": c.n, "doc_id": c.doc_id, "start": c.start, "end": c.end} for c in answer.citations],
        )
        history = [*history, {"role": "assistant", "content": render_answer(answer)}]
        yield history, render_sources(answer), answer.model_dump(), ""

    @user_facing
    def download_answer(self, last_answer: dict[str, Any] | None, request: gr.Request) -> str:
        """The session's last answer as Markdown: the text and every citation with its quoted words."""
        user = self.require(request, "ask")
        if not last_answer:
            raise gr.Error("Ask a question first. / اطرح سؤالاً أولاً.")
        answer = Answer.model_validate(last_answer)
        lines = [f"# {answer.question}", "", answer.text, ""]
        lines += [
            f"[{c.n}] {c.title}, p. {c.page_start} ({Path(c.source).name}{ocr_label(c.ocr_confidence)}): "
            f"«{' '.join(c.quote.split())}»"
            for c in answer.citations
        ]
        return str(self._export_path(user, "answer", ".md", "\n".join(lines) + "\n"))

    def _export_path(self, user: str, stem: str, suffix: str, text: str | None = None) -> Path:
        """A new private file (mode 0600) for one export, in the user's folder of this process's exports."""
        folder = self.exports / _safe_name(user)
        folder.mkdir(mode=0o700, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=f"{stem}-", suffix=suffix, dir=folder)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text or "")
        return Path(name)

    # -- Brief ------------------------------------------------------------------------------

    @user_facing
    def outline(
        self,
        topic: str,
        language: str,
        length: str,
        request: gr.Request,
        collections: list[str] | None = None,
        since: str = "",
        until: str = "",
        passages: str = "any",
    ) -> str:
        self.require(request, "brief")
        scope = self.scope(request, collections, since, until, passages)
        if not topic.strip():
            raise gr.Error("Give a topic first. / اكتب الموضوع أولاً.")
        points = LENGTHS.get(length, 5)
        return "\n".join(self.assistant.outline(topic.strip(), LANGUAGES.get(language), points, scope))

    @user_facing
    def write_note(
        self,
        topic: str,
        language: str,
        outline: str,
        request: gr.Request,
        collections: list[str] | None = None,
        since: str = "",
        until: str = "",
        passages: str = "any",
        progress: gr.Progress = PROGRESS,
    ) -> tuple[Any, str]:
        user = self.require(request, "brief")
        scope = self.scope(request, collections, since, until, passages)
        headings = [line.strip(" -•*\t") for line in outline.splitlines() if line.strip(" -•*\t")]
        if not topic.strip() or not headings:
            raise gr.Error("Give a topic and at least one outline point. / اكتب الموضوع ونقطة واحدة على الأقل.")

        def report(done: int, total: int, part: str) -> None:
            progress((done, total), desc=part[:60])

        note = self.assistant.brief(
            topic.strip(), LANGUAGES.get(language), headings=headings, progress=report, scope=scope
        )
        markdown = to_markdown(note, self.assistant.settings.prompts_dir)
        self.audit.record(
            user,
            "brief",
            topic=note.topic,
            collections=searched_collections(scope),
            language=note.language,
            outline=headings,
            gaps=note.gaps,
            cited_documents=sorted(
                {c.doc_id for part in [note.bottom_line, note.background] for c in part.citations}
                | {c.doc_id for point in note.key_points for c in point.answer.citations}
            ),
        )
        return gr.update(value=markdown, rtl=note.language == "ar"), markdown

    @user_facing
    def export_word(self, markdown: str, request: gr.Request) -> str:
        return self.export_note(markdown, "docx", request)

    @user_facing
    def export_markdown(self, markdown: str, request: gr.Request) -> str:
        return self.export_note(markdown, "md", request)

    def export_note(self, markdown: str, kind: str, request: gr.Request) -> str:
        user = self.require(request, "brief")
        if not markdown.strip():
            raise gr.Error("Write a note first. / اكتب المذكرة أولاً.")
        if kind == "docx":
            path = markdown_to_docx(markdown, self._export_path(user, "note", ".docx"))
        else:
            path = self._export_path(user, "note", ".md", markdown)
        self.audit.record(user, "export_note", format=kind, title=markdown.strip().splitlines()[0][:200])
        return str(path)

    # -- Admin ------------------------------------------------------------------------------

    @user_facing
    def upload(
        self,
        files: list[str] | None,
        request: gr.Request,
        collections: list[str] | None = None,
        progress: gr.Progress = PROGRESS,
    ) -> tuple[list[list[str]], list[list[Any]], dict[str, Any]]:
        """Check, keep and index a batch into the chosen collections; one row per file, a bad file
        never stops the others."""
        user = self.require(request, "admin")
        collections = list(collections or []) or None
        for name in collections or []:
            self.assistant.access.require_collection(name)
        rows: list[list[str]] = []
        accepted: dict[str, str] = {}  # stored path -> the name as uploaded
        max_bytes = int(self.assistant.settings.max_file_mb * 2**20)
        self.uploads.mkdir(parents=True, exist_ok=True)
        for upload in files or []:
            original = Path(upload).name
            try:
                check(Path(upload), max_bytes)
            except UnreadableFileError as error:
                rows.append([original, "refused", str(error)])
                continue
            kept = _unique_path(self.uploads, _safe_name(original), Path(upload)).resolve()
            shutil.copyfile(upload, kept)
            accepted[str(kept)] = original

        def report(done: int, total: int, item: str) -> None:
            progress((done, total), desc=Path(item).name)

        if accepted:
            result = self.assistant.ingest(
                list(accepted), progress=report, actor=f"admin {user}, uploading in the app", collections=collections
            )
            outcomes = {path: "added" for path in result.added} | {path: "updated" for path in result.updated}
            outcomes |= {path: "moved" for path in result.moved} | {path: "unchanged" for path in result.unchanged}
            reasons = {failure.source: failure.reason for failure in result.failed}
            for stored, original in accepted.items():
                if stored in reasons:
                    rows.append([original, "failed", reasons[stored]])
                else:
                    notes = "; ".join(w.split(": ", 1)[1] for w in result.warnings if w.startswith(stored + ":"))
                    rows.append([original, outcomes.get(stored, "unchanged"), notes])
        self.audit.record(
            user,
            "index_add",
            collections=collections,
            files=[{"file": r[0], "result": r[1], "detail": r[2]} for r in rows],
        )
        return rows, *self._admin_tables()

    @user_facing
    def documents(self, request: gr.Request) -> tuple[list[list[Any]], dict[str, Any]]:
        self.require(request, "admin")
        return self._admin_tables()

    @user_facing
    def admin_view(self, request: gr.Request) -> tuple[list[list[Any]], dict[str, Any]]:
        """The documents and statistics on opening the app: filled for admins, empty for the rest."""
        if "admin" not in PERMISSIONS.get(self.role(request)[1] or "", frozenset()):
            return [], {}
        return self._admin_tables()

    @user_facing
    def remove(self, doc_id: str, request: gr.Request) -> tuple[str, list[list[Any]], dict[str, Any]]:
        user = self.require(request, "admin")
        source = self.assistant.remove(doc_id.strip(), actor=f"admin {user}, removing in the app")
        self.audit.record(user, "index_remove", doc_id=doc_id.strip(), source=source)
        return f"Removed {source}", *self._admin_tables()

    @user_facing
    def golden_check(self, request: gr.Request) -> str:
        user = self.require(request, "admin")
        result = self.assistant.check_golden()
        self.audit.record(user, "golden_check", recall_at_5=result.recall_at_5_after, questions=result.questions)
        worse = "".join(f"\n- {q}" for q in result.worse)
        recall = f"{result.recall_at_5_after:.3f}"
        return f"Golden questions: {result.questions}, recall@5 **{recall}** ({result.evaluated_at}){worse}"

    def _admin_tables(self) -> tuple[list[list[Any]], dict[str, Any]]:
        """The documents table and the index statistics, from one read of the index."""
        if not self.assistant.store.exists():
            return [], {"documents": 0}
        info = self.assistant.info()
        rows = [
            [
                d.doc_id,
                d.title,
                Path(d.source).name,
                d.date or "",
                ", ".join(d.collections),
                d.format,
                d.language,
                d.pages,
                d.chunks,
                d.quality,
                d.ocr_pages,
                d.withheld,
                "; ".join([*d.withheld_reasons, *d.page_notes]),
            ]
            for d in info.documents
        ]
        manifest = info.manifest
        statistics = {
            "documents": manifest.documents,
            "chunks": manifest.chunks,
            "built_at": manifest.built_at,
            "generation": info.generation,
            "last_failures": [failure.model_dump() for failure in manifest.last_failures],
            "last_golden_check": info.last_evaluation.model_dump() if info.last_evaluation else None,
        }
        return rows, statistics

    @user_facing
    def collections_view(self, request: gr.Request) -> tuple[list[list[Any]], list[list[Any]]]:
        """The collections and the groups tables on opening the app: filled for admins, empty for the rest."""
        if "admin" not in PERMISSIONS.get(self.role(request)[1] or "", frozenset()):
            return [], []
        return self._collections_rows(), self._groups_rows()

    @user_facing
    def create_collection(self, name: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        user = self.require(request, "admin")
        self.assistant.create_collection(name.strip(), actor=f"admin {user}, in the app")
        self.audit.record(user, "collection_create", collection=name.strip())
        return f"Created {name.strip()}", self._collections_rows()

    @user_facing
    def rename_collection(self, name: str, new_name: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        user = self.require(request, "admin")
        count = self.assistant.rename_collection(name.strip(), new_name.strip(), actor=f"admin {user}, in the app")
        self.audit.record(user, "collection_rename", collection=name.strip(), to=new_name.strip(), documents=count)
        return f"Renamed {name.strip()} to {new_name.strip()} ({count} documents)", self._collections_rows()

    @user_facing
    def delete_collection(self, name: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        """Delete a collection and its grants; refused while a document is in it only."""
        user = self.require(request, "admin")
        count = self.assistant.delete_collection(name.strip(), actor=f"admin {user}, in the app")
        self.audit.record(user, "collection_delete", collection=name.strip(), documents=count)
        return f"Deleted {name.strip()} ({count} documents left it)", self._collections_rows()

    @user_facing
    def grant_access(self, collection: str, grantee: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        """Let a user, or `group:NAME`, read a collection."""
        return self._change_grant(collection, grantee, request, grant=True)

    @user_facing
    def revoke_access(self, collection: str, grantee: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        return self._change_grant(collection, grantee, request, grant=False)

    def _change_grant(
        self, collection: str, grantee: str, request: gr.Request, grant: bool
    ) -> tuple[str, list[list[Any]]]:
        user = self.require(request, "admin")
        collection, grantee = collection.strip(), grantee.strip()
        who = {"group": grantee.removeprefix("group:")} if grantee.startswith("group:") else {"user": grantee}
        if "user" in who and (self.users is None or grantee not in self.users.roles()):
            raise gr.Error(f"There is no user {grantee!r}. / لا يوجد مستخدم بهذا الاسم.")
        (self.assistant.access.grant if grant else self.assistant.access.revoke)(collection, **who)
        self.audit.record(user, "access_grant" if grant else "access_revoke", collection=collection, grantee=grantee)
        verb = "may read" if grant else "may no longer read"
        return f"{grantee} {verb} {collection}", self._collections_rows()

    @user_facing
    def set_group(self, group: str, members: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        """Make a group (if new) hold exactly these users (names separated by commas or spaces)."""
        user = self.require(request, "admin")
        group, wanted = group.strip(), sorted(set(re.split(r"[,\s،]+", members.strip())) - {""})
        known = self.users.roles() if self.users else {}
        if unknown := [name for name in wanted if name not in known]:
            raise gr.Error(f"There is no user {', '.join(unknown)}. / لا يوجد مستخدم بهذا الاسم.")
        access = self.assistant.access
        if group not in access.groups():
            access.create_group(group)
        for name in set(access.groups()[group]) | set(wanted):
            access.set_membership(group, name, member=name in wanted)
        self.audit.record(user, "group_set", group=group, members=wanted)
        return f"group:{group}: {', '.join(wanted) or 'no members'}", self._groups_rows()

    @user_facing
    def unlock(self, name: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        """Lift the lockout failed logins put on a user, or on a client address (`address:IP`)."""
        user = self.require(request, "admin")
        name = name.strip()
        address = name.removeprefix("address:") if name.startswith("address:") else None
        lifted = self.guard.unlock(None if address else name, address)
        self.audit.record(user, "unlock", unlocked=name, lifted=lifted)
        return (f"Unlocked {name}" if lifted else f"{name} was not locked"), self._groups_rows()

    def _groups_rows(self) -> list[list[Any]]:
        """Each group with its members, then each lockout."""
        rows = [[f"group:{group}", ", ".join(members)] for group, members in self.assistant.access.groups().items()]
        locked = [
            [f"locked: address:{key}" if kind == "address" else f"locked: {key}", f"{count} failed attempts"]
            for kind, key, count in self.guard.locked()
        ]
        return rows + locked

    def _collections_rows(self) -> list[list[Any]]:
        readers = self.assistant.access.collections()
        return [
            [name, size, ", ".join([*readers[name]["users"], *(f"group:{g}" for g in readers[name]["groups"])])]
            for name, size in self.assistant.collection_sizes().items()
        ]

    # -- Status -----------------------------------------------------------------------------

    @user_facing
    def status(self, request: gr.Request) -> str:
        """The versions and models; the index's manifest (failed file paths too) for admins, for
        others only how many documents they may read."""
        self.require(request, "ask")
        settings = self.assistant.settings
        readable = self.readable(request)
        manifest = None
        if self.assistant.store.exists():
            info = self.assistant.info()
            if readable is None:
                manifest = info.manifest.model_dump()
            else:
                manifest = {"documents you may read": sum(bool(set(d.collections) & readable) for d in info.documents)}
        lines = [
            f"**Version** {__version__}",
            f"**LLM** {describe(settings) if readable is None else settings.llm}",  # a model's path or URL: admins
            f"**Embedder** {self.assistant.embedder.name} ({self.assistant.embedder.model})",
        ]
        if readable is None:
            lines.append(f"**Index** `{settings.index_dir}`")
        if manifest:
            lines.append("```json\n" + json.dumps(manifest, ensure_ascii=False, indent=2) + "\n```")
        else:
            lines.append("The index is empty. / الفهرس فارغ.")
        return "\n\n".join(lines)


def _iso_date(text: str, which: str) -> str | None:
    """A date typed as YYYY-MM-DD (or nothing); anything else is refused, never ignored."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise gr.Error(
            f"The date {which} must be written YYYY-MM-DD, not {text!r}. / اكتب التاريخ بالشكل 2024-05-31."
        ) from None


def _safe_name(name: str) -> str:
    """A file name with no path, no leading dots and only letters (Arabic too), digits, . _ -."""
    cleaned = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).lstrip("._")
    return cleaned[:120] or "upload"


def _unique_path(folder: Path, name: str, content: Path) -> Path:
    """folder/name, or folder/name-2 ... when another file of that name holds other content."""
    candidate = folder / name
    counter = 2
    while candidate.exists() and candidate.read_bytes() != content.read_bytes():
        candidate = folder / f"{Path(name).stem}-{counter}{Path(name).suffix}"
        counter += 1
    return candidate


def _scope_inputs(elem_prefix: str) -> list[Any]:
    """The controls that narrow a question or a note: collections, the documents' own dates, passage language."""
    with gr.Accordion("Scope · النطاق", open=False), gr.Row():
        collections = gr.Dropdown(
            [],
            value=[],
            multiselect=True,
            label="Collections (none chosen: all you may read) · المجموعات",
            allow_custom_value=True,  # the choices are filled per user on load; the server confines any value
            elem_id=f"{elem_prefix}-collections",
            scale=3,
        )
        since = gr.Textbox("", label="Dated from (YYYY-MM-DD) · من تاريخ", scale=1)
        until = gr.Textbox("", label="Dated until · إلى تاريخ", scale=1)
        passages = gr.Dropdown(["any", "ar", "en"], value="any", label="Passage language · لغة المقاطع", scale=1)
    return [collections, since, until, passages]


def build_ui(assistant: Assistant, users: UserStore | None, audit: AuditLog) -> gr.Blocks:
    handlers = Handlers(assistant, users, audit)
    with gr.Blocks(title="Briefing assistant · المساعد") as ui:
        with gr.Row():
            gr.Markdown("## Briefing assistant · مساعد الإحاطة")
            greeting = gr.Markdown(elem_id="greeting")
            gr.Button("Log out · خروج", link="/logout", size="sm", scale=0)
        with gr.Tab("Ask · اسأل", elem_id="tab-ask") as ask_tab:
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(
                        label="Answers · الإجابات", elem_id="chat", height=460, buttons=["copy", "copy_all"]
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder="Ask in Arabic or English · اسأل بالعربية أو الإنجليزية",
                            show_label=False,
                            scale=4,
                            elem_id="question",
                        )
                        language = gr.Dropdown(list(LANGUAGES), value="auto · تلقائي", show_label=False, scale=1)
                        send = gr.Button("Ask · اسأل", variant="primary", scale=1, elem_id="ask-button")
                    last_answer = gr.State(None)
                    download = gr.Button("Download the answer · تنزيل الإجابة", size="sm", elem_id="download-answer")
                    answer_file = gr.File(label="Answer file · ملف الإجابة", elem_id="answer-file")
                    ask_scope = _scope_inputs("ask")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources · المصادر")
                    sources = gr.HTML(elem_id="sources")
            for trigger in (send.click, question.submit):
                trigger(
                    handlers.ask,
                    [question, chat, language, *ask_scope],
                    [chat, sources, last_answer, question],
                    api_name="ask",
                )
            download.click(handlers.download_answer, last_answer, answer_file, api_name="download_answer")
        with gr.Tab("Brief · مذكرة", elem_id="tab-brief", visible=False) as brief_tab:
            with gr.Row():
                topic = gr.Textbox(label="Topic · الموضوع", scale=3, elem_id="topic")
                note_language = gr.Dropdown(list(LANGUAGES), value="auto · تلقائي", label="Language · اللغة", scale=1)
                length = gr.Radio(list(LENGTHS), value="medium (5) · متوسطة", label="Length · الطول", scale=2)
            note_scope = _scope_inputs("note")
            propose = gr.Button("1. Propose an outline · اقترح مخططاً")
            outline = gr.Textbox(label="Outline, one point per line (edit freely) · المخطط", lines=5, elem_id="outline")
            write = gr.Button("2. Write the note · اكتب المذكرة", variant="primary")
            with gr.Row():
                note = gr.Textbox(label="Note (editable Markdown) · المذكرة", lines=18, elem_id="note")
                preview = gr.Markdown(elem_id="preview")
            with gr.Row():
                as_word = gr.Button("Download Word · وورد")
                as_markdown = gr.Button("Download Markdown · ماركداون")
            note_file = gr.File(label="Note file · ملف المذكرة")
            propose.click(handlers.outline, [topic, note_language, length, *note_scope], outline, api_name="outline")
            write.click(
                handlers.write_note,
                [topic, note_language, outline, *note_scope],
                [note, preview],
                api_name="write_note",
            )
            note.change(lambda text: text, note, preview, api_visibility="private")
            as_word.click(handlers.export_word, note, note_file, api_name="export_word")
            as_markdown.click(handlers.export_markdown, note, note_file, api_name="export_markdown")
        with gr.Tab("Admin · الإدارة", elem_id="tab-admin", visible=False) as admin_tab:
            files = gr.File(
                label="Add documents (PDF, Word, HTML, text, scanned images) · أضف وثائق",
                file_count="multiple",
                type="filepath",
                elem_id="upload",
            )
            upload_collections = gr.Dropdown(
                [],  # filled on load, for admins only: the page is sent to everyone
                value=[],
                multiselect=True,
                allow_custom_value=True,
                label="Into collections (none: default, or those of the version replaced) · إلى المجموعات",
                elem_id="upload-collections",
            )
            index_button = gr.Button("Index the files · فهرسة", variant="primary", elem_id="index-button")
            results = gr.Dataframe(
                headers=["file", "result", "detail"], label="Per-file result · النتائج", elem_id="results"
            )
            statistics = gr.JSON(label="Index statistics · إحصاءات")
            documents = gr.Dataframe(
                headers=[
                    "doc_id",
                    "title",
                    "file",
                    "date",
                    "collections",
                    "format",
                    "language",
                    "pages",
                    "chunks",
                    "quality",
                    "OCR pages",
                    "withheld",
                    "notes",
                ],
                label="Documents · الوثائق",
                elem_id="documents",
                wrap=True,
            )
            with gr.Row():
                doc_id = gr.Textbox(label="Document id to remove · معرف الوثيقة", scale=3)
                remove = gr.Button("Remove · حذف", variant="stop", scale=1)
                refresh = gr.Button("Refresh · تحديث", scale=1)
            removed = gr.Markdown()
            golden = gr.Button("Run the golden-question check · فحص الأسئلة المرجعية")
            golden_result = gr.Markdown()
            gr.Markdown("### Collections and who may read them · المجموعات والصلاحيات")
            collections_table = gr.Dataframe(
                headers=["collection", "documents", "readers"], elem_id="collections", interactive=False
            )
            with gr.Row():
                collection_name = gr.Textbox(label="Collection · المجموعة", scale=2)
                new_name = gr.Textbox(label="New name (to rename) · الاسم الجديد", scale=2)
                create = gr.Button("Create · إنشاء", scale=1)
                rename = gr.Button("Rename · إعادة تسمية", scale=1)
                delete = gr.Button("Delete · حذف", scale=1)
            with gr.Row():
                grantee = gr.Textbox(label="User, or group:NAME · المستخدم أو المجموعة", scale=2)
                grant = gr.Button("Grant reading · منح", scale=1)
                revoke = gr.Button("Revoke · سحب", scale=1)
            changed = [removed, collections_table]
            create.click(handlers.create_collection, collection_name, changed, api_name="create_collection")
            rename.click(handlers.rename_collection, [collection_name, new_name], changed, api_name="rename_collection")
            delete.click(handlers.delete_collection, collection_name, changed, api_name="delete_collection")
            grant.click(handlers.grant_access, [collection_name, grantee], changed, api_name="grant_access")
            revoke.click(handlers.revoke_access, [collection_name, grantee], changed, api_name="revoke_access")
            groups_table = gr.Dataframe(
                headers=["group or lockout", "members"], elem_id="groups", interactive=False, label="Groups · الفرق"
            )
            with gr.Row():
                group_name = gr.Textbox(label="Group · الفريق", scale=2)
                members = gr.Textbox(label="Members, comma-separated · الأعضاء", scale=3)
                set_group = gr.Button("Save group · حفظ", scale=1)
            with gr.Row():
                locked_name = gr.Textbox(label="Locked user, or address:IP · مستخدم أو عنوان مقفل", scale=3)
                unlock = gr.Button("Unlock · فك القفل", scale=1)
            set_group.click(handlers.set_group, [group_name, members], [removed, groups_table], api_name="set_group")
            unlock.click(handlers.unlock, locked_name, [removed, groups_table], api_name="unlock")
            index_button.click(
                handlers.upload, [files, upload_collections], [results, documents, statistics], api_name="upload"
            )
            refresh.click(handlers.documents, None, [documents, statistics], api_name="documents")
            remove.click(handlers.remove, doc_id, [removed, documents, statistics], api_name="remove_document")
            golden.click(handlers.golden_check, None, golden_result, api_name="golden_check")
        with gr.Tab("Status · الحالة", elem_id="tab-status") as status_tab:
            status = gr.Markdown(elem_id="status")
            status_tab.select(handlers.status, None, status, api_name="status")
        ui.load(
            handlers.on_load,
            None,
            [ask_tab, brief_tab, admin_tab, greeting, ask_scope[0], note_scope[0], upload_collections],
            api_visibility="private",
        )
        ui.load(handlers.collections_view, None, [collections_table, groups_table], api_visibility="private")
        ui.load(handlers.status, None, status, api_visibility="private")
        ui.load(handlers.admin_view, None, [documents, statistics], api_visibility="private")
    return ui
