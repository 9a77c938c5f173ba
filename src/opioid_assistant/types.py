"""The data that flows through the pipeline: report -> chunks -> evidence -> answer.

Every type is a frozen dataclass so a stage can never change what an earlier stage produced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Endnote:
    """One endnote of the report.

    Attributes:
        number: The endnote's number in the report (1-based).
        text: The endnote as printed, e.g. 'Ibid.' or a full citation.
        url: The URL printed in this endnote, if any.
        resolves_to: For 'Ibid.' and short-form notes, the number of the earlier note
            that gives the full source; None for a note that is itself a full source.
        resolved_url: The URL of the source this note finally points at (its own, or
            that of the note it resolves to); None when no URL is known.
    """

    number: int
    text: str
    url: str | None = None
    resolves_to: int | None = None
    resolved_url: str | None = None


@dataclass(frozen=True)
class Sentence:
    """A sentence of the report body, with its endnote markers removed.

    Attributes:
        text: The sentence without marker digits.
        section: Heading path, e.g. 'Public health solutions > Expand access to ...'.
        endnotes: Endnote numbers whose markers this sentence carries, in order.
        start: Offset of the sentence in `Report.text` (inclusive).
        end: Offset of the sentence end in `Report.text` (exclusive).
        endnote_offsets: Where each endnote's marker stood in `text`: the clause before it
            is what that note supports.
    """

    text: str
    section: str
    endnotes: tuple[int, ...]
    start: int
    end: int
    endnote_offsets: tuple[int, ...] = ()

    def clauses(self) -> dict[int, str]:
        """Each endnote's clause: the text from the previous marker up to its own marker."""
        clauses, begin = {}, 0
        for number, offset in zip(self.endnotes, self.endnote_offsets, strict=True):
            clauses[number] = self.text[begin:offset]
            begin = offset
        return clauses


@dataclass(frozen=True)
class Section:
    """A section of the report body.

    Attributes:
        path: Heading path from the top-level section down, joined with ' > '.
        level: 1 for a top-level section, 2 for a sub-section.
        paragraphs: The section's paragraphs, as cleaned text (no marker digits).
    """

    path: str
    level: int
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Heading:
    """A heading of the report body: a section's, a sub-section's or a side box's title.

    Attributes:
        text: The heading as printed.
        section: Heading path of the section the heading opens or stands in.
        level: 1 for a top-level section, 2 for a sub-section, 3 for a side box.
        first: Index in `Report.sentences` of the first sentence under the heading.
        last: Index one past the last sentence under it: to the end of the section (with its
            sub-sections) for a section heading, to the next heading for a side box.
    """

    text: str
    section: str
    level: int
    first: int
    last: int


# How the front matter's statements open (see Report.front_matter).
TITLE_FIELD = "Title:"
PUBLISHER_FIELD = "Published by"
AUTHORS_FIELD = "Written by its authors"


def author_role(name: str, role: str) -> str:
    """The front-matter statement of one author's role."""
    return f"{name}, author: {role}."


@dataclass(frozen=True)
class Report:
    """A parsed report.

    Attributes:
        title: The report title.
        text: The cleaned body text (markers removed, furniture dropped); sentence spans
            index into it.
        sections: Sections in reading order.
        sentences: Body sentences in reading order.
        endnotes: Endnotes by number.
        source: Where the report was read from (a path, or 'bundled').
        headings: Every distinct heading of the body in reading order, side boxes included.
        publisher: Who published the report, as its capture names it; '' when unknown.
        authors: The report's authors as (name, role) pairs, in the order its capture lists
            them; empty when it names none.
    """

    title: str
    text: str
    sections: tuple[Section, ...]
    sentences: tuple[Sentence, ...]
    endnotes: dict[int, Endnote]
    source: str = "bundled"
    headings: tuple[Heading, ...] = ()
    publisher: str = ""
    authors: tuple[tuple[str, str], ...] = ()

    def front_matter(self) -> tuple[str, ...]:
        """What the report says of itself, as short statements: its title, its publisher
        (with the publisher's initials), its authors, then each author's role (one each, in
        the order of `authors`)."""
        said = [f"{TITLE_FIELD} {self.title}."] if self.title else []
        if self.publisher:
            initials = self.publisher_initials
            named = f"{self.publisher} ({initials})" if len(initials) > 1 else self.publisher
            said.append(f"{PUBLISHER_FIELD} the {named}.")
        if self.authors:
            names = [name for name, _ in self.authors]
            listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
            count = f" ({len(names)} authors)" if len(names) > 1 else ""
            said.append(f"{AUTHORS_FIELD} {listed}{count}.")
            said += [author_role(name, role) for name, role in self.authors]
        return tuple(said)

    @property
    def publisher_initials(self) -> str:
        """The publisher's initials ("CAP"), from the capitalised words of its name."""
        return "".join(w[0] for w in self.publisher.split() if w[0].isupper())

    def sentences_citing(self, number: int) -> tuple[Sentence, ...]:
        """Return the sentences that carry endnote `number`."""
        return tuple(s for s in self.sentences if number in s.endnotes)


ChunkKind = Literal["report", "endnote", "source", "sentence"]


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: a run of report sentences, one endnote, or a source passage.

    Attributes:
        id: Stable id derived from the content (same content, same id).
        text: The passage text as embedded and shown.
        kind: 'report' for body text, 'endnote' for an endnote document, 'source' for a
            passage of a cited source, 'sentence' for one report sentence (used to pick an
            extractive answer's sentences; never retrieved as a passage).
        section: Heading path of a report chunk; 'Endnotes' for endnote documents.
        endnotes: Endnote numbers the passage carries (for a source passage: the notes
            that cite the source).
        start: Offset in `Report.text` for report chunks, else -1.
        end: End offset in `Report.text` for report chunks, else -1.
        url: The source URL for endnote and source chunks, else None.
        sentence_endnotes: For report chunks, the endnotes of each sentence, so an answer
            can cite a sentence with exactly its own notes.
        sentences: For report chunks, the sentence texts in order.
    """

    id: str
    text: str
    kind: ChunkKind
    section: str
    endnotes: tuple[int, ...]
    start: int = -1
    end: int = -1
    url: str | None = None
    sentences: tuple[str, ...] = ()
    sentence_endnotes: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class Evidence:
    """A passage retrieved for a question.

    Attributes:
        chunk_id: Id of the chunk the passage came from.
        text: The passage text.
        section: Heading path ('Endnotes' for an endnote document).
        endnotes: Endnote numbers the passage carries.
        score: Fused retrieval score; higher is better.
        kind: 'report', 'endnote' or 'source'.
        url: Source URL for endnote/source passages.
        sentences: The passage's sentences (report passages).
        sentence_endnotes: Each sentence's endnotes (report passages).
    """

    chunk_id: str
    text: str
    section: str
    endnotes: tuple[int, ...]
    score: float
    kind: ChunkKind = "report"
    url: str | None = None
    sentences: tuple[str, ...] = ()
    sentence_endnotes: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class Citation:
    """An endnote cited by an answer.

    Attributes:
        number: The report's endnote number.
        source: The endnote text (for Ibid./short forms, with the full source it resolves to).
        url: The resolved URL of the source, or None.
    """

    number: int
    source: str
    url: str | None


@dataclass(frozen=True)
class Answer:
    """What the assistant returns for a question.

    Attributes:
        text: Prose with inline endnote numbers, e.g. '... $13.8 billion [59].'
        citations: Endnotes cited in `text`, in order of first use.
        evidence: The passages the answer was built from.
        abstained: True when the report does not answer the question.
        question: The question as asked.
        standalone_question: The question rewritten with the conversation history.
        backend: Name of the backend that produced the answer.
        dropped_citations: Endnote numbers the model wrote that no evidence carries.
        notice: A note for the reader (e.g. a truncated question or a fallback), or ''.
        corrected_question: The question with its spelling corrected, when that changed it
            ("Showing results for ..."), else ''.
        index_version: The fingerprint of the index (and so the report snapshot) that
            produced the whole answer: text, citations and evidence.
        section: The section path the question was scoped to, or '' for the whole report.
        follow_ups: Suggested next questions, each checked to get a cited answer.
        safety: The fixed help line (an overdose's, or treatment's) the answer opens with,
            also the first line of `text`; '' when the question needs none.
    """

    text: str
    citations: tuple[Citation, ...]
    evidence: tuple[Evidence, ...]
    abstained: bool
    question: str = ""
    standalone_question: str = ""
    backend: str = "extractive"
    dropped_citations: tuple[int, ...] = ()
    notice: str = ""
    corrected_question: str = ""
    index_version: str = ""
    section: str = ""
    follow_ups: tuple[str, ...] = ()
    safety: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the answer as plain JSON-ready data."""
        return asdict(self)
