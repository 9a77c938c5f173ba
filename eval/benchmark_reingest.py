"""Benchmark: how long after a re-ingest ends do a running server's answers switch to it?

Builds an index of the bundled report (or reuses --data), starts `opioid-assistant serve
--no-ui`, asks the pharmacy-settlement question in a loop, runs `ingest` with a copy of the
report that has one word added to that sentence, and reports: seconds from the ingest's end to
the first answer from the new index, seconds until every later answer came from it, failed
requests, and the ingest's own duration. Alternates the two reports for --rounds rounds.

    .venv/bin/python eval/benchmark_reingest.py [--rounds 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from helpers import run_cli
from reingest_helpers import QuestionLoop, changed_report, serving, switch_seconds


def main() -> int:
    """Run the benchmark and print one line per round and a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", help="data dir to use (default: a new temporary one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="oa-reingest-"))
    data = Path(args.data) if args.data else work / "data"
    changed = changed_report(work)
    from opioid_assistant import Settings
    from opioid_assistant.index import store
    from opioid_assistant.index.building import build_index

    settings = Settings(data_dir=data)
    print(build_index(settings, progress=False).describe())
    first_new, all_new, failures = [], [], 0
    with serving(data) as served:
        for round_ in range(args.rounds):
            report = changed if round_ % 2 == 0 else None
            loop = QuestionLoop(served.base).start()
            time.sleep(1.0)
            env = {"OA_REPORT_PATH": str(report)} if report else {}
            began = time.monotonic()
            done = run_cli("ingest", "--quiet", data_dir=data, extra_env=env)
            ended = time.monotonic()
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            time.sleep(6.0)
            asked = loop.finish()
            active = store.read_active(store.connect(settings), settings)
            assert active is not None
            version = active.fingerprint
            failed = sum(a.status != 200 for a in asked)
            first = min(
                (a.ended for a in asked if a.body.get("index_version") == version),
                default=float("inf"),
            )
            first_new.append(max(0.0, first - ended))
            all_new.append(switch_seconds(asked, ended, version))
            failures += failed
            print(
                f"round {round_ + 1}: ingest {ended - began:.1f} s; first new answer "
                f"{first_new[-1]:.2f} s, all answers new after {all_new[-1]:.2f} s; "
                f"{len(asked)} questions, {failed} failed"
            )
    print(
        f"switch after ingest end: first new answer median {statistics.median(first_new):.2f} s, "
        f"all new median {statistics.median(all_new):.2f} s (max {max(all_new):.2f} s); "
        f"failed requests {failures}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
