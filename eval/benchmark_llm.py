"""Time to first token and total answer time of an LLM backend (default: in-process llamacpp).

Run: OA_LLAMACPP_MODEL_PATH=qwen.gguf .venv/bin/python eval/benchmark_llm.py [--questions 10]
(assemble the GGUF with eval/assemble_gguf.py). Needs an index: opioid-assistant ingest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

EVALSET = Path(__file__).with_name("evalset.jsonl")


def main() -> None:
    """Print TTFT and total time percentiles over the first N answerable single-turn questions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--backend", default="llamacpp")
    args = parser.parse_args()
    from opioid_assistant import Assistant, Settings
    from opioid_assistant.types import Answer

    rows = [json.loads(line) for line in EVALSET.read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows if r["gold_endnotes"] and not r.get("turns")]
    questions = questions[: args.questions]
    started = time.perf_counter()
    assistant = Assistant(settings=Settings(llm_backend=args.backend))
    load = time.perf_counter() - started
    first_token, total, fallbacks = [], [], 0
    for q in questions:
        t0 = time.perf_counter()
        first = None
        for event in assistant.stream_events(q):
            if first is None and isinstance(event, str) and event.strip():
                first = time.perf_counter() - t0
            if isinstance(event, Answer):
                fallbacks += event.backend != args.backend
        total.append(time.perf_counter() - t0)
        first_token.append(first if first is not None else total[-1])
    print(
        f"backend {args.backend}: model load + index open {load:.1f} s, {len(questions)} questions"
    )
    print(
        f"time to first token  p50 {statistics.median(first_token):.1f} s, max {max(first_token):.1f} s"
    )
    print(f"total answer time    p50 {statistics.median(total):.1f} s, max {max(total):.1f} s")
    print(f"fell back to extractive: {fallbacks}/{len(questions)}")


if __name__ == "__main__":
    main()
