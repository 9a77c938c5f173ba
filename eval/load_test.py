"""Bounded load test: N concurrent questions at the Python API, /v1/chat/completions and /chat.

/chat is driven twice: through gradio_client (what a Python user of Gradio's API runs; its
client threads share the app's cores) and over plain HTTP with Gradio's call protocol (POST
/gradio_api/call/chat, then read the event stream), which measures the server alone.

While the server is under load, a liveness probe asks /healthz every 100 ms (a 5 s timeout,
as a Kubernetes probe might use): each row gives the slowest probe during it, and how many
requests were reset (the connection dropped under the client) apart from other errors. A
third process only sleeps 10 ms at a time: its worst oversleep during a row is the
machine's own scheduling delay, which no server can answer faster than.

Run: .venv/bin/python eval/load_test.py [--levels 1 8 32 64] [--rounds 2]
        [--paths python gradio_client v1 chat_http]
Loopback only; it starts the app itself (`opioid-assistant serve` on a free 127.0.0.1 port),
sends levels x rounds questions per level, and stops everything when done.
"""

from __future__ import annotations

import argparse
import json
import queue
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

EVALSET = Path(__file__).with_name("evalset.jsonl")
READY_TIMEOUT_S = 300
CALL_TIMEOUT_S = 120
PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 5.0
PATHS = ("python", "gradio_client", "v1", "chat_http")


def is_reset(error: Exception) -> bool:
    """Whether a request failed because the connection dropped under it."""
    import httpx

    reset = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError)
    return isinstance(error, (*reset, ConnectionError))


SLEEPER = """
import sys, time
while True:
    t = time.time(); time.sleep(0.01); late = time.time() - t - 0.01
    if late > 0.005:
        print(f"{t:.3f} {late * 1000:.0f}", flush=True)
"""


class SchedulerProbe:
    """A process that sleeps 10 ms at a time and reports each oversleep over 5 ms."""

    def __enter__(self) -> SchedulerProbe:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, text=True
        )
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=10)
        self.late = [tuple(map(float, line.split())) for line in out.splitlines() if line]

    def during(self, start: float, end: float) -> float:
        """The worst oversleep (ms) between epoch times `start` and `end`."""
        return max((ms for t, ms in self.late if start <= t <= end), default=0.0)


PROBER = """
import sys, time, httpx
with httpx.Client(timeout=%(timeout)s) as client:
    while True:
        time.sleep(%(every)s)
        t = time.time(); started = time.perf_counter()
        try:
            ok = client.get(sys.argv[1]).status_code == 200
        except httpx.HTTPError:
            ok = False
        print(f"{t:.3f} {(time.perf_counter() - started) * 1000:.1f} {int(ok)}", flush=True)
"""


class HealthProbe:
    """Asks /healthz every PROBE_EVERY_S from a process of its own, as a liveness probe does
    (in this process, its thread would wait behind the load generator's own threads)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, float, bool]] = []

    def __enter__(self) -> HealthProbe:
        code = PROBER % {"timeout": PROBE_TIMEOUT_S, "every": PROBE_EVERY_S}
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, self.url], stdout=subprocess.PIPE, text=True
        )
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=10)
        for line in out.splitlines():
            t, ms, ok = line.split()
            self.samples.append((float(t), float(ms) / 1000, ok == "1"))

    def during(self, start: float, end: float) -> dict[str, Any]:
        """The slowest probe and the failed ones between epoch times `start` and `end`."""
        window = [s for s in self.samples if start <= s[0] <= end]
        return {
            "health_max_ms": max((s[1] for s in window), default=0.0) * 1000,
            "health_failed": sum(not s[2] for s in window),
            "health_probes": len(window),
        }


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def questions() -> list[str]:
    """The evaluation set's single-turn questions."""
    rows = [json.loads(line) for line in EVALSET.read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows if not r.get("turns")]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0-100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_level(ask: Callable[[str], object], qs: list[str], n: int, rounds: int) -> dict[str, Any]:
    """Fire n concurrent questions, `rounds` times; return throughput, latency, errors,
    resets, and when it ran (epoch seconds, for the probes)."""
    latencies: list[float] = []
    errors = resets = 0

    def one(q: str) -> None:
        nonlocal errors, resets
        started = time.perf_counter()
        try:
            ask(q)
            latencies.append(time.perf_counter() - started)
        except Exception as e:  # counted, reported; the load test itself must not stop
            if is_reset(e):
                resets += 1
            else:
                errors += 1

    batch = [qs[i % len(qs)] for i in range(n * rounds)]
    started, epoch = time.perf_counter(), time.time()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, batch))
    ended = time.perf_counter()
    wall = ended - started
    return {
        "epoch": (epoch, time.time()),
        "n": n,
        "requests": len(batch),
        "throughput_qps": len(batch) / wall,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p95_ms": percentile(latencies, 95) * 1000 if latencies else 0.0,
        "errors": errors,
        "resets": resets,
    }


def start_app(port: int) -> subprocess.Popen[bytes]:
    """Start `opioid-assistant serve` on loopback and wait until it answers."""
    import httpx

    app = subprocess.Popen(
        [sys.executable, "-m", "opioid_assistant.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return app
        except httpx.HTTPError:
            time.sleep(0.5)
    app.terminate()
    raise RuntimeError("the app did not start in time")


def main() -> None:
    """Print one table row per (path, N)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    args = parser.parse_args()
    qs = questions()
    import httpx
    from gradio_client import Client

    rows: list[tuple[str, dict[str, Any]]] = []
    if "python" in args.paths:
        from opioid_assistant import Assistant

        assistant = Assistant()
        rows += [("python API", run_level(assistant.ask, qs, n, args.rounds)) for n in args.levels]
        del assistant
    port = free_port()
    app = start_app(port)
    try:
        with SchedulerProbe() as sleeper, HealthProbe(f"http://127.0.0.1:{port}/healthz") as probe:
            served = served_rows(args, qs, port, httpx, Client)
        for _, row in served:
            row["sched_max_ms"] = sleeper.during(*row["epoch"])
            row.update(probe.during(*row["epoch"]))
        rows += served
    finally:
        app.terminate()
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:  # open client connections can hold a graceful stop
            app.kill()
            app.wait(timeout=10)
    print(
        "| path | N | requests | throughput (q/s) | p50 (ms) | p95 (ms) | errors | resets "
        "| /healthz max (ms) | /healthz failed | machine's scheduling delay max (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path, r in rows:
        health = (
            f"{r['health_max_ms']:.0f} | {r['health_failed']}/{r['health_probes']} | "
            f"{r['sched_max_ms']:.0f}"
            if "health_max_ms" in r
            else "– | – | –"
        )
        print(
            f"| {path} | {r['n']} | {r['requests']} | {r['throughput_qps']:.1f} | "
            f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['errors']} | {r['resets']} | {health} |"
        )


def served_rows(
    args: argparse.Namespace, qs: list[str], port: int, httpx: Any, client: Any
) -> list[tuple[str, dict[str, Any]]]:
    """The rows of the paths that go through the server (the probes run meanwhile)."""
    rows: list[tuple[str, dict[str, Any]]] = []
    if "gradio_client" in args.paths:
        # Clients connect before the clock starts: one per concurrent caller, lent out in turn.
        pool: queue.Queue[Any] = queue.Queue()
        for _ in range(max(args.levels)):
            pool.put(client(f"http://127.0.0.1:{port}/", verbose=False))

        def via_chat(q: str) -> object:
            lent = pool.get()
            try:
                return lent.predict(q, api_name="/chat")
            finally:
                pool.put(lent)

        rows += [
            ("/chat (gradio_client)", run_level(via_chat, qs, n, args.rounds)) for n in args.levels
        ]
    limits = httpx.Limits(max_connections=max(args.levels))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", limits=limits) as http:

        def via_v1(q: str) -> object:
            reply = http.post(
                "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": q}]},
                timeout=CALL_TIMEOUT_S,
            )
            reply.raise_for_status()
            return reply.json()

        def via_chat_http(q: str) -> object:
            event = http.post(
                "/gradio_api/call/chat", json={"data": [q, None]}, timeout=CALL_TIMEOUT_S
            )
            event.raise_for_status()
            url = f"/gradio_api/call/chat/{event.json()['event_id']}"
            with http.stream("GET", url, timeout=CALL_TIMEOUT_S) as stream:
                body = "".join(stream.iter_text())
            if "event: complete" not in body:
                raise RuntimeError(f"/chat did not complete: {body[:200]}")
            return body

        if "v1" in args.paths:
            rows += [
                ("/v1/chat/completions (httpx)", run_level(via_v1, qs, n, args.rounds))
                for n in args.levels
            ]
        if "chat_http" in args.paths:
            rows += [
                (
                    "/chat (httpx, Gradio call API)",
                    run_level(via_chat_http, qs, n, args.rounds),
                )
                for n in args.levels
            ]
    return rows


if __name__ == "__main__":
    main()
