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
from wordfreq import zipf_frequency

from opioid_assistant.answer.answer_kinds import (
    answer_type_match,
    cited_figures,
    counts_what_is_asked,
    numbers_in,
    off_report,
    wrong_kind,
)
from opioid_assistant.answer.query_adapter import adapted_query
from opioid_assistant.answer.question_shapes import ROLE_ASKED, WHERE_ASKED, asked_term
from opioid_assistant.answer.topics import EVERYDAY_ZIPF, asked_of_part, part_naming_words
from opioid_assistant.answer.turn import Question, Signals, said_before
from opioid_assistant.text import tokenize
from opioid_assistant.types import Evidence, Report

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


# Words that point back at what came before. "That", "other" and "another" do at the start
# ("That program ...", "Other studies ..."); inside a sentence "that" is most often a relative
# pronoun or a conjunction ("an approach that engages", "found that"), pointing at nothing.
REFERRING = re.compile(
    r"^(yet|but|however|still|also|likewise|similarly|instead|that|other|another)\b|"
    r"\b(they|them|their|these|those|this|it|its|such|the program)\b|"
    # "the combined operations", "the two programs", "the latter": a noun phrase naming
    # what was said before as a whole or by its count.
    r"\bthe (combined|same|latter|former|both|two|three|four|five) \w+",
    re.IGNORECASE,
)
REFERRING_WORDS = 10  # a referring word this early means the sentence leans on the one before


def leans_on(sentence: str) -> bool:
    """Whether a sentence leans on the one before ("Yet ... they reached")."""
    return REFERRING.search(" ".join(sentence.split()[:REFERRING_WORDS])) is not None


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


# A sentence that opens on the one before: a connective or a pronoun in its first words
# ("Yet during 2023, they reached ...", "Of these deaths, ..."), or "of these" anywhere early.
OPENS_ON = re.compile(
    r"^(\W*[\w’'-]+\W+){0,3}?(yet|but|however|instead|they|them|these|those|this|"
    r"it|such)\b|^(\W*[\w’'-]+\W+){0,9}?of (these|those|them)\b"
    r"|^(\W*[\w’'-]+\W+){0,3}?the (combined|same|latter|former|two|three)\b",
    re.IGNORECASE,
)
WHY_ASKED = re.compile(r"\bwhy\b", re.IGNORECASE)
BECAUSE = re.compile(r"\b(because|due to|as a result|driven by)\b", re.IGNORECASE)
# A fact answer read on, into the sentence before or after its best, stays this brief.
READ_ON_MAX_WORDS = 60


def goes_on(index: int, report: Report, asked: str) -> int | None:
    """The sentence after a lone best one that opens on it, in its section, holding a word of
    the question the best lacks ("... 100,000 died." "Of these, 83,000 involved opioids.")
    or saying why for a "why" ("This is because ..."), the two brief together; else None."""
    if index + 1 >= len(report.sentences):
        return None
    best, after = report.sentences[index], report.sentences[index + 1]
    gains = set(tokenize(asked)) & set(tokenize(after.text)) - set(tokenize(best.text))
    why = WHY_ASKED.search(asked) is not None and BECAUSE.search(after.text) is not None
    brief = len(f"{best.text} {after.text}".split()) <= READ_ON_MAX_WORDS
    return index + 1 if opens_on_it(index, report) and brief and (gains or why) else None


def opens_on_it(index: int, report: Report) -> bool:
    """Whether the sentence after this one opens on it, in its section ("Of these, ...")."""
    if index + 1 >= len(report.sentences):
        return False
    sentence, after = report.sentences[index], report.sentences[index + 1]
    return after.section == sentence.section and OPENS_ON.search(after.text) is not None


def leads_in(index: int, report: Report, asked: str = "") -> bool:
    """Whether the sentence before `index`, in its section, belongs before it in a fact's
    answer, the two brief together: the sentence opens on it ("Yet in 2023, they ...") or
    leans on it for a word of the question only that one holds, rarer than everyday words
    ("... lose their tolerance." "When addictions go untreated during their time ..."), or
    for the cause a "why" asks ("... due to ...")."""
    if index <= 0:
        return False
    before, best = report.sentences[index - 1], report.sentences[index]
    brief = len(f"{before.text} {best.text}".split()) <= READ_ON_MAX_WORDS
    if before.section != best.section or not brief:
        return False
    gains = set(tokenize(asked)) & set(tokenize(before.text)) - set(tokenize(best.text))
    rare = any(zipf_frequency(word, "en") < EVERYDAY_ZIPF for word in gains)  # not "use"
    why = WHY_ASKED.search(asked) is not None and BECAUSE.search(before.text) is not None
    return OPENS_ON.search(best.text) is not None or (leans_on(best.text) and (rare or why))
