"""Benchmark: how long after a re-ingest ends do running servers' answers switch to it?

Builds an index of the bundled report (or reuses --data), starts `opioid-assistant serve
--no-ui` (--processes of them), asks each the pharmacy-settlement question in a loop, runs
`ingest` with a copy of the report that has one word added to that sentence, and reports per
process: seconds from the ingest's end to the first answer from the new index, seconds until
every later answer came from it, failed requests, and the ingest's own duration. Alternates
the two reports for --rounds rounds. With --chroma-server the index lives in a `chroma run`
server on loopback that every process shares (the set-up of tests/test_server_mode.py).

The tests (tests/test_reingest.py, tests/test_server_mode.py) only check that every process
switches, once and without a failed request; the time it takes is this script's to report.

    .venv/bin/python eval/benchmark_reingest.py [--rounds 3] [--data DIR]
    .venv/bin/python eval/benchmark_reingest.py --chroma-server --processes 2
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from helpers import free_port, run_cli
from reingest_helpers import (
    QuestionLoop,
    changed_report,
    serving,
    switch_seconds,
    wait_for,
    wait_for_switch,
)


@contextmanager
def chroma_server(path: Path) -> Iterator[dict[str, str]]:
    """Run `chroma run` on a free loopback port; yield the OA_CHROMA_* variables for it."""
    port = free_port()
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v2/heartbeat"

        def ready() -> bool:
            try:
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, "chroma run answering its heartbeat", deadline_s=120)
        yield {"OA_CHROMA_HOST": "127.0.0.1", "OA_CHROMA_PORT": str(port)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> int:
    """Run the benchmark and print one line per round and process, and a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1, help="app processes serving")
    parser.add_argument("--chroma-server", action="store_true", help="share a `chroma run`")
    parser.add_argument("--data", help="data dir to use (default: a new temporary one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="oa-reingest-"))
    data = Path(args.data) if args.data else work / "data"
    changed = changed_report(work)
    from opioid_assistant import Settings
    from opioid_assistant.index import store
    from opioid_assistant.index.building import build_index

    first_new: list[float] = []
    all_new: list[float] = []
    failures = asked_total = 0
    with ExitStack() as stack:
        env = stack.enter_context(chroma_server(work / "chroma")) if args.chroma_server else {}
        settings = Settings(
            data_dir=data,
            chroma_host=env.get("OA_CHROMA_HOST"),
            chroma_port=int(env.get("OA_CHROMA_PORT", 8000)),
        )
        print(build_index(settings, progress=False).describe())
        servers = [stack.enter_context(serving(data, env)) for _ in range(args.processes)]
        for round_ in range(args.rounds):
            report = changed if round_ % 2 == 0 else None
            loops = [QuestionLoop(s.base).start() for s in servers]
            wait_for(lambda ls=loops: all(len(q.asked) >= 3 for q in ls), "answers before")
            report_env = {"OA_REPORT_PATH": str(report)} if report else {}
            began = time.monotonic()
            done = run_cli("ingest", "--quiet", data_dir=data, extra_env={**env, **report_env})
            ended = time.monotonic()
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            active = store.read_active(store.connect(settings), settings)
            assert active is not None
            version = active.fingerprint
            wait_for_switch(loops, version, after=ended)
            time.sleep(1.0)  # a few more answers, to see that none goes back
            for n, loop in enumerate(loops, start=1):
                asked = loop.finish()
                failed = sum(a.status != 200 for a in asked)
                first = min(
                    (a.ended for a in asked if a.body.get("index_version") == version),
                    default=float("inf"),
                )
                first_new.append(max(0.0, first - ended))
                all_new.append(switch_seconds(asked, ended, version))
                failures += failed
                asked_total += len(asked)
                print(
                    f"round {round_ + 1}, process {n}: ingest {ended - began:.1f} s; first new "
                    f"answer {first_new[-1]:.2f} s, all answers new after {all_new[-1]:.2f} s; "
                    f"{len(asked)} questions, {failed} failed"
                )
    mode = "chroma server" if args.chroma_server else "embedded store"
    print(
        f"{mode}, {args.processes} process(es): switch after ingest end: first new answer "
        f"median {statistics.median(first_new):.2f} s, all new median "
        f"{statistics.median(all_new):.2f} s ({min(all_new):.2f}-{max(all_new):.2f} s); "
        f"failed requests {failures} of {asked_total}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
