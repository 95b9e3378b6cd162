import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.service import Assistant
from assistant.settings import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    """Every test works in its own directory, with its own index and data, and no ASSISTANT_ settings
    from outside: nothing a test writes lands anywhere else, even by a relative path."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # private temporary files too


@pytest.fixture
def vector_store(request, tmp_path) -> Iterator[str]:
    """Where the `settings` fixture's index keeps its vectors: FAISS files unless a test module runs on
    every backend (ON_EVERY_VECTOR_STORE); milvus-lite in a file of its own."""
    if getattr(request, "param", "faiss") == "faiss":
        yield "faiss"
        return
    path = tmp_path / "milvus" / "vectors.db"
    yield str(path)
    release_milvus_lite(path)


def pytest_generate_tests(metafunc):
    """A test module that sets ON_EVERY_VECTOR_STORE = True runs its index tests on FAISS and on milvus-lite."""
    if getattr(metafunc.module, "ON_EVERY_VECTOR_STORE", False) and "vector_store" in metafunc.fixturenames:
        metafunc.parametrize("vector_store", ["faiss", "milvus-lite"], indirect=True)


def release_milvus_lite(path: Path) -> None:
    """Stop the embedded server of one milvus-lite file (else each test's would run until the session ends)."""
    from milvus_lite.server_manager import server_manager_instance

    from assistant.index import milvus

    milvus._CLIENTS.pop(str(path.resolve()), None)
    server_manager_instance.release_server(str(path.resolve()))


@pytest.fixture
def settings(tmp_path, vector_store) -> Settings:
    return Settings(
        index_dir=tmp_path / "index",
        data_dir=tmp_path / "data",
        embedder="fake",
        chunk_size=300,
        chunk_overlap=60,
        lexicon_dir=tmp_path / "no-dictionaries",  # the machine's dictionaries would change keyword rankings
        vector_store=vector_store,
    )


@pytest.fixture
def assistant(settings) -> Assistant:
    return Assistant(settings)


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


@pytest.fixture(scope="session")
def seeds_assistant(tmp_path_factory) -> Assistant:
    """The five seed documents indexed with the real offline embedder; the extractive backend."""
    if not (SHARED / "data/seeds").is_dir():
        pytest.skip("../shared is absent")
    assistant = Assistant(Settings(index_dir=tmp_path_factory.mktemp("seeds") / "index", llm="extractive"))
    report = assistant.ingest([SHARED / "data/seeds"])
    assert len(report.added) == 5
    assert not report.failed
    return assistant


# Short documents on distinct topics, Arabic and English, shared by several tests.
KUWAIT_AR = (
    "اجتماع الكويت\n"
    "عقدت مجموعة العمل المعنية بالاتصالات المضادة اجتماعها في الكويت بمشاركة ثماني وعشرين دولة. "
    "وناقش المشاركون سبل مواجهة الدعاية الإلكترونية لتنظيم داعش على الإنترنت."
)
FOOTBALL_AR = (
    "نهائي كأس تونس\n"
    "فاز النادي الإفريقي على الترجي في نهائي كأس تونس لكرة القدم أمام جمهور غفير في ملعب رادس. "
    "وسجل المهاجم هدفين في الشوط الثاني."
)
BUDGET_EN = (
    "Budget report\n"
    "The finance ministry presented the annual budget to parliament. "
    "Spending on schools and hospitals rises by four percent next year."
)


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "kuwait.txt").write_text(KUWAIT_AR, encoding="utf-8")
    (folder / "football.md").write_text(FOOTBALL_AR, encoding="utf-8")
    (folder / "budget.txt").write_text(BUDGET_EN, encoding="utf-8")
    return folder


def indexed_folder(settings: Settings, model, folder: Path, files: dict[str, str]) -> Assistant:
    """An assistant with the given chat model over a new folder of these text files."""
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    assistant = Assistant(settings, chat_model=model)
    assistant.ingest([folder])
    return assistant
