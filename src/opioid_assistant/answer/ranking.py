"""Scoring report sentences against a question: words (IDF-weighted), meaning, the
conversation, the sentence before, the kind of answer asked for, and headings.

Also the rule-based condensing of a follow-up into a standalone question.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from opioid_assistant.answer.answer_kinds import (
    answer_type_match,
    names_in,
    numbers_in,
    off_report,
    wrong_kind,
)
from opioid_assistant.answer.composer import counted, enumerated, leans_on
from opioid_assistant.answer.question_shapes import asked_term
from opioid_assistant.answer.topics import part_naming_words
from opioid_assistant.text import tokenize
from opioid_assistant.types import Evidence, Report

FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|so|what about|how about|what else|why|how so|then)\b|"
    r"\b(it|its|they|them|their|that|those|this|these|he|she|his|her|there|after that|"
    r"the same|the third|the second|the first|one)\b"
    # "... too?", "any other ...?", "besides X, ...": a turn that adds to what was said.
    r"|\b(too|as well|either|else|other|others|another|besides|beyond|instead|again)\b",
    re.IGNORECASE,
)
SHORT = 4  # a question of this few terms, with no figure or name, leans on the conversation
FOLLOW_ON_SPAN = 3  # sentences after the previous answer, in its section, that "follow" it
# The features a candidate sentence is scored on, in the order the fitted weights use them.
FEATURES = (
    "dense",  # cosine similarity of the sentence to the question
    "lexical",  # IDF-weighted share of the question's terms in the sentence and its headings
    "lexical_body",  # ... in the sentence alone
    "context",  # ... of the conversation's terms (a follow-up) in the sentence
    "leaning",  # ... the sentence lacks but the one before holds, when it leans on it
    "passage_rank",  # 1 / (rank of its passage in the fused retrieval + 1)
    "evidence_order",  # 1 / (its position among the evidence's sentences + 1)
    "answer_type",  # it holds the kind of answer asked for (a share, a count, a year, a name)
    "defines",  # it says what the term a "what is X?" question asks about is
    "favoured",  # it stands under a heading the question names
    "wrong_kind",  # it holds a figure of the wrong kind (a count for "what share")
    "off_report",  # a year, figure or name the question asks about is missing around it
    "repeated",  # the previous answer already quoted it
    "follows",  # it comes shortly after the previous answer's sentence, in its section
    "words",  # log of its length in words
    "uncited",  # it carries no endnote: the report's own statement, which cites no source
    "stance",  # the question asks what the report wants done, and it says so in its own words
)
# A question that asks for the report's position: what it recommends, wants, or is against.
STANCE_ASKED = re.compile(
    r"\b(recommend\w*|propos\w*|urg(e|es|ed|ing)|wants?|wanted|calls? for|calling for|"
    r"advocat\w*|argu\w*|position|stance|support\w*|oppos\w*|against|in favou?r|"
    r"should|must|solutions?|plans?|priorit\w*)\b",
    re.IGNORECASE,
)
# A sentence that states what should be done.
STANCE_STATED = re.compile(
    r"\b(should|must|ought to|needs? to|(is|are) needed)\b",
    re.IGNORECASE,
)


def weights_for(data: Mapping[str, Any]) -> tuple[float, ...]:
    """The fitted selection weights (eval/fit_selection.py writes them) as scoring uses them:
    bias, then one per feature in FEATURES order. A feature the file lacks weighs 0 until it
    is fitted (`eval/fit_selection.py --only NAME`); one the code lacks is an error."""
    fitted = dict(zip(data["features"], map(float, data["weights"]), strict=True))
    if set(fitted) - set(FEATURES):
        raise ValueError(f"{WEIGHTS_FILE} was fitted on other features: refit it")
    return (float(data["bias"]), *(fitted.get(name, 0.0) for name in FEATURES))


WEIGHTS_FILE = "selection_weights.json"
WEIGHTS = weights_for(
    json.loads(resources.files("opioid_assistant.data").joinpath(WEIGHTS_FILE).read_text("utf-8"))
)


def relevance(features: Sequence[float], weights: Sequence[float] = WEIGHTS) -> float:
    """The fitted probability that a sentence states what the question asks (logistic)."""
    logit = weights[0] + float(np.dot(weights[1:], features))
    return 1.0 / (1.0 + math.exp(-logit))


@dataclass(frozen=True)
class Question:
    """A question ready to answer: its own words and the words it takes from the history."""

    text: str
    standalone: str
    context: str = ""
    previous_answer: str = ""


@dataclass(frozen=True)
class Signals:
    """What the extractive answerer knows besides the evidence.

    Attributes:
        similarity: Cosine similarity of each report sentence (by text) to the question.
        vocabulary: The report body, lowercased: a name missing from it is not in the report.
        clauses: For each sentence (by text), the clause each of its endnotes supports.
        preceding: For each sentence (by text), the sentence before it in the report, even
            when a passage starts between them.
        position: For each sentence (by text), its section and its index in the report.
        topic: For each sentence (by text), the side-box heading it stands under, if any.
        favoured: Sentences under a heading the question matches.
        spans: The sub-sections (sentence index ranges) of the section the question matches.
        report: The parsed report, for neighbouring sentences and the summary.
        vectors: Each sentence's embedding (by text), for diverse composed answers.
        query: The question's embedding (normalised), to weigh sentences beyond the evidence.
        scope: The section paths a scoped question may quote from; empty for the whole report.
        parts: For a question that asks two or more things, each part with its normalised
            embedding; empty otherwise.
        cited_figures: The figures the report's cited sentences state (`cited_figures`),
            worked out once per index; None: from `report` when it is set.
    """

    similarity: Mapping[str, float] = field(default_factory=dict)
    vocabulary: str = ""
    clauses: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    preceding: Mapping[str, str] = field(default_factory=dict)
    position: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    topic: Mapping[str, str] = field(default_factory=dict)
    favoured: frozenset[str] = frozenset()
    spans: tuple[tuple[int, int], ...] = ()
    report: Report | None = None
    vectors: Mapping[str, Sequence[float]] = field(default_factory=dict)
    query: Sequence[float] = ()
    scope: frozenset[str] = frozenset()
    parts: tuple[tuple[str, tuple[float, ...]], ...] = ()
    cited_figures: frozenset[str] | None = None


def condense(question: str, history: Sequence[Mapping[str, str]]) -> Question:
    """Make a follow-up standalone by adding the topic the conversation carries (rule-based).

    Follow-ups are recognised by a leading 'and/what about…', a pronoun, or very few words
    without a figure or a name. The carried topic is the previous question made standalone
    the same way, so a third or fourth elliptical turn still reaches back to the question
    that set the topic, however many turns ago. An ordinal reference ("the second one")
    names the item of the previous answer's enumeration it points at.
    """
    turns = [m for m in history if m.get("content")]
    asked = [i for i, m in enumerate(turns) if m.get("role") == "user"]
    if not asked or not (FOLLOW_UP.search(question) or _short_and_vague(question)):
        return Question(question, question)
    last = asked[-1]
    context = condense(turns[last]["content"], turns[:last]).standalone
    answers = [m["content"] for m in turns if m.get("role") == "assistant"]
    previous = answers[-1] if answers else ""
    match = ORDINAL.search(question)
    ordinal = (match[1] or match[3]).lower() if match else ""
    position = ORDINALS.get(ordinal, 0)
    item = (counted(previous, ordinal, position) or enumerated(previous, position)) if match else ""
    # "Tell me more about the second one" -> "Tell me more about <that item>".
    own = (
        f"{question[: match.start()]}{item}{question[match.end() :]}"
        if match and item
        else question
    )
    return Question(question, f"{context} {own}", context, previous)


ORDINALS = {
    word: n
    for n, words in enumerate(
        ("first 1st", "second 2nd", "third 3rd", "fourth 4th", "fifth 5th", "sixth 6th", "last"),
        start=1,
    )
    for word in words.split()
}
ORDINALS["last"] = -1
# "a second one" asks for another of a kind, not the second of a list: no ordinal then.
ORDINAL = re.compile(
    r"(?<!\ba )(?<!\ban )\b(?:the\s+)?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|last)\s+"
    r"(one|item|point|thing|option|strategy|step|measure|idea|recommendation|example|sentence)\b"
    r"|\bthe\s+(first|second|third|fourth|fifth|sixth|last)\b(?!\s+(wave|time|half|quarter))",
    re.IGNORECASE,
)


def _short_and_vague(question: str) -> bool:
    return len(tokenize(question)) <= SHORT and not numbers_in(question) and not names_in(question)


def idf_weights(evidence: Sequence[Evidence]) -> dict[str, float]:
    # Over report passages only: ingesting cited sources must not change report answers.
    sentences = [s for e in evidence if e.kind == "report" for s in e.sentences]
    counts: dict[str, int] = {}
    for s in sentences:
        for t in set(tokenize(s)):
            counts[t] = counts.get(t, 0) + 1
    n = len(sentences) + 1
    return {t: math.log(1 + n / c) for t, c in counts.items()}


def coverage(tokens: set[str], sentence: set[str], idf: Mapping[str, float]) -> float:
    """IDF-weighted share of the tokens that the sentence holds."""
    if not tokens:
        return 0.0
    default = max(idf.values(), default=1.0)  # a term no passage holds weighs the most
    total = sum(idf.get(t, default) for t in tokens)
    return sum(idf.get(t, default) for t in tokens & sentence) / total


@dataclass(frozen=True)
class Candidate:
    """A sentence that could answer, with its endnotes and scores."""

    text: str
    endnotes: tuple[int, ...]
    passage: str
    score: float
    coverage: float
    similarity: float
    words: frozenset[str]
    before: str = ""
    features: tuple[float, ...] = ()


def rank_sentences(
    question: Question,
    evidence: Sequence[Evidence],
    signals: Signals,
    idf: Mapping[str, float] | None = None,
    weights: Sequence[float] = WEIGHTS,
) -> list[Candidate]:
    """Score every cited sentence of the report evidence against the question, best first:
    its fitted relevance over general features (FEATURES), never over the question's wording."""
    idf = idf if idf is not None else idf_weights(evidence)
    own = set(tokenize(question.text))
    if signals.report is not None:  # "In the public health section, ...": not what is asked
        own = (own - part_naming_words(question.text, signals.report)) or own
    asked_acronyms = acronyms_in(question.text)
    context = set(tokenize(question.context)) - own
    said = question.previous_answer
    # The sentences the last answer quoted: those citing a source (the report's own statement
    # it opened with, if any, is the position those give the evidence for).
    answered = [w for t, w in signals.position.items() if said_before(t, said)] if said else []
    if signals.report is not None and len(answered) > 1:
        answered = [w for w in answered if signals.report.sentences[w[1]].endnotes]
    term = asked_term(question.text)
    stance_asked = bool(STANCE_ASKED.search(question.text))
    cited = signals.cited_figures
    if cited is None and signals.report is not None:
        cited = cited_figures(signals.report)
    candidates = []
    seen: set[str] = set()
    order = 0
    for rank, passage in enumerate(e for e in evidence if e.kind == "report"):
        heading = _topic_words(passage.section.split(" > ")[-1])
        previous_text = ""
        for text, notes in zip(passage.sentences, passage.sentence_endnotes, strict=True):
            if text in seen:
                continue  # a sentence in two passages (a heading's and a retrieved one)
            seen.add(text)
            order += 1
            # An acronym asked about ("LEAD") is not the word it spells ("leads to").
            body = set(tokenize(text)) - (asked_acronyms - acronyms_in(text))
            words = body | heading | _topic_words(signals.topic.get(text, ""))
            before_text = signals.preceding.get(text, previous_text)
            previous_text = text
            figures = numbers_in(text)
            restated = bool(figures) and (cited is None or figures <= cited)
            if not notes and (restated or text.endswith(":")):
                # A figure with no source restates one the report cites elsewhere (one it
                # states only here is its own); a line ending in a colon opens a list and
                # states nothing itself.
                continue
            before = set(tokenize(before_text))
            lexical = coverage(own, words, idf)
            similarity = signals.similarity.get(text, 0.0)
            repeated = len(answered) == 1 and said_before(text, said)
            features = (
                similarity,
                lexical,
                coverage(own, body, idf),
                coverage(context, words, idf),
                coverage(own - words, before, idf) if leans_on(text) else 0.0,
                1.0 / (rank + 1),
                1.0 / order,
                answer_type_match(question.text, text),
                float(bool(term) and defines(term, text)),
                float(text in signals.favoured),
                float(wrong_kind(question.text, text, before_text)),
                float(off_report(question.text, text, before_text, signals.vocabulary)),
                float(repeated),
                float(
                    not repeated
                    and len(answered) == 1
                    and _follows(signals.position.get(text), answered)
                ),
                math.log1p(len(text.split())),
                float(not notes),
                float(stance_asked and not notes and bool(STANCE_STATED.search(text))),
            )
            candidates.append(
                Candidate(
                    text,
                    notes,
                    passage.text,
                    relevance(features, weights),
                    lexical,
                    similarity,
                    frozenset(words),
                    before_text,
                    features,
                )
            )
    return sorted(candidates, key=lambda c: -c.score)


def cited_figures(report: Report) -> frozenset[str]:
    """The figures stated by the report's sentences that cite a source."""
    return frozenset(f for s in report.sentences if s.endnotes for f in numbers_in(s.text))


def _topic_words(heading: str) -> set[str]:
    """A heading's words, which every sentence under it shares: its topic, not its modal
    verb ("... should be strengthened" says nothing about what a sentence recommends)."""
    return set(tokenize(heading)) - {"should"}


def _follows(where: tuple[str, int] | None, answered: Sequence[tuple[str, int]]) -> bool:
    """Whether a sentence comes shortly after one the previous answer gave, in its section."""
    return where is not None and any(
        section == where[0] and 0 < where[1] - index <= FOLLOW_ON_SPAN
        for section, index in answered
    )


ACRONYM = re.compile(r"\b[A-Z]{2,}s?\b")


def acronyms_in(text: str) -> set[str]:
    """The tokens of the words written as acronyms ("LEAD", "DHS", "FRSs"); none in text
    written in capitals throughout (a shouted question)."""
    letters = [c for c in text if c.isalpha()]
    if sum(c.isupper() for c in letters) > len(letters) / 2:
        return set()
    return {t for m in ACRONYM.findall(text) for t in tokenize(m)}


def said_before(sentence: str, previous_answer: str) -> bool:
    """Whether an earlier answer quoted the sentence."""
    # The answer lowercases a sentence's first letter and puts citations before its period.
    return len(sentence) > 2 and sentence[1:-1] in previous_answer


DEFINING = r"(?:\s*\([^)]*\))?,?\s+(?:is|are|was|were|refers to|means|stands for|—|,\s*an?\b)"


def defines(term: str, sentence: str) -> bool:
    """Whether the sentence says what `term` is: 'X is ...', 'X, a ...', or spells out X."""
    escaped = re.escape(term)
    flags = 0 if term.isupper() else re.IGNORECASE
    return (
        re.search(rf"\b{escaped}\b{DEFINING}", sentence, flags) is not None
        or re.search(rf"\(\s*{escaped}\s*\)", sentence, flags) is not None
    )
