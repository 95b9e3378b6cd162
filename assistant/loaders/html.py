"""HTML pages: the readable text of the body, block by block, web boilerplate stripped."""

from collections.abc import Iterator
from pathlib import Path

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag

from assistant.loaders.base import Extracted, ExtractedPage
from assistant.loaders.text import decode
from assistant.loaders.webclean import clean_web_text

_NOT_CONTENT = {"script", "style", "noscript", "template", "nav", "header", "footer", "aside",
                "form", "iframe", "svg", "button", "select"}  # fmt: skip
_BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article",
           "blockquote", "pre", "td", "th", "dd", "dt", "figcaption", "table", "ul", "ol"}  # fmt: skip
_DATE_META = ["article:published_time", "datePublished", "date", "pubdate", "dc.date"]
# The strings get_text reads: not comments, nor ruby annotations.
_TEXT = (NavigableString, CData)


def load_html(path: Path) -> Extracted:
    soup = BeautifulSoup(decode(path.read_bytes()), "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    metas = soup.find_all("meta")
    date = next(
        (
            str(tag["content"])[:10]
            for name in _DATE_META
            for key in ("property", "name")
            for tag in metas
            if tag.get(key) == name and tag.get("content")
        ),
        None,
    )
    text = clean_web_text(_readable_text(_content_root(soup)))
    return Extracted(format="html", pages=[ExtractedPage(1, text)], title=title or None, date=date)


def _content_root(soup: BeautifulSoup) -> Tag:
    """The first body outside page furniture (a parser may put one inside a <nav>), else the whole page."""
    return next((node for node in _walk(soup) if isinstance(node, Tag) and node.name == "body"), soup)


def _readable_text(root: Tag) -> str:
    """The text under root with a blank line around each block and a line break for each <br>."""
    parts: list[str] = []
    for node in _walk(root):
        if node is None or (isinstance(node, Tag) and node.name in _BLOCKS):
            parts.append("\n\n")
        elif isinstance(node, Tag) and node.name == "br":
            parts.append("\n")
        elif type(node) in _TEXT:
            parts.append(str(node))
    return "".join(parts)


def _walk(root: Tag) -> Iterator[PageElement | None]:
    """What lies under root in document order, page furniture left out, and None where a block ends.

    Walked with a stack rather than by recursion, and read rather than edited: a page of
    100,000 nested tags must neither overflow the stack nor be rescanned for every tag
    (inserting the blank lines into the tree with bs4 took quadratic time).
    """
    stack: list[PageElement | None] = list(reversed(root.contents))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Tag) and node.name not in _NOT_CONTENT and node.name != "br":
            if node.name in _BLOCKS:
                stack.append(None)
            stack.extend(reversed(node.contents))
