"""JSON files only their owner may read (users, grants, API tokens): written whole and atomically,
and changed under an exclusive lock so that the app and the CLI never lose each other's changes."""

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_private_json(path: Path, data: Any) -> None:
    """Replace path with data as JSON: mode 0600 from the moment it exists, never half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(data, file, ensure_ascii=False, indent=2)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of path (a `.lock` file beside it, shared by every process)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
