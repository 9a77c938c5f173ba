"""The report's endnotes: parse the numbered list and resolve 'Ibid.' and short forms."""

from __future__ import annotations

import re
from collections.abc import Mapping

from opioid_assistant.types import Endnote

NOTE_LINE = re.compile(r"^\s*(\d{1,3})\.\s+(.+?)\s*$")
URL = re.compile(r"https?://[^\s<>\"”]+")
QUOTED_TITLE = re.compile(r"“(.+?)[.,]?”")


def parse_endnotes(lines: list[str]) -> dict[int, Endnote]:
    """Parse endnote lines ('  N. text') that follow the 'Endnotes' heading.

    Reading stops at the first non-blank line that is not a numbered note, once notes began.
    Ibid. notes resolve to the note before; short forms ('Author, “Title.”' without a URL)
    resolve to the latest earlier note by the same author with the same title and a URL.
    """
    raw: dict[int, str] = {}
    for line in lines:
        if not line.strip():
            continue
        match = NOTE_LINE.match(line)
        if not match:
            if raw:
                break
            continue
        raw[int(match.group(1))] = match.group(2)
    notes: dict[int, Endnote] = {}
    for number, text in raw.items():
        url = _url(text)
        target = None
        if url is None:
            target = _resolve(number, text, notes)
        resolved_url = url if target is None else notes[target].resolved_url
        notes[number] = Endnote(number, text, url, target, resolved_url)
    return notes


def resolved_note(note: Endnote, endnotes: Mapping[int, Endnote]) -> Endnote | None:
    """The earlier note that an 'Ibid.' or short-form note stands for; None for a full note.

    One step only: an Ibid. right after an Ibid. gives that Ibid.; `original_note` follows
    the chain to its end.
    """
    return endnotes.get(note.resolves_to) if note.resolves_to is not None else None


def original_note(note: Endnote, endnotes: Mapping[int, Endnote]) -> Endnote | None:
    """The full note a chain of 'Ibid.' and short-form notes finally stands for.

    Note 45 'Ibid.' -> 44 'Ibid.' -> 43 (a full citation) gives 43; None for a full note.
    """
    seen = {note.number}
    current = resolved_note(note, endnotes)
    while current is not None:
        following = resolved_note(current, endnotes)
        if following is None or following.number in seen:
            return current
        seen.add(current.number)
        current = following
    return None


def _url(text: str) -> str | None:
    match = URL.search(text)
    return match.group(0).rstrip(".,;)") if match else None


def _resolve(number: int, text: str, earlier: dict[int, Endnote]) -> int | None:
    if text.strip().lower().startswith("ibid"):
        return number - 1 if number - 1 in earlier else None
    title = QUOTED_TITLE.search(text)
    if not title:
        return None
    author = text[: title.start()].strip(" ,").removesuffix(" and others")
    # "Truong and Gandhi" names the authors of "Trinh Q. Truong and Debu Gandhi, ...".
    surnames = [s for s in re.split(r",\s*(?:and\s+)?|\s+and\s+", author) if s]
    wanted = title.group(1).strip().lower()
    for candidate in sorted(earlier.values(), key=lambda n: n.number, reverse=True):
        if (
            candidate.url
            and all(surname in candidate.text for surname in surnames)
            and wanted in candidate.text.lower()
        ):
            return candidate.number
    return None
