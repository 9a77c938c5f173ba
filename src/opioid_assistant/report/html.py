"""HTML -> text in the layout of the plain-text capture (see report.capture): the one HTML
reader, for the report and for the cited sources alike.

Block elements become blank-line separated blocks, <sup> digits become glued endnote
markers, list items become bullets, and an ordered list under an "Endnotes" heading becomes
"  N. text" lines. Scripts, styles, navigation and footers are dropped.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from opioid_assistant.errors import ReportParseError
from opioid_assistant.report.capture import ENDNOTES, MARKER, Block, classify, render

SKIPPED_NODES = (Comment, Declaration, Doctype, ProcessingInstruction)
DROPPED_TAGS = frozenset(
    {"script", "style", "nav", "footer", "noscript", "template", "head", "svg", "iframe"}
)
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BLOCK_TAGS = HEADING_TAGS | {
    "p", "div", "section", "article", "main", "header", "aside", "blockquote", "figure",
    "figcaption", "table", "thead", "tbody", "tr", "td", "th", "dl", "dt", "dd", "pre",
    "address", "hr", "br", "form", "fieldset", "details", "summary", "center",
}  # fmt: skip
LIST_TAGS = frozenset({"ul", "ol"})


def html_to_report_text(path: Path) -> str:
    """Extract an HTML capture of the report as text in the layout of the plain-text capture.

    Raises:
        ReportParseError: the file is missing, empty, undecodable, or has no text.
    """
    path = Path(path)
    blocks = _blocks(BeautifulSoup(_read_html(path), "html.parser"))
    if not blocks:
        raise ReportParseError(
            f"{path} has no text outside scripts, styles and navigation; "
            "save the report page itself (File > Save as, 'Web page, complete')"
        )
    return render(blocks)


def html_text(data: bytes) -> tuple[str, str]:
    """A web page's text in the same layout, and its <title>; the text is '' when it has none.

    A page that no charset it names decodes is read as UTF-8 with replacement characters.
    """
    try:
        markup = decode_html(data, "the page")
    except ReportParseError:
        markup = data.decode("utf-8", errors="replace")
    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    blocks = _blocks(soup)
    return (render(blocks) if blocks else ""), title


def _blocks(soup: BeautifulSoup) -> list[Block]:
    walker = _HtmlWalker()
    walker.walk(soup)
    walker.flush()
    return walker.blocks


def _read_html(path: Path) -> str:
    """Read and decode an HTML file (see decode_html)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ReportParseError(
            f"cannot read {path}: {e.strerror}; check the path and its permissions"
        ) from e
    return decode_html(data, str(path))


def decode_html(data: bytes, name: str) -> str:
    """Decode HTML: UTF-8 (or by its BOM), else the charset its <meta> declares.

    Raises:
        ReportParseError: the page is empty, or no charset it names decodes it.
    """
    if not data.strip():
        raise ReportParseError(f"{name} is empty; save the report page again as HTML")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        declared = re.search(rb"""<meta[^>]*charset\s*=\s*["']?([\w.:-]+)""", data, re.I)
        if declared is None:
            raise ReportParseError(
                f"{name} is not UTF-8 (bad byte at offset {e.start}) and declares no charset; "
                "re-save it as UTF-8"
            ) from e
        charset = declared.group(1).decode("ascii")
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError) as e2:
            raise ReportParseError(
                f"{name} cannot be decoded as its declared charset {charset!r}; re-save it as UTF-8"
            ) from e2


class _HtmlWalker:
    """Walks a parsed page: block elements become blocks, <sup> digits become markers.

    An `inline` walker (for a list item) turns block elements into spaces and skips lists.
    """

    def __init__(self, inline: bool = False) -> None:
        self.blocks: list[Block] = []
        self.buffer = ""
        self.inline = inline
        self.in_notes = False

    def walk(self, node: Tag) -> None:
        """Take in the text of `node`'s children."""
        for child in node.children:
            if isinstance(child, SKIPPED_NODES):
                continue
            if isinstance(child, NavigableString):
                self.buffer += str(child)
            elif isinstance(child, Tag) and child.name not in DROPPED_TAGS:
                self._element(child)

    def _element(self, tag: Tag) -> None:
        marker = tag.get_text().strip().strip("[]()") if tag.name == "sup" else ""
        if MARKER.fullmatch(marker):
            self.buffer = self.buffer.rstrip() + marker
        elif tag.name in LIST_TAGS:
            if not self.inline:
                self.flush()
                self._list(tag)
        elif tag.name in BLOCK_TAGS and self.inline:
            self.buffer += " "
            self.walk(tag)
            self.buffer += " "
        elif tag.name in BLOCK_TAGS:
            self.flush()
            self.walk(tag)
            self.flush(heading=tag.name in HEADING_TAGS)
        else:
            self.walk(tag)

    def flush(self, heading: bool = False) -> None:
        """End the current block: add the buffered text, if any, as a block."""
        text, self.buffer = " ".join(self.buffer.split()), ""
        if not text:
            return
        if text.casefold() == ENDNOTES.casefold():
            self.in_notes = True
        elif heading:
            self.in_notes = False
        self.blocks.append(classify(text, note=self.in_notes))

    def _list(self, tag: Tag) -> None:
        """Add one block per list item, numbered as the browser would; nested lists follow."""
        number = _int_attr(tag, "start", 1)
        for item in tag.find_all("li", recursive=False):
            number = _int_attr(item, "value", number)
            inline = _HtmlWalker(inline=True)
            inline.walk(item)
            text = " ".join(inline.buffer.split())
            if text and tag.name == "ol":
                self.blocks.append(Block("note" if self.in_notes else "text", f"{number}. {text}"))
            elif text:
                self.blocks.append(classify(text, note=self.in_notes, bullet=True))
            number += 1
            for nested in item.find_all(list(LIST_TAGS)):
                if nested.find_parent("li") is item:
                    self._list(nested)


def _int_attr(tag: Tag, name: str, default: int) -> int:
    value = tag.get(name)
    return int(value) if isinstance(value, str) and value.strip().isdigit() else default
