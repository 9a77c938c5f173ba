"""The "Report" reader tab: the report as plain HTML, every sentence addressable.

A pure function of the parsed report: a table of contents, the sections with each sentence in
a `<span id="s-N">` (N its index in `Report.sentences`) so "show in report" can link to
`#s-N` (the CSS highlights the `:target`, no script needed), and each endnote marker as a
link to its source with the endnote's text on hover. All text is escaped; only http(s) URLs
become links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence

from opioid_assistant.answer.citations import make_citation
from opioid_assistant.serve.formatting import safe_url
from opioid_assistant.types import Report, Sentence

CSS = """<style>
.oa-reader{max-width:42em;margin:0 auto;padding:0 .75em;line-height:1.55;overflow-wrap:anywhere}
.oa-reader nav ol{padding-left:1.2em}.oa-reader nav li{margin:.2em 0}
.oa-reader aside{border-left:3px solid #999;padding-left:.75em;margin:1em 0}
.oa-reader sup a{text-decoration:none;padding:0 .1em}
.oa-reader [id]{scroll-margin-top:4em}
.oa-reader span:target{background:#fff2a8;outline:2px solid #e0b000}
.oa-reader .oa-notes{font-size:.9em}
</style>"""


def sentence_id(index: int) -> str:
    """The element id of sentence `index` of `Report.sentences`."""
    return f"s-{index}"


def section_id(path: str) -> str:
    """The element id of a section, from its heading path ('sec-public-health-solutions')."""
    return "sec-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def sentence_anchor(report: Report, sentence_text: str, section: str | None = None) -> str | None:
    """The id of the report sentence an evidence sentence is, or None when none matches.

    Args:
        report: The parsed report.
        sentence_text: A sentence as evidence carries it (`Evidence.sentences`).
        section: The evidence's heading path, to tell apart a sentence the report repeats.
    """
    wanted = _normal(sentence_text)
    matches = [i for i, s in enumerate(report.sentences) if _normal(s.text) == wanted]
    if not matches:
        return None
    preferred = [i for i in matches if report.sentences[i].section == section]
    return sentence_id((preferred or matches)[0])


def reader_html(report: Report, section: str | None = None) -> str:
    """The reader tab's HTML: a table of contents, then the report's text (or one section).

    Args:
        report: The parsed report.
        section: A section's heading path (or a heading's text) to show alone, with its
            sub-sections; None for the whole report.

    Returns:
        One HTML fragment (a `<div class="oa-reader">` with its own small `<style>`).

    Raises:
        ValueError: `section` names no section of the report.
    """
    indices = _selected(report, section)
    cited = sorted({n for i in indices for n in report.sentences[i].endnotes})
    parts = [
        CSS,
        '<div class="oa-reader">',
        f"<h1>{_esc(report.title)}</h1>",
        _toc(report),
        *_body(report, indices),
        _notes(report, cited),
        "</div>",
    ]
    return "\n".join(p for p in parts if p)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _selected(report: Report, section: str | None) -> list[int]:
    """Indices of the sentences to show: all, or those of one section and its sub-sections."""
    if section is None:
        return list(range(len(report.sentences)))
    heading = next((h for h in report.headings if section in (h.text, h.section)), None)
    prefix = heading.section if heading and heading.level < 3 else section
    chosen = [
        i
        for i, s in enumerate(report.sentences)
        if s.section == prefix or s.section.startswith(prefix + " > ")
    ]
    if heading is not None and heading.level == 3:
        chosen = list(range(heading.first, heading.last))
    if not chosen:
        raise ValueError(f"no section {section!r} in the report: pass a heading path or None")
    return chosen


def _toc(report: Report) -> str:
    """Sections and sub-sections as a nested list of links."""
    items: list[str] = []
    open_sub = False
    for sec in report.sections:
        if sec.level == 1:
            if open_sub:
                items.append("</ol></li>")
                open_sub = False
            elif items:
                items.append("</li>")
            items.append(_toc_link(sec.path))
        else:
            if not open_sub:
                items.append("<ol>")
                open_sub = True
            items.append(_toc_link(sec.path) + "</li>")
    items.append("</ol></li>" if open_sub else "</li>")
    return (
        '<nav aria-label="Contents"><details open><summary>Contents</summary><ol>'
        + "".join(items)
        + "</ol></details></nav>"
    )


def _toc_link(path: str) -> str:
    name = path.split(" > ")[-1]
    return f'<li><a href="#{section_id(path)}">{_esc(name)}</a>'


def _body(report: Report, indices: Sequence[int]) -> Iterator[str]:
    """Headings, side boxes and paragraphs of the chosen sentences, in reading order."""
    boxes = {h.first: h for h in report.headings if h.level == 3}
    box_end = -1
    seen: set[str] = set()
    paragraph: list[str] = []
    previous: int | None = None
    for i in indices:
        sentence = report.sentences[i]
        new_section = sentence.section not in seen
        breaks = previous is None or previous != i - 1 or new_section or i in boxes or i == box_end
        if paragraph and (breaks or "\n\n" in _gap(report, previous, i)):
            yield f"<p>{' '.join(paragraph)}</p>"
            paragraph = []
        if i == box_end:
            yield "</aside>"
            box_end = -1
        if new_section:
            seen.add(sentence.section)
            yield _section_heading(sentence.section)
        if i in boxes:
            yield f"<aside><h4>{_esc(boxes[i].text)}</h4>"
            box_end = boxes[i].last
        paragraph.append(_sentence_html(report, i, sentence))
        previous = i
    if paragraph:
        yield f"<p>{' '.join(paragraph)}</p>"
    if box_end != -1:
        yield "</aside>"


def _gap(report: Report, previous: int | None, index: int) -> str:
    if previous is None:
        return ""
    return report.text[report.sentences[previous].end : report.sentences[index].start]


def _section_heading(path: str) -> str:
    level = min(path.count(" > ") + 2, 3)
    name = path.split(" > ")[-1]
    return f'<h{level} id="{section_id(path)}">{_esc(name)}</h{level}>'


def _sentence_html(report: Report, index: int, sentence: Sentence) -> str:
    """One sentence in its span, its endnote markers as links where they stood."""
    pieces: list[str] = []
    begin = 0
    offsets = sentence.endnote_offsets or (len(sentence.text),) * len(sentence.endnotes)
    for number, offset in zip(sentence.endnotes, offsets, strict=True):
        pieces.append(_esc(sentence.text[begin:offset]))
        pieces.append(_marker(report, number))
        begin = offset
    pieces.append(_esc(sentence.text[begin:]))
    return f'<span id="{sentence_id(index)}">{"".join(pieces)}</span>'


def _marker(report: Report, number: int) -> str:
    """An endnote marker: the source in a new tab, or the endnote below when it has no URL."""
    note = report.endnotes.get(number)
    if note is None:
        return f"<sup>{number}</sup>"
    citation = make_citation(note, report.endnotes)
    url = safe_url(citation.url or note.url)
    target = (
        f'href="{_esc(url)}" target="_blank" rel="noopener noreferrer"'
        if url
        else f'href="#{_note_id(number)}"'
    )
    return f'<sup><a {target} title="{_esc(citation.source)}">{number}</a></sup>'


def _note_id(number: int) -> str:
    return f"rn-{number}"


def _notes(report: Report, numbers: Sequence[int]) -> str:
    """The endnotes the shown text cites, each with its id (the fallback link target)."""
    if not numbers:
        return ""
    items = "".join(
        f'<li value="{n}" id="{_note_id(n)}">{_esc(report.endnotes[n].text)}</li>'
        for n in numbers
        if n in report.endnotes
    )
    return f'<section class="oa-notes"><h2>Endnotes</h2><ol>{items}</ol></section>'
