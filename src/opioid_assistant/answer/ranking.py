"""Scoring report sentences against a question: words (IDF-weighted), meaning, the
conversation, the sentence before, the kind of answer asked for, and headings."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from opioid_assistant.answer.answer_kinds import (
    answer_type_match,
    cited_figures,
    counts_what_is_asked,
    numbers_in,
    off_report,
    wrong_kind,
)
from opioid_assistant.answer.continuity import leans_on
from opioid_assistant.answer.query_adapter import adapted_query
from opioid_assistant.answer.question_shapes import ROLE_ASKED, WHERE_ASKED, asked_term
from opioid_assistant.answer.topics import asked_of_part, part_naming_words
from opioid_assistant.answer.turn import Question, Signals, said_before
from opioid_assistant.text import tokenize
from opioid_assistant.types import Evidence

NEIGHBOURS = 2  # a composed answer may quote this many cited sentences each side of the best
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
    "dense_fitted",  # ... to the question as the fitted query adapter maps it
)
# The words that ask where the report says something, not what.
WHERE_WORDS = frozenset(
    tokenize(
        "section part chapter page heading report paper document discuss discussed discusses "
        "cover covers covered talk talks mention mentioned address addressed deal deals dealt"
    )
)
ROLE_WORDS = frozenset(tokenize("role roles part parts play plays played"))
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


WEIGHTS_FILE = "selection_weights.json"


def weights_for(data: Mapping[str, Any], name: str = WEIGHTS_FILE) -> tuple[float, ...]:
    """The fitted selection weights (eval/fit_selection.py writes them, to the file `name`) as
    scoring uses them: bias, then one per feature in FEATURES order. A feature the file lacks
    weighs 0 until it is fitted (`eval/fit_selection.py --only NAME`); one the code lacks is
    an error."""
    fitted = dict(zip(data["features"], map(float, data["weights"]), strict=True))
    if set(fitted) - set(FEATURES):
        raise ValueError(f"{name} was fitted on other features: refit it")
    return (float(data["bias"]), *(fitted.get(feature, 0.0) for feature in FEATURES))


def _load_weights(name: str) -> tuple[float, ...]:
    data = json.loads(resources.files("opioid_assistant.data").joinpath(name).read_text("utf-8"))
    return weights_for(data, name)


WEIGHTS = _load_weights(WEIGHTS_FILE)
# An open question ("How does the report tie X to Y?") is answered by several sentences, each
# stating one of the facts asked for: weights fitted on such questions' fact-stating sentences
# (eval/fit_selection.py --open) choose them, where WEIGHTS look for the one that answers.
OPEN_WEIGHTS_FILE = "open_selection_weights.json"
OPEN_WEIGHTS = _load_weights(OPEN_WEIGHTS_FILE)


def relevance(features: Sequence[float], weights: Sequence[float] = WEIGHTS) -> float:
    """The fitted probability that a sentence states what the question asks (logistic)."""
    logit = weights[0] + float(np.dot(weights[1:], features))
    return 1.0 / (1.0 + math.exp(-logit))


def rescored(ranked: Sequence[Candidate], weights: Sequence[float]) -> list[Candidate]:
    """The candidates scored by other fitted weights, best first (one without features, the
    front matter's, keeps its score)."""
    return sorted(
        (replace(c, score=relevance(c.features, weights)) if c.features else c for c in ranked),
        key=lambda c: -c.score,
    )


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
    if ROLE_ASKED.search(question.text):  # "What role do pharmacies play?": pharmacies
        own = (own - ROLE_WORDS) or own
    if WHERE_ASKED.search(question.text):  # "Which section discusses X?": X is what is asked
        own = (own - WHERE_WORDS) or own
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
    mapped = adapted_query(signals.query)
    # What is asked, without the words naming the part it is asked of (they say where).
    asked = asked_of_part(question.text, signals.report)
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
                float(off_report(asked, text, before_text, signals.vocabulary)),
                float(repeated),
                float(
                    not repeated
                    and len(answered) == 1
                    and _follows(signals.position.get(text), answered)
                ),
                math.log1p(len(text.split())),
                float(not notes),
                float(stance_asked and not notes and bool(STANCE_STATED.search(text))),
                _closeness(mapped, signals.vectors.get(text)),
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


def sentences_around(text: str, signals: Signals) -> str:
    """The sentences within NEIGHBOURS of this one in its section (itself excluded)."""
    report, where = signals.report, signals.position.get(text)
    if report is None or where is None:
        return ""
    first, last = max(where[1] - NEIGHBOURS, 0), where[1] + NEIGHBOURS + 1
    return " ".join(
        s.text for s in report.sentences[first:last] if s.section == where[0] and s.text != text
    )


def _closeness(query: np.ndarray | None, vector: Sequence[float] | None) -> float:
    if query is None or vector is None or len(vector) != len(query):
        return 0.0
    return float(np.dot(query, vector))


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


@lru_cache(maxsize=16384)  # asked of each candidate sentence for every question
def acronyms_in(text: str) -> frozenset[str]:
    """The tokens of the words written as acronyms ("LEAD", "DHS", "FRSs"); none in text
    written in capitals throughout (a shouted question)."""
    letters = [c for c in text if c.isalpha()]
    if sum(c.isupper() for c in letters) > len(letters) / 2:
        return frozenset()
    return frozenset(t for m in ACRONYM.findall(text) for t in tokenize(m))


DEFINING = (
    r"(?:\s*\([^)]*\))?,?\s+(?:is|are|was|were|refers to|means|stands for|—|,\s*an?\b"
    # ... or what it is for: "test strips to help prevent overdose", "naloxone to reverse"
    r"|to (?:help|prevent|reverse|treat|reduce|detect|stop|save)\b)"
)


def defines(term: str, sentence: str) -> bool:
    """Whether the sentence says what `term` is: 'X is ...', 'X, a ...', or spells out X."""
    escaped = re.escape(term)
    flags = 0 if term.isupper() else re.IGNORECASE
    return (
        re.search(rf"\b{escaped}\b{DEFINING}", sentence, flags) is not None
        or re.search(rf"\(\s*{escaped}\s*\)", sentence, flags) is not None
    )


LEANING = FEATURES.index("leaning")


def leaning_coverage(question: str, candidate: Candidate) -> float:
    """The share of the question's terms a sentence leaning on the one before has there ("In
    two months, the combined operations seized ..."), when it counts what is asked itself and
    the pair names every agency the question names by its acronym; else 0."""
    if not candidate.features or not counts_what_is_asked(question, candidate.text):
        return 0.0
    if not acronyms_in(question) <= set(tokenize(f"{candidate.before} {candidate.text}")):
        return 0.0
    return candidate.features[LEANING]
