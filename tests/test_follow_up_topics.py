"""Follow-ups on the answer's own topic, never repeated within a conversation.

The questions here are in no evaluation file; the sentences of `names_in` are invented.
"""

from __future__ import annotations

import pytest

from opioid_assistant.answer.follow_up_topics import names_in, topical_follow_ups
from opioid_assistant.answer.follow_ups import anchor_sentences

UNDO = "Which medicine can undo an opioid overdose, and where does the report want it placed?"
SPRAY = "Tell me more about the over-the-counter nasal spray"
UNDO_FOLLOW_UPS = (
    "What does the report say about medication-assisted treatment (MAT)?",
    "What does the report say about investing in reentry programs for criminal legal "
    "system-impacted individuals with substance use disorder?",
    "What does the report say about building community trust through community responder programs?",
    # (since stop 50, when the adapter's closest sentences joined the evidence without the
    # plain floor, in place of "What share of people get the opioid addiction care they need?")
    "What does the report say about addressing the needs of heavily affected communities and "
    "ensuring equitable access to treatment and recovery services?",
)


@pytest.mark.parametrize(
    ("sentence", "names"),
    [
        (
            "States expanded medication-assisted treatment (MAT) and the Good Neighbor Fund "
            "paid for it.",
            ["medication-assisted treatment (MAT)", "Good Neighbor Fund"],
        ),
        # Function words inside the name are not spelled by the acronym; a name is two or
        # more capitalised words (one alone is as often a title word or a brand).
        (
            "Officials of the Office of National Drug Control Policy (ONDCP) met in New Mexico.",
            ["Office of National Drug Control Policy (ONDCP)", "New Mexico"],
        ),
        # A sentence's capitalised first word is no name; letters that do not spell it out
        # leave the acronym alone.
        ("Clinics in rural areas (RHC) closed.", []),
    ],
)
def test_names_in(sentence: str, names: list[str]) -> None:
    assert names_in(sentence) == names


def test_suggestions_take_up_the_answers_own_terms_first(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask(UNDO)
    assert answer.follow_ups == UNDO_FOLLOW_UPS
    quoted = " ".join(
        assistant.report.sentences[i].text for i in anchor_sentences(assistant.report, answer)
    )
    assert "medication-assisted treatment (MAT)" in quoted  # the first asks about its own name


def test_no_suggestion_comes_back_within_a_conversation(assistant) -> None:  # type: ignore[no-untyped-def]
    first = assistant.ask(UNDO)
    history = [{"role": "user", "content": UNDO}, {"role": "assistant", "content": first.text}]
    second = assistant.ask(SPRAY, history, offered=first.follow_ups)
    # Since stop 42 the FDA's question is not offered: its answer is now this very answer, the
    # one sentence on the FDA (its neighbours, of almost no relevance, no longer join).
    assert second.follow_ups == (
        "Why is harm reduction critical for overdose prevention?",
        "How should the Biden administration’s actions to address the opioid epidemic be "
        "strengthened with support from Congress?",
        "How much has the administration invested in increasing access to mental health care?",
        "What does the report say about partnering with the U.S. Postal Service to leverage "
        "technology to intercept illicit opioids?",
    )
    assert not set(second.follow_ups) & set(first.follow_ups)
    # What the conversation has seen is left out, and the rest keep their order.
    alone = topical_follow_ups(assistant.report, second)
    seen = alone[:2]
    again = topical_follow_ups(assistant.report, second, seen=seen)
    assert not set(seen) & set(again)
    assert again[:10] == [q for q in alone if q not in seen][:10]


def test_a_name_the_report_writes_with_the_takes_the_in_a_suggestion() -> None:
    from opioid_assistant.answer.follow_up_topics import _article
    from opioid_assistant.types import Report

    text = "The U.S. Trail Safety Board met. Later the Harbor Council met. Riverside Trust paid."
    report = Report(title="t", text=text, sections=(), sentences=(), endnotes={})
    assert _article(report, "Trail Safety Board (TSB)") == "the Trail Safety Board (TSB)"
    assert _article(report, "Harbor Council") == "the Harbor Council"
    assert _article(report, "Riverside Trust") == "Riverside Trust"
