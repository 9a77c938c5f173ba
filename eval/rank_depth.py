"""How deep in the fitted ranking an item's required facts lie: the select stage on its own.

    python eval/rank_depth.py eval/blind9.jsonl                  # every answerable item
    python eval/rank_depth.py eval/*.jsonl --category synthesis  # one category

For each answerable item (meta aside: its answer is the front matter, not a ranked sentence),
the candidate sentences of its evidence are ranked as the answerer ranks them
(answer/ranking.py), after the turns before it in a conversation, and the item counts at
depth k when its top k sentences state every required fact together. Beside the evaluation
report's evidence ceiling (every fact somewhere in the evidence) and accuracy, this splits the
selection loss in two: facts ranked too low to be chosen (the ranking), and facts ranked high
but left out of the answer (the composer: word budget, diversity, relevance threshold).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

from fit_selection import ranked

from opioid_assistant import Assistant, Settings
from opioid_assistant.evaluate import metrics
from opioid_assistant.evaluate.runner import EvalItem, load_evalset

DEPTHS = (1, 2, 4, 6, 10)


def depth(assistant: Assistant, item: EvalItem) -> int | None:
    """The fewest top-ranked sentences that state every required fact; None when the
    ranked evidence never does."""
    candidates = ranked(assistant, item)
    firsts = [
        next((k for k, c in enumerate(candidates, 1) if metrics.has_facts(c.text, [g])), None)
        for g in item.required_facts
    ]
    return None if None in firsts else max(firsts, default=None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="evaluation JSON-lines files")
    parser.add_argument("--category", help="only this category")
    args = parser.parse_args()
    missing = [str(path) for path in args.paths if not path.is_file()]
    if missing:
        parser.error(f"no such evaluation file: {', '.join(missing)}")
    chosen = [
        (path.stem, item)
        for path in args.paths
        for item in load_evalset(path)
        if item.answerable
        and item.category != "meta"
        and (not args.category or item.category == args.category)
    ]
    if not chosen:
        category = f" in category {args.category!r}" if args.category else ""
        print(f"no answerable item{category} in {', '.join(map(str, args.paths))}")
        return 1
    os.environ.setdefault("OA_FOLLOW_UPS", "0")
    assistant = Assistant(settings=Settings())
    found: dict[tuple[str, str], list[int | None]] = defaultdict(list)
    for name, item in chosen:
        found[(name, item.category)].append(depth(assistant, item))
    header = " ".join(f"top{k:<3d}" for k in DEPTHS)
    print(f"{'set':12s} {'category':14s} {'items':>5s}  {header} deeper never")
    totals: list[int | None] = []
    for (name, category), depths in sorted(found.items()):
        totals += depths
        print(f"{name:12s} {category:14s} {_row(depths)}")
    print(f"{'all':12s} {'':14s} {_row(totals)}")
    return 0


def _row(depths: list[int | None]) -> str:
    n = len(depths)
    shares = [sum(1 for d in depths if d is not None and d <= k) / n for k in DEPTHS]
    deeper = sum(1 for d in depths if d is not None and d > DEPTHS[-1]) / n
    never = sum(1 for d in depths if d is None) / n
    cells = " ".join(f"{s:6.3f}" for s in shares)
    return f"{n:5d}  {cells} {deeper:6.3f} {never:5.3f}"


if __name__ == "__main__":
    sys.exit(main())
