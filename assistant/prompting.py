"""Prompt templates and fixed wording from prompts/<language>/, checked when loaded."""

import json
import re
from functools import cache
from pathlib import Path

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate

from assistant.errors import AssistantError

LANGUAGES = ("ar", "en")
# What a model writes when the passages do not answer; the prompts ask for it verbatim.
NO_ANSWER = "NO_ANSWER"

# The variables each task supplies; a template must use exactly these.
TASK_VARIABLES = {
    "answer": {"passages", "question"},
    "outline": {"passages", "topic", "points"},
    "section": {"passages", "topic", "question"},
    "rewrite": {"history", "question"},
}
_PART = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


class PromptError(AssistantError):
    """A prompt template is missing or uses other variables than its task supplies."""


@cache
def load_template(prompts_dir: Path, language: str, task: str) -> ChatPromptTemplate:
    path = prompts_dir / language / f"{task}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PromptError(f"cannot read the prompt template {path}: {error.strerror}") from None
    parts = _PART.split(text)
    sections = dict(zip(parts[1::2], (p.strip() for p in parts[2::2]), strict=True))
    if set(sections) != {"system", "user"} or parts[0].strip():
        raise PromptError(f"{path} must consist of a [system] part and a [user] part")
    template = ChatPromptTemplate.from_messages([("system", sections["system"]), ("human", sections["user"])])
    used, expected = set(template.input_variables), TASK_VARIABLES[task]
    if used != expected:
        problems = [f"unknown variable {{{name}}}" for name in sorted(used - expected)]
        problems += [f"missing variable {{{name}}}" for name in sorted(expected - used)]
        raise PromptError(f"{path}: {', '.join(problems)} (the {task} task supplies {sorted(expected)})")
    return template


def render(prompts_dir: Path, language: str, task: str, **variables: str) -> list[BaseMessage]:
    return load_template(prompts_dir, language, task).format_messages(**variables)


@cache
def phrases(prompts_dir: Path, language: str) -> dict[str, str]:
    path = prompts_dir / language / "phrases.json"
    try:
        loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PromptError(f"cannot read {path}: {error}") from None
    reference = json.loads((prompts_dir / "en" / "phrases.json").read_text(encoding="utf-8"))
    if missing := sorted(set(reference) - set(loaded)):
        raise PromptError(f"{path} lacks the phrases {missing}")
    return loaded
