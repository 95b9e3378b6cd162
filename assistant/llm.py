"""Chat models behind one LangChain interface: built here, used elsewhere only by invoke/stream.

- openai: any OpenAI-compatible endpoint (hosted APIs, vLLM, Ollama, LM Studio, llama.cpp's server).
- llamacpp: a local GGUF file behind llama.cpp's server in a supervised child process
  (assistant/llm_server.py), so that a crash in native code costs one answer, not the app.
- extractive: no LLM. Replies by quoting the passage sentences closest in meaning to the
  question, each with its marker; the offline default, and one that cannot invent anything.
- fake: replies given in advance, for tests; records every prompt it was sent.
"""

import importlib.util
import re
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, SecretStr

from assistant.answering import NO_ANSWER
from assistant.chunking import split_sentences
from assistant.embeddings import Embedder
from assistant.errors import AssistantError
from assistant.prompting import phrases
from assistant.settings import Settings
from assistant.textnorm import detect_language, tokenize


class LlmConfigError(AssistantError):
    """The configured LLM cannot be built: a missing package, file or setting."""


def build_chat_model(settings: Settings, embedder: Embedder) -> BaseChatModel:
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
            return ExtractiveChatModel(embedder=embedder, settings=settings)
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


_PASSAGE = re.compile(r'<passage id="(\d+)" title="([^"]*)"[^>]*>\n?(.*?)\n?</passage>', re.DOTALL)
_QUESTION = re.compile(r"<question>(.*?)</question>", re.DOTALL)
_TOPIC = re.compile(r"<topic>(.*?)</topic>", re.DOTALL)


class _WholeReplyChatModel(BaseChatModel):
    """A chat model that composes its whole reply at once, then streams it in pieces."""

    # What one streamed piece is: a line, a word, ...
    _piece: ClassVar[re.Pattern[str]]

    def _reply(self, messages: list[BaseMessage]) -> str:
        raise NotImplementedError

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **_: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **_: Any
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self._piece.findall(self._reply(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


class ExtractiveChatModel(_WholeReplyChatModel):
    """Answers from the prompt's own passages by quoting their most relevant sentences.

    It reads the <passages>, <question> and <topic> blocks that prompts/ templates carry. For
    a question it quotes up to three sentences whose meaning is closest to it (and declines
    when none comes close); for a topic (a briefing outline) it lists the passages' titles.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    _piece = re.compile(r"[^\n]*\n|[^\n]+")
    embedder: Any
    settings: Settings
    most_sentences: int = 3
    # Sentences within this similarity of the best one are quoted too.
    spread: float = 0.03

    @property
    def _llm_type(self) -> str:
        return "extractive"

    def _reply(self, messages: list[BaseMessage]) -> str:
        prompt = str(messages[-1].content)
        language = "ar" if detect_language(str(messages[0].content)) == "ar" else "en"
        passages = [(int(n), title, text) for n, title, text in _PASSAGE.findall(prompt)]
        if topic := _TOPIC.search(prompt):
            return self._outline(topic.group(1), passages) or NO_ANSWER
        question = _QUESTION.search(prompt)
        if not passages or not question:
            return NO_ANSWER
        quotes = self._quotes(question.group(1), passages)
        if not quotes:
            return NO_ANSWER
        lead = phrases(self.settings.prompts_dir, language)["according"]
        return lead + "\n" + "\n".join(f"- {sentence} [{n}]" for n, sentence in quotes)

    def _quotes(
        self, question: str, passages: list[tuple[int, str, str]], most: int | None = None, spread: float | None = None
    ) -> list[tuple[int, str]]:
        """Up to `most` passage sentences close to the question, within `spread` of the best one."""
        most = most or self.most_sentences
        spread = self.spread if spread is None else spread
        candidates = [
            (n, sentence)
            for n, title, text in passages
            for start, end in split_sentences(text)
            if _quotable(sentence := " ".join(text[start:end].split())) and sentence != " ".join(title.split())
        ]
        if not candidates:
            return []
        embedder: Embedder = self.embedder
        language = detect_language(question)
        # Scored as if every sentence were in the question's language (see cross_lingual_discount).
        similarities = embedder.embed_documents([s for _, s in candidates]) @ embedder.embed_query(question)
        similarities += self.settings.cross_lingual_discount * np.array(
            [detect_language(s) != language for _, s in candidates]
        )
        question_tokens = set(tokenize(question))
        # Shared words break near-ties in favour of the sentence that names what was asked.
        scores = similarities + 0.02 * np.array(
            [len(question_tokens & set(tokenize(s))) / max(1, len(question_tokens)) for _, s in candidates]
        )
        eligible = [i for i in np.argsort(-scores) if similarities[i] >= self.settings.extractive_min_similarity]
        chosen: list[tuple[int, str]] = []
        for index in eligible:
            if len(chosen) < most and scores[index] >= scores[eligible[0]] - spread and candidates[index] not in chosen:
                chosen.append(candidates[index])
        return chosen

    def _outline(self, topic: str, passages: list[tuple[int, str, str]]) -> str:
        """The titles of the passages that have something to say on the topic, one per line."""
        relevant = {n for n, _ in self._quotes(topic, passages, most=len(passages), spread=1.0)}
        titles = dict.fromkeys(" ".join(title.split()) for n, title, _ in passages if n in relevant and title.strip())
        return "\n".join(list(titles)[:5])


def _quotable(sentence: str) -> bool:
    """A sentence worth quoting: not a label or withheld text (the title is excluded by the caller)."""
    return len(sentence.split()) >= 5 and sentence != "[…]" and len(sentence) <= 600


class ScriptedChatModel(_WholeReplyChatModel):
    """Replies from a queue, NO_ANSWER when it is empty; remembers every prompt it was sent."""

    _piece = re.compile(r"\S+\s*")
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
