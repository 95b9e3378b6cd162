"""Command line: python -m assistant index, search, ask, brief, llm, users, collections, access, groups, eval."""

import getpass
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from assistant.access import AccessStore
from assistant.audit import AuditLog
from assistant.errors import AssistantError
from assistant.followup import Message, check_history
from assistant.logins import LoginGuard
from assistant.service import Assistant
from assistant.settings import load_settings
from assistant.tokens import TokenStore
from assistant.types import Answer, GateResult, SearchFilter, page_span
from assistant.users import ROLES, UserStore


class _FriendlyErrors(click.Group):
    """Show every error as one clear line and exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssistantError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted; the index is unchanged.", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own messages are already one line
        except Exception as error:  # a bug: say so in one line, keep the traceback for a report
            log = Path(tempfile.gettempdir()) / f"assistant-error-{os.getpid()}.log"
            log.write_text(traceback.format_exc(), encoding="utf-8")
            click.echo(f"Error: unexpected {type(error).__name__}: {error} (a bug; the details are in {log})", err=True)
            sys.exit(1)


@click.group(cls=_FriendlyErrors)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Bilingual (Arabic/English) briefing assistant. The index lives in ASSISTANT_INDEX_DIR."""
    ctx.obj = load_settings()


def _assistant(ctx: click.Context) -> Assistant:
    return Assistant(ctx.obj)


@main.group()
def index() -> None:
    """Build and inspect the index."""


@index.command("add")
@click.argument("paths", nargs=-1, required=True)
@click.option("--prune", is_flag=True, help="Remove documents whose files no longer exist.")
@click.option("--gate", is_flag=True, help="Switch only if the golden questions do not get worse.")
@click.option(
    "--collection",
    "collections",
    multiple=True,
    help="File every document of the batch under this collection (see `collections`); repeatable.",
)
@click.pass_context
def index_add(
    ctx: click.Context, paths: tuple[str, ...], prune: bool, gate: bool, collections: tuple[str, ...]
) -> None:
    """Index files and folders (recursively): new files added, changed ones replaced.

    Without --collection a new file goes into the default collection, and a new version of a
    file stays in the collections of the version it replaces.
    """
    assistant = _assistant(ctx)
    with _progress_bar("Indexing", "file") as progress:
        report = assistant.ingest(
            paths,
            prune=prune,
            progress=progress,
            gate=gate,
            actor=_actor("index add"),
            collections=list(collections) or None,
        )
    if report.changed and (report.gate is None or report.gate.passed):
        _audit(
            ctx,
            "index_add",
            added=report.added,
            updated=report.updated,
            moved=report.moved,
            removed=report.removed,
            collections=list(collections),
        )
    for label, items in [
        ("added", report.added),
        ("updated", report.updated),
        ("moved", report.moved),
        ("unchanged", report.unchanged),
        ("removed", report.removed),
    ]:
        click.echo(f"{label:>9}: {len(items)}")
    click.echo(f"{'failed':>9}: {len(report.failed)}")
    for failure in report.failed:
        click.echo(f"  - {failure.source}: {failure.reason}")
    for warning in report.warnings:
        click.echo(f"  ! {warning}")
    if report.gate:
        _echo_gate(report.gate)
        if not report.gate.passed:
            click.echo("The new index was NOT switched in; the live index is unchanged.", err=True)
            sys.exit(2)


def _echo_gate(gate: GateResult) -> None:
    before = "none" if gate.recall_at_5_before is None else f"{gate.recall_at_5_before:.3f}"
    verdict = "passed" if gate.passed else "REFUSED"
    click.echo(
        f"  golden questions: {verdict} ({gate.questions} questions, recall@5 {before} -> "
        f"{gate.recall_at_5_after:.3f}, margin {gate.margin}, {gate.evaluated_at})"
    )
    for question in gate.worse:
        click.echo(f"    worse: {question}")


@contextmanager
def _progress_bar(description: str, unit: str) -> Iterator[Callable[[int, int, str], None]]:
    """A tqdm bar on standard error (silent when it is not a terminal), fed by a callback."""
    with tqdm(desc=description, unit=unit, file=sys.stderr, disable=None) as bar:

        def progress(done: int, total: int, item: str) -> None:
            bar.total = total
            bar.set_postfix_str(item[-40:], refresh=False)
            bar.update(done - bar.n)

        yield progress


def _actor(command: str) -> str:
    return f"cli:{getpass.getuser()} running `{command}`"


def _audit(ctx: click.Context, action: str, **details: Any) -> None:
    """Index changes made from the shell go to the app's audit log too, under the shell user."""
    AuditLog(ctx.obj.data_dir / "audit.jsonl").record(f"cli:{getpass.getuser()}", action, **details)


@index.command("golden")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def index_golden(ctx: click.Context, questions: Path) -> None:
    """Store golden questions (JSONL, like seeds-dev-qa.jsonl) with the index for --gate."""
    count = _assistant(ctx).set_golden_questions(questions)
    click.echo(f"stored {count} golden questions with the index")


@index.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def index_info(ctx: click.Context, as_json: bool) -> None:
    """Documents, chunks, manifest and the failures of the last update."""
    info = _assistant(ctx).info()
    if as_json:
        click.echo(info.model_dump_json(indent=2))
        return
    manifest = info.manifest
    click.echo(f"Index {info.index_dir} (generation {info.generation})")
    click.echo(f"  {manifest.documents} documents, {manifest.chunks} chunks, built {manifest.built_at}")
    click.echo(
        f"  embedder {manifest.embedder} ({manifest.embedder_model}, {manifest.dimension} dims), "
        f"normalisation {manifest.normalization_version}, "
        f"chunks {manifest.chunk_size}/{manifest.chunk_overlap} chars"
    )
    for doc in info.documents:
        click.echo(
            f"  {doc.doc_id}  {doc.format:4} {doc.language:5} p{doc.pages:<3} "
            f"c{doc.chunks:<4} q{doc.quality:.2f}{' ocr' + str(doc.ocr_pages) if doc.ocr_pages else ''}  "
            f"{doc.source}  «{doc.title[:60]}»"
        )
        for note in [*doc.withheld_reasons, *doc.page_notes]:
            click.echo(f"      {note}")
    if info.last_evaluation:
        _echo_gate(info.last_evaluation)
    elif info.golden_questions:
        click.echo("  golden questions stored; not evaluated yet (index add --gate)")
    if manifest.last_failures:
        click.echo("  failures of the last update:")
        for failure in manifest.last_failures:
            click.echo(f"    - {failure.source}: {failure.reason}")


@index.command("remove")
@click.argument("doc_id_or_path")
@click.pass_context
def index_remove(ctx: click.Context, doc_id_or_path: str) -> None:
    """Remove one document by its id or the path it was added with."""
    source = _assistant(ctx).remove(doc_id_or_path, actor=_actor("index remove"))
    _audit(ctx, "index_remove", source=source)
    click.echo(f"removed: {source}")


def scope_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that narrow a search to some documents, collections, languages or dates."""
    iso_date = click.DateTime(formats=["%Y-%m-%d"])
    for option in reversed(
        [
            click.option("--document", "documents", multiple=True, help="Only this document (id or path); repeatable."),
            click.option("--collection", "collections", multiple=True, help="Only this collection; repeatable."),
            click.option(
                "--passage-language",
                "languages",
                multiple=True,
                type=click.Choice(["ar", "en", "other"]),
                help="Only passages in this language; repeatable.",
            ),
            click.option("--since", type=iso_date, help="Only documents dated on or after (YYYY-MM-DD)."),
            click.option("--until", type=iso_date, help="Only documents dated on or before (YYYY-MM-DD)."),
        ]
    ):
        command = option(command)
    return command


def _scope(assistant: Assistant, options: dict[str, Any]) -> SearchFilter | None:
    """The scope the options give, or None for the whole index; documents named by path become ids."""
    documents = None
    if options["documents"]:
        found = {key: assistant.snapshot().find_document(key) for key in options["documents"]}
        unknown = [key for key, document in found.items() if document is None]
        if unknown:
            raise click.UsageError(f"no indexed document is {', '.join(unknown)} (see `index info`)")
        documents = [document.doc_id for document in found.values() if document]
    scope = SearchFilter(
        documents=documents,
        collections=list(options["collections"]) or None,
        languages=list(options["languages"]) or None,
        date_from=options["since"].date().isoformat() if options["since"] else None,
        date_to=options["until"].date().isoformat() if options["until"] else None,
    )
    return None if scope == SearchFilter() else scope


def history_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--history FILE: the conversation before the question, read by `_history`."""
    return click.option(
        "--history",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help='Earlier turns: a JSON list of {"role": "user"|"assistant", "content": "..."} messages.',
    )(command)


def _history(path: Path | None) -> list[Message]:
    if path is None:
        return []
    try:
        given = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise click.UsageError(f"cannot read the history {path}: {error}") from None
    return check_history(given)


@main.command()
@click.argument("question")
@click.option("-k", type=click.IntRange(min=1), default=5, show_default=True, help="How many passages.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@scope_options
@history_option
@click.pass_context
def search(ctx: click.Context, question: str, k: int, as_json: bool, history: Path | None, **scope: Any) -> None:
    """Find the passages that best match QUESTION (Arabic or English)."""
    assistant = _assistant(ctx)
    turns = _history(history)
    asked = assistant.follow_up(question, turns)
    if asked.changed and not as_json:
        click.echo(f"searched for: {asked.query}")
    hits = assistant.search(asked, k=k, scope=_scope(assistant, scope))
    if as_json:
        click.echo(json.dumps([hit.model_dump() for hit in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("No passages found.")
    for rank, hit in enumerate(hits, 1):
        pages = "p" + page_span(hit.page_start, hit.page_end)
        ocr = "" if hit.ocr_confidence is None else f", OCR {hit.ocr_confidence:.2f}"
        click.echo(
            f"{rank}. {hit.title[:70]} ({hit.source}, {pages}{ocr}) "
            f"score {hit.score:.4f} dense#{hit.dense_rank} keyword#{hit.keyword_rank}"
        )
        click.echo("   " + " ".join(hit.text.split())[:300])


@main.command()
@click.argument("question")
@click.option("--lang", type=click.Choice(["ar", "en"]), help="Answer language (default: the question's).")
@click.option("--json", "as_json", is_flag=True, help="Print the checked answer as JSON.")
@scope_options
@history_option
@click.pass_context
def ask(ctx: click.Context, question: str, lang: str | None, as_json: bool, history: Path | None, **scope: Any) -> None:
    """Answer QUESTION from the documents, every claim cited and checked."""
    assistant = _assistant(ctx)
    within = _scope(assistant, scope)
    turns = _history(history)
    if as_json:
        answer = assistant.ask(question, lang, within, turns)
        click.echo(json.dumps(answer_json(answer), ensure_ascii=False, indent=2))
        return
    for event in assistant.ask_stream(question, lang, within, turns):
        if isinstance(event, str):
            click.echo(event, nl=False)
            continue
        click.echo("\n\n" + "-" * 40)
        _echo_checked(event)


def answer_json(answer: Answer) -> dict[str, Any]:
    """An answer as `ask --json` prints it: text, verdicts, citations with their quoted words."""
    return {
        "question": answer.question,
        "language": answer.language,
        "answered": answer.answered,
        "searched_for": answer.searched_for,
        "answer": answer.text,
        "model": answer.model,
        "sentences": [sentence.model_dump() for sentence in answer.sentences],
        "citations": [citation.model_dump() for citation in answer.citations],
        "conflicts": [conflict.model_dump() for conflict in answer.conflicts],
        "warnings": answer.warnings,
    }


def _echo_checked(answer: Answer) -> None:
    """The checked answer: each sentence with its verdict, then the words each citation quotes."""
    if answer.searched_for:
        click.echo(f"searched for: {answer.searched_for}")
    if not answer.answered:
        click.echo(answer.text)
        return
    for sentence in answer.sentences:
        label = "" if sentence.verdict in ("supported", "structure") else f"  [{sentence.verdict}: {sentence.reason}]"
        click.echo(sentence.text + label)
    for citation in answer.citations:
        pages = "p" + page_span(citation.page_start, citation.page_end)
        ocr = "" if citation.ocr_confidence is None else f", OCR {citation.ocr_confidence:.2f}"
        click.echo(
            f"[{citation.n}] {citation.title[:60]} ({citation.source}, {pages}{ocr}): "
            f"«{' '.join(citation.quote.split())}»"
        )
    for warning in answer.warnings:
        click.echo(f"! {warning}", err=True)


@main.command()
@click.argument("topic")
@click.option("--lang", type=click.Choice(["ar", "en"]), help="Note language (default: the topic's).")
@click.option(
    "--points", type=click.IntRange(1, 12), default=5, show_default=True, help="Most key points in the outline."
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the note to a .docx or .md file.")
@click.option("--json", "as_json", is_flag=True, help="Print the note as JSON.")
@scope_options
@click.pass_context
def brief(
    ctx: click.Context, topic: str, lang: str | None, points: int, out: Path | None, as_json: bool, **scope: Any
) -> None:
    """Draft a briefing note on TOPIC: outline first, then each part from its own passages."""
    from assistant.briefing import markdown_to_docx, to_markdown

    if out and out.suffix.lower() not in (".docx", ".md"):
        raise click.UsageError("--out must end in .docx or .md")
    assistant = _assistant(ctx)
    with _progress_bar("Writing", "part") as progress:
        note = assistant.brief(topic, lang, points=points, progress=progress, scope=_scope(assistant, scope))
    markdown = to_markdown(note, ctx.obj.prompts_dir)
    if out:
        if out.suffix.lower() == ".docx":
            markdown_to_docx(markdown, out)
        else:
            out.write_text(markdown, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    if as_json:
        click.echo(json.dumps(note.model_dump(), ensure_ascii=False, indent=2))
    elif not out:
        click.echo(markdown)


@main.group()
def llm() -> None:
    """The configured language model (ASSISTANT_LLM)."""


@llm.command("check")
@click.pass_context
def llm_check(ctx: click.Context) -> None:
    """Say which model is configured and whether it answers."""
    result = _assistant(ctx).llm_check()
    click.echo(f"{result['llm']}: {result['description']}")
    click.echo(f"answered in {result['seconds']} s: {result['reply']!r}")


@main.group()
def users() -> None:
    """People who may log in to the app, and their roles (ASSISTANT_DATA_DIR/users.json)."""


def _users(ctx: click.Context) -> UserStore:
    return UserStore(ctx.obj.data_dir / "users.json")


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="official: ask; staff: ask, brief; admin: all.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add a user, or change an existing user's role and password."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    AccessStore.at(ctx.obj.data_dir)  # made before the first new user: the upgrade grants only earlier users
    _users(ctx).add(name, role, password)
    click.echo(f"{name}: {role}")


@users.command("remove")
@click.argument("name")
@click.pass_context
def users_remove(ctx: click.Context, name: str) -> None:
    """Remove a user; they cannot log in any more."""
    # Grants and tokens first: a crash in between must not leave them to a later user of that name.
    AccessStore.at(ctx.obj.data_dir).forget_user(name)
    _tokens(ctx).revoke_user(name)
    _users(ctx).remove(name)
    _audit(ctx, "user_remove", removed=name)
    click.echo(f"removed {name} (and their grants and API tokens)")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """The users and their roles, and any lockout after failed logins."""
    for name, role in _users(ctx).roles().items():
        click.echo(f"{name}\t{role}")
    for kind, key, count in LoginGuard(ctx.obj.data_dir / "logins.db").locked():
        click.echo(f"locked: {kind} {key} after {count} failed attempts (`users unlock`)")


@users.command("unlock")
@click.argument("name", required=False)
@click.option("--address", help="Lift the lockout of a client address instead (or as well).")
@click.pass_context
def users_unlock(ctx: click.Context, name: str | None, address: str | None) -> None:
    """Lift the lockout that failed logins (or bad API tokens) put on a user or a client address."""
    if not name and not address:
        raise click.UsageError("give a user name, --address, or both")
    lifted = LoginGuard(ctx.obj.data_dir / "logins.db").unlock(name, address)
    _audit(ctx, "unlock", unlocked_user=name, unlocked_address=address, lifted=lifted)
    click.echo("unlocked" if lifted else "nothing was locked")


@main.group()
def tokens() -> None:
    """API tokens (the app's /v1 API): each acts as its user, with their role and grants."""


def _tokens(ctx: click.Context) -> TokenStore:
    return TokenStore(ctx.obj.data_dir / "tokens.json")


@tokens.command("create")
@click.argument("user")
@click.option("--label", default="", help="What the token is for, shown in `tokens list`.")
@click.pass_context
def tokens_create(ctx: click.Context, user: str, label: str) -> None:
    """Make a token for USER; it is printed once and stored only as a hash."""
    if user not in _users(ctx).roles():
        raise click.UsageError(f"there is no user {user!r} (see `users list`)")
    token_id, token = _tokens(ctx).create(user, label)
    _audit(ctx, "token_create", token_id=token_id, for_user=user, label=label)
    click.echo(token)
    click.echo(f"(token {token_id} for {user}; keep it now, it cannot be shown again)", err=True)


@tokens.command("revoke")
@click.argument("token_id")
@click.pass_context
def tokens_revoke(ctx: click.Context, token_id: str) -> None:
    _tokens(ctx).revoke(token_id)
    _audit(ctx, "token_revoke", token_id=token_id)
    click.echo(f"revoked {token_id}")


@tokens.command("list")
@click.pass_context
def tokens_list(ctx: click.Context) -> None:
    for token_id, record in _tokens(ctx).listing().items():
        state = f"revoked {record['revoked']}" if record["revoked"] else "live"
        click.echo(f"{token_id}\t{record['user']}\t{state}\tcreated {record['created']}\t{record['label']}")


@main.group()
def collections() -> None:
    """Named collections of documents; users read only those they are granted (`access`)."""


@collections.command("list")
@click.pass_context
def collections_list(ctx: click.Context) -> None:
    """Each collection, its number of documents, and who may read it."""
    assistant = _assistant(ctx)
    readers = assistant.access.collections()
    for name, size in assistant.collection_sizes().items():
        who = [*readers[name]["users"], *(f"group:{g}" for g in readers[name]["groups"])]
        click.echo(f"{name}\t{size} documents\treaders: {', '.join(who) or 'none'}")


@collections.command("create")
@click.argument("name")
@click.pass_context
def collections_create(ctx: click.Context, name: str) -> None:
    """Create an empty collection that no one may read yet."""
    _assistant(ctx).create_collection(name, actor=_actor("collections create"))
    _audit(ctx, "collection_create", collection=name)
    click.echo(f"created {name}")


@collections.command("rename")
@click.argument("old")
@click.argument("new")
@click.pass_context
def collections_rename(ctx: click.Context, old: str, new: str) -> None:
    """Rename a collection; its documents and grants go with it."""
    count = _assistant(ctx).rename_collection(old, new, actor=_actor("collections rename"))
    _audit(ctx, "collection_rename", collection=old, to=new, documents=count)
    click.echo(f"renamed {old} to {new} ({count} documents)")


@collections.command("delete")
@click.argument("name")
@click.option("--remove-documents", is_flag=True, help="Also remove the documents that are in no other collection.")
@click.pass_context
def collections_delete(ctx: click.Context, name: str, remove_documents: bool) -> None:
    """Delete a collection and every grant to it."""
    count = _assistant(ctx).delete_collection(name, remove_documents, actor=_actor("collections delete"))
    _audit(ctx, "collection_delete", collection=name, documents=count)
    click.echo(f"deleted {name} ({count} documents left it)")


@main.group()
def access() -> None:
    """Who may read which collection: grants to users and groups (ASSISTANT_DATA_DIR/access.json)."""


def _grantee(user: str | None, group: str | None) -> dict[str, str | None]:
    if (user is None) == (group is None):
        raise click.UsageError("give one of --user or --group")
    return {"user": user, "group": group}


@access.command("grant")
@click.argument("collection")
@click.option("--user")
@click.option("--group")
@click.pass_context
def access_grant(ctx: click.Context, collection: str, user: str | None, group: str | None) -> None:
    """Let a user or a group read COLLECTION."""
    if user is not None and user not in _users(ctx).roles():
        raise click.UsageError(f"there is no user {user!r} (see `users list`)")
    AccessStore.at(ctx.obj.data_dir).grant(collection, **_grantee(user, group))
    _audit(ctx, "access_grant", collection=collection, to_user=user, to_group=group)
    click.echo(f"{user or 'group ' + str(group)} may read {collection}")


@access.command("revoke")
@click.argument("collection")
@click.option("--user")
@click.option("--group")
@click.pass_context
def access_revoke(ctx: click.Context, collection: str, user: str | None, group: str | None) -> None:
    """Take back a grant."""
    AccessStore.at(ctx.obj.data_dir).revoke(collection, **_grantee(user, group))
    _audit(ctx, "access_revoke", collection=collection, from_user=user, from_group=group)
    click.echo(f"{user or 'group ' + str(group)} may no longer read {collection}")


@access.command("show")
@click.argument("user")
@click.pass_context
def access_show(ctx: click.Context, user: str) -> None:
    """The collections USER may read."""
    role = _users(ctx).roles().get(user)
    readable = AccessStore.at(ctx.obj.data_dir).readable(user, role)
    click.echo("every collection (admin)" if readable is None else ", ".join(sorted(readable)) or "nothing")


@main.group()
def groups() -> None:
    """Groups of users, to grant a collection to many at once."""


@groups.command("create")
@click.argument("name")
@click.pass_context
def groups_create(ctx: click.Context, name: str) -> None:
    AccessStore.at(ctx.obj.data_dir).create_group(name)
    _audit(ctx, "group_create", group=name)
    click.echo(f"created group {name}")


@groups.command("delete")
@click.argument("name")
@click.pass_context
def groups_delete(ctx: click.Context, name: str) -> None:
    """Delete a group and its grants."""
    AccessStore.at(ctx.obj.data_dir).delete_group(name)
    _audit(ctx, "group_delete", group=name)
    click.echo(f"deleted group {name}")


@groups.command("add")
@click.argument("group")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def groups_add(ctx: click.Context, group: str, names: tuple[str, ...]) -> None:
    """Put users into GROUP."""
    known = _users(ctx).roles()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise click.UsageError(f"there is no user {', '.join(unknown)} (see `users list`)")
    store = AccessStore.at(ctx.obj.data_dir)
    for name in names:
        store.set_membership(group, name, member=True)
    _audit(ctx, "group_add", group=group, users=list(names))
    click.echo(f"{group}: {', '.join(store.groups()[group])}")


@groups.command("remove")
@click.argument("group")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def groups_remove(ctx: click.Context, group: str, names: tuple[str, ...]) -> None:
    """Take users out of GROUP."""
    store = AccessStore.at(ctx.obj.data_dir)
    for name in names:
        store.set_membership(group, name, member=False)
    _audit(ctx, "group_remove", group=group, users=list(names))
    click.echo(f"{group}: {', '.join(store.groups()[group]) or 'no members'}")


@groups.command("list")
@click.pass_context
def groups_list(ctx: click.Context) -> None:
    for name, members in AccessStore.at(ctx.obj.data_dir).groups().items():
        click.echo(f"{name}\t{', '.join(members) or 'no members'}")


@main.command("eval")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--questions-from",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take question texts from this parallel SQuAD file (same question ids).",
)
@click.option(
    "--distractors", type=click.IntRange(min=0), default=0, show_default=True, help="Add this many news articles."
)
@click.option(
    "--distractors-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSONL news corpus for --distractors (default: found beside the dataset).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N questions.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Draw a chart (PNG).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.pass_context
def evaluate(
    ctx: click.Context,
    dataset: Path,
    questions_from: Path | None,
    distractors: int,
    distractors_file: Path | None,
    limit: int | None,
    plot_path: Path | None,
    as_json: bool,
) -> None:
    """Recall@1/5/10, MRR@10 and nDCG@10 of hybrid, dense, keyword and plain-LangChain retrieval.

    DATASET is a SQuAD-format .json (its contexts are indexed into a cached evaluation index)
    or a .jsonl question file like seeds-dev-qa.jsonl (asked of the index in ASSISTANT_INDEX_DIR).
    """  # fmt: skip
    from assistant.evaluation import format_table, plot, run_evaluation

    try:
        with _progress_bar("Evaluating", "step") as progress:
            report = run_evaluation(ctx.obj, dataset, questions_from, distractors, distractors_file, limit, progress)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if plot_path:
        plot(report, plot_path)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    counts = report["counts"]
    click.echo(
        f"{report['dataset']}" + (f" (questions from {report['questions_from']})" if report["questions_from"] else "")
        + f": {counts['answerable']} answerable questions, {counts['documents']} documents "
        f"({counts['distractors']} distractors), {counts['chunks']} chunks, {report['seconds']} s"
    )  # fmt: skip
    click.echo(format_table(report))
    tops = report["unanswerable"]
    if tops["questions"]:
        click.echo(
            f"top dense score, answerable {tops['answerable_top_dense_score']}, "
            f"unanswerable {tops['unanswerable_top_dense_score']}"
        )
