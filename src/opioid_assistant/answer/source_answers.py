"""Answers about the report's sources: the endnote that backs a claim, what endnote N is, and
what a cited source's own text adds to the sentence that cites it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opioid_assistant.answer.citations import cite, endnote_line, full_source
from opioid_assistant.answer.composer import Draft, with_citation
from opioid_assistant.answer.prompts import NO_SUCH_ENDNOTE
from opioid_assistant.answer.question_shapes import Shape
from opioid_assistant.answer.ranking import Candidate, coverage
from opioid_assistant.answer.turn import Question, Signals
from opioid_assistant.report.sentences import split_sentences
from opioid_assistant.text import tokenize
from opioid_assistant.types import Endnote, Evidence

SOURCE_MIN_COVERAGE = 0.3  # a source's sentence that holds this share of the question's terms


def source_addition(
    question: Question, best: Candidate, evidence: Sequence[Evidence], idf: Mapping[str, float]
) -> str | None:
    """What a cited source adds, quoted and cited by the endnote that cites that source.

    Only a passage of a source that the answer's own sentence cites is used, and only a
    sentence of it that holds a good share of the question's terms.
    """
    own = set(tokenize(question.text))
    found: tuple[float, str, int, str] | None = None
    for passage in evidence:
        shared = [n for n in passage.endnotes if n in best.endnotes]
        if passage.kind != "source" or not shared:
            continue
        for start, end in split_sentences(passage.text):
            sentence = passage.text[start:end]
            score = coverage(own, set(tokenize(sentence)), idf)
            if score >= SOURCE_MIN_COVERAGE and (found is None or score > found[0]):
                found = (score, sentence, shared[0], passage.url or "")
    if found is None:
        return None
    _, sentence, number, url = found
    where = f" ({url})" if url else ""
    return f"The cited source{where} adds: “{sentence}” {cite([number])}"


def endnote_answer(
    number: int, evidence: Sequence[Evidence], endnotes: Mapping[int, Endnote], signals: Signals
) -> Draft:
    """ "What is endnote 54?": the report's sentences that cite it, then the endnote; an
    abstention that says the range when the report has no such endnote."""
    if number not in endnotes:
        text = NO_SUCH_ENDNOTE.format(number=number, last=max(endnotes, default=0))
        return Draft(text, (), Shape.FACT, abstains=True)
    citing = dict.fromkeys(
        text
        for passage in evidence
        for text, notes in zip(passage.sentences, passage.sentence_endnotes, strict=True)
        if number in notes
    )
    lines = [f"The report says: {with_citation(text, (number,))}" for text in citing]
    quoted = tuple(signals.position[t][1] for t in citing if t in signals.position)
    return Draft("\n".join([*lines, endnote_line(number, endnotes)]), quoted, Shape.FACT)


def matching_notes(
    question: Question,
    best: Candidate,
    endnotes: Mapping[int, Endnote],
    clauses: Mapping[int, str],
    idf: Mapping[str, float],
) -> tuple[int, ...]:
    """The endnote whose clause (and source) holds most of the question's rarer words."""
    own = set(tokenize(question.text))

    def match(number: int) -> tuple[float, float]:
        clause = set(tokenize(clauses.get(number, "")))
        source = set(tokenize(full_source(number, endnotes)))
        return coverage(own, clause, idf), coverage(own, source, idf)

    return (max(best.endnotes, key=match),) if best.endnotes else ()


def source_answer(
    question: Question,
    best: Candidate,
    endnotes: Mapping[int, Endnote],
    signals: Signals,
    idf: Mapping[str, float],
) -> str:
    """Name the claim the best sentence makes and the endnote that backs it, with its resolved
    source and link. Of a sentence's endnotes, those whose source best matches the question
    are named."""
    clauses = signals.clauses.get(best.text, {})
    notes = matching_notes(question, best, endnotes, clauses, idf)
    lines = [f"The report says: {with_citation(best.text, notes)}"]
    lines += [endnote_line(number, endnotes) for number in notes]
    return "\n".join(lines)
