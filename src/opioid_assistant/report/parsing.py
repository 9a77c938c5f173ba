"""Report text -> Report: sections, sentences with their endnote markers, and endnotes.

The capture has no markup: headings are short lines with no final period, and endnote
markers are digits glued to the text ("deaths.1", "in 201345"). Markers run 1..N in reading
order, so the parser walks the body expecting the next number; that order decides what is a
marker and splits a marker glued to a year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from opioid_assistant.errors import ReportParseError
from opioid_assistant.report.endnotes import parse_endnotes
from opioid_assistant.report.layout import CAP_WEB_CAPTURE
from opioid_assistant.report.sentences import split_sentences
from opioid_assistant.text import FUNCTION_WORDS
from opioid_assistant.types import Heading, Report, Section, Sentence

BUNDLED_REPORT = "cap-opioid-report-2023.txt"

LAYOUT = CAP_WEB_CAPTURE
BULLET = "•"
HEADING_MAX_CHARS = 140
LONG_HEADING_WORDS = 10  # a claim-like heading outside a solution group opens a section

# A digit run glued to the word or punctuation before it ("deaths.1", "overdoses3—").
GLUED_DIGITS = re.compile(r"(?<=[A-Za-z.,;:)”’\"%?!])(\d{1,3})(?!\d)")
# The same, but never after a digit and a point or comma: "$46.1", "1,216", "1,200.37".
UNAMBIGUOUS_GLUED_DIGITS = re.compile(r"(?<=[A-Za-z.,;:)”’\"%?!])(?<!\d[.,:])(\d{1,3})(?!\d)")
# After "1,200." a glued run is a marker only where a sentence ends: "$46.1 billion" is not.
SENTENCE_END_AFTER = re.compile(r"\s*$|\s+[A-Z“\"]")
# A digit run preceded by a space that may be a year with a marker glued on ("201345").
YEAR_GLUED = re.compile(r"(?<![\d,.$])\b((?:19|20)\d\d)(\d{1,3})\b")


def load_report(path: str | Path | None = None) -> Report:
    """Load and parse the report.

    Args:
        path: A .txt capture, a .pdf, or an .html capture; None for the bundled report.

    Returns:
        The parsed report.

    Raises:
        ReportParseError: the file is missing, unreadable, or not the report's layout.
    """
    if path is None:
        text = resources.files("opioid_assistant.data").joinpath(BUNDLED_REPORT).read_text("utf-8")
        return parse_report_text(text, source="bundled")
    return parse_report_text(read_report_text(Path(path)), source=str(path))


def read_report_text(path: Path) -> str:
    """Return the report text of a .txt, .pdf or .html file in the capture's layout."""
    if not path.is_file():
        raise ReportParseError(
            f"report file not found: {path}; pass an existing .txt, .pdf or .html"
        )
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from opioid_assistant.report.pdf import pdf_to_report_text

        return pdf_to_report_text(path)
    if suffix in (".html", ".htm"):
        from opioid_assistant.report.html import html_to_report_text

        return html_to_report_text(path)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReportParseError(
            f"{path} is not UTF-8 text (byte {e.start}); re-save it as UTF-8"
        ) from e
    except OSError as e:
        raise ReportParseError(f"cannot read {path}: {e.strerror}; check its permissions") from e


def parse_report_text(text: str, source: str = "bundled") -> Report:
    """Parse the plain-text capture of the report into a Report."""
    text = text.replace("\r\n", "\n").replace("\u00a0", " ")
    lines = text.split("\n")
    end_idx = _find_line(lines, LAYOUT.endnotes_heading)
    if end_idx is None:
        raise ReportParseError(
            f"{source}: no '{LAYOUT.endnotes_heading}' heading found; "
            "is this the report's full text?"
        )
    endnotes = parse_endnotes(lines[end_idx + 1 :])
    if not endnotes:
        raise ReportParseError(
            f"{source}: the '{LAYOUT.endnotes_heading}' section has no numbered notes"
        )
    title = _title(lines)
    body_end = min(i for i in (_find_line(lines, m) for m in LAYOUT.back_matter) if i is not None)
    blocks = _blocks(lines[:body_end])
    start = _body_start(blocks, title)
    body = _walk_body(blocks[start:], max(endnotes))
    return Report(
        title=title,
        publisher=_content_line(lines, LAYOUT.publisher_line),
        text=body.text,
        sections=tuple(body.sections),
        sentences=tuple(body.sentences),
        endnotes=endnotes,
        source=source,
        headings=body.headings(),
        authors=_authors(lines),
    )


def _authors(lines: list[str]) -> tuple[tuple[str, str], ...]:
    """The author list after the layout's authors heading: (name, role) pairs."""
    start = _find_line(lines, LAYOUT.authors_heading)
    if start is None:
        return ()
    block: list[str] = []
    for line in lines[start + 1 :]:
        if line.strip() == LAYOUT.authors_end:
            break
        if line.strip():
            block.append(line.strip())
    return tuple(zip(block[::2], block[1::2], strict=False))


def _find_line(lines: list[str], wanted: str) -> int | None:
    for i, line in enumerate(lines):
        if line.strip() == wanted:
            return i
    return None


def _title(lines: list[str]) -> str:
    return _content_line(lines, LAYOUT.title_line) or _content_line(lines, 0)


def _content_line(lines: list[str], number: int) -> str:
    """The `number`th non-blank line (0-based), or '' when there are fewer."""
    content = [ln.strip() for ln in lines if ln.strip()]
    return content[number] if len(content) > number else ""


def _blocks(lines: list[str]) -> list[str]:
    """The blocks of the capture: every non-blank line, stripped (a line is a block)."""
    return [line.strip() for line in lines if line.strip()]


def _body_start(blocks: list[str], title: str) -> int:
    """Index of the first content block: the layout's body_start heading, else after the title."""
    for i, block in enumerate(blocks):
        if block == LAYOUT.body_start:
            return i
    last_title = max((i for i, b in enumerate(blocks) if b == title), default=-1)
    return last_title + 1


def _is_heading(text: str) -> bool:
    return (
        len(text) <= HEADING_MAX_CHARS
        and not text.startswith(BULLET)
        and text[-1] not in '.?!:”"’'
        and not UNAMBIGUOUS_GLUED_DIGITS.search(text)
    )


def _is_furniture(text: str) -> bool:
    return text in LAYOUT.furniture_lines or text.startswith(LAYOUT.furniture_prefixes)


def _group_titles(blocks: list[str]) -> dict[str, list[str]]:
    """Solution groups of the recommendations summary: heading -> its bullet texts."""
    groups: dict[str, list[str]] = {}
    for i, block in enumerate(blocks[:-1]):
        if _is_heading(block) and blocks[i + 1].startswith(BULLET):
            bullets = []
            for nxt in blocks[i + 1 :]:
                if not nxt.startswith(BULLET):
                    break
                bullets.append(nxt.lstrip(BULLET).strip())
            groups.setdefault(block, bullets)
    return groups


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z][a-z\-]+", text.lower())) - FUNCTION_WORDS


def _is_recommendation(heading: str, bullets: list[str]) -> bool:
    """A sub-heading restates one of its group's summary bullets (most of its words)."""
    words = _words(heading)
    return any(
        len(shared := words & _words(b)) >= 3 and len(shared) >= 0.5 * len(words) for b in bullets
    )


@dataclass
class _BodyBuilder:
    """Accumulates the cleaned text, sections and sentences while walking the body."""

    last_note: int
    expected: int = 1
    text: str = ""
    path: str = ""
    level: int = 1

    def __post_init__(self) -> None:
        self.sections: list[Section] = []
        self.paragraphs: list[str] = []
        self.sentences: list[Sentence] = []
        self.heading_marks: list[tuple[str, str, int, int]] = []  # text, path, level, sentence

    def open_section(self, path: str, level: int) -> None:
        self.close_section()
        self.path, self.level = path, level
        self._append_text(path.split(" > ")[-1])
        self.heading_marks.append((path.split(" > ")[-1], path, level, len(self.sentences)))

    def mark_side_box(self, title: str) -> None:
        self.heading_marks.append((title, self.path, 3, len(self.sentences)))

    def headings(self) -> tuple[Heading, ...]:
        """Each distinct heading with the sentences under it (see Heading)."""
        found: dict[str, Heading] = {}
        for k, (text, path, level, first) in enumerate(self.heading_marks):
            if level == 3:
                later = [m[3] for m in self.heading_marks[k + 1 :] if m[3] > first]
                last = min(later, default=len(self.sentences))
            else:
                inside = [
                    i
                    for i, s in enumerate(self.sentences)
                    if i >= first and (s.section == path or s.section.startswith(f"{path} > "))
                ]
                first, last = (inside[0], inside[-1] + 1) if inside else (first, first)
            # The summary's list repeats the solution groups' headings: keep the longer span.
            if last > first and (text not in found or last - first > _span(found[text])):
                found[text] = Heading(text, path, level, first, last)
        return tuple(sorted(found.values(), key=lambda h: (h.first, h.level)))

    def close_section(self) -> None:
        if self.path and self.paragraphs:
            for k, section in enumerate(self.sections):
                if section.path == self.path:  # a section resumed after a list: one Section
                    merged = section.paragraphs + tuple(self.paragraphs)
                    self.sections[k] = Section(self.path, self.level, merged)
                    break
            else:
                self.sections.append(Section(self.path, self.level, tuple(self.paragraphs)))
        self.paragraphs = []

    def add_paragraph(self, raw: str, split: bool = True) -> None:
        clean, markers = extract_markers(raw, self.expected, self.last_note)
        if markers:
            self.expected = markers[-1][1] + 1
        offset = self._append_text(clean)
        self.paragraphs.append(clean)
        for start, end in split_sentences(clean) if split else [(0, len(clean))]:
            inside = [(pos - start, n) for pos, n in markers if start < pos <= end]
            self.sentences.append(
                Sentence(
                    clean[start:end],
                    self.path,
                    tuple(n for _, n in inside),
                    offset + start,
                    offset + end,
                    tuple(min(pos, end - start) for pos, _ in inside),
                )
            )

    def _append_text(self, piece: str) -> int:
        if self.text:
            self.text += "\n\n"
        offset = len(self.text)
        self.text += piece
        return offset


def _span(heading: Heading) -> int:
    return heading.last - heading.first


def extract_markers(text: str, expected: int, last_note: int) -> tuple[str, list[tuple[int, int]]]:
    """Remove endnote markers from a paragraph.

    Args:
        text: The paragraph as captured, markers glued.
        expected: The next marker number in reading order.
        last_note: The highest endnote number that exists.

    Returns:
        The text without marker digits, and (position in that text, note number) pairs.
    """
    found: list[tuple[int, int, int]] = []  # (start, end, number) in `text`
    for m in sorted(
        [*GLUED_DIGITS.finditer(text), *YEAR_GLUED.finditer(text)], key=lambda m: m.start()
    ):
        group = 2 if m.re is YEAR_GLUED else 1
        number = int(m.group(group))
        # Reading order decides: a glued run is a marker when it is the next number (a gap of
        # one or two tolerates a marker lost in capture); a year only splits on the exact next.
        upper = expected if group == 2 else min(expected + 2, last_note)
        after_number = re.match(r"\d[.,:]", text[max(m.start() - 2, 0) : m.start()]) is not None
        if after_number and not SENTENCE_END_AFTER.match(text, m.end()):
            continue
        if expected <= number <= upper:
            found.append((m.start(group), m.end(group), number))
            expected = number + 1
    clean, markers, cursor = [], [], 0
    removed = 0
    for start, end, number in found:
        clean.append(text[cursor:start])
        markers.append((start - removed, number))
        removed += end - start
        cursor = end
    clean.append(text[cursor:])
    return "".join(clean), markers


def _walk_body(blocks: list[str], last_note: int) -> _BodyBuilder:
    """Classify blocks into headings, paragraphs and call-outs, and build the sections."""
    groups = {k: v for k, v in _group_titles(blocks).items() if k not in LAYOUT.top_level_names}
    kept = _drop_pull_quotes([b for b in blocks if not _is_furniture(b)])
    body = _BodyBuilder(last_note=last_note)
    top, group, i = "", "", 0
    while i < len(kept):
        text = kept[i]
        nxt = kept[i + 1] if i + 1 < len(kept) else ""
        if not _is_heading(text):
            if (
                body.level == 2
                and body.path.split(" > ")[-1] in groups
                and not text.startswith(BULLET)
            ):
                body.open_section(top, 1)  # the summary's bullets have ended
            body.add_paragraph(text.lstrip(BULLET).strip())
        elif stats := _stats_block(kept, i):
            body.add_paragraph(stats[0], split=False)
            i = stats[1]
            continue
        elif text in groups and nxt.startswith(BULLET):
            body.open_section(f"{top} > {text}", 2)  # the summary's list of recommendations
        elif text in groups:
            top, group = text, text
            body.open_section(top, 1)
        elif group and _is_recommendation(text, groups[group]):
            body.open_section(f"{top} > {text}", 2)
        elif text in LAYOUT.top_level_names or (
            not group and len(text.split()) >= LONG_HEADING_WORDS
        ):
            top, group = text, ""
            body.open_section(top, 1)
        else:  # any other heading titles a side box; its text stays in the section around it
            body.mark_side_box(text)
        i += 1
    body.close_section()
    return body


def _stats_block(blocks: list[str], i: int) -> tuple[str, int] | None:
    """A call-out of figures ('$1T' / label pairs) after a heading, as one passage."""
    pairs = []
    j = i + 1
    while j + 1 < len(blocks) and LAYOUT.stats_figure.fullmatch(blocks[j]):
        pairs.append(f"{blocks[j]}: {blocks[j + 1]}.")
        j += 2
    if len(pairs) < 2:
        return None
    return f"{blocks[i]}: " + " ".join(pairs), j


def _normalized_words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", re.sub(r"\d+", " ", text.lower())))


def _drop_pull_quotes(blocks: list[str]) -> list[str]:
    """Drop pull quotes: a short paragraph that repeats a sentence of a longer paragraph.

    A list item is never one: a summary's bullet may restate a later paragraph's sentence
    (the recommendations summary does), and it belongs to its list."""
    paragraphs = [b for b in blocks if not _is_heading(b)]
    kept = []
    for block in blocks:
        if _is_heading(block) or block.startswith(BULLET) or UNAMBIGUOUS_GLUED_DIGITS.search(block):
            kept.append(block)
            continue
        words = _normalized_words(block)
        repeated = any(
            len(other) > len(block) and len(words & _normalized_words(other)) >= 0.85 * len(words)
            for other in paragraphs
        )
        if not repeated:
            kept.append(block)
    return kept
