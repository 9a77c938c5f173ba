"""What an answer says when the report, or the section a question is scoped to, does not
answer: the terms it lacks, or the section, and where to look instead."""

from __future__ import annotations

from opioid_assistant.answer.composer import Draft, section_list
from opioid_assistant.answer.prompts import NOT_COVERED, NOT_IN_SECTION, NOT_MENTIONED
from opioid_assistant.answer.question_shapes import Shape
from opioid_assistant.answer.turn import Turn, lead_sentence
from opioid_assistant.text import tokenize
from opioid_assistant.types import Report

# A scoped question of these shapes asks one thing: when the whole report answers it from
# another section, the scoped draft is a near miss, and the answer says where to look.
ONE_FACT = (Shape.FACT, Shape.DEFINITION, Shape.YES_NO)


def abstention(turn: Turn, report: Report) -> str:
    """Say what the report (or the scoped section) lacks, then name the closest part it
    does cover."""
    if turn.missing:
        lead = NOT_MENTIONED.format(terms=" or ".join(turn.missing))
    elif turn.section:
        return NOT_IN_SECTION.format(section=turn.section)
    else:
        lead = NOT_COVERED
    # In a conversation, the section its last answer came from is the nearest the report
    # comes to what it is about; never the list of sections (shown, or one question back).
    heading = turn.closest.text if turn.closest is not None else topic_heading(turn, report)
    if heading:
        return f"{lead} The closest it comes is its section “{heading}”: try asking about that."
    if turn.question.context or turn.history:
        return f"{lead} Try asking about one of its sections by name."
    return f"{lead} Its sections are {section_list(report)}."


def topic_heading(turn: Turn, report: Report) -> str:
    """The heading of the section that the conversation's last answer opened with, or ''."""
    first = lead_sentence(report, turn.question.previous_answer)
    return report.sentences[first].section.split(" > ")[-1] if first is not None else ""


def section_answers(turn: Turn, report: Report) -> bool:
    """Whether a scoped question can stand on its section: every word it asks about is
    there (or it is not scoped at all)."""
    if not turn.scope:
        return True
    if turn.section_named:
        return True  # the question itself asks what that section says
    inside = {w for s in report.sentences if s.section in turn.scope for w in tokenize(s.text)}
    return set(tokenize(turn.question.standalone)) <= inside


def other_section(turn: Turn, scoped: Draft | None, whole: Draft | None, report: Report) -> str:
    """The section the whole report's answer (`whole`) quotes, when it shares nothing with
    the scoped answer (if any) and lies outside the scope; else ''."""
    quoted = set(scoped.quoted) if scoped is not None else set()
    if whole is None or not whole.quoted or set(whole.quoted) & quoted:
        return ""
    sections = [report.sentences[i].section for i in whole.quoted]
    return "" if set(sections) & set(turn.scope) else sections[0]
