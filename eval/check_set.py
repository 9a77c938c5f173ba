"""Check an evaluation file against the report, or print the report's sentences to write one.

    python eval/check_set.py eval/evalset.jsonl      # every item's problems; exit 1 if any
    python eval/check_set.py --sentences             # section | endnotes | sentence, per line

Only the parsed report is used: writing and checking items never involves the answerer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opioid_assistant import load_report
from opioid_assistant.evaluate.runner import item_problems, load_evalset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="evaluation JSON-lines files")
    parser.add_argument("--sentences", action="store_true", help="print the report's sentences")
    args = parser.parse_args()
    report = load_report()
    if args.sentences:
        for s in report.sentences:
            print(f"{s.section} | {list(s.endnotes)} | {s.text}")
        return 0
    failed = 0
    for path in args.paths:
        items = load_evalset(path)
        ids = [i.id for i in items]
        for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
            print(f"{path}: duplicate id {duplicate}")
            failed += 1
        for item in items:
            for problem in item_problems(report, item):
                print(f"{path}: {item.id}: {problem}")
                failed += 1
        print(f"{path}: {len(items)} items, {failed} problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
