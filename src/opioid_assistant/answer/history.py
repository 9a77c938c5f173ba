"""Chat history in one shape: the only place that turns what callers send into turns."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from opioid_assistant.errors import InvalidQuestionError

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
