from assistant.textnorm import detect_language, fold_presentation_forms, normalize, tokenize


def test_normalize_folds_arabic_spelling_variants():
    assert normalize("أإآٱا") == "ااااا"
    assert normalize("مستشفى") == "مستشفي"  # alef maqsura
    assert normalize("مدرسة") == "مدرسه"  # taa marbuta
    assert normalize("مؤتمر رئيس") == "موتمر رييس"  # hamza on waw and yaa
    assert normalize("الْعَرَبِيَّةُ") == "العربيه"  # diacritics
    assert normalize("الكـــويت") == "الكويت"  # tatweel
    assert normalize("کتاب یک") == "كتاب يك"  # Persian kaf and yeh


def test_normalize_maps_digits_and_punctuation():
    assert normalize("عام ٢٠١٧ و۱۴۰۰") == "عام 2017 و1400"
    assert normalize("«مرحبا»، هل أنت بخير؟ Yes!").split() == ["مرحبا", "هل", "انت", "بخير", "yes"]


def test_presentation_forms_become_letters():
    assert fold_presentation_forms("ﻣﺮﺣﺒﺎ ﻻ") == "مرحبا لا"


def test_tokenize_strips_clitics_so_inflected_forms_match():
    assert tokenize("والاتصالات") == tokenize("الاتصالات") == tokenize("للاتصالات")
    assert tokenize("بالكويت") == tokenize("الكويت")
    assert tokenize("المؤتمر الدولي") == tokenize("مؤتمر دولي")


def test_tokenize_drops_stop_words_in_both_languages_and_keeps_numbers():
    assert tokenize("في من على 28 دولة") == tokenize("28 دولة")
    assert "28" in tokenize("في من على 28 دولة")
    assert tokenize("What did the countries decide in 2017?") == ["countri", "decid", "2017"]


def test_detect_language():
    assert detect_language("اجتماع التحالف في الكويت") == "ar"
    assert detect_language("The coalition met in Kuwait") == "en"
    assert detect_language("التحالف ISIS") == "ar"
    assert detect_language("2017 — 28") == "other"
