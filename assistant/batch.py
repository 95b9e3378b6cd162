"""What one ingest finds on disk: the files under its paths, and what they change about where
each indexed document is (added, updated, moved, copied, gone)."""

import os
from collections.abc import Iterable
from pathlib import Path

from assistant.index import Snapshot
from assistant.index.snapshot import source_path
from assistant.loaders import SUFFIXES
from assistant.types import FileFailure, IngestReport, SourceDocument


class Batch:
    """The paths one ingest found, and what they change about where each document is."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        # What the index held before the batch, looked up per path and per content as the batch
        # meets them, so that a batch costs what it touches, not the size of the collection.
        self.before: dict[str, str | None] = {}  # path -> id of the content indexed there
        self.known: dict[str, bool] = {}  # content id -> whether it was indexed
        # Locations stored relative by an earlier version, by the path they resolve to here.
        self._relative = {
            resolved_location(path): d.doc_id
            for d in snapshot.store.documents_at_relative_paths()
            for path in d.locations
            if not os.path.isabs(path)
        }
        self.seen: dict[str, str] = {}  # path -> id of the content found there, in batch order
        self._scheduled: set[str] = set()

    def arrive(self, path: str) -> None:
        """Note what the index held at path, before the batch changes anything there."""
        self.before.setdefault(path, self.snapshot.store.document_at(path) or self._relative.get(path))

    def needs_indexing(self, doc_id: str) -> bool:
        """Whether this content is not in the index yet (neither before the batch nor earlier in it)."""
        present = self.snapshot.document(doc_id) is not None or doc_id in self._scheduled
        self.known.setdefault(doc_id, present)
        return not present

    def schedule(self, doc_id: str) -> None:
        """Note content read and on its way into the index (embedded ahead, added later)."""
        self._scheduled.add(doc_id)

    def found(self, path: str, doc_id: str) -> None:
        self.seen[path] = doc_id

    def collections_before(self, path: str) -> list[str] | None:
        """The collections of the content indexed at path before the batch, if any."""
        doc_id = self.before.get(path)
        document = self.snapshot.document(doc_id) if doc_id else None
        return document.collections if document else None

    def file_under(self, collections: list[str], report: IngestReport) -> None:
        """Put every document the batch found into collections too (new ones are there already)."""
        for doc_id in dict.fromkeys(self.seen.values()):
            document = self.snapshot.document(doc_id)
            if document is not None and not set(collections) <= set(document.collections):
                self.snapshot.refile(doc_id, list(dict.fromkeys([*document.collections, *collections])))
                report.warnings.append(f"{document.source}: now also in {', '.join(collections)}")

    def _affected(self, found_at: dict[str, list[str]], prune: bool) -> list[SourceDocument]:
        """The documents whose locations this batch may change: all of them when pruning."""
        if prune:
            return self.snapshot.documents()
        ids = dict.fromkeys([*found_at, *(doc_id for doc_id in self.before.values() if doc_id)])
        return [d for d in map(self.snapshot.document, ids) if d is not None]

    def settle(self, report: IngestReport, prune: bool) -> None:
        """Give every document its locations now, remove those left with none, report each path."""
        found_at: dict[str, list[str]] = {}
        for path, doc_id in self.seen.items():
            found_at.setdefault(doc_id, []).append(path)
        dropped: dict[str, list[str]] = {}
        for document in self._affected(found_at, prune):
            before = [resolved_location(p) for p in document.locations]
            here = found_at.get(document.doc_id, [])
            kept = [p for p in before if self._still_there(p, document.doc_id, prune or bool(here), report)]
            locations = list(dict.fromkeys(kept + here))
            dropped[document.doc_id] = [p for p in before if p not in locations]
            if not locations:
                self.snapshot.remove(document.doc_id)
                if not any(p in self.seen for p in before):  # else its path now holds new content: updated
                    report.removed.append(document.source)
            elif locations != document.locations:
                self.snapshot.relocate(document.doc_id, locations)
                gone = [p for p in dropped[document.doc_id] if p not in self.seen and not here]
                report.warnings.extend(f"{p}: gone; the same content stays indexed at {locations[0]}" for p in gone)
        first_path: dict[str, str] = {}
        for path, doc_id in self.seen.items():
            previous = self.before.get(path)
            if previous == doc_id:
                report.unchanged.append(path)
            elif previous is not None:
                report.updated.append(path)
            elif not self.known.get(doc_id) and doc_id not in first_path:
                report.added.append(path)
            elif self.known.get(doc_id) and dropped.get(doc_id):
                report.moved.append(path)
                report.warnings.append(f"{path}: moved from {', '.join(dropped.pop(doc_id))}")
            else:
                report.unchanged.append(path)
                stored = self.snapshot.document(doc_id)
                copy_of = first_path.get(doc_id) or (stored.source if stored else path)
                report.warnings.append(f"{path}: same content as {copy_of}; not indexed twice")
            first_path.setdefault(doc_id, path)

    def _still_there(self, path: str, doc_id: str, check_disk: bool, report: IngestReport) -> bool:
        """Whether a document is still found at path: not overwritten in this batch, and not gone."""
        if path in self.seen:
            return self.seen[path] == doc_id
        if not check_disk or os.path.exists(path):
            return True
        if not os.path.isabs(path):
            report.warnings.append(
                f"{path}: stored as a relative path by an earlier version, so whether it is gone cannot be "
                "told from here; add it again from its folder, or remove it with `index remove`"
            )
            return True
        return False


def resolved_location(path: str) -> str:
    """A location as stored now: a relative one from an earlier version is resolved if it exists here."""
    return source_path(path) if not os.path.isabs(path) and os.path.exists(path) else path


def expand(paths: Iterable[str | Path], report: IngestReport) -> list[Path]:
    """Files under each path, recursively, in a stable order; hidden files are skipped."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path)))
            for file in found:
                if file.suffix.lower() in SUFFIXES:
                    files.append(file)
                else:
                    report.failed.append(
                        FileFailure(source=source_path(file), reason=f"unsupported file type '{file.suffix}'")
                    )
        elif path.is_file():
            files.append(path)
        else:
            report.failed.append(FileFailure(source=source_path(path), reason="no such file or folder"))
    return list(dict.fromkeys(files))


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
