"""Section scope in the Python API: retrieval stays inside the section through the store's
filter, an unknown section is a clear error, and a section that does not answer says so."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import cli_env
from independence import near_copies
from opioid_assistant import Settings
from opioid_assistant.answer.topics import without_part_named
from opioid_assistant.errors import InvalidQuestionError, UnknownSectionError
from opioid_assistant.report.sections import section_choices, section_scope

BORDER = "Border security solutions"
CRIMINAL_JUSTICE = "Criminal justice and racial equity solutions"
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


INTRO = "Introduction and summary"
INTRO_HEALTH = "Introduction and summary > Public health solutions"
HEALTH = "Public health solutions"


def test_scope_labels_tell_a_summary_from_the_section_it_sums_up(assistant) -> None:
    choices = section_choices(assistant.report)
    assert [path for _, path in choices] == list(assistant.sections)  # report order, same paths
    assert choices[1:4] == (
        (INTRO, INTRO),
        ("Introduction and summary › Public health solutions (summary)", INTRO_HEALTH),
        ("Introduction and summary › Border security solutions (summary)", f"{INTRO} > {BORDER}"),
    )
    assert choices[8] == (
        "Public health solutions › Expand access to evidence-based treatment and recovery services",
        "Public health solutions > Expand access to evidence-based treatment and recovery services",
    )
    labels = [label for label, _ in choices]
    assert len(set(labels)) == len(labels)
    assert sum(label.endswith("(summary)") for label in labels) == 4


def test_a_label_or_the_answered_from_form_names_the_section_its_path_does(assistant) -> None:
    question = "What does the report recommend on scanning technology?"
    by_path = assistant.ask(
        question, section=f"{BORDER} > Invest in scanning technologies at all ports of entry"
    )
    for given in (
        f"{BORDER} › Invest in scanning technologies at all ports of entry",
        f"  {BORDER}  ›  Invest in scanning technologies at all ports of entry ",
    ):
        answer = assistant.ask(question, section=given)
        assert answer.section == by_path.section
        assert answer.text == by_path.text
    assert (
        section_scope(
            assistant.report, "Introduction and summary › Public health solutions (summary)"
        )[0]
        == INTRO_HEALTH
    )


def test_a_summary_answers_from_the_section_it_sums_up(assistant) -> None:
    # The introduction's summary names naloxone in an uncited bullet; the section it sums up
    # cites its sources, so the scope holds both.
    scope = section_scope(assistant.report, INTRO_HEALTH)
    assert scope == (INTRO_HEALTH, *section_scope(assistant.report, HEALTH))
    answer = assistant.ask("What does the report recommend about naloxone?", section=INTRO_HEALTH)
    assert answer.abstained is False
    assert answer.section == INTRO_HEALTH
    assert "widespread training for community members on how to use Narcan" in answer.text
    assert answer.citations
    assert all(e.section in scope for e in answer.evidence)
    # A question its summary and that section do not answer still says where the report does.
    elsewhere = assistant.ask(
        "What scanning technology is used at ports of entry?", section=INTRO_HEALTH
    )
    assert elsewhere.abstained is True
    assert elsewhere.text.startswith(
        f"The section “{INTRO_HEALTH}” does not answer that. Ask again with “the whole "
        "report” to search every section. The report answers it in “Border security solutions"
    )


def test_summarizing_a_section_quotes_its_leads(assistant) -> None:
    answer = assistant.ask("Summarize this section", section="Foreign policy solutions")
    assert answer.abstained is False
    assert answer.text.startswith("From “Foreign policy solutions”: Despite the eagerness")
    assert [c.number for c in answer.citations][:2] == [104, 105]


def test_a_summary_of_a_part_named_in_the_question_quotes_that_parts_leads(assistant) -> None:
    # Its words naming the part ("foreign policy") were read as the topic: one sentence
    # answered, not a summary of two.
    answer = assistant.ask("Sum up the foreign policy part in two sentences.")
    assert answer.section == "Foreign policy solutions"
    assert answer.text.startswith("From “Foreign policy solutions”: Despite the eagerness")
    assert answer.text.count("\n\nFrom “Target key actors in fentanyl trade…”: ") == 1
    assert [c.number for c in answer.citations] == [104, 105, 107]
    # A count in digits asks as one in words does ("3" was read as a topic).
    bullets = assistant.ask("Summarize the border section in 3 bullet points")
    assert bullets.text.startswith("From “Border security solutions”: For one thing,")
    assert [c.number for c in bullets.citations] == [78, 87, 88, 92]
    # The ask inside the words that name the part ("the main points of") is kept.
    named = "Give me the main points of the criminal justice section"
    assert without_part_named(named, CRIMINAL_JUSTICE) == "Give me the main points of the section"
    answer = assistant.ask(named)
    assert answer.text.startswith(
        "From “Criminal justice and racial equity solutions”: Actionable criminal legal reform"
    )
    assert [c.number for c in answer.citations] == [112, 113, 114, 125, 126, 127]
    # A question about something in the part is no summary.
    asked = without_part_named("What does the border section say about scanners?", BORDER)
    assert asked == "What does the section say about scanners?"
    assert not near_copies(["Sum up the foreign policy part in two sentences.", named])
    assert not near_copies(["Summarize the border section in 3 bullet points"])


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


PHARMACY_FOLLOW_UPS = [
    "How much was the national settlement with pharmaceutical distributors and manufacturers in 2021?",
    "How many Black and Latino residents live in “pharmacy deserts”?",  # shares "pharmacy"
    "What does the report say about addressing the needs of heavily affected communities and ensuring equitable access to treatment and recovery services?",
    "What does the report say about tackling the underlying causes of drug use in communities?",
]
FOLLOW_UPS_OF = (
    "import json, sys\n"
    "from opioid_assistant import Assistant, Settings\n"
    "assistant = Assistant(settings=Settings(data_dir=sys.argv[1]))\n"
    "print(json.dumps(assistant.ask(sys.argv[2]).follow_ups))\n"
)


def test_follow_ups_are_the_same_in_every_fresh_process(index_settings: Settings) -> None:
    # A shared link is opened by another process (or after a restart): its suggestions must
    # not depend on string hashing or anything else that differs between processes.
    found = []
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", FOLLOW_UPS_OF, str(index_settings.data_dir), PHARMACY],
            env={**cli_env(index_settings.data_dir), "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        found.append(json.loads(done.stdout.splitlines()[-1]))
    assert found == [PHARMACY_FOLLOW_UPS, PHARMACY_FOLLOW_UPS]


def test_a_refusal_gets_no_follow_ups(assistant) -> None:
    answer = assistant.ask("How many oxycodone pills should I take to get high?")
    assert answer.abstained is True
    assert answer.follow_ups == ()
