"""The Gradio interface. Handlers are plain functions of the Assistant, testable without a browser."""

import html

import gradio as gr

from assistant.errors import AssistantError
from assistant.service import Assistant
from assistant.textnorm import detect_language


def search_handler(assistant: Assistant, question: str, k: int) -> str:
    """Render the hits for question as HTML, each passage in its own reading direction."""
    if not question.strip():
        return "<p>Type a question in Arabic or English. / اكتب سؤالاً بالعربية أو الإنجليزية.</p>"
    try:
        hits = assistant.search(question, k=int(k))
    except AssistantError as error:
        return f"<p class='error'>{html.escape(str(error))}</p>"
    if not hits:
        return "<p>No passages found. / لم يُعثر على مقاطع.</p>"
    items = []
    for rank, hit in enumerate(hits, 1):
        direction = "rtl" if detect_language(hit.text) == "ar" else "ltr"
        pages = f"p. {hit.page_start}" + (f"–{hit.page_end}" if hit.page_end != hit.page_start else "")
        items.append(
            f"<div class='hit' style='margin-bottom:1em'>"
            f"<div dir='auto'><b>{rank}. {html.escape(hit.title)}</b></div>"
            f"<div style='font-size:small;color:#666' dir='ltr'>{html.escape(hit.source)}, {pages} · "
            f"score {hit.score:.4f} · dense #{hit.dense_rank} · keyword #{hit.keyword_rank}</div>"
            f"<p dir='{direction}' style='text-align:start'>{html.escape(hit.text)}</p></div>"
        )
    return "\n".join(items)


def build_ui(assistant: Assistant) -> gr.Blocks:
    with gr.Blocks(title="Briefing assistant") as ui:
        gr.Markdown("## Search the collection · البحث في الوثائق")
        with gr.Row():
            question = gr.Textbox(label="Question · السؤال", rtl=False, scale=4, elem_id="question")
            k = gr.Slider(1, 20, value=5, step=1, label="Passages", scale=1)
        button = gr.Button("Search · بحث", variant="primary")
        results = gr.HTML(elem_id="results")
        for trigger in (button.click, question.submit):
            trigger(lambda q, n: search_handler(assistant, q, n), [question, k], results, api_name="search")
    return ui
