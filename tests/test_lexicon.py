"""Word-by-word query translation from dictd dictionaries, and its place in the fusion."""

import gzip
import logging
from pathlib import Path

import pytest

from assistant.lexicon import available_lexicons, load_lexicon, read_dictd, translate_query
from assistant.retrieval import hybrid_search, rank
from tests.test_retrieval import ChosenVectors, build

DEBIAN_DICTIONARIES = Path("/usr/share/dictd")
_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def dictd_number(value: int) -> str:
    digits = ""
    while True:
        value, digit = divmod(value, 64)
        digits = _DIGITS[digit] + digits
        if not value:
            return digits


def write_dictd(directory: Path, name: str, entries: dict[str, list[str]]) -> None:
    """A dictionary in dictd's format, as Debian's dict-freedict packages ship it."""
    body, index = b"", ["00-database-info\tA\tB"]
    for headword, senses in {"00-database-info": ["about this dictionary"], **entries}.items():
        lines = [headword] + ([f"{i}. {s}" for i, s in enumerate(senses, 1)] if len(senses) > 1 else senses)
        entry = ("\n".join(lines) + "\n").encode()
        if not headword.startswith("00-"):
            index.append(f"{headword}\t{dictd_number(len(body))}\t{dictd_number(len(entry))}")
        body += entry
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.index").write_text("\n".join(index) + "\n", encoding="utf-8")
    (directory / f"{name}.dict.dz").write_bytes(gzip.compress(body))


@pytest.fixture
def dictionaries(tmp_path):
    directory = tmp_path / "dictd"
    write_dictd(directory, "freedict-eng-ara", {
        "Coalition": ["التّحالف"],
        "Meeting": ["الإجتماع", "اللقاء"],
        "Match": ["المباراة - في الرياضة"],
        "Countries": ["البلدان"],
    })  # fmt: skip
    write_dictd(directory, "freedict-ara-eng", {"اجتماع": ["Meeting", "Gathering"], "التحالف": ["Alliance"]})
    load_lexicon.cache_clear()
    yield directory
    load_lexicon.cache_clear()


def test_a_dictd_dictionary_is_read_with_its_senses_in_order(dictionaries):
    entries = read_dictd(dictionaries / "freedict-eng-ara.index", dictionaries / "freedict-eng-ara.dict.dz")
    assert available_lexicons(dictionaries) == ["en→ar", "ar→en"]
    assert entries["Meeting"] == ["الإجتماع", "اللقاء"]
    assert entries["Match"] == ["المباراة"]  # the gloss after " - " explains, it does not translate
    assert "00-database-info" not in entries


def test_an_english_question_is_translated_word_by_word_and_names_stay_as_written(dictionaries):
    translated = translate_query(dictionaries, "Which countries joined the coalition meeting in Kuwait?", "en", "ar")
    # stop words go; inflected and capitalised forms find their headword; an unknown name stays
    assert translated.split() == ["البلدان", "joined", "التّحالف", "الإجتماع", "اللقاء", "kuwait"]


def test_an_arabic_question_is_translated_through_its_stem(dictionaries):
    # «والاجتماع» carries the conjunction and article: the headword is found by its keyword token
    assert translate_query(dictionaries, "من حضر والاجتماع؟", "ar", "en").split()[-2:] == ["Meeting", "Gathering"]


def test_without_the_dictionaries_the_question_is_searched_as_written(tmp_path, caplog):
    load_lexicon.cache_clear()
    with caplog.at_level(logging.WARNING, logger="assistant.lexicon"):
        assert translate_query(tmp_path, "coalition meeting", "en", "ar") == "coalition meeting"
    assert "apt-get install dict-freedict-eng-ara" in caplog.text
    assert available_lexicons(tmp_path) == []


def test_the_translated_question_lifts_the_arabic_passage_it_matches(settings, dictionaries):
    # Dense prefers the football passage ar2 for the English question; the translation matches ar1.
    embedder = ChosenVectors([0.5, 0.7, 0.0])
    snapshot = build(embedder)
    question = "coalition meeting"
    without = [h.doc_id for h in hybrid_search(snapshot, embedder, settings, question, k=3)]
    assert without.index("ar2") < without.index("ar1")
    with_lexicon = settings.model_copy(update={"lexicon_dir": dictionaries})
    hits = {h.doc_id: h for h in hybrid_search(snapshot, embedder, with_lexicon, question, k=3)}
    assert list(hits) == ["ar1", "en1", "ar2"]  # en1 holds both words as written: it stays above ar2
    assert hits["ar1"].keyword_rank == 1  # its rank in the translated search
    assert hits["en1"].keyword_rank == 1  # the English passage keeps its rank in the search as written
    # ar1: dense 0.5 and ar2's 0.7 each raised by the loss on a translation, then min-max (en1's 0 the
    # least); its window (none) counts its own; the flat weight; the best translated match
    weight, lift = settings.cross_lingual_keyword_weight, settings.cross_lingual_discount
    meaning = (1 + settings.window_weight) * (0.5 + lift) / (0.7 + lift)
    assert hits["ar1"].score == pytest.approx(meaning + weight / (1 - weight))
    # Keyword search alone, as evaluation reports it: each passage by the search in its language.
    alone = rank(snapshot, embedder, with_lexicon, question, 3).keyword_alone(snapshot)
    assert {snapshot.chunk(chunk_id).doc_id: score for chunk_id, score in alone} == {"ar1": 1.0, "en1": 1.0}


@pytest.mark.skipif(not (DEBIAN_DICTIONARIES / "freedict-eng-ara.index").is_file(), reason="dict-freedict-eng-ara")
def test_debians_dictionaries_translate_the_words_of_a_briefing_question():
    load_lexicon.cache_clear()
    english = translate_query(DEBIAN_DICTIONARIES, "Who chaired the coalition conference in Kuwait?", "en", "ar")
    assert {"التحالف", "المؤتمر", "الكويت"} <= set(english.split())
    arabic = translate_query(DEBIAN_DICTIONARIES, "من ترأس مؤتمر التحالف؟", "ar", "en")
    assert {"Conference", "Alliance"} <= set(arabic.split())
