"""How varied and how on-topic the suggested follow-ups are, over an evaluation set.

Run: .venv/bin/python eval/follow_up_variety.py [SET]   (needs an index: opioid-assistant
ingest; SET defaults to the main set, src/opioid_assistant/data/evalset.jsonl)

Each distinct question is asked alone (no history). Printed: the questions, the
suggestions shown, the distinct suggestions among them, and the on-topic rate: the share of
suggestions that share a content term with the sentences the answer quotes. A content term
is a token of the report (`text.tokenize`: stop words out, plurals folded) in at most 10% of
its sentences, so "opioid" or "overdose", which are everywhere, do not count, and not one of
the words the question templates add ("report", "say", "many" ...). The measure uses only
what every version of the assistant has, so it runs on an older tree too
(PYTHONPATH=TREE/src) for a before-and-after.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from opioid_assistant import Assistant
from opioid_assistant.answer.follow_ups import anchor_sentences
from opioid_assistant.text import tokenize

MAIN_SET = Path(__file__).parents[1] / "src/opioid_assistant/data/evalset.jsonl"
TEMPLATE = set(
    tokenize("what does the report say about in its how many much was share of why is are can")
)
COMMON_SHARE = 0.1


def main() -> None:
    """Print the figures the README quotes."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else MAIN_SET
    lines = path.read_text(encoding="utf-8").splitlines()
    questions = list(dict.fromkeys(json.loads(line)["question"] for line in lines if line))
    assistant = Assistant()
    report = assistant.report
    counts = Counter(t for s in report.sentences for t in set(tokenize(s.text)))
    common = {t for t, n in counts.items() if n > COMMON_SHARE * len(report.sentences)}

    def terms(text: str) -> set[str]:
        return set(tokenize(text)) - common - TEMPLATE

    shown: list[str] = []
    on_topic = 0
    for question in questions:
        answer = assistant.ask(question)
        quoted = set().union(
            *(terms(report.sentences[i].text) for i in anchor_sentences(report, answer))
        )
        for suggestion in answer.follow_ups:
            shown.append(suggestion)
            on_topic += bool(terms(suggestion) & quoted)
    print(f"questions            {len(questions)} ({path.name})")
    print(f"suggestions shown    {len(shown)}")
    print(f"distinct suggestions {len(set(shown))}")
    print(f"on-topic rate        {on_topic / max(len(shown), 1):.3f} ({on_topic}/{len(shown)})")


if __name__ == "__main__":
    main()
