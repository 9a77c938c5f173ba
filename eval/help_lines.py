"""Count the evaluation questions the guard opens with a help line, and list them.

    .venv/bin/python eval/help_lines.py            # every turn of every eval/*.jsonl file

Every evaluation question is about the report, none from someone who needs help now, so
each help line here is one a policy reader did not ask for (some, such as "Can you buy
naloxone without a prescription now?", are fair to give anyway). Prints each question that
gets one, then the count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from opioid_assistant import Settings
from opioid_assistant.answer.guard import verdict
from opioid_assistant.index.embedding import load_embedder

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    settings = Settings()
    embedder = load_embedder(settings.embedding_model, settings.data_dir)
    questions = sorted(
        {
            turn
            for path in sorted((ROOT / "eval").glob("*.jsonl"))
            for line in path.read_text("utf-8").splitlines()
            if line.strip()
            for turn in json.loads(line).get("turns") or [json.loads(line)["question"]]
        }
    )
    helped = [q for q in questions if verdict(q, embedder).outcome == "help"]
    for question in helped:
        print(question)
    print(f"{len(helped)} of {len(questions)} evaluation questions get a help line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
