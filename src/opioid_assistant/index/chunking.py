"""Report -> chunks: runs of whole sentences within one section, plus one document per endnote."""

from __future__ import annotations

import hashlib

from opioid_assistant.report.endnotes import resolved_note
from opioid_assistant.types import Chunk, Report, Sentence

ENDNOTES_SECTION = "Endnotes"
# What the report says of itself (title, publisher, authors): answerable, cited by name.
FRONT_MATTER_SECTION = "About this report"


def chunk_id(kind: str, section: str, text: str) -> str:
    """A stable id derived from the chunk's content."""
    digest = hashlib.sha256(f"{kind}\x1f{section}\x1f{text}".encode()).hexdigest()
    return f"{kind}-{digest[:16]}"


def chunk_report(report: Report, max_chars: int = 800) -> list[Chunk]:
    """Group the report's sentences into chunks.

    A chunk never splits a sentence and never spans two sections; it holds at most
    `max_chars` characters unless a single sentence is longer.

    Args:
        report: The parsed report.
        max_chars: Largest chunk size in characters (MiniLM reads ~1,000).

    Returns:
        Report chunks in reading order.
    """
    chunks: list[Chunk] = []
    run: list[Sentence] = []
    for sentence in report.sentences:
        if run and (
            sentence.section != run[0].section or _length(run) + 1 + len(sentence.text) > max_chars
        ):
            chunks.append(_report_chunk(run))
            run = []
        run.append(sentence)
    if run:
        chunks.append(_report_chunk(run))
    return chunks


def _length(run: list[Sentence]) -> int:
    return sum(len(s.text) for s in run) + len(run) - 1


def _report_chunk(run: list[Sentence]) -> Chunk:
    text = " ".join(s.text for s in run)
    endnotes = tuple(n for s in run for n in s.endnotes)
    return Chunk(
        id=chunk_id("report", run[0].section, text),
        text=text,
        kind="report",
        section=run[0].section,
        endnotes=endnotes,
        start=run[0].start,
        end=run[-1].end,
        sentences=tuple(s.text for s in run),
        sentence_endnotes=tuple(s.endnotes for s in run),
    )


def sentence_chunks(report: Report) -> list[Chunk]:
    """One document per report sentence, so answers can pick sentences by meaning."""
    return [
        Chunk(
            id=chunk_id("sentence", s.section, f"{s.start}:{s.text}"),
            text=s.text,
            kind="sentence",
            section=s.section,
            endnotes=s.endnotes,
            start=s.start,
            end=s.end,
        )
        for s in report.sentences
    ]


def endnote_chunks(report: Report) -> list[Chunk]:
    """One document per endnote: its text, the full source it resolves to, and what it supports.

    The cited sentence is included so that "which source supports X?" finds the note.
    """
    chunks = []
    for number, note in sorted(report.endnotes.items()):
        parts = [f"Endnote {number}: {note.text}"]
        full = resolved_note(note, report.endnotes)
        if full is not None:
            parts.append(f"(Same source as endnote {full.number}: {full.text})")
        cited = [s.text for s in report.sentences_citing(number)]
        if cited:
            parts.append("Cited for: " + " ".join(cited))
        text = " ".join(parts)
        chunks.append(
            Chunk(
                id=chunk_id("endnote", ENDNOTES_SECTION, text),
                text=text,
                kind="endnote",
                section=ENDNOTES_SECTION,
                endnotes=(number,),
                url=note.resolved_url,
            )
        )
    return chunks


def front_matter_chunks(report: Report) -> list[Chunk]:
    """The report's title, publisher, authors and their roles as sentences of their own (their
    vectors let "Who wrote this?" be matched by meaning). They are never retrieved as
    passages, so they take no place of the body's; they carry no endnote and no text span."""
    return [
        Chunk(
            id=chunk_id("sentence", FRONT_MATTER_SECTION, text),
            text=text,
            kind="sentence",
            section=FRONT_MATTER_SECTION,
            endnotes=(),
        )
        for text in report.front_matter()
    ]
