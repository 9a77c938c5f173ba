"""eval/rank_depth.py: how deep in the answerer's own ranking an item's facts lie.

The questions here are in no evaluation file (checked by `independence.near_copies`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from independence import near_copies
from opioid_assistant.evaluate.runner import EvalItem

sys.path.insert(0, str(Path(__file__).parents[1] / "eval"))
from rank_depth import depth, fit_greedily, measure, taken_in_order

PHARMACIES = "What sum did the pharmacy chains settle for?"
NATIONAL = "In 2021, which firms paid states to resolve lawsuits, and how much?"
AND_THE_PHARMACIES = "And the pharmacies?"


def test_the_questions_here_are_in_no_evaluation_file() -> None:
    assert [str(c) for c in near_copies((PHARMACIES, NATIONAL))] == []


def test_one_fact_stated_by_the_top_sentence_lies_at_depth_one(assistant) -> None:  # type: ignore[no-untyped-def]
    item = EvalItem("t", "fact", PHARMACIES, [["$13.8 billion"]], [59])
    assert depth(assistant, item) == 1


def test_several_facts_lie_as_deep_as_the_lowest_ranked_of_them(assistant) -> None:  # type: ignore[no-untyped-def]
    # The pharmacy chains' settlement ranks first; the national one, which the question
    # does not ask about, second (third before stop 49's weights).
    item = EvalItem("t", "synthesis", PHARMACIES, [["$13.8 billion"], ["$26 billion"]], [58, 59])
    assert depth(assistant, item) == 2


def test_a_fact_the_ranked_evidence_never_states_has_no_depth(assistant) -> None:  # type: ignore[no-untyped-def]
    item = EvalItem("t", "synthesis", PHARMACIES, [["$13.8 billion"], ["xylazine"]], [59])
    assert depth(assistant, item) is None


def test_a_later_turn_is_ranked_after_the_turns_before_it(assistant) -> None:  # type: ignore[no-untyped-def]
    turns = [NATIONAL, AND_THE_PHARMACIES]
    item = EvalItem("t", "multi_turn", AND_THE_PHARMACIES, [["$13.8 billion"]], [59], turns=turns)
    assert depth(assistant, item) == 1


def test_sentences_taken_in_rank_order_skip_what_no_longer_fits() -> None:
    first = "one two three four five six"  # 6 words
    long = "a b c d e f g h i j $26 billion"  # 12 words
    short = "it paid $13.8 billion"  # 4 words
    facts = [["$13.8 billion"], ["$26 billion"]]
    # 6 + 12 > 16, so the long one is skipped and the short one still fits: one fact stated.
    assert taken_in_order([first, long, short], facts, words=16) is False
    assert taken_in_order([first, long, short], facts, words=22) is True  # all three fit
    # Chosen for the facts, the long and the short one fit 16 words together.
    assert fit_greedily([first, long, short], facts, words=16) is True
    assert fit_greedily([first, long, short], facts, words=15) is False
    assert fit_greedily([first], facts, words=100) is False  # no sentence states them


def test_the_ranking_and_the_budget_are_told_apart(assistant) -> None:  # type: ignore[no-untyped-def]
    item = EvalItem("t", "synthesis", PHARMACIES, [["$13.8 billion"], ["remediation"]], [59])
    # The settlement (10 words) ranks first and what the funds are for (17 words) fourth, with
    # sentences of 25 and 19 words between them: within 130 words the ranking alone states
    # both; within 40 it does not, though the two sentences themselves fit.
    assert measure(assistant, item, 130) == (4, 1, 1)
    assert measure(assistant, item, 40) == (4, 0, 1)
    assert measure(assistant, item, None) == (4,)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(__file__).parents[1] / "eval"
    return subprocess.run(
        [sys.executable, *args], cwd=script.parent, capture_output=True, text=True, timeout=120
    )


def test_a_missing_file_is_named_before_anything_is_loaded() -> None:
    result = _run("eval/rank_depth.py", "eval/no-such-set.jsonl")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "rank_depth.py: error: no such evaluation file: eval/no-such-set.jsonl"
    )


def test_a_category_with_no_answerable_item_says_so() -> None:
    result = _run("eval/rank_depth.py", "eval/blind10.jsonl", "--category", "no-such-category")
    assert result.returncode == 1
    assert result.stdout == (
        "no answerable item in category 'no-such-category' in eval/blind10.jsonl\n"
    )
