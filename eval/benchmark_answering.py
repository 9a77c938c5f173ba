"""Measure answering speed: warm latency p50/p95 (answer and retrieval alone) and cold start.

Run: .venv/bin/python eval/benchmark_answering.py   (needs an index: opioid-assistant ingest)
Questions: the evaluation set's questions (eval/evalset.jsonl).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

EVALSET = Path(__file__).with_name("evalset.jsonl")
COLD_START = (
    "import time; t=time.perf_counter(); from opioid_assistant import Assistant; "
    "a=Assistant(); a.ask('How much did pharmacy chains pay?'); print(time.perf_counter()-t)"
)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    """Print the figures the README quotes."""
    questions = [
        json.loads(line)["question"] for line in EVALSET.read_text().splitlines() if line.strip()
    ]
    cold = float(
        subprocess.run(
            [sys.executable, "-c", COLD_START], capture_output=True, text=True, check=True
        ).stdout.split()[-1]
    )
    from opioid_assistant import Assistant

    assistant = Assistant()
    assistant.ask(questions[0])  # warm-up
    # Each question is timed as never asked before: the embedder's kept query vectors are
    # dropped before each timing (the report's tokenized sentences stay, as when serving).
    forget = getattr(assistant.retriever.embedder, "forget_queries", lambda: None)
    answer_ms, retrieve_ms = [], []
    for q in questions:
        forget()
        t = time.perf_counter()
        assistant.ask(q)
        answer_ms.append((time.perf_counter() - t) * 1000)
        forget()
        t = time.perf_counter()
        assistant.retriever.retrieve(q)
        retrieve_ms.append((time.perf_counter() - t) * 1000)
    print(f"questions             {len(questions)}")
    print(
        f"answer p50 / p95      {statistics.median(answer_ms):.0f} ms / {percentile(answer_ms, 95):.0f} ms (extractive, warm)"
    )
    print(
        f"retrieval p50 / p95   {statistics.median(retrieve_ms):.0f} ms / {percentile(retrieve_ms, 95):.0f} ms"
    )
    print(f"cold start            {cold:.1f} s (import + open index + first answer)")


if __name__ == "__main__":
    main()
