"""How deep in the fitted ranking an item's required facts lie: the select stage on its own.

    python eval/rank_depth.py eval/blind9.jsonl                  # every answerable item
    python eval/rank_depth.py eval/*.jsonl --category synthesis  # one category
    python eval/rank_depth.py eval/blind9.jsonl --words 130      # and within a word budget

For each answerable item (meta aside: its answer is the front matter, not a ranked sentence),
the candidate sentences of its evidence are ranked as the answerer ranks them
(answer/ranking.py), after the turns before it in a conversation, and the item counts at
depth k when its top k sentences state every required fact together. Beside the evaluation
report's evidence ceiling (every fact somewhere in the evidence) and accuracy, this splits the
selection loss in two: facts ranked too low to be chosen (the ranking), and facts ranked high
but left out of the answer (the composer: word budget, diversity, relevance threshold).

With `--words N`, two more columns: "ranked" counts the items whose facts the ranked
sentences state when taken in rank order while they fit N words (what the ranking alone gives
an answer of that length), and "fits" those for which some sentences of the evidence within
N words state them all (found greedily, most new facts per word first, so a lower bound of
what any selection could fit). A gap between them is the ranking's; a gap below "fits" is the
budget's.
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
    return measure(assistant, item, None)[0]


def taken_in_order(texts: list[str], facts: list[list[str]], words: int) -> bool:
    """Whether the sentences, taken in the order given while each still fits `words`, state
    every fact together."""
    kept, used = [], 0
    for text in texts:
        size = len(text.split())
        if used + size <= words:
            kept.append(text)
            used += size
    return metrics.has_facts(" ".join(kept), facts)


def fit_greedily(texts: list[str], facts: list[list[str]], words: int) -> bool:
    """Whether some of the sentences within `words` state every fact: each step takes the
    sentence stating the most facts not yet stated per word, while it fits."""
    left, used = set(range(len(facts))), 0
    while left:
        best: tuple[float, int, set[int]] | None = None
        for text in texts:
            size = len(text.split())
            stated = {g for g in left if metrics.has_facts(text, [facts[g]])}
            if stated and used + size <= words and (best is None or len(stated) / size > best[0]):
                best = (len(stated) / size, size, stated)
        if best is None:
            return False
        used += best[1]
        left -= best[2]
    return True


def measure(assistant: Assistant, item: EvalItem, words: int | None) -> tuple[int | None, ...]:
    """The item's depth, then with `words`: 1/0 for its facts within that many words of the
    ranked sentences in order, and of the evidence's sentences chosen greedily."""
    texts = [c.text for c in ranked(assistant, item)]
    firsts = [
        next((k for k, text in enumerate(texts, 1) if metrics.has_facts(text, [g])), None)
        for g in item.required_facts
    ]
    found = None if None in firsts else max(firsts, default=None)
    if words is None:
        return (found,)
    facts = item.required_facts
    fits = (taken_in_order(texts, facts, words), fit_greedily(texts, facts, words))
    return (found, *(int(f) for f in fits))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="evaluation JSON-lines files")
    parser.add_argument("--category", help="only this category")
    parser.add_argument("--words", type=int, help="also count facts within this word budget")
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
    found: dict[tuple[str, str], list[tuple[int | None, ...]]] = defaultdict(list)
    for name, item in chosen:
        found[(name, item.category)].append(measure(assistant, item, args.words))
    header = " ".join(f"top{k:<3d}" for k in DEPTHS)
    budget = f" ranked{args.words:<4d} fits{args.words:<4d}" if args.words else ""
    print(f"{'set':12s} {'category':14s} {'items':>5s}  {header} deeper never{budget}")
    totals: list[tuple[int | None, ...]] = []
    for (name, category), rows in sorted(found.items()):
        totals += rows
        print(f"{name:12s} {category:14s} {_row(rows)}")
    print(f"{'all':12s} {'':14s} {_row(totals)}")
    return 0


def _row(rows: list[tuple[int | None, ...]]) -> str:
    n, depths = len(rows), [row[0] for row in rows]
    shares = [sum(1 for d in depths if d is not None and d <= k) / n for k in DEPTHS]
    deeper = sum(1 for d in depths if d is not None and d > DEPTHS[-1]) / n
    never = sum(1 for d in depths if d is None) / n
    cells = " ".join(f"{s:6.3f}" for s in shares)
    within = "".join(
        f" {sum(row[i] or 0 for row in rows) / n:10.3f}" for i in (1, 2) if len(rows[0]) > i
    )
    return f"{n:5d}  {cells} {deeper:6.3f} {never:5.3f}{within}"


if __name__ == "__main__":
    sys.exit(main())
