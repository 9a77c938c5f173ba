"""Answerers: the extractive one (sentences of the evidence with their own endnotes) and the
prompt building shared by the LLM backends. Pure functions of their inputs."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opioid_assistant.citations import cite
from opioid_assistant.prompts import NOT_COVERED, render
from opioid_assistant.retrieval import asks_for_sources, tokenize
from opioid_assistant.types import Endnote, Evidence

FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|so|what about|how about|what else|why|how so|then)\b|"
    r"\b(it|its|they|them|their|that|those|this|these|he|she|his|her|there|after that|"
    r"the same)\b",
    re.IGNORECASE,
)
MIN_COVERAGE = 0.34  # share of the question's (IDF-weighted) terms the best sentence must hold
SECOND_SENTENCE_RATIO = 0.85
CONTEXT_WEIGHT = 0.3
KEY_TERM = re.compile(r"\b\d[\d,.]*\b|\b[A-Z][a-zA-Z]{2,}\b")
NOT_KEY = frozenset(
    [
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "does",
        "did",
        "do",
        "is",
        "are",
        "was",
        "were",
        "the",
        "report",
        "according",
        "and",
        "can",
        "could",
        "should",
        "would",
        "will",
        "tell",
        "give",
        "list",
        "explain",
        "describe",
        "summarize",
    ]
)


@dataclass(frozen=True)
class Question:
    """A question ready to answer: its own words and the words it takes from the history."""

    text: str
    standalone: str
    context: str = ""


def condense(question: str, history: Sequence[Mapping[str, str]]) -> Question:
    """Make a follow-up standalone by adding the previous user question (rule-based).

    Follow-ups are recognised by a leading 'and/what about…', a pronoun, or very few words.
    """
    previous = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
    if not previous or not (FOLLOW_UP.search(question) or len(tokenize(question)) <= 3):
        return Question(question, question)
    context = previous[-1]
    return Question(question, f"{context} {question}", context)


def key_terms(question: str) -> set[str]:
    """Numbers and names in a question: an answer that lacks them answers something else."""
    terms = set()
    for i, match in enumerate(KEY_TERM.finditer(question)):
        term = match.group(0).rstrip(".,")
        if term.lower() in NOT_KEY or (i == 0 and match.start() == 0 and term.isalpha()):
            continue
        terms.add(term.lower())
    return terms


def _idf(evidence: Sequence[Evidence]) -> dict[str, float]:
    sentences = [s for e in evidence for s in (e.sentences or (e.text,))]
    counts: dict[str, int] = {}
    for s in sentences:
        for t in set(tokenize(s)):
            counts[t] = counts.get(t, 0) + 1
    n = len(sentences) + 1
    return {t: math.log(1 + n / c) for t, c in counts.items()}


def _coverage(tokens: set[str], sentence: set[str], idf: Mapping[str, float]) -> float:
    if not tokens:
        return 0.0
    default = max(idf.values(), default=1.0)  # a term no passage holds weighs the most
    total = sum(idf.get(t, default) for t in tokens)
    return sum(idf.get(t, default) for t in tokens & sentence) / total


@dataclass(frozen=True)
class Candidate:
    """A sentence that could answer, with its endnotes and score."""

    text: str
    endnotes: tuple[int, ...]
    passage: str
    score: float
    coverage: float


def rank_sentences(question: Question, evidence: Sequence[Evidence]) -> list[Candidate]:
    """Score every cited sentence of the report evidence against the question, best first."""
    idf = _idf(evidence)
    own, context = (
        set(tokenize(question.text)),
        set(tokenize(question.context)) - set(tokenize(question.text)),
    )
    candidates = []
    for rank, passage in enumerate(e for e in evidence if e.kind != "endnote"):
        heading = set(tokenize(passage.section.split(" > ")[-1]))
        for text, notes in zip(passage.sentences, passage.sentence_endnotes, strict=True):
            if not notes:
                continue  # a sentence without an endnote cannot be cited
            words = set(tokenize(text)) | heading
            coverage = _coverage(own, words, idf)
            score = coverage + CONTEXT_WEIGHT * _coverage(context, words, idf) + 0.05 / (rank + 1)
            candidates.append(Candidate(text, tuple(notes), passage.text, score, coverage))
    return sorted(candidates, key=lambda c: -c.score)


def with_citation(sentence: str, notes: Sequence[int]) -> str:
    """Put the inline citation before the sentence's final period: '... followed [59].'"""
    if sentence.endswith("."):
        return f"{sentence[:-1]} {cite(notes)}."
    return f"{sentence} {cite(notes)}"


def extractive_answer(
    question: Question, evidence: Sequence[Evidence], endnotes: Mapping[int, Endnote]
) -> str | None:
    """Compose an answer from the best supporting sentences; None when the report does not say."""
    if asks_for_sources(question.text) and (
        sourced := _source_answer(question, evidence, endnotes)
    ):
        return sourced
    ranked = rank_sentences(question, evidence)
    if not ranked or ranked[0].coverage < MIN_COVERAGE:
        return None
    best = ranked[0]
    missing = key_terms(question.text) - _present(best.passage)
    if missing:
        return None  # e.g. a year or country the report gives no figure for
    chosen = [best]
    for other in ranked[1:3]:
        if other.score >= SECOND_SENTENCE_RATIO * best.score and other.text != best.text:
            chosen.append(other)
            break
    return "According to the report, " + " ".join(
        with_citation(_lower_first(c.text) if i == 0 else c.text, c.endnotes)
        for i, c in enumerate(chosen)
    )


def _present(text: str) -> set[str]:
    return {t.rstrip(".,").lower() for t in re.findall(r"[\w$][\w,.$’']*", text)}


def _lower_first(sentence: str) -> str:
    first = sentence.split(" ", 1)[0]
    if len(first) > 1 and first[1:].islower() and first not in ("I",):
        return sentence[0].lower() + sentence[1:]
    return sentence


def _source_answer(
    question: Question, evidence: Sequence[Evidence], endnotes: Mapping[int, Endnote]
) -> str | None:
    notes = [e for e in evidence if e.kind == "endnote"]
    if not notes:
        return None
    idf = _idf(evidence)
    own = set(tokenize(question.text))
    best = max(notes, key=lambda e: _coverage(own, set(tokenize(e.text)), idf))
    if _coverage(own, set(tokenize(best.text)), idf) < MIN_COVERAGE:
        return None
    note = endnotes[best.endnotes[0]]
    source = note.text
    if note.resolves_to is not None:
        source = f"{note.text} — the same source as endnote {note.resolves_to}: {endnotes[note.resolves_to].text}"
    link = f" Link: {note.resolved_url}" if note.resolved_url else " The endnote gives no link."
    return f"Endnote {note.number} supports it: {source}{link} {cite([note.number])}"


def format_evidence(evidence: Sequence[Evidence]) -> str:
    """Number the passages for the prompt; each sentence carries its own endnote numbers."""
    lines = []
    for i, e in enumerate(evidence, start=1):
        if e.sentences:
            body = " ".join(
                f"{s} {cite(n)}" if n else s
                for s, n in zip(e.sentences, e.sentence_endnotes, strict=True)
            )
        else:
            body = f"{e.text} {cite(e.endnotes)}"
        label = ", ".join(map(str, e.endnotes)) or "none"
        lines.append(f"[E{i}] ({e.section}; endnotes {label}) {body}")
    return "\n".join(lines)


def answer_messages(
    title: str,
    question: Question,
    evidence: Sequence[Evidence],
    history: Sequence[Mapping[str, str]],
) -> list[dict[str, str]]:
    """The chat messages an LLM backend receives."""
    system = render("answer_system", title=title, not_covered=NOT_COVERED)
    messages = [{"role": "system", "content": system}]
    for m in history[-6:]:
        if m.get("role") in ("user", "assistant") and m.get("content"):
            messages.append({"role": m["role"], "content": m["content"][:1500]})
    user = render("answer_user", evidence=format_evidence(evidence), question=question.standalone)
    messages.append({"role": "user", "content": user})
    return messages


def condense_messages(question: str, history: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The chat messages that ask an LLM to make a follow-up standalone."""
    transcript = "\n".join(
        f"{m['role']}: {m['content'][:500]}" for m in history[-6:] if m.get("content")
    )
    return [{"role": "user", "content": render("condense", history=transcript, question=question)}]
