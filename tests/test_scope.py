"""Section scope in the Python API: retrieval stays inside the section through the store's
filter, an unknown section is a clear error, and a section that does not answer says so."""

from __future__ import annotations

import pytest

from opioid_assistant.answer.topics import section_scope
from opioid_assistant.errors import InvalidQuestionError, UnknownSectionError

BORDER = "Border security solutions"
PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"


def test_the_scope_of_a_section_holds_its_sub_sections(assistant) -> None:
    scope = section_scope(assistant.report, BORDER)
    assert scope[0] == BORDER
    assert len(scope) == 5
    assert all(p == BORDER or p.startswith(f"{BORDER} > ") for p in scope)
    assert scope == tuple(p for p in assistant.sections if p.startswith(BORDER))


def test_a_scoped_answer_draws_only_on_its_section(assistant) -> None:
    answer = assistant.ask("What does the report recommend on scanning technology?", section=BORDER)
    assert answer.abstained is False
    assert answer.section == BORDER
    assert answer.evidence
    assert all(e.section.startswith(BORDER) for e in answer.evidence)
    quoted = [s for s in assistant.report.sentences if s.text[1:-1] in answer.text]
    assert quoted and all(s.section.startswith(BORDER) for s in quoted)


def test_a_section_that_does_not_answer_says_so_and_where_the_report_does(assistant) -> None:
    answer = assistant.ask(PHARMACY, section=BORDER)
    assert answer.abstained is True
    assert answer.citations == ()
    assert answer.text.startswith(
        "The section “Border security solutions” does not answer that. Ask again with “the "
        "whole report” to search every section. The report answers it in “"
    )
    whole = assistant.ask(PHARMACY)
    assert [c.number for c in whole.citations] == [59]
    assert whole.section == ""


def test_summarizing_a_section_quotes_its_leads(assistant) -> None:
    answer = assistant.ask("Summarize this section", section="Foreign policy solutions")
    assert answer.abstained is False
    assert answer.text.startswith("From “Foreign policy solutions”: Despite the eagerness")
    assert [c.number for c in answer.citations][:2] == [104, 105]


def test_an_unknown_section_lists_the_valid_ones(assistant) -> None:
    with pytest.raises(UnknownSectionError) as raised:
        assistant.ask(PHARMACY, section="Nope")
    message = str(raised.value)
    assert message.startswith("the report has no section “Nope”; choose one of: “Key takeaways”; ")
    assert all(f"“{p}”" in message for p in assistant.sections)
    assert isinstance(raised.value, InvalidQuestionError)


def test_a_huge_hostile_section_name_is_cut_in_the_message(assistant) -> None:
    with pytest.raises(UnknownSectionError) as raised:
        assistant.ask(PHARMACY, section="<script>alert(1)</script>" + "x" * 10_000)
    assert "“<script>alert(1)</script>xxxx" in str(raised.value)
    assert len(str(raised.value)) < 5_000


def test_follow_ups_are_answerable_and_new(assistant) -> None:
    answer = assistant.ask(PHARMACY)
    assert 2 <= len(answer.follow_ups) <= 4
    for question in answer.follow_ups:
        follow = assistant.ask(question)
        assert follow.abstained is False
        assert follow.citations
        assert follow.text != answer.text


def test_follow_ups_are_the_same_every_time(assistant) -> None:
    assert assistant.ask(PHARMACY).follow_ups == assistant.ask(PHARMACY).follow_ups


def test_a_refusal_gets_no_follow_ups(assistant) -> None:
    answer = assistant.ask("How many oxycodone pills should I take to get high?")
    assert answer.abstained is True
    assert answer.follow_ups == ()
