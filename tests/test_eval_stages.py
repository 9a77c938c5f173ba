"""The evaluation measures the answer's stages: the evidence ceiling, the naive first-six
answer, and conversation turns by position."""

from __future__ import annotations

from opioid_assistant.evaluate.runner import EvalItem, evidence_stages, score_item, summarize
from opioid_assistant.types import Evidence


def passage(*sentences: str) -> Evidence:
    return Evidence("c", " ".join(sentences), "S", (1,), 1.0, sentences=sentences)


ITEM = EvalItem("x", "numeric", "How many?", [["107,000"], ["2022"]], [1])


def test_ceiling_needs_every_fact_somewhere_in_the_evidence() -> None:
    first = passage("One.", "Two.", "Three.", "Four.", "Five.", "In 2022 it was high.")
    later = passage("Deaths reached 107,000.")
    assert evidence_stages(ITEM, [first, later]) == (True, False)
    assert evidence_stages(ITEM, [later, first]) == (True, False)  # 2022 is the seventh sentence
    assert evidence_stages(ITEM, [later, passage("In 2022 it was high.")]) == (True, True)
    assert evidence_stages(ITEM, [first]) == (False, False)


def test_turn_accuracy_counts_conversation_turns_by_position() -> None:
    def turn(n: int, accurate: bool) -> EvalItem:
        facts = [["yes"]]
        return EvalItem(f"c-t{n}", "multi_turn", f"q{n}", facts, [1], turns=["q"] * n)

    results = [
        score_item(turn(n, ok), "yes" if ok else "no", [1], False, [], set(), [], 0.0)
        for n, ok in ((1, True), (2, True), (3, False), (4, True), (2, False))
    ]
    summary = summarize(results)
    assert (summary["turn_1"], summary["turn_2"], summary["turn_3plus"]) == (1.0, 0.5, 0.5)
