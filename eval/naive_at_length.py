"""The composed answer against the naive one at the same length, per question shape.

    OA_FOLLOW_UPS=0 python eval/naive_at_length.py eval/evalset.jsonl eval/blind2.jsonl

The evaluation's naive baseline quotes the evidence's first six sentences, about 200 words;
the composed answer is held to about 45 words for a fact and 130 for an open question. Here
the naive answer is also cut to whole sentences within 45 and 130 words, so the selection is
compared at the length it works to. Printed per set and shape: answerable items answered
correctly by the composed answer, by the naive one at 45, 130 words and six sentences, and the
composed answers' median words.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from opioid_assistant import Assistant, Settings
from opioid_assistant.answer.question_shapes import question_shape
from opioid_assistant.evaluate import metrics
from opioid_assistant.evaluate.runner import NAIVE_SENTENCES, ask_item, load_evalset

BUDGETS = (45, 130)


def cut(sentences: list[str], budget: int) -> str:
    """The first sentences, whole, within `budget` words (at least one)."""
    kept: list[str] = []
    words = 0
    for sentence in sentences:
        words += len(sentence.split())
        if kept and words > budget:
            break
        kept.append(sentence)
    return " ".join(kept)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", type=Path)
    args = parser.parse_args()
    assistant = Assistant(settings=Settings())
    print(
        "| set | shape | items | composed | naive 45 words | naive 130 words | naive six sentences | words p50 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for path in args.sets:
        rows: dict[str, list[list[float]]] = {}
        for item in load_evalset(path):
            if not item.answerable:
                continue
            answer, _ = ask_item(lambda q, h: assistant.ask(q, h), item)
            sentences = [s for e in answer.evidence for s in (e.sentences or (e.text,))]
            naive = [cut(sentences, budget) for budget in BUDGETS]
            naive.append(" ".join(sentences[:NAIVE_SENTENCES]))
            right = [metrics.has_facts(t, item.required_facts) for t in [answer.text, *naive]]
            rows.setdefault(question_shape(item.question).value, []).append(
                [*map(float, right), float(len(answer.text.split()))]
            )
        for shape, found in sorted(rows.items()):
            sums = [int(sum(r[k] for r in found)) for k in range(4)]
            words = statistics.median(r[4] for r in found)
            print(
                f"| {path.stem} | {shape} | {len(found)} | "
                + " | ".join(map(str, sums))
                + f" | {words:g} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
