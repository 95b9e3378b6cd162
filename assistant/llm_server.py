"""The llamacpp backend: llama.cpp's OpenAI-compatible server in a child process, supervised.

Native code that crashes (llama.cpp built with AMX segfaults in llama_decode on some CPUs)
then costs the answer it was writing, not the app: the error says so, and the next request
starts a new server.
"""

import atexit
import ctypes
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import ConfigDict, PrivateAttr, SecretStr

from assistant.errors import AssistantError

_PR_SET_PDEATHSIG = 1


class ModelServerError(AssistantError):
    """The local model server could not be started or did not answer."""


class ModelCrashedError(ModelServerError):
    """The local model server died while it was answering."""


@dataclass(frozen=True)
class Child:
    """One running server process and the base URL of its API."""

    process: subprocess.Popen[bytes]
    url: str


class ModelServer:
    """Starts a model server on first use, on a free loopback port, and again after it has died.

    `command` is everything but `--host 127.0.0.1 --port N`, which are appended. The child's
    output goes to `log_path` (emptied when this supervisor first starts one, so it holds every
    start and crash of this run); its last lines explain a failed start.
    """

    def __init__(self, command: Sequence[str], log_path: Path, startup_timeout: float = 120.0) -> None:
        self.command = list(command)
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.child: Child | None = None
        self._lock = threading.Lock()
        self._log_started = False
        # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, and Gradio's worker
        # threads end when idle; children are therefore forked from this one long-lived thread.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-server")

    def running(self) -> Child:
        """The running child; one is started if there is none or the last one has exited."""
        with self._lock:
            if self.child is None or self.child.process.poll() is not None:
                self.child = self._start()
            return self.child

    def exit_code(self, child: Child, wait: float = 2.0) -> int | None:
        """The child's exit code if it has exited or does within `wait` seconds, else None."""
        # Its socket closes as it dies, a moment before it can be reaped: hence the wait.
        try:
            return child.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        """Stop the child, if any; the next use starts a new one."""
        with self._lock:
            if self.child is not None:
                _stop(self.child.process)
                self.child = None
            atexit.unregister(self.close)

    def _start(self) -> Child:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [*self.command, "--host", "127.0.0.1", "--port", str(port)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab" if self._log_started else "wb") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(command)}\n".encode())
            log.flush()
            offset = log.tell()
            process = self._spawner.submit(
                subprocess.Popen,
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent() if sys.platform == "linux" else None,
            ).result()
        self._log_started = True
        atexit.register(self.close)
        child = Child(process=process, url=f"http://127.0.0.1:{port}/v1")
        deadline = time.monotonic() + self.startup_timeout
        while not _answers(f"{child.url}/models"):
            if (code := process.poll()) is not None:
                raise ModelServerError(
                    f"The local model server exited while starting ({_exit_status(code)}). "
                    f"The end of its log {self.log_path}:\n{self._log_tail(offset)}"
                )
            if time.monotonic() > deadline:
                _stop(process)
                raise ModelServerError(
                    f"The local model server did not start within {self.startup_timeout:.0f} s; "
                    f"see its log {self.log_path}:\n{self._log_tail(offset)}"
                )
            time.sleep(0.2)
        return child

    def _log_tail(self, offset: int, lines: int = 8) -> str:
        """The last lines the child wrote since `offset`."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])


def _die_with_parent() -> Any:
    """A preexec_fn that has the kernel kill the child when its parent dies (Linux), even by SIGKILL."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child must not load libraries
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if only to refuse a request without its API key
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exit_status(code: int) -> str:
    """'exit code 1', or 'exit code -11, SIGSEGV' for a child killed by a signal."""
    if code < 0:
        try:
            return f"exit code {code}, {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exit code {code}"


class SupervisedChatModel(BaseChatModel):
    """A chat model served by a supervised child process, spoken to through ChatOpenAI."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    server: ModelServer
    # The name the server was started with (--model_alias).
    model_name: str
    temperature: float = 0.0
    max_tokens: int = 512
    timeout: float = 120.0
    _client: ChatOpenAI | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llamacpp-server"

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        child = self.server.running()
        try:
            return self._openai(child.url)._generate(messages, stop=stop, **kwargs)
        except Exception as error:
            self._raise_if_down(child, error)
            raise

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        # run_manager stays here: BaseChatModel.stream reports the tokens, and ChatOpenAI would again.
        child = self.server.running()
        finished = False
        # A request's own body (llm.JSON_REPLY) joins the client's, which it would replace.
        kwargs["extra_body"] = {"max_tokens": self.max_tokens} | kwargs.get("extra_body", {})
        try:
            for chunk in self._openai(child.url)._stream(messages, stop=stop, **kwargs):
                finished = finished or bool((chunk.generation_info or {}).get("finish_reason"))
                yield chunk
        except Exception as error:
            self._raise_if_down(child, error)
            raise
        # A server that dies mid-reply may just close the connection, which ends the stream quietly.
        if not finished:
            self._raise_if_down(child, None)

    def _openai(self, url: str) -> ChatOpenAI:
        """A client for the server at url (a restarted server listens on another port)."""
        if self._client is None or self._client.openai_api_base != url:
            self._client = ChatOpenAI(
                model=self.model_name,
                base_url=url,
                api_key=SecretStr("not-needed"),
                temperature=self.temperature,
                # llama-cpp-python's server ignores max_completion_tokens, which ChatOpenAI sends.
                extra_body={"max_tokens": self.max_tokens},
                timeout=self.timeout,
                # A retry would only meet the dead server; the next question gets a new one.
                max_retries=0,
            )
        return self._client

    def _raise_if_down(self, child: Child, error: Exception | None) -> None:
        """Raise the error a user should see if the failure was the server's; else do nothing."""
        if isinstance(error, openai.APIStatusError):
            return  # the server answered, with an HTTP error of its own
        # Any failure counts once the child has exited: its death shows as a reset, a closed stream
        # or half a response, and through whichever HTTP library this openai version uses.
        if (code := self.server.exit_code(child)) is not None:
            raise ModelCrashedError(
                f"The local model stopped while answering ({_exit_status(code)}); "
                "it is restarted for the next question — ask again."
            ) from error
        if isinstance(error, openai.APIConnectionError):
            raise ModelServerError(f"The local model server did not answer ({error}); ask again.") from error
