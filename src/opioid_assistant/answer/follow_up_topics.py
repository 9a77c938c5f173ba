"""Follow-ups on the answer's own topic and new to the conversation.

`follow_ups.candidate_follow_ups` draws questions from around the evidence (figures next to
it, nearby headings). Here the pool widens to wherever the report takes up the terms of the
sentences the answer quotes (its names and rarer words: "naloxone", "Narcan", "LEAD"), and
the pool is ordered by how much of that topic each question shares, weighted by how rare a
term is in the report. Questions the conversation already asked, or was already offered,
are left out, so suggestions vary from turn to turn.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from opioid_assistant.answer.follow_ups import (
    SAME_QUESTION,
    anchor_sentences,
    candidate_follow_ups,
    figure_question,
    heading_question,
)
from opioid_assistant.text import FUNCTION_WORDS, tokenize
from opioid_assistant.types import Answer, Heading, Report

# The words the question templates add ("What does the report say about ...", "How many
# ...?"): shared with an answer, they say nothing of its topic.
TEMPLATE_WORDS = frozenset(
    tokenize("what does the report say about in its how many much was share of why is are can")
)
# A term in more than this share of the report's sentences is too common to mark one
# answer's topic ("opioid", "overdose", "treatment" are the report's subject).
COMMON_SHARE = 0.1
# An acronym and the words before it that spell it: "medication-assisted treatment (MAT)".
ACRONYM = re.compile(r"\(([A-Z][A-Za-z]*[A-Z])\)")
# A name: capitalised words, with "of", "and", "the", "for" between them.
NAME = re.compile(r"\b[A-Z][\w.-]*(?:\s+(?:(?:of|and|the|for|on)\s+)*[A-Z][\w.-]*)+")
POOL = 24  # candidates drawn before ranking; more than any answer keeps
SHARING = 60  # other sentences sharing the topic whose figures and headings are asked about
NAME_WORDS = 8  # a longer run of capitalised words is a title, not a name to ask about


def content_terms(text: str, weights: Mapping[str, float]) -> set[str]:
    """The terms of `text` that can carry a topic: not template words, not in more than
    COMMON_SHARE of the report's sentences (`weights` holds only those that qualify)."""
    return {t for t in tokenize(text) if t in weights}


@dataclass(frozen=True)
class _Terms:
    """A report's topical terms, worked out once per report snapshot."""

    weights: dict[str, float]  # inverse sentence frequency of each topical term
    sentences: tuple[frozenset[str], ...]  # each sentence's topical terms
    headings: dict[Heading, str] = field(default_factory=dict)  # questions asked so far


def term_weights(report: Report) -> dict[str, float]:
    """Inverse sentence frequency of each topical term of the report (rarer: heavier)."""
    return _terms(report).weights


def _terms(report: Report) -> _Terms:
    cached = _CACHE.get(report.text)
    if cached is not None:
        return cached
    tokens = [set(tokenize(s.text)) for s in report.sentences]
    counts = Counter(t for words in tokens for t in words)
    total = max(len(report.sentences), 1)
    weights = {
        t: math.log(total / n)
        for t, n in counts.items()
        if n <= COMMON_SHARE * total and t not in TEMPLATE_WORDS
    }
    found = _Terms(weights, tuple(frozenset(w & weights.keys()) for w in tokens))
    if len(_CACHE) >= 4:  # one per report snapshot in use; a re-ingest adds one
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[report.text] = found
    return found


_CACHE: dict[str, _Terms] = {}


def topical_follow_ups(
    report: Report, answer: Answer, seen: Iterable[str] = (), limit: int = POOL
) -> list[str]:
    """Follow-up questions for `answer`, on its topic first, none the conversation has seen.

    The pool: `candidate_follow_ups`, plus questions about the figures and headings of
    other sentences that share a topical term with the sentences the answer quotes. Ordered
    by the weight of the terms a question shares with those sentences (ties keep the pool's
    order); one asking nothing of the topic comes last, as a fallback.

    Args:
        report: The report the answer comes from.
        answer: The answer to follow.
        seen: The conversation's earlier questions and suggestions (and this question).
        limit: At most this many, best first.
    """
    pool = candidate_follow_ups(report, answer, limit=POOL)
    weights = term_weights(report)
    anchors = anchor_sentences(report, answer) if not answer.abstained else []
    topic = {t for i in anchors for t in _terms(report).sentences[i]}
    if topic:
        pool = [
            *_name_questions(report, anchors, weights),
            *pool,
            *_questions_sharing(report, anchors, topic, weights, answer.text),
        ]
    asked = [set(tokenize(q)) for q in [*seen, answer.question] if q]
    fresh: list[str] = []
    for question in dict.fromkeys(pool):
        words = set(tokenize(question))
        if not any(_same(words, other) for other in asked):
            fresh.append(question)
    order = {q: i for i, q in enumerate(fresh)}
    score = {q: sum(weights[t] for t in content_terms(q, weights) & topic) for q in fresh}
    return sorted(fresh, key=lambda q: (-score[q], order[q]))[:limit]


def _same(words: set[str], other: set[str]) -> bool:
    """Whether two questions ask the same (their terms overlap as a restatement's do)."""
    union = words | other
    return not union or len(words & other) / len(union) >= SAME_QUESTION


def _questions_sharing(
    report: Report,
    anchors: Sequence[int],
    topic: set[str],
    weights: Mapping[str, float],
    said: str,
) -> list[str]:
    """Questions about the figures of the sentences elsewhere in the report that share the
    most topic weight with the quoted ones, and about the headings they stand under."""
    quoted = set(anchors)
    terms = _terms(report)
    sharing = []
    for i, words in enumerate(terms.sentences):
        shared = sum(weights[t] for t in words & topic)
        if shared and i not in quoted and report.sentences[i].text not in said:
            sharing.append((-shared, i))
    questions: list[str] = []
    for _, i in sorted(sharing)[:SHARING]:
        question = _figure_question(report.sentences[i].text)
        if question:
            questions.append(question)
        heading = _heading_over(report, i, quoted, terms)
        if heading:
            questions.append(heading)
    return questions


@lru_cache(maxsize=4096)
def _figure_question(text: str) -> str | None:
    return figure_question(text)


def _heading_over(report: Report, index: int, quoted: set[int], terms: _Terms) -> str:
    """A question about the innermost heading over sentence `index`, unless the answer
    already quotes from under it; '' when there is none."""
    over = [h for h in report.headings if h.first <= index < h.last]
    if not over:
        return ""
    inner = min(over, key=lambda h: h.last - h.first)
    if quoted & set(range(inner.first, inner.last)):
        return ""
    if inner not in terms.headings:  # a heading's question reads the whole report text
        terms.headings[inner] = heading_question(report, inner)
    return terms.headings[inner]


def names_in(text: str) -> list[str]:
    """The names a sentence uses, as it writes them: an acronym with the words that spell
    it ("medication-assisted treatment (MAT)"), and runs of capitalised words that do not
    open the sentence ("the American Rescue Plan" gives "American Rescue Plan")."""
    found: list[str] = []
    for match in ACRONYM.finditer(text):
        acronym = match.group(1)
        letters = [c for c in acronym if c.isupper()]
        words = re.findall(r"[\w’'.-]+", text[: match.start()])
        spelled: list[str] = []
        parts: list[str] = []
        for word in reversed(words):
            spelled.insert(0, word)
            parts = [p for w in spelled for p in w.split("-") if p.lower() not in FUNCTION_WORDS]
            if len(parts) >= len(letters):
                break
        initials = "".join(p[0].upper() for p in parts)
        if initials == "".join(letters):
            found.append(f"{' '.join(spelled)} ({acronym})")
    for match in NAME.finditer(ACRONYM.sub("", text)):
        if match.start() > 0:  # the sentence's first word is capitalised anyway
            found.append(match.group(0).rstrip("."))
    return list(dict.fromkeys(found))


def _name_questions(
    report: Report, anchors: Sequence[int], weights: Mapping[str, float]
) -> list[str]:
    """Questions about the names the quoted sentences use, when a name holds a term rare
    enough to be a topic of its own (not "the United States")."""
    questions = []
    for i in anchors:
        for name in names_in(report.sentences[i].text):
            if content_terms(name, weights) and len(name.split()) <= NAME_WORDS:
                questions.append(f"What does the report say about {_article(report, name)}?")
    return questions


def _article(report: Report, name: str) -> str:
    """'the' before a name when the report writes it so ("the U.S. Postal Service"), at a
    sentence's start too, or with "U.S." between ("The U.S. Food and Drug Administration")."""
    return f"the {name}" if _written_with_the(report.text, name.split(" (")[0]) else name


@lru_cache(maxsize=1024)  # the report's text is one string, hashed once
def _written_with_the(text: str, name: str) -> bool:
    return re.search(rf"\b[Tt]he\s+(?:U\.S\.\s+)?{re.escape(name)}", text) is not None
