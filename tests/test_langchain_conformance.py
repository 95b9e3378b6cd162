"""`Assistant.retriever()` held to LangChain's own standard tests for retrievers (langchain-tests),
over a small Arabic and English index; and its scope, like every other entry point's."""

from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from assistant.retrieval import AssistantRetriever
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.types import SearchFilter
from tests.conftest import BUDGET_EN, FOOTBALL_AR, KUWAIT_AR

QUESTION = "كم دولة شاركت في اجتماع الكويت؟"


def _indexed(folder: Any) -> Assistant:
    """Enough passages that k=3 can be met: the three test documents, a few times each, reworded."""
    settings = Settings(
        index_dir=folder / "index",
        data_dir=folder / "data",
        embedder="fake",
        chunk_size=120,
        chunk_overlap=20,
        lexicon_dir=folder / "no-dictionaries",
    )
    assistant = Assistant(settings)
    texts = [(f"{name}-{i}.txt", name, f"{text}\n({i})") for i in range(2) for name, text in
             [("kuwait", KUWAIT_AR), ("football", FOOTBALL_AR), ("budget", BUDGET_EN)]]  # fmt: skip
    assistant.add_texts(texts)
    return assistant


class TestAssistantRetriever(RetrieversIntegrationTests):
    assistant: Assistant

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _assistant(cls, tmp_path_factory: pytest.TempPathFactory) -> None:
        cls.assistant = _indexed(tmp_path_factory.mktemp("conformance"))

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return AssistantRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"assistant": self.assistant}

    @property
    def retriever_query_example(self) -> str:
        return QUESTION


def test_the_retriever_searches_within_its_scope_and_a_call_cannot_widen_it(tmp_path):
    assistant = _indexed(tmp_path)
    budget_only = assistant.retriever(k=5, scope=SearchFilter(documents=[_doc_id(assistant, "budget-0.txt")]))
    assert {d.metadata["source"] for d in budget_only.invoke(QUESTION)} == {"budget-0.txt"}
    widened = budget_only.invoke(QUESTION, scope=SearchFilter(documents=[_doc_id(assistant, "kuwait-0.txt")]))
    assert widened == []  # the call's scope is narrowed by the retriever's, never put in its place
    arabic = assistant.retriever(k=10).invoke(QUESTION, scope=SearchFilter(languages=["ar"]))
    assert arabic
    assert {d.metadata["language"] for d in arabic} == {"ar"}
    assert assistant.retriever(scope=SearchFilter(collections=[])).invoke(QUESTION) == []


def _doc_id(assistant: Assistant, source: str) -> str:
    return next(d.doc_id for d in assistant.snapshot().documents() if d.source == source)
