"""The answer composer: report sentences, each with its own endnotes, in the shape asked for.

A single fact gets the sentence that holds it, and the best sentence for each other part of a
question asked in parts, or an unsure fact's runner-up. A list, an overview, a why, a how or a
comparison gets 2-6 sentences chosen for coverage without repeats (maximal marginal relevance;
a follow-up's best and none other that the last answer quoted), grouped by section: the best
sentence's first, opening at it, then the others in report order. A summary of the report comes
from its key takeaways and section leads. No sentence's wording is changed, except that a
leading connective ("In fact,") goes when it is quoted out of place. (Reading such an answer
back for a follow-up's ordinal is in `turn`.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pyversity import Strategy, diversify

from opioid_assistant.answer.citations import cite
from opioid_assistant.answer.continuity import leans_on, opens_on_it, turn_after, with_neighbours
from opioid_assistant.answer.prompts import (
    ENDNOTES_LEAD,
    LEAD,
    OWN_LEAD,
    RECOMMENDATIONS_LEAD,
    SECTIONS_LEAD,
    SOURCED_LEAD,
)
from opioid_assistant.answer.question_shapes import Shape
from opioid_assistant.answer.turn import said_before
from opioid_assistant.report.layout import CAP_WEB_CAPTURE as LAYOUT
from opioid_assistant.report.sections import recommendation_headings
from opioid_assistant.text import capitalised_names
from opioid_assistant.types import Report

COMPOSED_MAX_WORDS = 130
FILL_WORDS = 120  # spare sentences fill an open answer to this many words (the median)
COMPOSED_MAX_SENTENCES = 6
LABEL_WORDS = 6  # a paragraph's section label keeps this many of the heading's words
COMPOSED_MIN_SENTENCES = 2
MMR_DIVERSITY = 0.35  # 0: relevance only; 1: diversity only
SUMMARY_LEADS = 3  # section leads added to the key takeaways
CONNECTIVE = re.compile(
    r"^(?:(?:in fact|additionally|moreover|furthermore|in addition|also|still|indeed|meanwhile|"
    r"however|similarly|likewise|as a result|consequently|therefore|thus|notably|importantly|"
    r"finally|ultimately|overall|instead|nevertheless|nonetheless|conversely|on the other hand|"
    r"at the same time|for example|for instance|specifically|to that end|even so|in turn|"
    r"that said|further|first|second|third|lastly|accordingly|in short|in other words),\s+"
    r"|(?:yet|but|and|so)\s+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Draft:
    """An extractive answer before its citations are checked.

    Attributes:
        text: The answer with inline endnote citations.
        quoted: Indices in `Report.sentences` of the sentences it quotes, in answer order.
        shape: The shape of answer it was written in.
        about: The front-matter statement it quotes (title, publisher, authors), or ''.
        abstains: It says the report lacks what was asked (a date), with what it does say.
    """

    text: str
    quoted: tuple[int, ...]
    shape: Shape
    about: str = ""
    abstains: bool = False


@dataclass(frozen=True)
class Pick:
    """A report sentence chosen for an answer.

    Attributes:
        index: Its index in `Report.sentences`.
        score: How well it answers (the ranking's score; 0 for one that was not retrieved).
        lead: Quoted right after the best, before any other: the best sentence for one part
            of a question in parts, or the runner-up of an unsure fact.
        beside: Cited and right beside the best sentence (or the best that cites a source),
            in its section: the report's paragraph goes on there, so it comes before the rest.
        spare: Ranked next, though not relevant enough to join by itself: it fills the words
            an open answer of two sentences or more leaves, up to FILL_WORDS, by its score.
    """

    index: int
    score: float
    lead: bool = False
    beside: bool = False
    spare: bool = False


def compose(
    shape: Shape,
    picks: Sequence[Pick],
    report: Report,
    vectors: Mapping[str, Sequence[float]],
    spans: Sequence[tuple[int, int]] = (),
    said: str = "",
    asked: str = "",
) -> tuple[str, tuple[int, ...]]:
    """Write the answer from ranked picks (best first; the first is the one that answers).

    Args:
        shape: The shape of answer the question asks for.
        picks: Candidate sentences, best first, all of which plausibly answer.
        report: The parsed report.
        vectors: Each sentence's embedding (by text), for the diversity of composed answers.
        spans: The sub-sections of the section the question names (sentence index ranges):
            an overview quotes the best sentence of each before any other.
        said: The previous answer: what it quoted is not quoted again (but an open answer's best).
        asked: The question: a fact's sentence leaning on the one before for a word of it
            brings that one.

    Returns:
        The answer text with inline citations, and the indices of the sentences it quotes.
    """
    if shape is Shape.COMPOSED:  # a follow-up moves on: besides its best, nothing just said
        fresh = [p for p in picks[1:] if not said_before(report.sentences[p.index].text, said)]
        chosen = _diverse([picks[0], *fresh], report, vectors, spans, said)
        if len(chosen) >= COMPOSED_MIN_SENTENCES:
            best = picks[0].index
            return _grouped(chosen, report, best), tuple(in_answer_order(chosen, report, best))
    # A fact asked in parts ("How many ..., and when ...?"): each part's own best sentence, with
    # the neighbours they need.
    chosen = [picks[0].index, *(p.index for p in picks[1:] if p.lead)]
    chosen = with_neighbours(chosen, report, asked, said)
    return _quoted(chosen, report), tuple(chosen)


def _diverse(
    picks: Sequence[Pick],
    report: Report,
    vectors: Mapping[str, Sequence[float]],
    spans: Sequence[tuple[int, int]] = (),
    said: str = "",
) -> list[int]:
    """The best sentence, the best for each part of the question (whatever the word budget),
    (with `spans`) the best of each span, the sentences beside it, then relevant sentences and
    spares that repeat each other least (MMR, by score: a spare above a weaker relevant one
    goes first), up to COMPOSED_MAX_SENTENCES and the word budget (FILL_WORDS for a spare)."""
    spares = [p for p in picks if p.spare]
    picks = [p for p in picks if not p.spare]
    # Each span's best sentence that cites a source, else its best.
    sourced = _sourced_first(picks, report)
    firsts = [
        next(p for p in sourced if first <= p.index < last)
        for first, last in spans
        if any(first <= p.index < last for p in picks)
    ]
    firsts = [p for p in picks[1:] if p.lead] + sorted(
        (p for p in firsts if p is not picks[0] and not p.lead), key=lambda p: -p.score
    )
    firsts += [p for p in picks[1:] if p.beside and p not in firsts]
    pool = [p for p in [*picks[1:], *spares] if report.sentences[p.index].text in vectors]
    pool = [p for p in pool if p not in firsts]
    spare = {p.index for p in spares}
    # The report's point, when it turns against the best ("Yet in 2023, ..."), goes first
    # (unless the previous answer, `said`, just quoted it).
    order = [t for t in [turn_after(picks[0].index, report, said)] if t is not None]
    order += [p.index for p in firsts]
    if pool:
        result = diversify(
            np.stack([np.asarray(vectors[report.sentences[p.index].text]) for p in pool]),
            np.asarray([p.score for p in pool]),
            k=len(pool),
            strategy=Strategy.MMR,
            diversity=MMR_DIVERSITY,
        )
        # The word budget goes to sentences that cite a source before the report's own.
        diverse = [pool[int(position)] for position in result.indices]
        order += [p.index for p in _sourced_first(diverse, report)]
    chosen = [picks[0].index]
    leads = {p.index for p in picks if p.lead}  # each part of the question gets its answer
    for index in order:
        if len(chosen) == COMPOSED_MAX_SENTENCES:
            break
        filler = index in spare  # a spare fills the words an answer of two sentences leaves
        if index in chosen or (filler and len(chosen) < COMPOSED_MIN_SENTENCES):
            continue
        words = FILL_WORDS if filler else COMPOSED_MAX_WORDS
        if index in leads or _fits([*chosen, index], report, words):
            chosen.append(index)
    # In the words left, a sentence opening on one quoted ("Yet in 2023, they reached 1,200").
    for index in [i + 1 for i in chosen if opens_on_it(i, report) and i + 1 not in chosen]:
        if len(chosen) < COMPOSED_MAX_SENTENCES and _fits([*chosen, index], report):
            chosen.append(index)
    if len(chosen) >= COMPOSED_MIN_SENTENCES:  # then the words left (one sentence stays one)
        for index in [p.index for p in spares if p.index not in chosen]:
            if len(chosen) < COMPOSED_MAX_SENTENCES and _fits([*chosen, index], report, FILL_WORDS):
                chosen.append(index)
    return sorted(chosen)


def _sourced_first(picks: Sequence[Pick], report: Report) -> list[Pick]:
    """The picks whose sentence cites a source, then the others, each in the order given."""
    return sorted(picks, key=lambda p: not report.sentences[p.index].endnotes)


def _fits(chosen: Sequence[int], report: Report, words: int = COMPOSED_MAX_WORDS) -> bool:
    return len(_grouped(chosen, report).split()) <= words


def summary(
    report: Report, limit: int | None = None, part: str = ""
) -> tuple[str, tuple[int, ...]]:
    """The report in brief: its key takeaways' opening sentences, then section leads.

    Args:
        report: The parsed report.
        limit: At most this many sentences (a question asking for "three sentences").
        part: A part of its apparatus asked for instead ('recommendations', 'sections',
            'endnotes': see `outline`).
    """
    if part and (listed := outline(report, part)):
        return listed, ()
    # The body opens with its key takeaways (the layout profile's body_start).
    takeaways = next((h for h in report.headings if h.text == LAYOUT.body_start), None)
    chosen: list[int] = []
    if takeaways is not None:
        chosen += [i for i in range(takeaways.first, takeaways.last) if _opens_paragraph(i, report)]
    leads = [h for h in report.headings if h.level == 1 and h is not takeaways and h.last > h.first]
    for heading in leads[1 : SUMMARY_LEADS + 1]:  # the introduction restates the takeaways
        cited = [i for i in range(heading.first, heading.last) if report.sentences[i].endnotes]
        if cited:
            chosen.append(cited[0])
    kept: list[int] = []
    for index in chosen[: limit or None]:
        if not _fits([*kept, index], report):
            break
        kept.append(index)
    return _grouped(kept, report), tuple(kept)


def outline(report: Report, part: str) -> str:
    """A part of the report's apparatus: its 'recommendations' (see `recommendations`), its
    'sections' (the top-level headings) or the count of its 'endnotes'; '' if it has none."""
    if part == "sections":
        count = sum(h.level == 1 for h in report.headings)
        return SECTIONS_LEAD.format(count=count, sections=section_list(report)) if count else ""
    if part == "endnotes":
        numbers = sorted(report.endnotes)
        return ENDNOTES_LEAD.format(count=len(numbers), last=numbers[-1]) if numbers else ""
    return recommendations(report)


def section_list(report: Report) -> str:
    """The report's top-level sections, quoted, for a reader who asked about something else
    or asked for them."""
    names = [h.text for h in report.headings if h.level == 1]
    return "; ".join(f"“{n}”" for n in names)


def recommendations(report: Report) -> str:
    """The report's recommendations, as the headings of its sub-sections name them ('' if
    it has none): "The report makes 13 recommendations ..." and each section's, in order."""
    named = recommendation_headings(report)
    parts = [f"{name}: {'; '.join(texts)}." for name, texts in named.items()]
    lead = RECOMMENDATIONS_LEAD.format(count=sum(map(len, named.values())))
    return "\n\n".join([lead, *parts]) if named else ""


def section_summary(
    report: Report, section: str, limit: int | None = None
) -> tuple[str, tuple[int, ...]]:
    """One section in brief: its first cited sentence, then each sub-section's (or, with
    none, its cited sentences in order, as many as fit).

    Args:
        report: The parsed report.
        section: The section's path.
        limit: At most this many sentences.
    """
    opening = next((h for h in report.headings if h.section == section and h.level < 3), None)
    if opening is None:
        return "", ()
    parts = [
        h
        for h in report.headings
        if h.level == opening.level + 1 and opening.first <= h.first < opening.last
    ]
    ranges = [(opening.first, parts[0].first if parts else opening.last)]
    ranges += [(h.first, h.last) for h in parts]
    chosen = [
        next(i for i in range(first, last) if report.sentences[i].endnotes)
        for first, last in ranges
        if any(report.sentences[i].endnotes for i in range(first, last))
    ]
    if not parts:  # no sub-sections: its cited sentences in order (or, citing none, all)
        every = range(opening.first, opening.last)
        chosen = [i for i in every if report.sentences[i].endnotes] or list(every)
    kept: list[int] = []
    for index in chosen[: limit or None]:
        if not _fits([*kept, index], report):
            break
        kept.append(index)
    return (_grouped(kept, report), tuple(kept)) if kept else ("", ())


def quoted_passage(indices: Sequence[int], report: Report) -> tuple[str, tuple[int, ...]]:
    """Sentences quoted as they stand in the report, under their sections' names."""
    return _grouped(indices, report), tuple(indices)


def quoted_fact(index: int, report: Report) -> tuple[str, tuple[int, ...]]:
    """One sentence quoted as a fact's answer: "According to the report, ... [59]." """
    return _quoted([index], report), (index,)


def _opens_paragraph(index: int, report: Report) -> bool:
    start = report.sentences[index].start
    return start == 0 or report.text[max(start - 2, 0) : start] == "\n\n"


def _sections(chosen: Sequence[int], report: Report, first: int | None = None) -> list[list[int]]:
    """The sentences by section, each section's in report order; the section holding `first`
    (the best sentence) leads, opening at it, and the others follow in report order."""
    groups: dict[str, list[int]] = {}
    for index in sorted(chosen):
        groups.setdefault(report.sentences[index].section, []).append(index)
    if first is None:
        return list(groups.values())
    lead = report.sentences[first].section
    # What answers comes first: the best sentence's section opens at it (or what it leans on).
    group = groups[lead]
    start = first
    while start - 1 in group and leans_on(report.sentences[start].text):
        start -= 1
    groups[lead] = [i for i in group if i >= start] + [i for i in group if i < start]
    return sorted(groups.values(), key=lambda g: report.sentences[g[0]].section != lead)


def in_answer_order(chosen: Sequence[int], report: Report, first: int | None = None) -> list[int]:
    """The indices in the order `_grouped` quotes them."""
    return [index for group in _sections(chosen, report, first) for index in group]


def _grouped(chosen: Sequence[int], report: Report, first: int | None = None) -> str:
    """A paragraph per section, each led by the section's name, in `_sections`' order."""
    groups = {report.sentences[g[0]].section: g for g in _sections(chosen, report, first)}
    paragraphs = []
    for section, indices in groups.items():
        words = section.split(" > ")[-1].split()
        name = " ".join(words[:LABEL_WORDS]) + ("…" if len(words) > LABEL_WORDS else "")
        paragraphs.append(f"From “{name}”: {_quoted(indices, report, lower_first=False)}")
    return "\n\n".join(paragraphs)


def _quoted(indices: Sequence[int], report: Report, lower_first: bool = True) -> str:
    """The sentences as quoted: each with its endnotes, a connective dropped where the
    sentence before it in the report is not quoted just before it."""
    parts = []
    for k, index in enumerate(indices):
        sentence = report.sentences[index]
        follows = k > 0 and indices[k - 1] == index - 1
        text = sentence.text if follows else _strip_connective(sentence.text)
        parts.append(with_citation(text, sentence.endnotes))
    text = " ".join(parts)
    if lower_first and not report.sentences[indices[0]].endnotes:
        return OWN_LEAD + text
    if lower_first:
        # "According to the report, according to NIDA, ..." says it twice.
        lead = SOURCED_LEAD if text.startswith("According to ") else LEAD
        return lead + _lower_first(text, report)
    return text


def with_citation(sentence: str, notes: Sequence[int]) -> str:
    """Put the inline citation before the sentence's final period: '... followed [59].'"""
    if not notes:
        return sentence
    if sentence.endswith("."):
        return f"{sentence[:-1]} {cite(notes)}."
    return f"{sentence} {cite(notes)}"


def _strip_connective(text: str) -> str:
    stripped = CONNECTIVE.sub("", text, count=1)
    if stripped == text or not stripped:
        return text
    return stripped[0].upper() + stripped[1:]


def _lower_first(sentence: str, report: Report) -> str:
    """The sentence with its first letter lowercased to follow a lead ("According to the
    report, ..."), unless its first word is a name ("America’s approach", "Congress should")."""
    first = sentence.split(" ", 1)[0]
    word = re.split(r"\W", first, maxsplit=1)[0]  # "America’s": "America"
    if first == "A" or (
        len(first) > 1 and first[1:].islower() and word not in capitalised_names(report.text)
    ):
        return sentence[0].lower() + sentence[1:]
    return sentence
