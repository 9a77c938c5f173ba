"""PDF -> text in the layout of the plain-text capture (see report.capture): the one PDF reader,
for the report and for the cited sources alike.

pypdf reports each run of text with its font and size; lines are rebuilt from baselines,
superscript digits become glued endnote markers, wrapped lines are joined into paragraphs,
and headings (another size, or bold) become blocks of their own.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from opioid_assistant.errors import ReportParseError
from opioid_assistant.report.capture import (
    BULLET_CHARS,
    ENDNOTES,
    MARKER,
    Block,
    classify,
    render,
)
from opioid_assistant.report.endnotes import NOTE_LINE

# Digits drawn at or below this fraction of their line's font size are a superscript marker.
SUPERSCRIPT_RATIO = 0.85
# Baselines closer than this many font sizes are one line (a superscript's rise).
SAME_LINE = 0.6
# A gap between lines above this many times the usual leading starts a new paragraph.
PARAGRAPH_GAP = 1.25
# Font sizes further apart than this fraction are different styles (heading vs body).
SIZE_CHANGE = 0.1
NOTE_NUMBER = re.compile(r"^\d{1,3}\.?\s*", re.ASCII)
# The end of a sentence, possibly with its endnote marker glued on.
SENTENCE_END = re.compile(r"[.?!:][”\"’)]?\d{0,3}$")
URL_START = re.compile(r"https?://|www\.", re.IGNORECASE)
BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
# pypdf raises more than its own errors on a damaged file; each of these means "unreadable".
PDF_FAILURES = (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError,
                RecursionError, zlib.error)  # fmt: skip


def pdf_to_report_text(path: Path) -> str:
    """Extract a PDF of the report as text in the layout of the plain-text capture.

    Superscript digits (drawn clearly smaller than their line) become markers glued to the
    text before them; wrapped lines are joined into paragraphs; headings (another size, or
    bold) become blocks of their own; notes after an "Endnotes" heading become "  N. text";
    page numbers and running headers and footers are dropped.

    Raises:
        ReportParseError: the file is missing, empty, corrupt, encrypted, or has no text.
    """
    path = Path(path)
    lines = _text_lines(_open_pdf(path), str(path))
    if not lines:
        raise ReportParseError(
            f"{path} has no extractable text (scanned?); export the report as text or HTML"
        )
    return render(_pdf_blocks(lines))


def pdf_text(data: bytes, name: str = "the PDF") -> tuple[str, str]:
    """A PDF's text in the same layout, and its title; the text is '' when it has none.

    Raises:
        ReportParseError: the bytes are not a readable, unlocked PDF.
    """
    reader = _reader(io.BytesIO(data), name)
    lines = _text_lines(reader, name)
    title = str((reader.metadata.title if reader.metadata else None) or "")
    return (render(_pdf_blocks(lines)) if lines else ""), title


def _text_lines(reader: PdfReader, name: str) -> list[_Line]:
    """Every page's lines, page furniture dropped."""
    pages: list[list[_Line]] = []
    for number, page in enumerate(reader.pages):
        try:
            pages.append(_page_lines(page, number))
        except PDF_FAILURES as e:
            raise ReportParseError(
                f"{name}: page {number + 1} cannot be read ({e}); the PDF is damaged: "
                "export the report again, or as text or HTML"
            ) from e
    return _drop_running_lines(pages)


@dataclass
class _Piece:
    """A run of text pypdf drew in one font."""

    text: str
    size: float
    bold: bool


@dataclass
class _Line:
    """One visual line: its page, its baseline and the pieces drawn on it."""

    page: int
    y: float
    pieces: list[_Piece] = field(default_factory=list)

    @property
    def size(self) -> float:
        """The font size of the line's words (markers and figures aside)."""
        worded = [p.size for p in self.pieces if any(ch.isalpha() for ch in p.text)]
        return max(worded or [p.size for p in self.pieces] or [0.0])

    @property
    def bold(self) -> bool:
        """Whether all the line's words are bold (a heading, not a bold word)."""
        worded = [p for p in self.pieces if any(ch.isalpha() for ch in p.text)]
        return bool(worded) and all(p.bold for p in worded)

    def is_marker(self, piece: _Piece) -> bool:
        """Whether a piece is superscript digits: an endnote marker."""
        digits = MARKER.fullmatch(piece.text.strip())
        return digits is not None and piece.size <= SUPERSCRIPT_RATIO * self.size

    @property
    def starts_with_marker(self) -> bool:
        """Whether the line opens with a marker, which belongs to the line before."""
        first = next((p for p in self.pieces if p.text.strip()), None)
        return first is not None and self.is_marker(first)

    def text(self) -> str:
        """The line's text, markers glued to the text before them, spaces collapsed."""
        out = ""
        for piece in self.pieces:
            if self.is_marker(piece):
                out = out.rstrip() + piece.text.strip() + (" " if piece.text[-1].isspace() else "")
            else:
                out += piece.text
        return " ".join(out.split())


def _open_pdf(path: Path) -> PdfReader:
    """Open a PDF file (one locked with an empty user password too), or raise a clear error."""
    try:
        with path.open("rb") as file:
            head = file.read(1024)
    except OSError as e:
        raise ReportParseError(
            f"cannot read {path}: {e.strerror}; check the path and its permissions"
        ) from e
    if not head:
        raise ReportParseError(f"{path} is empty (0 bytes); export the report again")
    if b"%PDF-" not in head:
        raise ReportParseError(
            f"{path} is not a PDF (no %PDF- header); a saved web page needs the .html suffix"
        )
    return _reader(path, str(path))


def _reader(source: Path | IO[bytes], name: str) -> PdfReader:
    """A PdfReader whose page tree has been read, or a ReportParseError naming `name`."""
    try:
        reader = PdfReader(source)
        # Owner-only protection (an empty user password) still lets the text be read.
        locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
        if not locked:
            len(reader.pages)  # parse the page tree now, so a broken one fails here
    except OSError as e:
        raise ReportParseError(
            f"cannot read {name}: {e.strerror}; check the path and its permissions"
        ) from e
    except DependencyError as e:
        raise ReportParseError(
            f"{name} is encrypted with AES, which needs the `cryptography` package; "
            "remove the encryption (e.g. `qpdf --decrypt`) or export the report as text"
        ) from e
    except PDF_FAILURES as e:
        raise ReportParseError(
            f"{name} is not a readable PDF ({e}); check the file is complete, "
            "or export the report as text or HTML"
        ) from e
    if locked:
        raise ReportParseError(
            f"{name} is encrypted with a password; remove it (e.g. `qpdf --password=... "
            "--decrypt`) or export the report as text or HTML"
        )
    return reader


def _page_lines(page: PageObject, number: int) -> list[_Line]:
    """The page's visual lines in drawing order."""
    lines: list[_Line] = []
    current: _Line | None = None

    def visit(text: str, cm: Any, tm: Any, font: Any, font_size: float) -> None:
        nonlocal current
        m = _matrix_product(tm, cm)
        size = abs(font_size * math.hypot(m[2], m[3])) or abs(font_size)
        bold = bool(font) and bool(BOLD_FONT.search(str(font.get("/BaseFont", ""))))
        # pypdf ends a piece with "\n" where the text moves to another line.
        for k, part in enumerate(text.split("\n")):
            if k:
                current = None
            if part:
                if current is None:
                    current = _Line(number, m[5])
                    lines.append(current)
                # WinAnsi has a bullet at 0x7F too (PDF 32000 Annex D); pypdf leaves it DEL.
                current.pieces.append(_Piece(part.replace("\x7f", "•"), size, bold))

    page.extract_text(visitor_text=visit)
    return [line for line in _merge_baselines(lines) if line.text()]


def _matrix_product(tm: Any, cm: Any) -> tuple[float, ...]:
    """Text matrix times current transformation matrix: where and how large text lands."""
    a, b, c, d, e, f = (float(v) for v in tm)
    p, q, r, s, t, u = (float(v) for v in cm)
    return (a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s,
            e * p + f * r + t, e * q + f * s + u)  # fmt: skip


def _merge_baselines(lines: list[_Line]) -> list[_Line]:
    """Join consecutive lines on one baseline: pypdf breaks a line at a raised superscript."""
    merged: list[_Line] = []
    for line in lines:
        prev = merged[-1] if merged else None
        if prev is None or abs(prev.y - line.y) >= SAME_LINE * max(prev.size, line.size, 1):
            merged.append(line)
            continue
        first, last = line.pieces[0], prev.pieces[-1]
        glued = prev.is_marker(first) or line.is_marker(first)
        if not glued and not last.text[-1].isspace() and not first.text[0].isspace():
            prev.pieces.append(_Piece(" ", first.size, first.bold))
        prev.pieces.extend(line.pieces)
    return merged


def _drop_running_lines(pages: list[list[_Line]]) -> list[_Line]:
    """All lines but page furniture: page numbers, and header and footer lines that recur
    (numbers aside) on most pages, as a browser prints a date, the title, the URL, "3/25"."""

    def key(line: _Line) -> str | None:
        text = line.text()
        return None if NOTE_LINE.match(text) else re.sub(r"\d+", "#", text)

    edges = [page[:3] + page[-3:] for page in pages]
    seen = Counter(k for edge in edges for k in {key(line) for line in edge} if k)
    recurring = {k for k, n in seen.items() if len(pages) >= 3 and n >= max(3, len(pages) / 2)}
    kept: list[_Line] = []
    for page, edge in zip(pages, edges, strict=True):
        drop = [ln for ln in edge if key(ln) in recurring or ln.text().isdigit()]
        kept += [line for line in page if all(line is not d for d in drop)]
    return kept


def _leadings(lines: list[_Line]) -> Callable[[_Line], float]:
    """How far apart the lines of one paragraph are, by font size.

    The most common gap between same-style lines, but at most the body text's leading scaled
    to the size: headings are mostly one line, so their most common gap is between headings.
    """
    gaps: dict[float, Counter[float]] = {}
    for prev, line in itertools.pairwise(lines):
        gap = prev.y - line.y
        if prev.page == line.page and _same_style(prev, line) and 0 < gap < 3 * line.size:
            gaps.setdefault(_size_key(line), Counter())[round(gap * 2) / 2] += 1
    modes = {key: counts.most_common(1)[0][0] for key, counts in gaps.items()}
    body = max(Counter(_size_key(line) for line in lines).most_common(1)[0][0], 1.0)
    ratio = modes.get(body, 1.2 * body) / body
    return lambda line: min(modes.get(_size_key(line), math.inf), ratio * line.size)


def _size_key(line: _Line) -> float:
    return round(line.size * 2) / 2


def _same_style(a: _Line, b: _Line) -> bool:
    return a.bold == b.bold and abs(a.size - b.size) <= SIZE_CHANGE * max(a.size, b.size)


def _breaks(prev: _Line, line: _Line, leading: Callable[[_Line], float]) -> bool:
    """Whether `line` starts a new block rather than continuing the paragraph of `prev`."""
    if not _same_style(prev, line) or line.text().startswith(tuple(BULLET_CHARS)):
        return True
    if prev.page != line.page or line.y >= prev.y:
        # A new page or column: only a heading or a finished sentence ends a paragraph there.
        return prev.bold or bool(SENTENCE_END.search(prev.text()))
    return prev.y - line.y > PARAGRAPH_GAP * leading(line)


def _pdf_blocks(lines: list[_Line]) -> list[Block]:
    """Group lines into blocks; after "Endnotes", each note starts where its number does."""
    leading = _leadings(lines)
    groups: list[tuple[int, list[_Line]]] = []  # (note number or 0, the lines)
    in_notes, next_note = False, 0
    for line in lines:
        text = line.text()
        if text.casefold() == ENDNOTES.casefold():
            groups.append((0, [line]))
            in_notes, next_note = True, 0
            continue
        if in_notes:
            # "1. text", or "1 text" with a superscript 1 as word processors set endnotes.
            note = NOTE_LINE.match(text) or (line.starts_with_marker and MARKER.match(text))
            if note and next_note in (0, int(note.group(1))):
                next_note = int(note.group(1)) + 1
                groups.append((next_note - 1, [line]))
                continue
            if next_note and _same_style(groups[-1][1][-1], line):
                groups[-1][1].append(line)  # a note wrapped onto this line or page
                continue
            in_notes = False  # what follows the notes
        if groups and not _breaks(groups[-1][1][-1], line, leading):
            groups[-1][1].append(line)
        else:
            groups.append((0, [line]))
    return [
        Block("note", f"{n}. {NOTE_NUMBER.sub('', _join(group), count=1)}")
        if n
        else classify(_join(group), note=False)
        for n, group in groups
    ]


def _join(lines: list[_Line]) -> str:
    """Wrapped lines joined with one space; none before a marker or inside a broken URL."""
    text = lines[0].text()
    for line in lines[1:]:
        more = line.text()
        glued = line.starts_with_marker or _continues_url(text, more)
        text += ("" if glued else " ") + more
    return text


def _continues_url(text: str, more: str) -> bool:
    """Whether `more` carries on a URL that `text` ends with (a long URL wraps anywhere)."""
    last = text.rsplit(" ", 1)[-1]
    if not URL_START.match(last) or not more:
        return False
    if last[-1] in ".,;:":  # the URL may have ended its sentence: only lowercase goes on
        return more[0].islower() or more[0].isdigit()
    return more[0] not in '(“"'
