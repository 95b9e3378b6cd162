"""Kill a real `index add` process at different moments: the previous index stays usable."""

import os
import signal
import subprocess
import sys
import time

import pytest

from assistant.service import Assistant

pytestmark = pytest.mark.slow


def start_indexing(folder, settings):
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(settings.index_dir),
        "ASSISTANT_EMBEDDER": "fake",
        "ASSISTANT_CHUNK_SIZE": str(settings.chunk_size),
        "ASSISTANT_CHUNK_OVERLAP": str(settings.chunk_overlap),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "index", "add", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lock_is_held(lock_file):
    """Whether some process holds a lock on lock_file, read from /proc/locks without taking it.

    Trying the lock ourselves would race the child: it takes the lock without waiting and
    would give up if we happened to hold it at that moment.
    """
    if not lock_file.exists():
        return False
    inode = lock_file.stat().st_ino
    with open("/proc/locks") as locks:
        return any(field.endswith(f":{inode}") for line in locks for field in line.split())


def wait_until_writing(index_dir, process, timeout=30):
    """Return once the child holds the index's write lock, i.e. has started changing it."""
    deadline = time.monotonic() + timeout
    while True:
        if lock_is_held(index_dir / "write.lock"):
            return
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.fixture
def big_batch(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(500):
        (folder / f"article-{i:03}.txt").write_text(
            f"المقال رقم {i} عن اجتماع التحالف الدولي في الكويت. " * 40, encoding="utf-8"
        )
    return folder


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.6, 1.0, 1.5])
def test_sigkill_mid_run_leaves_the_previous_index_usable(settings, corpus, big_batch, delay):
    index_dir = settings.index_dir
    Assistant(settings).ingest([corpus])
    process = start_indexing(big_batch, settings)
    wait_until_writing(index_dir, process)
    time.sleep(delay)
    process.kill()
    process.wait()

    documents = Assistant(settings).snapshot().manifest.documents
    assert documents in {3, 503}  # the old index, or the new one if the switch had happened
    assert Assistant(settings).search("نهائي كأس تونس", k=1)[0].source.endswith("football.md")

    report = Assistant(settings).ingest([corpus, big_batch])  # the next run completes the work
    assert not report.failed
    assert Assistant(settings).snapshot().manifest.documents == 503


def test_ctrl_c_says_the_index_is_unchanged(settings, corpus, big_batch):
    Assistant(settings).ingest([corpus])
    process = start_indexing(big_batch, settings)
    wait_until_writing(settings.index_dir, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    if process.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert process.returncode == 130
    assert "Interrupted; the index is unchanged." in stderr
    assert "Traceback" not in stderr
    assert Assistant(settings).snapshot().manifest.documents == 3
