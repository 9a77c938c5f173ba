"""What flows through the answering chain for one question, stage to stage, and the chat
history in one shape: the only place that turns what callers send into turns."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opioid_assistant.answer.ranking import Question, Signals
from opioid_assistant.errors import InvalidQuestionError
from opioid_assistant.types import Evidence, Heading


@dataclass(frozen=True)
class Turn:
    """One question on its way through prepare -> retrieve -> answer.

    Attributes:
        question: The question as asked and as a standalone question.
        history: Earlier turns as role/content messages.
        notice: Notes for the reader gathered so far (a clipped or corrected question).
        evidence: The retrieved passages.
        refusal: Why the guard refused the question ('unsafe', 'injection'), or None.
        signals: What the extractive composer scores sentences with.
        corrected: The question with its spelling corrected, when that changed it.
        missing: Key terms of the question that the report never uses.
        closest: The heading nearest the question, suggested when the answer abstains.
        section: The section the question is scoped to, or '' for the whole report.
        scope: The section paths answers may come from (the section and its sub-sections);
            empty for the whole report.
        section_named: The scope comes from the question's own words ("in the border
            section"), not from a `section=` argument.
        extractive_only: Answer with the composer even when an LLM backend is set (checking
            that a suggested follow-up is answerable needs no model).
        need: The help the guard found the question needs ('overdose', 'treatment'): its
            help line comes first, then the answer; '' when none (see `guard.topic_reply`).
    """

    question: Question
    history: list[dict[str, str]]
    notice: str = ""
    evidence: tuple[Evidence, ...] = ()
    refusal: str | None = None
    signals: Signals = field(default_factory=Signals)
    corrected: str = ""
    missing: tuple[str, ...] = ()
    closest: Heading | None = None
    section: str = ""
    scope: tuple[str, ...] = ()
    section_named: bool = False
    extractive_only: bool = False
    need: str = ""


@dataclass(frozen=True)
class Reply:
    """The answer stage's final word, before the check stage verifies its citations.

    Attributes:
        turn: The turn it answers (its evidence is what the citations are checked against).
        text: The answer text with inline endnote numbers.
        abstained: True when the report does not answer the question.
        notice: A note for the reader about this answer (e.g. a fallback), or ''.
        backend: The backend that wrote it; None for the assistant's configured one.
        dropped: Endnote numbers the model wrote that the evidence does not carry.
    """

    turn: Turn
    text: str
    abstained: bool
    notice: str = ""
    backend: str | None = None
    dropped: tuple[int, ...] = ()


History = Sequence[Mapping[str, Any]]


def normalize_history(history: History | str | None) -> list[dict[str, str]]:
    """History as role/content strings, whatever shape a caller keeps it in.

    Gradio's content blocks are joined into text; a recorded exchange ({"question",
    "answer"}, as the chat page keeps its turns) stands for its user and assistant messages;
    a string is parsed as a JSON list first (API clients that can only send text). Messages
    with another role or no text are dropped.

    Raises:
        InvalidQuestionError: a string that is not a JSON list.
    """
    if isinstance(history, str):
        history = _parse(history)
    normalized = []
    for message in history or []:
        if not isinstance(message, Mapping):
            continue
        if "question" in message and "answer" in message and "role" not in message:
            pairs = [("user", _text(message["question"])), ("assistant", _text(message["answer"]))]
        else:
            pairs = [(str(message.get("role", "")), _text(message.get("content")))]
        for role, content in pairs:
            if role in ("user", "assistant") and content.strip():
                normalized.append({"role": role, "content": content})
    return normalized


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):
        return " ".join(
            str(b.get("text", "")) if isinstance(b, Mapping) else str(b) for b in content
        )
    return str(content)


def _parse(text: str) -> History:
    if not text.strip():
        return []
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidQuestionError(
            f"history is not valid JSON ({e}): send a list of {{role, content}} messages"
        ) from e
    if not isinstance(parsed, list):
        raise InvalidQuestionError("history must be a list of {role, content} messages")
    return parsed
