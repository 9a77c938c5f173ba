"""The grounding check on LLM answers: claims must be borne out by the passages they cite."""

from __future__ import annotations

from opioid_assistant.answer.citations import ungrounded_claims
from opioid_assistant.types import Endnote, Evidence

DEATHS = "More than 234,000 people died of opioid overdoses between 1999 and 2012."
ILLICIT = "Illicit opioid use only accounted for 46 percent of these deaths."
WAVES = Evidence(
    chunk_id="c1",
    text=f"{DEATHS} {ILLICIT}",
    section="Waves",
    endnotes=(79, 80),
    score=1.0,
    sentences=(DEATHS, ILLICIT),
    sentence_endnotes=((79,), (80,)),
)
ENDNOTES = {
    79: Endnote(79, "CDC, “Wide-ranging online data.”", "https://wonder.cdc.gov", None, None),
    80: Endnote(80, "Ibid.", None, 79, "https://wonder.cdc.gov"),
}


def test_claims_borne_out_by_their_cited_sentences_pass() -> None:
    text = (
        "The report says more than 234,000 people died of opioid overdoses between 1999 and "
        "2012 [79]. Illicit opioid use accounted for only 46 percent of these deaths. [80]"
    )
    assert ungrounded_claims(text, [WAVES], ENDNOTES) == ()


def test_an_invented_fact_or_figure_is_caught() -> None:
    invented = "Black and Hispanic communities face the biggest gaps in overdose care [80]."
    assert ungrounded_claims(invented, [WAVES], ENDNOTES) == (
        "Black and Hispanic communities face the biggest gaps in overdose care",
    )
    wrong_figure = "Illicit opioid use accounted for 64 percent of these deaths [80]."
    assert ungrounded_claims(wrong_figure, [WAVES], ENDNOTES) == (
        "Illicit opioid use accounted for 64 percent of these deaths",
    )


def test_a_citation_on_the_wrong_sentence_is_caught() -> None:
    text = "Illicit opioid use only accounted for 46 percent of these deaths [79]."
    assert ungrounded_claims(text, [WAVES], ENDNOTES) == (
        "Illicit opioid use only accounted for 46 percent of these deaths",
    )


def test_endnote_text_supports_a_claim_about_the_source_through_ibid() -> None:
    text = "Endnote 80 points to the CDC's wide-ranging online data [80]."
    assert ungrounded_claims(text, [WAVES], ENDNOTES) == ()


def test_uncited_text_is_checked_against_all_the_evidence() -> None:
    assert ungrounded_claims("Of these deaths, 46 percent were illicit.", [WAVES], ENDNOTES) == ()
    assert ungrounded_claims("Canada recorded 7,000 deaths in 2022.", [WAVES], ENDNOTES) == (
        "Canada recorded 7,000 deaths in 2022",
    )
    assert ungrounded_claims("Yes [80].", [WAVES], ENDNOTES) == ()  # too short to judge
