"""The reader tab's HTML: contents, sentence anchors, endnote links, and nothing unescaped."""

from __future__ import annotations

import pytest

from opioid_assistant import load_report
from opioid_assistant.serve.reader import reader_html, section_id, sentence_anchor
from opioid_assistant.types import Endnote, Heading, Report, Section, Sentence

HOSTILE = "<script>alert('x')</script> & \"quotes\""


def _sentence(text: str, section: str, start: int, notes=(), offsets=()) -> Sentence:  # type: ignore[no-untyped-def]
    return Sentence(text, section, tuple(notes), start, start + len(text), tuple(offsets))


def _small_report() -> Report:
    """Two sections, a side box, a hostile title and hostile endnotes."""
    texts = [
        ("First <b>claim</b>.", "Intro", (1,), (19,)),
        ("Second claim.", "Intro", (2, 3), (7, 13)),
        ("Box text.", "Intro", (), ()),
        ("Sub text.", "Intro > Sub & more", (), ()),
    ]
    body, sentences = "", []
    for i, (text, section, notes, offsets) in enumerate(texts):
        sentences.append(_sentence(text, section, len(body), notes, offsets))
        body += text + (" " if i == 0 else "\n\n")  # the first two share a paragraph
    return Report(
        title=HOSTILE,
        text=body,
        sections=(
            Section("Intro", 1, ("First <b>claim</b>. Second claim.",)),
            Section("Intro > Sub & more", 2, ("Sub text.",)),
        ),
        sentences=tuple(sentences),
        endnotes={
            1: Endnote(1, 'Author, "Title" <i>x</i>.', url="https://example.org/a?b=1&c=2"),
            2: Endnote(2, HOSTILE, url="javascript:alert(1)"),
            3: Endnote(3, "Ibid.", resolves_to=1, resolved_url="https://example.org/a?b=1&c=2"),
        },
        headings=(
            Heading("Intro", "Intro", 1, 0, 4),
            Heading("A <box>", "Intro", 3, 2, 3),
            Heading("Sub & more", "Intro > Sub & more", 2, 3, 4),
        ),
    )


def test_hand_built_report_renders_exactly() -> None:
    page = reader_html(_small_report())
    body = page[page.index('<div class="oa-reader">') :]
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;"
    link1 = (
        '<sup><a href="https://example.org/a?b=1&amp;c=2" target="_blank" '
        'rel="noopener noreferrer" title="Author, &quot;Title&quot; &lt;i&gt;x&lt;/i&gt;.">1</a></sup>'
    )
    link3 = (
        '<sup><a href="https://example.org/a?b=1&amp;c=2" target="_blank" '
        'rel="noopener noreferrer" title="Ibid. (= endnote 1: Author, &quot;Title&quot; '
        '&lt;i&gt;x&lt;/i&gt;.)">3</a></sup>'
    )
    assert body == "\n".join(
        [
            '<div class="oa-reader">',
            f"<h1>{escaped}</h1>",
            '<nav aria-label="Contents"><details open><summary>Contents</summary><ol>'
            '<li><a href="#sec-intro">Intro</a><ol>'
            '<li><a href="#sec-intro-sub-more">Sub &amp; more</a></li></ol></li>'
            "</ol></details></nav>",
            '<h2 id="sec-intro">Intro</h2>',
            f'<p><span id="s-0">First &lt;b&gt;claim&lt;/b&gt;.{link1}</span> '
            # a javascript: URL is no link: the marker points at the endnote below instead
            f'<span id="s-1">Second <sup><a href="#rn-2" title="{escaped}">2</a></sup>'
            f"claim.{link3}</span></p>",
            "<aside><h4>A &lt;box&gt;</h4>",
            '<p><span id="s-2">Box text.</span></p>',
            "</aside>",
            '<h3 id="sec-intro-sub-more">Sub &amp; more</h3>',
            '<p><span id="s-3">Sub text.</span></p>',
            '<section class="oa-notes"><h2>Endnotes</h2><ol>'
            '<li value="1" id="rn-1">Author, &quot;Title&quot; &lt;i&gt;x&lt;/i&gt;.</li>'
            f'<li value="2" id="rn-2">{escaped}</li>'
            '<li value="3" id="rn-3">Ibid.</li></ol></section>',
            "</div>",
        ]
    )
    assert "<script" not in page and "javascript:" not in page


def test_one_section_alone() -> None:
    page = reader_html(_small_report(), section="Intro > Sub & more")
    assert '<span id="s-3">Sub text.</span>' in page
    assert 'id="s-0"' not in page and '<section class="oa-notes">' not in page
    assert '<a href="#sec-intro">Intro</a>' in page  # the contents stay whole
    with pytest.raises(ValueError, match="no section 'Nowhere'"):
        reader_html(_small_report(), section="Nowhere")


def test_sentence_anchor() -> None:
    report = _small_report()
    assert sentence_anchor(report, "Second claim.") == "s-1"
    assert sentence_anchor(report, "  second   CLAIM. ") == "s-1"
    assert sentence_anchor(report, "Not a sentence.") is None


def test_the_real_report() -> None:
    report = load_report()
    page = reader_html(report)
    assert len(page.encode()) < 300_000  # light enough for a phone
    assert page.count('<span id="s-') == len(report.sentences)
    # The report repeats one key takeaway in its foreign policy section: the evidence's
    # section says which copy.
    repeated = report.sentences[123]
    assert repeated.text == report.sentences[7].text
    assert sentence_anchor(report, repeated.text) == "s-7"
    assert sentence_anchor(report, repeated.text, repeated.section) == "s-123"
    assert section_id(report.headings[5].section) == "sec-public-health-solutions"
    assert '<h2 id="sec-public-health-solutions">Public health solutions</h2>' in page
    assert '<a href="#sec-public-health-solutions">Public health solutions</a>' in page
    settlement = sentence_anchor(
        report, "An additional settlement of $13.8 billion with pharmacy chains followed."
    )
    assert settlement == "s-73"
    assert (
        f'<span id="{settlement}">An additional settlement of $13.8 billion with pharmacy chains followed.<sup><a href="'
        in page
    )
    section = reader_html(report, section="Border security solutions")
    assert 'id="s-92"' in section and 'id="s-119"' in section
    assert 'id="s-91"' not in section and 'id="s-120"' not in section
