"""Measure start-up: a fresh process's first answer, `opioid-assistant ask`, and `serve` until
/healthz and the chat page answer.

Run: .venv/bin/python eval/benchmark_startup.py [--runs 3]
Needs an index in OA_DATA_DIR (default data dir; `opioid-assistant ingest` builds it). Every
figure is wall clock from starting a new Python process, imports included, until the answer
is ready (and, apart, until the process has exited); medians of --runs.
It also lists which heavy modules each path imported (none of torch, transformers,
sentence_transformers, sklearn is the goal; gradio only for `serve`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

import httpx

QUESTION = "How much did pharmacy chains pay in the opioid settlement?"
HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "gradio")
# The child prints the wall-clock time its answer was ready, then the heavy modules it holds.
REPORT = (
    "answered = time.time()\nimport json, sys\n"
    f"print(answered, json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
)
PYTHON_API = (
    f"import time\nfrom opioid_assistant import Assistant\nAssistant().ask({QUESTION!r})\n" + REPORT
)
CLI_ASK = (
    f"import time\nfrom opioid_assistant.cli import main\nmain(['ask', {QUESTION!r}])\n" + REPORT
)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds() -> float:
    """CPU time (user + system) used by finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_script(code: str) -> tuple[float, float, float, list[str]]:
    """Run code in a fresh interpreter; return (s until its answer was ready, s until it
    exited, CPU s, heavy modules it imported)."""
    cpu = cpu_seconds()
    launched, started = time.time(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    answered, modules = done.stdout.strip().splitlines()[-1].split(" ", 1)
    return float(answered) - launched, wall, cpu_seconds() - cpu, json.loads(modules)


def timed_serve() -> tuple[float, float]:
    """Start `opioid-assistant serve`; return seconds until /healthz and until "/" answer 200."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "opioid_assistant.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    health = page = 0.0
    try:
        while not (health and page) and time.perf_counter() - started < 120:
            for path in ("/healthz", "/"):
                if (health if path == "/healthz" else page) or server.poll() is not None:
                    continue
                try:
                    ok = httpx.get(base + path, timeout=5).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok and path == "/healthz":
                    health = time.perf_counter() - started
                elif ok:
                    page = time.perf_counter() - started
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if not (health and page):
        raise SystemExit("serve did not answer within 120 s (is there an index?)")
    return health, page


def main() -> None:
    """Print the figures the README quotes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    subprocess.run([sys.executable, "-m", "opioid_assistant.cli", "ingest", "--quiet"], check=True)
    api = [timed_script(PYTHON_API) for _ in range(runs)]
    cli = [timed_script(CLI_ASK) for _ in range(runs)]
    served = [timed_serve() for _ in range(runs)]

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s ({', '.join(f'{v:.2f}' for v in values)})"

    for name, rows in (("Python API, first answer", api), ("opioid-assistant ask", cli)):
        cpu = statistics.median(r[2] for r in rows)
        exited = statistics.median(r[1] for r in rows)
        print(
            f"{name:26} {median([r[0] for r in rows])}; the process exits at {exited:.2f} s, "
            f"{cpu:.2f} s CPU; imported {rows[0][3]}"
        )
    print(f"{'serve until /healthz':26} {median([h for h, _ in served])}")
    print(f"{'serve until the page':26} {median([p for _, p in served])}")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
