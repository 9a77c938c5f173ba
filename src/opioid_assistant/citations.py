"""Citation post-processing: keep only endnotes the evidence carries, in order of first use."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from opioid_assistant.types import Citation, Endnote, Evidence

# "[59]", "[3, 4]", "[3][4]"; also tolerates "[note 59]" which small models write.
CITATION_GROUP = re.compile(r"\s?\[(?:notes?\s*)?(\d{1,4}(?:\s*[,;]\s*\d{1,4})*)\]", re.IGNORECASE)


@dataclass(frozen=True)
class CheckedCitations:
    """The result of post-processing an answer's citations."""

    text: str
    citations: tuple[Citation, ...]
    dropped: tuple[int, ...]


def cite(numbers: Iterable[int]) -> str:
    """The inline citation for a sentence's endnotes: '[3][4]'."""
    return "".join(f"[{n}]" for n in numbers)


def make_citation(note: Endnote, endnotes: Mapping[int, Endnote]) -> Citation:
    """A Citation for an endnote; Ibid. and short forms name the full source they stand for."""
    source = note.text
    if note.resolves_to is not None and note.resolves_to in endnotes:
        source = f"{note.text} (= endnote {note.resolves_to}: {endnotes[note.resolves_to].text})"
    return Citation(number=note.number, source=source, url=note.resolved_url)


def check_citations(
    text: str, evidence: Iterable[Evidence], endnotes: Mapping[int, Endnote]
) -> CheckedCitations:
    """Keep the citations that the evidence carries; drop and report every other one.

    Args:
        text: The answer with inline citations.
        evidence: The passages the answer was built from.
        endnotes: The report's endnotes.

    Returns:
        The text with unsupported numbers removed, the kept citations de-duplicated in
        order of first use, and the dropped numbers in order of appearance.
    """
    allowed = {n for e in evidence for n in e.endnotes} & set(endnotes)
    kept: list[int] = []
    dropped: list[int] = []

    def rewrite(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        good = [n for n in numbers if n in allowed]
        dropped.extend(n for n in numbers if n not in allowed and n not in dropped)
        kept.extend(n for n in good if n not in kept)
        if not good:
            return ""
        return (" " if match.group(0)[0].isspace() else "") + cite(good)

    cleaned = CITATION_GROUP.sub(rewrite, text)
    cleaned = re.sub(r"\s+([.,;:])", r"\1", cleaned).strip()
    citations = tuple(make_citation(endnotes[n], endnotes) for n in kept)
    return CheckedCitations(cleaned, citations, tuple(dropped))
