"""The index directory: generations switched atomically, one writer at a time.

    INDEX_DIR/CURRENT             name of the live generation (replaced atomically)
    INDEX_DIR/generations/g-...   complete generations, each a Snapshot on disk
    INDEX_DIR/write.lock          held by the one process changing the index

A writer copies the live generation into memory, changes it, writes a new generation beside
it, and only then replaces CURRENT, in one rename. A crash or Ctrl-C before that rename
leaves the previous generation live and untouched; the half-written directory is removed by
the next writer. Readers never take the lock, so searches keep working during a reindex.
The writer says who it is in write.lock.owner, so that one kept waiting can be told.
"""

import getpass
import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from assistant.errors import IndexBusyError, NotFoundError
from assistant.index.snapshot import Snapshot


class IndexStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._generations = self.directory / "generations"
        self._pointer = self.directory / "CURRENT"
        self._owner = self.directory / "write.lock.owner"
        # Kept outside the generations: they describe the index, whichever generation is live.
        self.golden_path = self.directory / "golden.jsonl"
        self.evaluation_path = self.directory / "last_evaluation.json"

    def exists(self) -> bool:
        return self._pointer.exists()

    def live_generation(self) -> str | None:
        try:
            return self._pointer.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def load(self) -> Snapshot:
        """The live generation, read once: CURRENT names it, and that generation is loaded.

        Retried if a writer removes the named generation before it is read (only generations
        older than the previous one are removed, so this takes two switches in between).
        """
        for _ in range(3):
            name = self.live_generation()
            if name is None:
                raise NotFoundError(
                    f"there is no index at {self.directory}; create one with `python -m assistant index add PATH...`"
                )
            try:
                return Snapshot.load(self._generations / name, generation=name)
            except FileNotFoundError:
                time.sleep(0.1)
        raise NotFoundError(f"the index at {self.directory} changed while it was being read; try again")

    @contextmanager
    def writing(self, wait_seconds: float = 0, actor: str | None = None) -> Iterator[None]:
        """Hold the write lock, waiting up to wait_seconds for another writer to finish."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.directory / "write.lock")
        try:
            lock.acquire(timeout=wait_seconds)
        except Timeout:
            raise IndexBusyError(
                f"another process is updating the index at {self.directory} ({self._owner_description()}); "
                f"waited {wait_seconds:g} s. Try again when it has finished."
            ) from None
        try:
            self._owner.write_text(json.dumps(_owner_record(actor)), encoding="utf-8")
            self._remove_unfinished()
            yield
        finally:
            self._owner.unlink(missing_ok=True)
            lock.release()

    def _owner_description(self) -> str:
        try:
            owner = json.loads(self._owner.read_text(encoding="utf-8"))
            return f"{owner['actor']}, pid {owner['pid']} on {owner['host']}, since {owner['since']}"
        except (OSError, ValueError, KeyError):
            return "holder unknown"

    def commit(self, snapshot: Snapshot) -> str:
        """Write snapshot as a new generation and make it live in one atomic step."""
        previous = self.live_generation()
        name = f"g-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        unfinished = self._generations / f".unfinished-{name}"
        snapshot.save(unfinished)
        _fsync_tree(unfinished)
        os.rename(unfinished, self._generations / name)
        pointer_tmp = self.directory / f".CURRENT-{name}"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        _fsync_file(pointer_tmp)
        os.replace(pointer_tmp, self._pointer)  # the switch
        _fsync_dir(self.directory)
        snapshot.generation = name
        # The previous generation stays for readers that opened it just before the switch.
        self._remove_generations_except({name, previous})
        return name

    def write_beside(self, path: Path, text: str) -> None:
        """Replace a small file of the index directory atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        _fsync_file(partial)
        os.replace(partial, path)

    def _remove_unfinished(self) -> None:
        for leftover in self._generations.glob(".unfinished-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in self.directory.glob(".CURRENT-*"):
            leftover.unlink(missing_ok=True)

    def _remove_generations_except(self, keep: set[str | None]) -> None:
        for generation in self._generations.glob("g-*"):
            if generation.name not in keep:
                shutil.rmtree(generation, ignore_errors=True)


def _owner_record(actor: str | None) -> dict[str, object]:
    return {
        "actor": actor or f"{getpass.getuser()} running `{' '.join(sys.argv)[:120]}`",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def _fsync_file(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            _fsync_file(path)
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        _fsync_dir(directory)
