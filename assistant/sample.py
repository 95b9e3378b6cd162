"""A small sample collection the app writes and indexes on first start, so that a new user
sees answers with citations at once: Arabic and English, text, Markdown, HTML and a PDF."""

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
from fpdf import FPDF

from assistant.types import IngestReport

if TYPE_CHECKING:
    from assistant.service import Assistant

# DejaVu Sans has Arabic glyphs and ships with matplotlib, so no font needs installing.
FONT = Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"

SAMPLE_TEXTS = {
    "kuwait-working-group.txt": (
        "اجتماع مجموعة العمل المعنية بالاتصالات في الكويت\n"
        "الكويت، 9 نوفمبر 2016\n"
        "استضافت الكويت اجتماع مجموعة العمل المعنية بالاتصالات المضادة التابعة للتحالف الدولي ضد داعش "
        "بمشاركة 28 دولة. "
        "وترأست الاجتماع كل من المملكة المتحدة والولايات المتحدة الأمريكية ودولة الإمارات العربية المتحدة. "
        "وقدمت الدول المشاركة عرضاً لجهودها الإلكترونية في مواجهة دعاية التنظيم على مدار عام ونصف العام. "
        "وأشاد ممثل الإمارات بالتعاون بين مركز صواب ومجموعة الاتصالات ووصفه بأنه ممتاز.\n"
    ),
    "kuwait-conference-2015.md": (
        "# مؤتمر الاتصالات في الكويت\n\n"
        "الكويت، 9 مارس 2015\n\n"
        "عقد التحالف الدولي ضد داعش مؤتمراً للاتصالات في الكويت بحضور ممثلي 14 دولة. "
        "وقال المتحدثون إن المطلوب هو تحديد أفضل الرسائل لوقف التحاق المقاتلين الأجانب بالتنظيم. "
        "وأكد المؤتمر أن مواجهة الدعاية على الإنترنت لا تعني تقييد الحريات.\n"
    ),
    "doha-forum-2021.html": (
        "<html><head><title>Global Security Forum 2021 closes in Doha</title></head><body>"
        "<nav>Home | News | Contact</nav>"
        "<h1>Global Security Forum 2021 closes in Doha</h1>"
        "<p>Doha, 24 March 2021</p>"
        "<p>The Global Security Forum 2021 ended in Doha after three days of sessions on extremism, "
        "online propaganda and the security of the Middle East and Africa.</p>"
        "<p>Speakers said that social media companies must do more to remove extremist content, "
        "and that governments should work with civil society on counter-messaging.</p>"
        "<footer>All rights reserved</footer></body></html>"
    ),
}
SAMPLE_PDF = "coalition-ministerial-2017.pdf"
# Numbers are written in words on the Arabic page: fpdf2 lays out a wrapped line that mixes
# Arabic and digits in an order pypdf reads back scrambled (README, Benchmarks).
SAMPLE_PDF_PAGES = [
    "اجتماع وزراء التحالف في واشنطن\n"
    "اجتمع وزراء خارجية التحالف الدولي ضد داعش في واشنطن، ويضم التحالف ثماني وستين دولة ومنظمة دولية. "
    "وقال وزير الخارجية الأمريكي إن الولايات المتحدة تقدم ربع الدعم الإنساني ودعم الاستقرار. "
    "وعاد نحو ثلاثين ألف طفل إلى المدارس في شرق الموصل.",
    "Coalition ministerial meeting in Washington\n"
    "Washington, 22 March 2017\n"
    "The foreign ministers of the Global Coalition against ISIS met in Washington. "
    "The United States said it provides 25 percent of humanitarian and stabilisation support. "
    "Ministers agreed to step up work against the group's online propaganda.",
]


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF with a text layer, Arabic shaped by HarfBuzz, one string per page."""
    pdf = FPDF()
    pdf.add_font("dejavu", fname=str(FONT))
    pdf.set_font("dejavu", size=13)
    pdf.set_text_shaping(True)
    for text in pages:
        pdf.add_page()
        for line in text.split("\n"):
            pdf.multi_cell(0, 9, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def write_sample_collection(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in SAMPLE_TEXTS.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    paths.append(write_pdf(folder / SAMPLE_PDF, SAMPLE_PDF_PAGES))
    return paths


def index_sample_if_empty(assistant: "Assistant", folder: Path) -> IngestReport | None:
    """On first start (no index yet) write the sample collection and index it."""
    if assistant.store.exists():
        return None
    return assistant.ingest(write_sample_collection(folder))
