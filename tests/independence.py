"""Whether a test's questions are independent of the evaluation sets: a fuzzy comparison.

Imported as `from independence import ...` (tests/ is on sys.path, see helpers.py). A test
that claims its questions are in no evaluation file checks them with `near_copies`, against
every item (its question and every turn) of every `eval/*.jsonl`, so a new set is covered
without editing the test. Exact matching misses a copy with one typo or one word changed;
these two rules catch it:

- the questions' sets of normalised words have a Jaccard similarity of 0.5 or more, or
- they share six consecutive normalised words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

EVAL_DIR = Path(__file__).parents[1] / "eval"
MIN_JACCARD = 0.5
SHARED_RUN = 6  # consecutive words


def words(text: str) -> list[str]:
    """The text's words, lowercased, punctuation dropped ("U.S." -> "u", "s"; "isn't" ->
    "isn", "t"); typographic apostrophes count as plain ones."""
    return re.findall(r"[a-z0-9]+", text.lower().replace("’", "'"))


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """|A ∩ B| / |A ∪ B| of two word collections (0 when both are empty)."""
    first, second = set(a), set(b)
    union = first | second
    return len(first & second) / len(union) if union else 0.0


def runs(tokens: list[str], n: int = SHARED_RUN) -> set[tuple[str, ...]]:
    """Every run of `n` consecutive tokens."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


@dataclass(frozen=True)
class NearCopy:
    """A test question too close to an evaluation item's question or turn."""

    question: str
    set_name: str  # the evaluation file's stem, e.g. "blind2"
    item_id: str  # the item's id; "/turn N" added when a turn matched
    item_text: str
    jaccard: float
    shared_run: tuple[str, ...]  # the first shared run of SHARED_RUN words, or ()

    def __str__(self) -> str:
        why = f"shares “{' '.join(self.shared_run)}”" if self.shared_run else ""
        why = why or f"Jaccard {self.jaccard:.2f}"
        return f"{self.question!r} ~ {self.set_name}:{self.item_id} {self.item_text!r} ({why})"


def eval_texts(eval_dir: Path = EVAL_DIR) -> Iterator[tuple[str, str, str]]:
    """(set name, item id, text) for every question and every turn of every eval/*.jsonl."""
    for path in sorted(eval_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            yield path.stem, item["id"], item["question"]
            for n, turn in enumerate(item.get("turns") or [], start=1):
                yield path.stem, f"{item['id']}/turn {n}", turn


def near_copies(questions: Iterable[str], eval_dir: Path = EVAL_DIR) -> list[NearCopy]:
    """Every (question, evaluation text) pair that is a near-copy by either rule."""
    texts = [(s, i, t, words(t)) for s, i, t in eval_texts(eval_dir)]
    found = []
    for question in dict.fromkeys(questions):
        mine = words(question)
        my_runs = runs(mine)
        for set_name, item_id, text, theirs in texts:
            similarity = jaccard(mine, theirs)
            shared = sorted(my_runs & runs(theirs))
            if similarity >= MIN_JACCARD or shared:
                found.append(
                    NearCopy(question, set_name, item_id, text, similarity, (shared or [()])[0])
                )
    return found
