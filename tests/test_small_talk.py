"""Messages that are not questions about the report: a greeting, thanks, what the assistant
does, a bare plea for help. Each gets a fixed reply (never "the report does not cover this"
and a list of sections), and in a conversation the topic before it is kept. And "go on":
the report read on from where the last answer stopped; "shorter": its first sentence.

None of these questions is in an evaluation file (checked below).
"""

from __future__ import annotations

import pytest

from independence import near_copies
from opioid_assistant.answer.help_first import help_lines
from opioid_assistant.answer.prompts import ABOUT
from opioid_assistant.answer.small_talk import plain_case, small_talk
from opioid_assistant.answer.turn import condense

KINDS = [
    ("hey there!", "greeting"),
    ("Good morning", "greeting"),
    ("cool, thanks", "thanks"),
    ("ok thank you so much!", "thanks"),
    ("thanks, that's really helpful", "thanks"),
    ("What can you do?", "capability"),
    ("how do I use this?", "capability"),
    ("please help", "help"),
    ("bye", "farewell"),
    # A question after a greeting or thanks is a question.
    ("hi, who runs the LEAD program?", ""),
    ("thanks. and what about Mexico?", ""),
    ("ok so who pays for it?", ""),
    ("Help me understand the settlement", ""),
]
TITLE = "Tackling the Opioid Crisis Requires a Whole-of-Government, Society-Wide Approach"
FIRST = "Explain fentanyl test strips."
ANSWERED = {"role": "assistant", "content": "Test strips detect fentanyl [51]."}


@pytest.mark.parametrize(("message", "kind"), KINDS)
def test_small_talk_is_told_from_a_question(message: str, kind: str) -> None:
    assert small_talk(message) == kind


def test_a_greeting_gets_what_the_assistant_does(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask("hey there!")
    assert answer.text == (
        f"Hello. I answer questions about the report “{TITLE}”, quoting its own sentences with "
        "the endnotes they cite. Ask what it says or recommends on a topic (naloxone, the "
        "border, prisons), ask for a summary of a section, or follow up on an answer."
    )
    assert answer.citations == () and answer.abstained is False and answer.safety == ""
    assert answer.evidence == ()  # no passages beside a reply that quotes none
    assert "".join(assistant.stream("hey there!")) == answer.text
    capability = assistant.ask("What can you do?")
    assert capability.text == ABOUT.format(title=TITLE)
    assert capability.safety == ""  # not taken for a plea for treatment
    assert assistant.ask("cool, thanks").text == "Glad to help. Ask anything else about the report."


def test_a_bare_plea_for_help_gets_the_overdose_line_first(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask("please help")
    line = help_lines().lines["overdose"]
    assert answer.safety == line
    assert answer.text == f"{line}\n\n{ABOUT.format(title=TITLE)}"


def test_a_greeting_before_a_question_is_not_the_question(assistant) -> None:  # type: ignore[no-untyped-def]
    greeted = assistant.ask("Hey, what exactly are fentanyl test strips?")
    plain = assistant.ask("what exactly are fentanyl test strips?")
    assert greeted.text == plain.text
    assert [c.number for c in greeted.citations] == [51, 52]


def test_thanks_in_a_conversation_keeps_the_topic_before_it() -> None:
    history = [{"role": "user", "content": FIRST}, ANSWERED]
    thanked = [
        *history,
        {"role": "user", "content": "cool, thanks"},
        {"role": "assistant", "content": "Glad to help. Ask anything else about the report."},
    ]
    expected = condense("who hands them out?", history)
    assert expected.standalone == f"{FIRST} who hands them out?"
    assert condense("who hands them out?", thanked).standalone == expected.standalone


def test_these_messages_are_in_no_evaluation_file() -> None:
    questions = [m for m, _ in KINDS] + [FIRST, "who hands them out?", "please help"]
    questions += ["Hey, what exactly are fentanyl test strips?"]
    assert [str(c) for c in near_copies(questions)] == []


SETTLED = "How did the pharmacy chains settle?"


def test_go_on_reads_on_from_where_the_last_answer_stopped(assistant) -> None:  # type: ignore[no-untyped-def]
    first = assistant.ask(SETTLED)
    # Since stop 42 the neighbours (Narcan in pharmacies, the 2021 settlement) of almost no
    # relevance no longer join: the one sentence [59] is the last read.
    assert [c.number for c in first.citations] == [59]
    history = [{"role": "user", "content": SETTLED}, {"role": "assistant", "content": first.text}]
    more = assistant.ask("go on", history)
    assert more.text.startswith(
        "From “Expand access to evidence-based treatment and…”: Most of the funds, which vary "
        "by state, are intended to be used for opioid remediation efforts [60]. As states "
    )
    assert [c.number for c in more.citations] == [60, 61, 62]
    # At a section's end it reads on into the next one.
    history += [{"role": "user", "content": "go on"}, {"role": "assistant", "content": more.text}]
    further = assistant.ask("tell me more", history)
    assert further.text.startswith("From “Address the needs of heavily affected…”: Even though")
    assert [c.number for c in further.citations] == [63, 64, 65]
    # With nothing said yet, there is nothing to go on from: what the assistant does.
    assert assistant.ask("tell me more").text == ABOUT.format(title=TITLE)
    assert [str(c) for c in near_copies([SETTLED, "go on", "tell me more"])] == []


def test_shorter_keeps_the_last_answers_first_sentence(assistant) -> None:  # type: ignore[no-untyped-def]
    first = assistant.ask(SETTLED)
    history = [{"role": "user", "content": SETTLED}, {"role": "assistant", "content": first.text}]
    lead = "According to the report, an additional settlement of $13.8 billion with pharmacy "
    lead += "chains followed [59]."  # the first sentence it quoted (since stop 42, all of it)
    assert first.text == lead
    for request in ("shorter please", "In one sentence?", "tl;dr", "can you make that simpler?"):
        shorter = assistant.ask(request, history)
        # "shorter please" had quoted a study of treatment given "for shorter periods".
        assert (shorter.text, [c.number for c in shorter.citations]) == (lead, [59])
    # With nothing said yet, there is nothing to shorten: what the assistant does.
    assert assistant.ask("shorter please").text == ABOUT.format(title=TITLE)
    # A request to be brief before a question is not part of the question.
    brief = "In one sentence: how did the pharmacy chains settle?"
    assert assistant.ask(brief).text == first.text
    asked = ["shorter please", "In one sentence?", "tl;dr", "can you make that simpler?", brief]
    assert [str(c) for c in near_copies(asked)] == []
    assert small_talk("shorter please") == "" and small_talk("briefly", conversation=False)


def test_a_question_in_capitals_is_read_as_words_not_names(assistant) -> None:  # type: ignore[no-untyped-def]
    shouted = "TELL ME WHY FENTANYL TEST STRIPS MATTER"
    assert [str(c) for c in near_copies([shouted])] == []
    # Every word was taken for a name the report lacks ("WHAT DOES THE REPORT SAY ABOUT NARCAN"
    # got "The report does not mention DOES THE REPORT SAY ABOUT NARCAN.").
    answer = assistant.ask(shouted)
    assert answer.text == assistant.ask(shouted.lower()).text
    # Since stop 49's weights: why they matter, in the report's own words (they "help prevent
    # overdose"), then fentanyl's potency [50], where the strategies that include them [51] led.
    assert answer.abstained is False and [c.number for c in answer.citations] == [50]
    assert "fentanyl test strips to help prevent overdose" in answer.text
    assert plain_case("WHAT IS LEAD?") == "what is lead?"
    assert plain_case("LEAD?") == "LEAD?"  # an acronym alone stays one
