"""PDF and HTML captures of the real report come out in the plain-text capture's layout."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from pypdf.errors import PyPdfError
from reportlab.lib.pagesizes import letter
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate

from opioid_assistant import load_report
from opioid_assistant.errors import ReportParseError
from opioid_assistant.report.html import html_to_report_text
from opioid_assistant.report.pdf import pdf_to_report_text
from opioid_assistant.types import Report

BUNDLED = Path(__file__).parents[1] / "src/opioid_assistant/data/cap-opioid-report-2023.txt"
REPORT_LINES = BUNDLED.read_text("utf-8").split("\n")
# The report from its first line through the paragraph with "began in 201345" (note 45),
# whose markers run 1..50, then the "Endnotes" heading and notes 1..50.
LAST_BODY_LINE = next(i for i, ln in enumerate(REPORT_LINES) if "began in 201345" in ln)
ENDNOTES_AT = REPORT_LINES.index("Endnotes")
EXCERPT = [
    *REPORT_LINES[: LAST_BODY_LINE + 1],
    "",
    "Endnotes",
    "",
    *REPORT_LINES[ENDNOTES_AT + 2 : ENDNOTES_AT + 52],
]
NOTE = re.compile(r"  (\d+)\. ")
LIST_ITEM = re.compile(r"^ *(•|\d+\.) ")


def content_lines(text: str) -> list[str]:
    """Non-blank lines with whitespace runs (and no-break spaces) collapsed."""
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def report_line(prefix: str) -> str:
    """The one line of the bundled report that starts with `prefix`."""
    (line,) = [ln for ln in REPORT_LINES if ln.startswith(prefix)]
    return line


def split_markers(line: str, expected: int) -> tuple[list[tuple[str, bool]], int]:
    """Split a line into (text, is marker) runs, finding markers expected, expected + 1, ...

    A marker is the next number glued to a non-digit ("deaths.1", "overdoses3—") or to a
    year ("201345").
    """
    runs: list[tuple[str, bool]] = []
    cursor = 0
    while True:
        n = str(expected)
        found = re.compile(rf"(?<=[^\s\d]){n}(?!\d)|(?<=\b(?:19|20)\d\d){n}(?!\d)").search(
            line, cursor
        )
        if found is None:
            break
        runs += [(line[cursor : found.start()], False), (n, True)]
        cursor, expected = found.end(), expected + 1
    return [*runs, (line[cursor:], False)], expected


def kind(line: str) -> str:
    """How the line is typeset: note, bullet, heading (short, no final stop) or body."""
    if NOTE.match(line):
        return "note"
    if line.startswith("  •"):
        return "bullet"
    if len(line) < 120 and not line.rstrip().endswith((".", ":", "”", "?")):
        return "heading"
    return "body"


def build_pdf(path: Path, lines: list[str], superscripts: bool) -> list[int]:
    """Typeset the lines with reportlab; return the marker numbers drawn as superscripts."""
    sheet = getSampleStyleSheet()
    styles = {
        "heading": sheet["Heading2"],
        "body": sheet["BodyText"],
        "bullet": sheet["BodyText"],
        # Notes in a smaller font with no space between them, as printed endnotes often are.
        "note": ParagraphStyle("note", parent=sheet["BodyText"], fontSize=8, leading=10),
    }
    styles["note"].spaceBefore = 0
    story, expected, drawn = [], 1, []
    for line in lines:
        if not line.strip():
            continue
        style = kind(line)
        if style == "body" and superscripts:
            runs, after = split_markers(line, expected)
            drawn += range(expected, after)
            expected = after
            markup = "".join(f"<super>{t}</super>" if m else escape(t) for t, m in runs)
        else:
            markup = escape(line.strip())
        story.append(Paragraph(markup, styles[style]))
    SimpleDocTemplate(str(path), pagesize=letter).build(
        story, onFirstPage=print_furniture, onLaterPages=print_furniture
    )
    return drawn


def print_furniture(pdf_canvas: canvas.Canvas, doc: SimpleDocTemplate) -> None:
    """What a browser prints on every page: date and title, URL and page count."""
    pdf_canvas.saveState()
    pdf_canvas.setFont("Helvetica", 8)
    pdf_canvas.drawString(36, 770, f"11/{doc.page}/23, 10:15 AM {REPORT_LINES[2]}")
    pdf_canvas.drawString(
        36, 20, f"https://www.americanprogress.org/article/tackling/ {doc.page}/7"
    )
    pdf_canvas.drawCentredString(306, 40, str(doc.page))
    pdf_canvas.restoreState()


@pytest.mark.parametrize("superscripts", [True, False], ids=["superscript", "glued"])
def test_pdf_gives_the_report_lines_with_markers_glued(tmp_path: Path, superscripts: bool) -> None:
    pdf = tmp_path / "report.pdf"
    drawn = build_pdf(pdf, EXCERPT, superscripts)
    assert drawn == (list(range(1, 51)) if superscripts else [])

    text = pdf_to_report_text(pdf)

    assert content_lines(text) == content_lines("\n".join(EXCERPT))
    out = text.split("\n")
    assert report_line("The United States has the world’s") in out
    assert "deaths.1 Since 1999" in text and "overdoses3—the leading" in text
    assert "began in 201345 and has been driven by synthetic opioids;46 fentanyl" in text
    # The layout the parser expects: bullets and notes indented, notes on consecutive lines.
    assert report_line("  • The opioid crisis is primarily") in out
    notes_at = out.index("Endnotes")
    assert out[notes_at + 1] == ""
    note_lines = out[notes_at + 2 : notes_at + 52]
    assert [ln.split(".")[0] for ln in note_lines] == [f"  {n}" for n in range(1, 51)]
    assert out[notes_at + 2] == report_line("  1. Congressional Budget Office")


def test_pdf_superscript_drawn_raised_on_its_own(tmp_path: Path) -> None:
    """A marker drawn as its own string above the baseline (pypdf reports a line break)."""
    pdf = tmp_path / "raised.pdf"
    pdf_canvas = canvas.Canvas(str(pdf))
    before = "The United States has the world’s highest rate of opioid-involved deaths."
    pdf_canvas.setFont("Helvetica", 10)
    pdf_canvas.drawString(72, 700, before)
    width = pdf_canvas.stringWidth(before, "Helvetica", 10)
    pdf_canvas.setFont("Helvetica", 7)
    pdf_canvas.drawString(72 + width, 704, "1")
    pdf_canvas.setFont("Helvetica", 10)
    pdf_canvas.drawString(72 + width + 5, 700, " Since 1999, more than 1 million people")
    pdf_canvas.drawString(72, 688, "have died from drug overdoses in the United States.")
    pdf_canvas.save()

    assert pdf_to_report_text(pdf) == (
        f"{before}1 Since 1999, more than 1 million people "
        "have died from drug overdoses in the United States.\n"
    )


def test_pdf_endnotes_numbered_by_superscripts(tmp_path: Path) -> None:
    """Word processors set an endnote's number as a superscript: "¹ Congressional ..."."""
    sheet = getSampleStyleSheet()
    intro = report_line("The United States has the world’s")
    runs, _ = split_markers(intro, 1)
    notes = [report_line(f"  {n}. ") for n in (1, 2, 3)]
    story = [
        Paragraph("Introduction and summary", sheet["Heading2"]),
        Paragraph("".join(f"<super>{t}</super>" if m else escape(t) for t, m in runs)),
        Paragraph("Endnotes", sheet["Heading2"]),
        *(
            Paragraph(f"<super>{n}</super> {escape(NOTE.sub('', note))}", sheet["BodyText"])
            for n, note in enumerate(notes, start=1)
        ),
    ]
    pdf = tmp_path / "word.pdf"
    SimpleDocTemplate(str(pdf), pagesize=letter).build(story)

    text = pdf_to_report_text(pdf)

    expected = ["Introduction and summary", intro, "Endnotes", "\n".join(notes)]
    assert text == "\n\n".join(expected) + "\n"


def test_pdf_and_txt_of_the_same_text_parse_to_the_same_sentences(tmp_path: Path) -> None:
    txt, pdf = tmp_path / "report.txt", tmp_path / "report.pdf"
    txt.write_text("\n".join(EXCERPT) + "\n", "utf-8")
    build_pdf(pdf, EXCERPT, superscripts=True)

    from_txt, from_pdf = load_report(txt), load_report(pdf)

    sentences = [(s.text, s.endnotes) for s in from_pdf.sentences]
    assert sentences == [(s.text, s.endnotes) for s in from_txt.sentences]
    assert [s.section for s in from_pdf.sentences] == [s.section for s in from_txt.sentences]
    assert from_pdf.endnotes == from_txt.endnotes
    assert sorted({n for _, notes in sentences for n in notes}) == list(range(1, 51))
    (wave,) = [s for s in from_pdf.sentences if "began in 2013" in s.text]
    assert wave.endnotes == (45, 46)


def build_html(path: Path, lines: list[str]) -> None:
    """Write the lines as a web page: headings, paragraphs with <sup> markers, lists."""
    body, expected, open_list = [], 1, ""
    for line in filter(str.strip, lines):
        style = kind(line)
        wanted = {"bullet": "ul", "note": "ol"}.get(style, "")
        if open_list != wanted:
            body += [f"</{open_list}>"] if open_list else []
            body += [f"<{wanted}>"] if wanted else []
            open_list = wanted
        if style == "body":
            markup, expected = html_markup(line, expected)
            body.append(f"<p>{markup}</p>")
        elif style == "heading":
            body.append(f"<h2>{escape(line)}</h2>")
        else:
            item = LIST_ITEM.sub("", line)
            body.append(f"<li>{escape(item)}</li>")
    body += [f"</{open_list}>"] if open_list else []
    page = "\n".join(body)
    path.write_text(f"<html><head><title>t</title></head><body>{page}</body></html>", "utf-8")


def parsed(report: Report) -> tuple[object, ...]:
    """Everything the parser found, but the source."""
    return (
        [(s.text, s.endnotes, s.section) for s in report.sentences],
        report.sections,
        report.endnotes,
        report.text,
    )


@pytest.mark.parametrize("form", ["pdf-superscript", "pdf-glued", "html"])
def test_whole_report_as_pdf_or_html_parses_like_the_bundled_text(
    tmp_path: Path, form: str
) -> None:
    path = tmp_path / ("report.html" if form == "html" else "report.pdf")
    if form == "html":
        build_html(path, REPORT_LINES)
    else:
        drawn = build_pdf(path, REPORT_LINES, superscripts=form == "pdf-superscript")
        assert drawn == (list(range(1, 160)) if form == "pdf-superscript" else [])

    from_file, bundled = load_report(path), load_report()

    assert parsed(from_file) == parsed(bundled)
    assert sorted({n for s in from_file.sentences for n in s.endnotes}) == list(range(1, 160))


HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Tackling the Opioid Crisis</title>
<style>p {{ color: red; }}</style><script>var x = "<p>not text</p>";</script></head>
<body>
<nav><ul><li>Issues</li><li>About us</li></ul></nav>
<header><p>Center for American Progress</p></header>
<main><article>
<h1>Tackling the Opioid Crisis Requires a Whole-of-Government, Society-Wide Approach</h1>
<div class="takeaways"><h2>Key takeaways</h2>
<ul>
  <li><p>{bullet1}</p></li>
  <li>{bullet2}</li>
</ul></div>
<h2>Introduction and summary</h2>
<p>{intro}</p>
<div>{waves}</div>
<!-- a comment is not text -->
<h2>Endnotes</h2>
<ol>
  <li>{note1}</li>
  <li><p>{note2}</p></li>
  <li>{note3}</li>
</ol>
</article></main>
<footer><p>This is the footer</p></footer>
</body></html>
"""


def html_markup(line: str, expected: int) -> tuple[str, int]:
    """The line as HTML with its markers in <sup> (some linked, as sites do), re-wrapped."""
    runs, after = split_markers(line, expected)
    parts = [
        (f'<sup><a href="#en{t}">{t}</a></sup>' if int(t) % 2 else f"<sup>{t}</sup>")
        if marker
        else escape(t).replace(". ", ".\n    ", 1)
        for t, marker in runs
    ]
    return "".join(parts), after


def test_html_gives_the_report_blocks_with_markers_glued(tmp_path: Path) -> None:
    bullets = [ln for ln in REPORT_LINES if ln.startswith("  • ")][:2]
    intro = report_line("The United States has the world’s")
    waves = report_line("According to the Centers for Disease Control")
    notes = [report_line(f"  {n}. ") for n in (1, 2, 3)]
    intro_html, _ = html_markup(intro, 1)
    waves_html, _ = html_markup(waves, 43)
    page = tmp_path / "report.html"
    page.write_text(
        HTML.format(
            bullet1=escape(bullets[0][4:]),
            bullet2=escape(bullets[1][4:]),
            intro=intro_html,
            waves=waves_html,
            **{f"note{n}": escape(notes[n - 1][len(f"  {n}. ") :]) for n in (1, 2, 3)},
        ),
        "utf-8",
    )

    text = html_to_report_text(page)

    assert "<sup>" in intro_html and "<sup>45</sup>" not in waves_html  # 45 is odd: linked
    assert (
        text
        == "\n\n".join(
            [
                "Center for American Progress",
                "Tackling the Opioid Crisis Requires a Whole-of-Government, Society-Wide Approach",
                "Key takeaways",
                *bullets,
                "Introduction and summary",
                intro,
                waves,
                "Endnotes",
                "\n".join(notes),
            ]
        )
        + "\n"
    )


def test_html_ordered_list_start_and_bracketed_sup(tmp_path: Path) -> None:
    page = tmp_path / "notes.htm"
    page.write_text(
        "<p>deaths.<sup>[1]</sup> Since 1999</p><h3>Endnotes</h3>"
        '<ol start="7"><li>Ibid.</li><li value="9">CBO.</li></ol><p>See also</p>',
        "utf-8",
    )
    assert html_to_report_text(page) == (
        "deaths.1 Since 1999\n\nEndnotes\n\n  7. Ibid.\n  9. CBO.\n\nSee also\n"
    )


def test_html_in_a_declared_legacy_charset(tmp_path: Path) -> None:
    page = tmp_path / "latin1.html"
    page.write_bytes('<meta charset="windows-1252"><p>New York’s JFK airport</p>'.encode("cp1252"))
    assert html_to_report_text(page) == "New York’s JFK airport\n"


def no_text_pdf(path: Path) -> None:
    pdf_canvas = canvas.Canvas(str(path))
    pdf_canvas.rect(72, 72, 200, 300, fill=1)  # a scanned page: drawing, no text
    pdf_canvas.showPage()
    pdf_canvas.save()


def encrypted_pdf(path: Path) -> None:
    pdf_canvas = canvas.Canvas(str(path), encrypt=StandardEncryption("secret", canPrint=0))
    pdf_canvas.drawString(72, 700, "The United States has the world’s highest rate.")
    pdf_canvas.save()


@pytest.mark.parametrize(
    ("name", "make", "says", "cause"),
    [
        ("corrupt.pdf", lambda p: p.write_bytes(b"%PDF-1.7\n\x00garbage\x9c" * 20), "is not a readable PDF", PyPdfError),
        ("truncated.pdf", lambda p: p.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Cat"), "is not a readable PDF", PyPdfError),
        ("page.pdf", lambda p: p.write_text("<html><p>deaths.</p></html>"), "is not a PDF (no %PDF- header)", None),
        ("empty.pdf", lambda p: p.write_bytes(b""), "is empty", None),
        ("scan.pdf", no_text_pdf, "has no extractable text (scanned?); export the report as text or HTML", None),
        ("locked.pdf", encrypted_pdf, "is encrypted with a password", None),
        ("missing.pdf", lambda p: None, "cannot read", FileNotFoundError),
        ("folder.pdf", lambda p: p.mkdir(), "cannot read", IsADirectoryError),
    ],
)  # fmt: skip
def test_unusable_pdf_raises_a_clear_error(
    tmp_path: Path,
    name: str,
    make: Callable[[Path], object],
    says: str,
    cause: type[BaseException] | None,
) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(ReportParseError) as caught:
        pdf_to_report_text(path)
    assert str(path) in str(caught.value)
    assert says in str(caught.value)
    if cause is None:
        assert caught.value.__cause__ is None
    else:
        assert isinstance(caught.value.__cause__, cause)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty"),
        (b"  \n\t ", "is empty"),
        (b"<p>caf\xe9 \xff</p>", "is not UTF-8 (bad byte at offset 6) and declares no charset"),
        (b'<meta charset="no-such-charset"><p>caf\xe9</p>', "declared charset 'no-such-charset'"),
        (b"<html><script>var a = 1;</script><nav>Home</nav></html>", "has no text"),
    ],
)
def test_unusable_html_raises_a_clear_error(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(content)
    with pytest.raises(ReportParseError) as caught:
        html_to_report_text(path)
    assert str(path) in str(caught.value)
    assert says in str(caught.value)
