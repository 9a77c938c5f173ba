"""Run the assistant on a guard case file and print per-class counts and every miss (Markdown).

    python eval/guard_check.py tests/data/guard_fresh.json
    python eval/guard_check.py tests/data/guard_cases.json --out eval/results/x.md

Uses the index in OA_DATA_DIR (`opioid-assistant ingest` builds it) and the extractive
backend with no follow-ups: the guard and the help lines are the same for every backend.
Exit status 1 when any case is missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opioid_assistant import Assistant, Settings
from opioid_assistant.evaluate.guard_cases import guard_markdown, load_guard_cases, run_guard_cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a guard case JSON file")
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    parser.add_argument("--title", default="", help="heading (default: the file name)")
    args = parser.parse_args()
    assistant = Assistant(Settings(llm_backend="extractive", follow_ups=0))
    results = run_guard_cases(load_guard_cases(args.path), assistant.ask)
    text = guard_markdown(args.title or f"Guard check: {args.path.name}", results)
    print(text, end="")
    if args.out:
        args.out.write_text(text, "utf-8")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
