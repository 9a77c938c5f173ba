"""A conversation as JSON: written for download, read back (untrusted) to continue it.

The file holds each turn's question and answer as data (text, citations, evidence, scope,
follow-ups), never rendered HTML: a loaded file is rendered again by `formatting`, which
escapes every string, so a hand-edited file cannot put markup on the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from opioid_assistant.types import Answer, Citation, Evidence

FORMAT = "opioid-assistant-conversation"
VERSION = 1
MAX_BYTES = 5_000_000  # a conversation of hundreds of answers; anything larger is not ours
MAX_TURNS = 200


def turn_data(answer: Answer) -> dict[str, Any]:
    """One answer as the JSON-ready record a conversation file keeps."""
    data = asdict(answer)
    data.pop("dropped_citations", None)
    return data


def conversation_json(title: str, answers: Sequence[Mapping[str, Any]]) -> str:
    """The conversation file's text: the report's title and each turn's answer data."""
    document = {"format": FORMAT, "version": VERSION, "report": title, "turns": list(answers)}
    return json.dumps(document, ensure_ascii=False, indent=2)


def load_conversation(raw: bytes | str) -> list[Answer]:
    """Read a conversation file back into its answers, oldest first.

    Raises:
        ValueError: the text is not a conversation file of this page (the message says why).
    """
    if len(raw) > MAX_BYTES:
        raise ValueError(f"the file is larger than {MAX_BYTES // 1_000_000} MB")
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"the file is not JSON ({e})") from e
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f'the file is not a conversation export (no "format": "{FORMAT}")')
    turns = document.get("turns")
    if not isinstance(turns, list) or not 0 < len(turns) <= MAX_TURNS:
        raise ValueError(f'"turns" must be a list of 1 to {MAX_TURNS} answers')
    return [_answer(turn, i) for i, turn in enumerate(turns, start=1)]


def _answer(turn: Any, number: int) -> Answer:
    """One turn's record as an Answer; every field is checked for its type."""
    try:
        if not isinstance(turn, dict):
            raise TypeError("not an object")
        return Answer(
            text=_str(turn["text"]),
            citations=tuple(
                Citation(number=int(c["number"]), source=_str(c["source"]), url=_opt(c.get("url")))
                for c in _list(turn.get("citations"))
            ),
            evidence=tuple(_evidence(e) for e in _list(turn.get("evidence"))),
            abstained=bool(turn.get("abstained", False)),
            question=_str(turn.get("question", "")),
            standalone_question=_str(turn.get("standalone_question", "")),
            backend=_str(turn.get("backend", "")),
            notice=_str(turn.get("notice", "")),
            index_version=_str(turn.get("index_version", "")),
            section=_str(turn.get("section", "")),
            follow_ups=tuple(_str(q) for q in _list(turn.get("follow_ups")))[:4],
            safety=_str(turn.get("safety", "")),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"turn {number} is not an answer record ({type(e).__name__}: {e})") from e


def _evidence(data: Any) -> Evidence:
    return Evidence(
        chunk_id=_str(data["chunk_id"]),
        text=_str(data["text"]),
        section=_str(data["section"]),
        endnotes=tuple(int(n) for n in _list(data.get("endnotes"))),
        score=float(data.get("score", 0.0)),
        kind=data.get("kind", "report")
        if data.get("kind") in ("report", "endnote", "source")
        else "report",
        url=_opt(data.get("url")),
        sentences=tuple(_str(s) for s in _list(data.get("sentences"))),
        sentence_endnotes=tuple(
            tuple(int(n) for n in _list(ns)) for ns in _list(data.get("sentence_endnotes"))
        ),
    )


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _opt(value: Any) -> str | None:
    return None if value is None else _str(value)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value
