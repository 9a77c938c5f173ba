"""Evaluation metrics: pure functions over an answer and an evaluation item.

Citation precision and recall follow the ALCE benchmark's idea (Gao et al., 2023), adapted to
endnotes: a cited endnote is correct when it is a gold note of the item or it is attached to an
evidence sentence that states a required fact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from opioid_assistant.answer.citations import CITATION_GROUP, closing_sentence
from opioid_assistant.types import Evidence

FactGroups = Sequence[Sequence[str]]
# "[59]", "[3][4]", "[3, 4]": a run of citation groups closes the statement before it.
CITATIONS = re.compile(f"(?:{CITATION_GROUP.pattern})+", re.IGNORECASE)
STATEMENT_SHARE = 0.7  # of a statement's words that the sentences carrying its notes must hold
FRAME_WORDS = frozenset(
    "a an and the of to in on for by at as is are was were it its from with that this report "
    "according says said endnote link source".split()
)


def has_facts(text: str, required_facts: FactGroups) -> bool:
    """Every group of acceptable phrasings has at least one phrasing in the text."""
    lowered = text.lower()
    return all(any(p.lower() in lowered for p in group) for group in required_facts)


def supporting_endnotes(evidence: Iterable[Evidence], required_facts: FactGroups) -> set[int]:
    """Endnotes attached to an evidence sentence that states a required fact."""
    notes: set[int] = set()
    for passage in evidence:
        pairs = zip(passage.sentences, passage.sentence_endnotes, strict=True)
        if not passage.sentences:
            pairs = zip([passage.text], [passage.endnotes], strict=True)
        for sentence, sentence_notes in pairs:
            if required_facts and any(
                any(p.lower() in sentence.lower() for p in group) for group in required_facts
            ):
                notes.update(sentence_notes)
    return notes


def citation_precision(
    cited: Sequence[int], gold: Iterable[int], supporting: Iterable[int]
) -> float | None:
    """Share of cited endnotes that support the answer; None when nothing was cited."""
    if not cited:
        return None
    good = set(gold) | set(supporting)
    return sum(1 for n in cited if n in good) / len(cited)


def citation_recall(cited: Iterable[int], gold: Iterable[int]) -> bool | None:
    """Whether the answer cites at least one gold endnote; None when there is none to cite
    (a fact from the report's front matter, or from a sentence of its own that cites no
    source)."""
    gold = set(gold)
    return bool(set(cited) & gold) if gold else None


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def retrieved(
    passage_text: str,
    passage_notes: Iterable[int],
    gold_notes: Iterable[int],
    gold_sentences: Iterable[str],
) -> bool:
    """A passage holds the gold: one of its endnotes is gold, or it contains a gold sentence.

    Sentences compare on letters only, so a chunk of raw text with glued marker digits still
    matches (that is how the baseline's chunks look).
    """
    if set(passage_notes) & set(gold_notes):
        return True
    letters = _letters(passage_text)
    return any(_letters(s)[:60] and _letters(s)[:60] in letters for s in gold_sentences)


def first_hit_rank(hits: Sequence[bool]) -> int | None:
    """1-based rank of the first passage that holds the gold, or None."""
    for i, hit in enumerate(hits, start=1):
        if hit:
            return i
    return None


def recall_at_k(rank: int | None, k: int) -> bool:
    """Whether the gold was among the first k passages."""
    return rank is not None and rank <= k


def reciprocal_rank(rank: int | None) -> float:
    """1/rank of the first hit (0 when none): averaged, this is MRR."""
    return 0.0 if rank is None else 1.0 / rank


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), by linear interpolation between ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def cited_statements(text: str) -> list[tuple[str, set[int]]]:
    """Each statement of an answer that a citation group closes (the sentence it is on, not
    the uncited sentences before it), with the numbers it cites."""
    found, start = [], 0
    for match in CITATIONS.finditer(text):
        numbers = {int(n) for n in re.findall(r"\d+", match.group(0))}
        found.append((closing_sentence(text[start : match.start()])[1], numbers))
        start = match.end()
    return found


def sentence_citation_precision(
    text: str, sentences_by_note: Mapping[int, Sequence[str]]
) -> float | None:
    """Per-statement citation precision (ALCE's per-statement idea, made exact by endnotes).

    A statement's citation is precise when the report attaches the cited endnotes to the
    sentence the statement quotes: the sentences (and clauses) carrying those notes hold at
    least STATEMENT_SHARE of its words. None when nothing is cited.
    """
    statements = cited_statements(text)
    if not statements:
        return None
    precise = 0
    for statement, numbers in statements:
        words = _content_words(statement)
        support: set[str] = set()
        for number in numbers:
            for sentence in sentences_by_note.get(number, ()):
                support |= _content_words(sentence)
        if not words or len(words & support) >= STATEMENT_SHARE * len(words):
            precise += 1
    return precise / len(statements)


def word_count(text: str) -> int:
    """Words of an answer, its citation numbers left out."""
    return len(CITATIONS.sub(" ", text).split())


def _content_words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - FRAME_WORDS
