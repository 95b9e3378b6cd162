"""The search page's handler, called directly as the browser would call it."""

import gradio as gr

from assistant.ui import build_ui, search_handler


def test_search_handler_renders_hits_in_their_reading_direction(assistant, corpus):
    assistant.ingest([corpus])
    page = search_handler(assistant, "نهائي كأس تونس", 2)
    assert page.count("class='hit'") == 2
    assert "dir='rtl'" in page
    assert "نهائي كأس تونس" in page
    assert "football.md" in page
    english = search_handler(assistant, "annual budget", 1)
    assert "dir='ltr' style='text-align:start'" in english


def test_search_handler_explains_empty_questions_and_missing_index(assistant):
    assert "Type a question" in search_handler(assistant, "  ", 5)
    assert "there is no index" in search_handler(assistant, "الكويت", 5)


def test_markup_in_documents_is_escaped(assistant, tmp_path):
    (tmp_path / "x.txt").write_text("<script>alert(1)</script> تقرير عن الاجتماع", encoding="utf-8")
    assistant.ingest([tmp_path / "x.txt"])
    page = search_handler(assistant, "تقرير الاجتماع", 1)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_build_ui_makes_blocks(assistant):
    assert isinstance(build_ui(assistant), gr.Blocks)
