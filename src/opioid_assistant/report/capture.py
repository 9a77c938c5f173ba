"""The plain-text capture's layout, which the parser reads and the PDF and HTML readers write.

Blank-line separated blocks, each heading a block of its own, bullets as "  • text", endnote
markers glued to the text as digits ("deaths.1", "in 201345"), and a line "Endnotes"
followed by lines "  N. text".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from opioid_assistant.report.endnotes import NOTE_LINE

ENDNOTES = "Endnotes"
BULLET_CHARS = "•●▪◦‣"
# An endnote marker's digits (a PDF superscript, an HTML <sup>).
MARKER = re.compile(r"(\d{1,3})(?!\d)", re.ASCII)


@dataclass(frozen=True)
class Block:
    """A block that a PDF or HTML reader rebuilt, before it is written out as capture text.

    Attributes:
        kind: 'note' (an endnote, "N. text"), 'bullet' (a list item) or 'text'.
        text: The block's text, without the bullet or the note's indent.
    """

    kind: Literal["text", "bullet", "note"]
    text: str


def classify(text: str, note: bool, bullet: bool = False) -> Block:
    """Tag a block: a note ("N. text", under Endnotes only), a bullet, or plain text."""
    match = NOTE_LINE.fullmatch(text) if note else None
    if match:
        return Block("note", f"{match.group(1)}. {match.group(2).strip()}")
    if bullet or text.startswith(tuple(BULLET_CHARS)):
        return Block("bullet", text.lstrip(BULLET_CHARS).strip())
    return Block("text", ENDNOTES if text.casefold() == ENDNOTES.casefold() else text)


def render(blocks: list[Block]) -> str:
    """The capture's layout: blocks apart by a blank line, notes on consecutive lines."""
    parts: list[str] = []
    for i, block in enumerate(blocks):
        line = {"note": f"  {block.text}", "bullet": f"  • {block.text}"}.get(
            block.kind, block.text
        )
        if block.kind == "note" and i and blocks[i - 1].kind == "note":
            parts[-1] += "\n" + line
        else:
            parts.append(line)
    return "\n\n".join(parts) + "\n"
