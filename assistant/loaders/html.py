"""HTML pages: the readable text of the body, block by block, web boilerplate stripped."""

from pathlib import Path

from bs4 import BeautifulSoup

from assistant.loaders.base import Extracted, ExtractedPage
from assistant.loaders.text import decode
from assistant.loaders.webclean import clean_web_text

_NOT_CONTENT = ["script", "style", "noscript", "template", "nav", "header", "footer", "aside",
                "form", "iframe", "svg", "button", "select"]  # fmt: skip
_BLOCKS = ["p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article",
           "blockquote", "pre", "td", "th", "dd", "dt", "figcaption", "table", "ul", "ol"]  # fmt: skip
_DATE_META = ["article:published_time", "datePublished", "date", "pubdate", "dc.date"]


def load_html(path: Path) -> Extracted:
    soup = BeautifulSoup(decode(path.read_bytes()), "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    date = next(
        (
            str(tag["content"])[:10]
            for name in _DATE_META
            for tag in soup.find_all("meta", attrs={"property": name}) + soup.find_all("meta", attrs={"name": name})
            if tag.get("content")
        ),
        None,
    )
    for tag in soup(_NOT_CONTENT):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCKS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    body = soup.body or soup
    text = clean_web_text(body.get_text())
    return Extracted(format="html", pages=[ExtractedPage(1, text)], title=title or None, date=date)
