"""Citation post-processing: keep only endnotes the evidence carries, in order of first use."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from opioid_assistant.report.endnotes import original_note, resolved_note
from opioid_assistant.report.sentences import split_sentences
from opioid_assistant.text import tokenize
from opioid_assistant.types import Citation, Endnote, Evidence

# "[59]", "[3, 4]", "[3][4]"; also tolerates "[note 59]" which small models write.
CITATION_MARKS = re.compile(r"\s*\[\d+(?:\]\[\d+)*\]")  # inline citations as answers write them
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
    """A Citation for an endnote; Ibid. and short forms name the full source they stand for
    (at the end of a chain: 'Ibid.' after 'Ibid.' names the note both stand for)."""
    source = note.text
    full = original_note(note, endnotes)
    if full is not None:
        source = f"{note.text} (= endnote {full.number}: {full.text})"
    return Citation(number=note.number, source=source, url=note.resolved_url)


def endnote_line(number: int, endnotes: Mapping[int, Endnote]) -> str:
    """An endnote as an answer names it: its source (an "Ibid." with the note it repeats),
    its link, and its citation."""
    note = endnotes[number]
    source = note.text
    full = original_note(note, endnotes)
    if full is not None:
        source = f"{note.text} — the same source as endnote {full.number}: {full.text}"
    link = f" Link: {note.resolved_url}" if note.resolved_url else " The endnote gives no link."
    return f"Endnote {number}: {source}{link} {cite([number])}"


def full_source(number: int, endnotes: Mapping[int, Endnote]) -> str:
    """An endnote's source, with the full source an "Ibid." stands for."""
    note = endnotes[number]
    full = original_note(note, endnotes)
    return note.text if full is None else f"{note.text} {full.text}"


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


def closing_sentence(claim: str) -> tuple[str, str]:
    """Split the text a citation closes into the sentences before its last one, which cite
    nothing (the report's own statements are quoted with no number), and that last sentence,
    the one the citation is on (sentences as the report's own are split: `split_sentences`)."""
    spans = split_sentences(claim)
    start = spans[-1][0] if spans else 0
    return claim[:start], claim[start:]


NOTE_REFERENCE = re.compile(r"\b(?:end)?notes? \d+", re.IGNORECASE)  # "Endnote 80: ..."
GROUNDED_SHARE = 0.7  # of a claim's words that its cited passages must hold
MIN_CLAIM_WORDS = 3  # shorter pieces ("Yes.") are not checked
# Words that frame a claim rather than state it.
FRAMING = frozenset(
    "states state stated notes noted mentions mentioned explains adds added argues argued "
    "wants want recommends recommended suggests suggested finds found shows showed claims "
    "claimed writes wrote also however therefore because endnote note link url source "
    "sources cited cites".split()
)


def ungrounded_claims(
    text: str, evidence: Iterable[Evidence], endnotes: Mapping[int, Endnote]
) -> tuple[str, ...]:
    """The claims of an answer that the passages they cite do not bear out.

    A claim is the sentence that a citation group closes ("... followed [59]" or "...
    followed. [59]"); sentences no citation closes (before it, or after the last citation)
    are checked against all the evidence. A claim is
    ungrounded when fewer than GROUNDED_SHARE of its words, or not every one of its figures,
    appear in the report sentences, endnotes and source passages carrying the numbers it
    cites. A lexical check, not entailment: it catches invented facts and misplaced citation
    numbers, not a negation of a supported sentence.
    """
    passages = list(evidence)
    claims: list[tuple[str, set[int]]] = []
    start = 0
    for match in CITATION_GROUP.finditer(text):
        numbers = {int(n) for n in re.findall(r"\d+", match.group(1))}
        uncited, cited = closing_sentence(text[start : match.start()])
        claims += [(uncited, set()), (cited, numbers)]
        start = match.end()
    claims.append((text[start:], set()))
    everything = " ".join(e.text for e in passages)
    ungrounded = []
    for claim, numbers in claims:
        words = set(tokenize(NOTE_REFERENCE.sub(" ", claim))) - FRAMING
        if len(words) < MIN_CLAIM_WORDS:
            continue
        support = set(tokenize(_supporting_text(numbers, passages, endnotes) or everything))
        figures = {w for w in words if w[0].isdigit()}
        if len(words & support) < GROUNDED_SHARE * len(words) or figures - support:
            ungrounded.append(claim.strip(" .;,"))
    return tuple(ungrounded)


def _supporting_text(
    numbers: set[int], evidence: list[Evidence], endnotes: Mapping[int, Endnote]
) -> str:
    """The report sentences, source passages and endnotes that carry any of `numbers`."""
    texts = []
    for number in numbers:
        note = endnotes.get(number)
        while note is not None:  # an Ibid. or short form stands for the note it resolves to
            texts.append(note.text)
            note = resolved_note(note, endnotes)
    for passage in evidence:
        if passage.kind == "report":
            texts += [
                s
                for s, notes in zip(passage.sentences, passage.sentence_endnotes, strict=True)
                if numbers & set(notes)
            ]
        elif numbers & set(passage.endnotes):
            texts.append(passage.text)
    return " ".join(texts)
