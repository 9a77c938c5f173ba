"""Chat history in one shape: the only place that turns what callers send into turns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

History = Sequence[Mapping[str, Any]]


def normalize_history(history: History | None) -> list[dict[str, str]]:
    """History as role/content strings: Gradio's content blocks are joined into text, and
    messages with another role or no text are dropped."""
    normalized = []
    for message in history or []:
        if not isinstance(message, Mapping):
            continue
        content = message.get("content", "")
        if isinstance(content, list):
            content = " ".join(
                str(b.get("text", "")) if isinstance(b, Mapping) else str(b) for b in content
            )
        role = str(message.get("role", ""))
        if role in ("user", "assistant") and str(content).strip():
            normalized.append({"role": role, "content": str(content)})
    return normalized
