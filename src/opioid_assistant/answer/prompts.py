"""Prompt files shipped in the package, loaded and checked strictly at load time."""

from __future__ import annotations

import re
import string
from functools import cache
from importlib import resources

from opioid_assistant.errors import PromptTemplateError

# One shared "the report does not say" answer: the prompt asks the model for it, the code
# detects it and the tests expect it.
NOT_COVERED = "The report does not cover this."
# ... and when the question names something the report never mentions.
NOT_MENTIONED = "The report does not mention {terms}."
# Asked for a kind of figure the report does not give: what it says instead ("the vast majority").
KIND_NOT_GIVEN = "The report gives no {kind} for this. {answer}"
NOT_IN_SECTION = (
    "The section “{section}” does not answer that. Ask again with “the whole report” "
    "to search every section."
)
# An endnote asked about by a number the report does not have.
NO_SUCH_ENDNOTE = "The report has no endnote {number}: its endnotes run from 1 to {last}."
# What a refused question gets, by the guard's reason.
REFUSALS = {
    "injection": (
        f"{NOT_COVERED} I only answer questions about the report from its text, and I do not "
        "follow instructions that ask me to do otherwise."
    ),
    # One sentence: the help line comes before it and the report's harm reduction after it.
    "unsafe": (
        "I can't help with that: I don't give dosing advice for using drugs or help anyone "
        "obtain, make, move or hide them."
    ),
}
# What a message that is not a question about the report gets (question_shapes.small_talk):
# what the assistant is for, never a claim about the report. {title}: the report's title.
ABOUT = (
    "I answer questions about the report “{title}”, quoting its own sentences with the "
    "endnotes they cite. Ask what it says or recommends on a topic (naloxone, the border, "
    "prisons), ask for a summary of a section, or follow up on an answer."
)
SMALL_TALK_REPLIES = {
    "greeting": f"Hello. {ABOUT}",
    "thanks": "Glad to help. Ask anything else about the report.",
    "capability": ABOUT,
    "help": ABOUT,  # after the overdose line (answer/assistant.py)
    "farewell": "Goodbye.",
}

# Placeholders each prompt must use, no more and no fewer.
PROMPT_VARIABLES = {
    "answer_system": {"report", "not_covered"},
    "answer_user": {"evidence", "question"},
    "condense": {"history", "question"},
}


@cache
def load_prompt(name: str) -> str:
    """Read prompts/NAME.txt and check its placeholders.

    Raises:
        PromptTemplateError: the file is missing, or a placeholder is missing or unknown.
    """
    if name not in PROMPT_VARIABLES:
        raise PromptTemplateError(f"unknown prompt {name!r}; known: {sorted(PROMPT_VARIABLES)}")
    try:
        text = (
            resources.files("opioid_assistant.prompt_files")
            .joinpath(f"{name}.txt")
            .read_text("utf-8")
        )
    except FileNotFoundError as e:
        raise PromptTemplateError(f"prompt file {name}.txt is missing from the package") from e
    found = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    expected = PROMPT_VARIABLES[name]
    if found != expected:
        raise PromptTemplateError(
            f"prompt {name}.txt has placeholders {sorted(found)}, expected {sorted(expected)}: "
            f"missing {sorted(expected - found)}, unknown {sorted(found - expected)}"
        )
    return text


def render(name: str, **values: str) -> str:
    """Fill a prompt; every placeholder must be given, and nothing else."""
    expected = PROMPT_VARIABLES.get(name, set())
    if set(values) != expected:
        raise PromptTemplateError(f"prompt {name} needs {sorted(expected)}, got {sorted(values)}")
    return load_prompt(name).format(**values)


# The fixed words an extractive answer opens with (answer/composer.py), which a later
# turn strips to read the answer's own content (answer/turn.py).
LEAD = "According to the report, "  # a quoted answer opens with it ...
SOURCED_LEAD = "The report says that, "  # ... or, when its sentence names its own source, this
# ... or, when its sentence cites no source (the report's own recommendation or argument,
# an instruction as often as not: "Target key actors ..."), this, with the sentence as written
OWN_LEAD = "In the report's own words: "
# "What does the report recommend?": its sub-sections' headings name its recommendations.
RECOMMENDATIONS_LEAD = "The report makes {count} recommendations; each heads a part of a section:"
WHERE_LEAD = "The report discusses it under “{section}”."  # "Which section covers X?"
SECTIONS_LEAD = "The report has {count} sections: {sections}."
ENDNOTES_LEAD = "The report has {count} endnotes, numbered 1 to {last}."
ANSWER_LEADS = re.compile(
    rf"(^|\n)({re.escape(LEAD)}|{re.escape(SOURCED_LEAD)}|{re.escape(OWN_LEAD)}|From “[^”]*”: )"
)
