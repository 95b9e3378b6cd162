"""The llamacpp backend's supervisor: a child model server that dies costs one answer, not the app.

Most tests supervise a tiny fake OpenAI-compatible server (the standard library's http.server),
which can be told to die; the last one kills the real llama.cpp server mid-answer.
"""

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.embeddings import build_embedder
from assistant.llm import LlmConfigError, build_chat_model
from assistant.llm_server import ModelCrashedError, ModelServer, ModelServerError, SupervisedChatModel
from assistant.settings import TEST_MODELS_DIR, Settings

GGUF = TEST_MODELS_DIR / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

# Replies "pid N" (its own pid), in two SSE chunks when asked to stream. A prompt containing
# "crash" makes it die by SIGSEGV: after its first chunk when streaming, before replying otherwise.
FAKE_SERVER = r"""
import argparse, json, os, resource, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--host"); parser.add_argument("--port", type=int)
parser.add_argument("--fail-start", action="store_true"); parser.add_argument("--slow-start", type=float, default=0)
args = parser.parse_args()
with open(os.path.join(os.path.dirname(__file__), "pids"), "a") as pids:
    pids.write(f"{os.getpid()}\n")
if args.fail_start:
    sys.exit("error: cannot load model: the file is not a GGUF")
time.sleep(args.slow_start)

def crash():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # To this thread: a signal sent to the process may land on another, and this one reply first.
    signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)

def chunk(delta, finish=None):
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "fake", "choices": [choice]}
    return f"data: {json.dumps(body)}\n\n".encode()

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, body, content_type="application/json"):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        self.send(json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        dies = "crash" in json.dumps(request["messages"])
        if not request.get("stream"):
            if dies:
                crash()
            message = {"role": "assistant", "content": f"pid {os.getpid()}"}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
            body = {"id": "c", "object": "chat.completion", "created": 0, "model": "fake",
                    "choices": [choice], "usage": usage}
            self.send(json.dumps(body).encode())
            return
        self.send(chunk({"role": "assistant", "content": "pid "}), "text/event-stream")
        if dies:
            time.sleep(0.1)
            crash()
        self.wfile.write(chunk({"content": str(os.getpid())}) + chunk({}, "stop") + b"data: [DONE]\n\n")

ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()
"""


@pytest.fixture
def fake_command(tmp_path) -> list[str]:
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER, encoding="utf-8")
    return [sys.executable, str(script)]


@pytest.fixture
def server(fake_command, tmp_path):
    supervisor = ModelServer(fake_command, log_path=tmp_path / "logs" / "server.log", startup_timeout=20)
    yield supervisor
    supervisor.close()


def chat(server: ModelServer) -> SupervisedChatModel:
    return SupervisedChatModel(server=server, model_name="fake", max_tokens=16, timeout=10)


def started_pids(tmp_path) -> list[int]:
    return [int(line) for line in (tmp_path / "pids").read_text().split()]


def reply_pid(text: str) -> int:
    assert text.startswith("pid ")
    return int(text.removeprefix("pid "))


def test_the_server_starts_on_first_use_not_before(server, tmp_path):
    model = chat(server)
    assert server.child is None
    assert not (tmp_path / "pids").exists()
    pid = reply_pid(str(model.invoke("hello").content))
    assert server.child is not None
    assert pid == server.child.process.pid == started_pids(tmp_path)[0]
    assert server.child.url.startswith("http://127.0.0.1:")
    # Streaming uses the same child.
    assert reply_pid("".join(str(c.content) for c in model.stream("hello"))) == pid


def test_a_child_that_dies_mid_stream_costs_one_answer_and_is_restarted(server, tmp_path):
    model = chat(server)
    first = reply_pid(str(model.invoke("hello").content))
    pieces: list[str] = []
    with pytest.raises(ModelCrashedError) as crashed:
        pieces.extend(str(chunk.content) for chunk in model.stream("crash now"))
    assert pieces == ["pid "]  # the answer had begun
    message = str(crashed.value)
    assert "\n" not in message
    assert "stopped while answering (exit code -11, SIGSEGV)" in message
    assert "ask again" in message
    second = reply_pid("".join(str(c.content) for c in model.stream("hello again")))
    assert second != first
    assert started_pids(tmp_path) == [first, second]


def test_a_child_that_dies_before_replying_to_invoke_is_reported_the_same_way(server):
    model = chat(server)
    first = reply_pid(str(model.invoke("hello").content))
    with pytest.raises(ModelCrashedError, match="SIGSEGV"):
        model.invoke("crash now")
    assert reply_pid(str(model.invoke("hello").content)) != first


def test_a_child_that_dies_while_starting_gives_its_last_words(fake_command, tmp_path):
    server = ModelServer([*fake_command, "--fail-start"], log_path=tmp_path / "server.log")
    with pytest.raises(ModelServerError) as failed:
        chat(server).invoke("hello")
    message = str(failed.value)
    assert "exited while starting (exit code 1)" in message
    assert "cannot load model: the file is not a GGUF" in message
    assert str(tmp_path / "server.log") in message


def test_a_child_that_never_answers_is_stopped_after_the_startup_timeout(fake_command, tmp_path):
    server = ModelServer([*fake_command, "--slow-start", "30"], log_path=tmp_path / "server.log", startup_timeout=1)
    with pytest.raises(ModelServerError, match="did not start within 1 s"):
        server.running()
    (pid,) = started_pids(tmp_path)
    assert not Path(f"/proc/{pid}").exists()


def test_closing_the_supervisor_terminates_the_child(server):
    process = server.running().process
    assert process.poll() is None
    server.close()
    assert process.poll() is not None
    assert server.child is None


def test_concurrent_calls_after_a_crash_start_one_new_child(server, tmp_path):
    model = chat(server)
    first = reply_pid(str(model.invoke("hello").content))
    with pytest.raises(ModelCrashedError):
        model.invoke("crash now")
    replies: list[str] = []
    barrier = threading.Barrier(6)

    def ask() -> None:
        barrier.wait()
        replies.append(str(model.invoke("hello").content))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(replies) == 6
    assert len({reply_pid(r) for r in replies}) == 1
    assert len(started_pids(tmp_path)) == 2
    assert reply_pid(replies[0]) != first


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_dies_with_a_killed_app_even_if_started_from_a_finished_thread(fake_command, tmp_path):
    # Gradio's worker threads end when idle; the child must outlive the thread, not the app.
    app = f"""
import sys, threading, time
from pathlib import Path
from assistant.llm_server import ModelServer
server = ModelServer({fake_command!r}, log_path=Path({str(tmp_path / "server.log")!r}))
worker = threading.Thread(target=server.running)
worker.start()
worker.join()
print(server.child.process.pid, flush=True)
time.sleep(60)
"""
    process = subprocess.Popen([sys.executable, "-c", app], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(process.stdout.readline())
        time.sleep(0.5)
        assert Path(f"/proc/{pid}").exists(), "the child died with the thread that started it"
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)
    finally:
        process.kill()
        process.wait()


def _alive(pid: int) -> bool:
    """Whether pid runs (a zombie waiting for init to reap it counts as dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_missing_server_package_is_one_line_that_says_how_to_install_it(tmp_path, monkeypatch):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "uvicorn" else found(name))
    settings = Settings(index_dir=tmp_path / "index", embedder="fake", llm="llamacpp", llm_model_path=gguf)
    with pytest.raises(LlmConfigError) as missing:
        build_chat_model(settings, build_embedder(settings))
    assert "\n" not in str(missing.value)
    assert "bash scripts/install-llama-cpp.sh" in str(missing.value)


# -- the real llama.cpp server ------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.slow
def test_killing_the_real_model_server_mid_answer_is_reported_and_the_next_question_answered(tmp_path):
    if not GGUF.is_file():
        pytest.skip(f"no test LLM at {GGUF}: run ../shared/tools/get-test-models.sh --llm")
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: bash scripts/install-llama-cpp.sh")
    settings = Settings(
        index_dir=tmp_path / "index",
        data_dir=tmp_path / "data",
        embedder="fake",
        llm="llamacpp",
        llm_model_path=GGUF,
        llm_context=2048,
        llm_max_tokens=200,
    )
    model = build_chat_model(settings, build_embedder(settings))
    assert isinstance(model, SupervisedChatModel)
    try:
        stream = model.stream("Count from 1 to 100, separated by commas.")
        next(stream)  # the answer has begun
        pid = model.server.running().process.pid
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ModelCrashedError, match=r"exit code -9, SIGKILL\); it is restarted"):
            list(stream)
        reply = model.invoke("Reply with the single word OK.")
        assert str(reply.content).strip()
        assert model.server.running().process.pid != pid
        assert (settings.data_dir / "llm-server.log").read_text().count("starting:") == 2
    finally:
        model.server.close()
