"""The real report parses into exactly the sections, sentences and endnotes it has."""

from __future__ import annotations

from pathlib import Path

import pytest

from opioid_assistant import load_report
from opioid_assistant.answer.citations import make_citation
from opioid_assistant.errors import ReportParseError
from opioid_assistant.report.endnotes import original_note
from opioid_assistant.report.parsing import extract_markers
from opioid_assistant.types import Citation, Report

BUNDLED = Path(__file__).parents[1] / "src/opioid_assistant/data/cap-opioid-report-2023.txt"

INTRO_PUBLIC_HEALTH = "Introduction and summary > Public health solutions"


@pytest.fixture(scope="module")
def report() -> Report:
    return load_report()


def only(report: Report, fragment: str) -> list:
    return [s for s in report.sentences if fragment in s.text]


def test_bundled_report_is_the_shared_corpus_byte_for_byte() -> None:
    shared = Path(__file__).parents[2] / "shared/corpus/cap-opioid-report-2023.txt"
    if not shared.exists():
        pytest.skip("../shared is not beside this checkout")
    assert BUNDLED.read_bytes() == shared.read_bytes()


def test_title_publisher_and_all_159_endnotes(report: Report) -> None:
    assert (
        report.title
        == "Tackling the Opioid Crisis Requires a Whole-of-Government, Society-Wide Approach"
    )
    assert report.publisher == "Center for American Progress"
    assert sorted(report.endnotes) == list(range(1, 160))


def test_authors_with_their_roles(report: Report) -> None:
    assert report.authors[:3] == (
        ("Trinh Q. Truong", "Former Policy Analyst, Immigration"),
        ("Debu Gandhi", "Senior Director, Immigration Policy"),
        ("Jill Rosenthal", "Director, Public Health"),
    )
    assert len(report.authors) == 8 and report.authors[-1] == ("Cleo Bluthenthal", "Intern")
    assert report.front_matter()[1] == "Published by the Center for American Progress (CAP)."
    assert report.front_matter()[-1] == "Cleo Bluthenthal, author: Intern."
    assert len(report.front_matter()) == 3 + 8  # title, publisher, authors, each role


def test_every_marker_attached_once_in_reading_order(report: Report) -> None:
    markers = [n for s in report.sentences for n in s.endnotes]
    assert markers == list(range(1, 160))


def test_year_glued_markers_split(report: Report) -> None:
    (third_wave,) = report.sentences_citing(45)
    assert "began in 2013 and has been driven by synthetic opioids" in third_wave.text
    assert third_wave.endnotes == (45, 46)
    (arrests,) = report.sentences_citing(116)
    assert "between 1982 and 2007 and a 1,216 percent increase" in arrests.text
    assert arrests.endnotes == (116, 117)


def test_numbers_that_are_not_markers_stay_in_the_text(report: Report) -> None:
    (budget,) = only(report, "$46.1 billion")
    assert budget.endnotes == (32, 33)
    (covid,) = only(report, "and the COVID-19 pandemic,")
    assert covid.endnotes == (9, 10)
    (prosecutions,) = only(report, "they reached more than 1,200.")
    assert prosecutions.endnotes == (37,)
    (deaths,) = only(report, "In 2022 alone, more than 100,000 people died")
    assert deaths.endnotes == (3, 4, 5)
    assert deaths.text.startswith(
        "In 2022 alone, more than 100,000 people died from drug overdoses—the"
    )


def test_markers_glued_to_sentence_ends_belong_to_that_sentence(report: Report) -> None:
    (first,) = report.sentences_citing(1)
    assert first.text == "The United States has the world’s highest rate of opioid-involved deaths."
    (second,) = report.sentences_citing(2)
    assert second.text.startswith("Since 1999, more than 1 million people have died")


def test_ibid_and_short_forms_resolve(report: Report) -> None:
    ibid = report.endnotes[37]
    assert ibid.text == "Ibid."
    assert ibid.resolves_to == 36
    assert (
        ibid.resolved_url == report.endnotes[36].resolved_url == "https://trac.syr.edu/reports/715/"
    )
    short = report.endnotes[87]
    assert short.resolves_to == 15
    assert short.url is None
    assert short.resolved_url == (
        "https://www.cato.org/blog/us-citizens-were-89-convicted-fentanyl-traffickers-2022"
    )
    assert report.endnotes[59].url.startswith("https://www.reuters.com/business/healthcare")
    assert report.endnotes[1].resolves_to is None


CDC_EPIDEMIC = (
    "Centers for Disease Control and Prevention, “Understanding the Epidemic,” available at "
    "https://www.cdc.gov/opioids/basics/epidemic.html (last accessed June 2023)."
)


def test_a_chain_of_ibids_resolves_to_the_original_source(report: Report) -> None:
    notes = report.endnotes
    # 45 "Ibid." -> 44 "Ibid." -> 43, the full citation; 154 -> 153 "Ibid." -> 152, a short
    # form -> 49; 37 "Ibid." -> 36, a short form -> 34.
    assert [notes[n].text for n in (45, 44)] == ["Ibid.", "Ibid."]
    assert (notes[45].resolves_to, notes[44].resolves_to) == (44, 43)
    ends = {n: original_note(notes[n], notes) for n in (45, 44, 154, 153, 152, 37, 43)}
    found = {n: note.number if note else None for n, note in ends.items()}
    assert found == {45: 43, 44: 43, 154: 49, 153: 49, 152: 49, 37: 34, 43: None}
    assert notes[43].text == CDC_EPIDEMIC
    citation = make_citation(notes[45], notes)
    assert citation == Citation(
        45,
        f"Ibid. (= endnote 43: {CDC_EPIDEMIC})",
        "https://www.cdc.gov/opioids/basics/epidemic.html",
    )
    assert make_citation(notes[154], notes).source == (
        "Ibid. (= endnote 49: National Institute on Drug Abuse, “Fentanyl DrugFacts,” available "
        "at https://nida.nih.gov/publications/drugfacts/fentanyl (last accessed June 2023).)"
    )
    # A full note is its own source.
    assert make_citation(notes[43], notes).source == CDC_EPIDEMIC


def test_short_forms_with_several_authors_resolve(report: Report) -> None:
    # "Truong and Gandhi" and "Dasgupta, Beletsky, and Ciccarone" give surnames only.
    assert report.endnotes[17].resolves_to == 14
    assert report.endnotes[77].resolves_to == 71
    assert report.endnotes[77].resolved_url == report.endnotes[71].url
    unresolved = [n for n, e in report.endnotes.items() if e.resolved_url is None]
    assert unresolved == [70, 146]  # a book and a book chapter, cited without a link


def test_page_furniture_dropped(report: Report) -> None:
    for furniture in (
        "Read more",
        "See also",
        "Additional reading",
        "reCAPTCHA",
        "Learn more about",
    ):
        assert furniture not in report.text
    assert "Marquisha Johns" not in report.text  # the author list
    assert "In a windowless hangar" not in report.text  # the photo caption


def test_pull_quotes_kept_once(report: Report) -> None:
    assert len(only(report, "Since 1999, more than 1 million people have died")) == 1
    assert len(only(report, "The seriousness of the current opioid crisis demands")) == 1
    assert len(only(report, "8.3 million Black and Latino residents")) == 1
    assert len(only(report, "Illicit opioid use only accounted for 46 percent")) == 1


def test_a_summary_bullet_that_a_later_paragraph_restates_is_kept(report: Report) -> None:
    # A list item is no pull quote, though a later paragraph repeats most of its words.
    bullets = [s.text for s in report.sentences if s.section == INTRO_PUBLIC_HEALTH]
    assert [b.split(",")[0] for b in bullets] == [
        "Expand access to evidence-based treatment and recovery services",
        "Address the needs of heavily affected communities by implementing policies and "
        "programs that support equitable access to treatment and recovery services",
        "Tackle the underlying causes of drug use in communities by implementing policies and "
        "programs that address the social determinants of health and support people in "
        "meeting their basic needs",
    ]


def test_by_the_numbers_call_out_is_one_passage(report: Report) -> None:
    (call_out,) = only(report, "$1T")
    assert call_out.text == (
        "The war on drugs: By the numbers: $1T: Amount spent on the war on drugs since 1971. "
        "1,216%: Increase in state prison population for drug offenses (1980–2008). "
        "1 in 5: Share of incarcerated population currently being held for drug offense. "
        "6x: Higher rate of imprisonment for African Americans, compared with white "
        "individuals, for drug charges."
    )


def test_sections_follow_the_headings(report: Report) -> None:
    top = [s.path for s in report.sections if s.level == 1]
    assert top == [
        "Key takeaways",
        "Introduction and summary",
        "The Biden administration’s actions to address the opioid epidemic should be "
        "strengthened with support from Congress",
        "Public health solutions",
        "Border security solutions",
        "Foreign policy solutions",
        "Criminal justice and racial equity solutions",
        "Conclusion",
    ]
    (settlement,) = report.sentences_citing(59)
    assert settlement.section == (
        "Public health solutions > Expand access to evidence-based treatment and recovery services"
    )
    (lead,) = report.sentences_citing(137)
    assert (
        lead.section
        == "Criminal justice and racial equity solutions > Implement pre-booking diversion programs"
    )
    assert len([s for s in report.sections if s.level == 2]) == 17


def test_sentence_spans_index_the_clean_text(report: Report) -> None:
    assert all(report.text[s.start : s.end] == s.text for s in report.sentences)
    assert len(report.sentences) == 191


def test_extract_markers_uses_reading_order() -> None:
    clean, markers = extract_markers("It began in 201345 and grew.46 Then 2021 came.", 45, 159)
    assert clean == "It began in 2013 and grew. Then 2021 came."
    assert markers == [(16, 45), (26, 46)]
    clean, markers = extract_markers("A $46.1 billion request.3", 3, 159)
    assert (clean, markers) == ("A $46.1 billion request.", [(24, 3)])


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ReportParseError, match=r"nope\.txt"):
        load_report(missing)


def test_non_utf8_text_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\xe9 report".encode("latin-1"))
    with pytest.raises(ReportParseError, match=r"latin1\.txt is not UTF-8 text"):
        load_report(bad)


def test_text_without_endnotes_is_rejected(tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("A title\n\nSome paragraph.\n", encoding="utf-8")
    with pytest.raises(ReportParseError, match="no 'Endnotes' heading"):
        load_report(other)
