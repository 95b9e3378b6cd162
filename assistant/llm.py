"""Chat models behind one LangChain interface: built here, used elsewhere only by invoke/stream.

- openai: any OpenAI-compatible endpoint (hosted APIs, vLLM, Ollama, LM Studio, llama.cpp's server).
- llamacpp: a local GGUF file behind llama.cpp's server in a supervised child process
  (assistant/llm_server.py), so that a crash in native code costs one answer, not the app.
- extractive: no LLM (assistant/extractive.py). Quotes the passage words closest in meaning to
  each part of the question, each with its marker; the offline default, and one that cannot invent anything.
- fake: replies given in advance, for tests; records every prompt it was sent.
"""

import importlib.util
import re
import sys
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, SecretStr

from assistant.embeddings import Embedder
from assistant.errors import AssistantError
from assistant.extractive import ExtractiveAnswerer
from assistant.prompting import NO_ANSWER
from assistant.settings import Settings


class LlmConfigError(AssistantError):
    """The configured LLM cannot be built: a missing package, file or setting."""


class LlmUnavailableError(AssistantError):
    """The configured model could not answer: unreachable, refused, too slow; the message names the setting."""


def explained(error: Exception, settings: Settings) -> Exception:
    """An error of an OpenAI-compatible client as a user can act on it, or the error itself."""
    try:
        import openai
    except ImportError:
        return error
    where = settings.llm_base_url or "api.openai.com"
    if isinstance(error, openai.APITimeoutError):
        return LlmUnavailableError(
            f"The model at {where} did not answer within {settings.llm_timeout:g} s (ASSISTANT_LLM_TIMEOUT); "
            "ask again, or allow it more time."
        )
    if isinstance(error, openai.APIConnectionError):
        return LlmUnavailableError(
            f"The model server at {where} cannot be reached ({error}); check ASSISTANT_LLM_BASE_URL and that "
            "the server is running."
        )
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return LlmUnavailableError(
            f"The model server at {where} refused the API key (HTTP {error.status_code}); check ASSISTANT_LLM_API_KEY."
        )
    if isinstance(error, openai.NotFoundError):
        return LlmUnavailableError(
            f"The model server at {where} has no model {settings.llm_model!r} (HTTP 404); check ASSISTANT_LLM_MODEL."
        )
    if isinstance(error, openai.APIStatusError):
        return LlmUnavailableError(f"The model server at {where} answered HTTP {error.status_code}: {error.message}")
    return error


# What writes replies: a chat model behind a prompt, or the extractive answerer, which reads passages.
Writer = BaseChatModel | ExtractiveAnswerer


# The reply of a model that writes JSON (`writes_json`): llama.cpp turns the schema into a grammar, so
# every sentence comes with the passages it rests on, and a refusal is a field, not a phrase to match.
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "not_in_documents": {"type": "boolean"},
        "answer": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    # A length floor keeps a small model from writing a bare "[1]" as its sentence.
                    "sentence": {"type": "string", "minLength": 12},
                    "passages": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
                },
                "required": ["sentence", "passages"],
            },
        },
    },
    "required": ["not_in_documents", "answer"],
}


# llama.cpp's form of a schema-held reply, sent per request in the body (as ChatOpenAI's own response_format
# it would leave plain streaming); only answers and sections ask for it, not outlines or health checks.
JSON_REPLY: dict[str, Any] = {"response_format": {"type": "json_object", "schema": REPLY_SCHEMA}}


def writes_json(settings: Settings) -> bool:
    """Whether the configured model is asked for a REPLY_SCHEMA reply rather than free text."""
    return settings.llm_reply_format == "json" or (settings.llm_reply_format == "auto" and settings.llm == "llamacpp")


def build_chat_model(settings: Settings, embedder: Embedder) -> Writer:
    match settings.llm:
        case "openai":
            if not settings.llm_base_url and not settings.llm_api_key:
                raise LlmConfigError(
                    "ASSISTANT_LLM=openai needs ASSISTANT_LLM_BASE_URL (a local server such as "
                    "http://127.0.0.1:8080/v1) or ASSISTANT_LLM_API_KEY (a hosted API)"
                )
            try:
                from langchain_openai import ChatOpenAI
            except ImportError:
                raise LlmConfigError("ASSISTANT_LLM=openai needs `pip install langchain-openai`") from None
            return ChatOpenAI(
                model=settings.llm_model,
                base_url=settings.llm_base_url,
                # Local servers take any key; the client insists on one.
                api_key=settings.llm_api_key or SecretStr("not-needed"),
                temperature=settings.llm_temperature,
                max_completion_tokens=settings.llm_max_tokens,
                timeout=settings.llm_timeout,
                max_retries=1,
            )
        case "llamacpp":
            path = settings.llm_model_path
            if path is None or not path.is_file():
                raise LlmConfigError(f"ASSISTANT_LLM=llamacpp needs ASSISTANT_LLM_MODEL_PATH, a GGUF file (got {path})")
            # Top-level names only: finding llama_cpp.server would import llama_cpp and load its
            # native library into this process, which the child process is there to avoid.
            if any(importlib.util.find_spec(name) is None for name in ("llama_cpp", "uvicorn", "sse_starlette")):
                raise LlmConfigError(
                    "ASSISTANT_LLM=llamacpp needs llama.cpp's server: `bash scripts/install-llama-cpp.sh` "
                    "(a portable build) or `pip install 'llama-cpp-python[server]==0.3.36'`"
                )
            from assistant.llm_server import ModelServer, SupervisedChatModel

            command = [sys.executable, "-m", "llama_cpp.server", "--model", str(path)]
            command += ["--n_ctx", str(settings.llm_context), "--model_alias", path.stem]
            return SupervisedChatModel(
                # In data_dir, beside the audit log, so that a crash can be read about after the fact.
                server=ModelServer(command, log_path=settings.data_dir / "llm-server.log"),
                model_name=path.stem,
                temperature=settings.llm_temperature,
                max_tokens=settings.llm_max_tokens,
                timeout=settings.llm_timeout,
            )
        case "extractive":
            return ExtractiveAnswerer(embedder, settings)
        case "fake":
            return ScriptedChatModel(replies=list(settings.fake_llm_replies))


def describe(settings: Settings) -> str:
    """The configured model in a few words, for status pages and `llm check`."""
    match settings.llm:
        case "openai":
            return f"openai-compatible {settings.llm_model} at {settings.llm_base_url or 'api.openai.com'}"
        case "llamacpp":
            return f"llama.cpp {settings.llm_model_path}, served by a supervised child process (restarted if it dies)"
        case "extractive":
            return "extractive (no LLM: quotes the retrieved passages)"
        case "fake":
            return "fake (replies given in advance)"


class ScriptedChatModel(BaseChatModel):
    """Replies from a queue, NO_ANSWER when it is empty, streamed a word at a time; remembers every prompt."""

    replies: list[str]
    history: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "fake"

    def enqueue(self, *replies: str) -> None:
        self.replies.extend(replies)

    def _reply(self, messages: list[BaseMessage]) -> str:
        self.history.append(messages)
        return self.replies.pop(0) if self.replies else NO_ANSWER

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **_: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **_: Any
    ) -> Iterator[ChatGenerationChunk]:
        for piece in re.findall(r"\S+\s*", self._reply(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
