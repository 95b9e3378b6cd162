"""Command line: python -m assistant index add|info|remove, search."""

import json
import sys
from typing import Any

import click
from tqdm import tqdm

from assistant.errors import AssistantError
from assistant.service import Assistant
from assistant.settings import Settings


class _FriendlyErrors(click.Group):
    """Show our errors as one clear line and exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssistantError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted; the index is unchanged.", err=True)
            sys.exit(130)


@click.group(cls=_FriendlyErrors)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Bilingual (Arabic/English) briefing assistant. The index lives in ASSISTANT_INDEX_DIR."""
    ctx.obj = Settings()


def _assistant(ctx: click.Context) -> Assistant:
    return Assistant(ctx.obj)


@main.group()
def index() -> None:
    """Build and inspect the index."""


@index.command("add")
@click.argument("paths", nargs=-1, required=True)
@click.option("--prune", is_flag=True, help="Remove documents whose files no longer exist.")
@click.pass_context
def index_add(ctx: click.Context, paths: tuple[str, ...], prune: bool) -> None:
    """Index files and folders (recursively): new files added, changed ones replaced."""
    assistant = _assistant(ctx)
    with tqdm(desc="Indexing", unit="file", file=sys.stderr, disable=None) as bar:

        def progress(done: int, total: int, path: str) -> None:
            bar.total = total
            bar.set_postfix_str(path[-40:], refresh=False)
            bar.update(done - bar.n)

        report = assistant.ingest(paths, prune=prune, progress=progress)
    for label, items in [
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("removed", report.removed),
    ]:
        click.echo(f"{label:>9}: {len(items)}")
    click.echo(f"{'failed':>9}: {len(report.failed)}")
    for failure in report.failed:
        click.echo(f"  - {failure.source}: {failure.reason}")
    for warning in report.warnings:
        click.echo(f"  ! {warning}")


@index.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def index_info(ctx: click.Context, as_json: bool) -> None:
    """Documents, chunks, manifest and the failures of the last update."""
    info = _assistant(ctx).info()
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    manifest = info["manifest"]
    click.echo(f"Index {info['index_dir']} (generation {info['generation']})")
    click.echo(f"  {manifest['documents']} documents, {manifest['chunks']} chunks, built {manifest['built_at']}")
    click.echo(
        f"  embedder {manifest['embedder']} ({manifest['embedder_model']}, {manifest['dimension']} dims), "
        f"normalisation {manifest['normalization_version']}, "
        f"chunks {manifest['chunk_size']}/{manifest['chunk_overlap']} chars"
    )
    for doc in info["documents"]:
        click.echo(
            f"  {doc['doc_id']}  {doc['format']:4} {doc['language']:5} p{doc['pages']:<3} "
            f"c{doc['chunks']:<4} q{doc['quality']:.2f}  {doc['source']}  «{doc['title'][:60]}»"
        )
        for note in doc["page_notes"]:
            click.echo(f"      {note}")
    if manifest["last_failures"]:
        click.echo("  failures of the last update:")
        for failure in manifest["last_failures"]:
            click.echo(f"    - {failure['source']}: {failure['reason']}")


@index.command("remove")
@click.argument("doc_id_or_path")
@click.pass_context
def index_remove(ctx: click.Context, doc_id_or_path: str) -> None:
    """Remove one document by its id or the path it was added with."""
    source = _assistant(ctx).remove(doc_id_or_path)
    click.echo(f"removed: {source}")


@main.command()
@click.argument("question")
@click.option("-k", default=5, show_default=True, help="How many passages.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@click.pass_context
def search(ctx: click.Context, question: str, k: int, as_json: bool) -> None:
    """Find the passages that best match QUESTION (Arabic or English)."""
    hits = _assistant(ctx).search(question, k=k)
    if as_json:
        click.echo(json.dumps([hit.model_dump() for hit in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("No passages found.")
    for rank, hit in enumerate(hits, 1):
        pages = f"p{hit.page_start}" + (f"-{hit.page_end}" if hit.page_end != hit.page_start else "")
        click.echo(
            f"{rank}. {hit.title[:70]} ({hit.source}, {pages}) "
            f"score {hit.score:.4f} dense#{hit.dense_rank} keyword#{hit.keyword_rank}"
        )
        click.echo("   " + " ".join(hit.text.split())[:300])
