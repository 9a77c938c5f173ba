"""Bounded load test: N concurrent questions at the Python API, /v1/chat/completions and /chat.

/chat is driven twice: through gradio_client (what a Python user of Gradio's API runs; its
client threads share the app's cores) and over plain HTTP with Gradio's call protocol (POST
/gradio_api/call/chat, then read the event stream), which measures the server alone.

While the server is under load, a liveness probe asks /healthz every 100 ms (a 5 s timeout,
as a Kubernetes probe might use): each row gives the slowest probe during it, and how many
requests were reset (the connection dropped under the client) apart from other errors.

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
import threading
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


class HealthProbe:
    """Asks /healthz every PROBE_EVERY_S on its own connection; keeps (time, seconds, ok)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=PROBE_TIMEOUT_S) as client:
            while not self._stop.wait(PROBE_EVERY_S):
                started = time.perf_counter()
                try:
                    ok = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.samples.append((started, time.perf_counter() - started, ok))

    def during(self, start: float, end: float) -> dict[str, Any]:
        """The slowest probe and the failed ones between `start` and `end`."""
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


def run_level(
    ask: Callable[[str], object],
    qs: list[str],
    n: int,
    rounds: int,
    probe: HealthProbe | None = None,
) -> dict[str, Any]:
    """Fire n concurrent questions, `rounds` times; return throughput, latency, errors and
    resets (and the liveness probe's figures over the same time, when one runs)."""
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
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, batch))
    ended = time.perf_counter()
    wall = ended - started
    return {
        "n": n,
        "requests": len(batch),
        "throughput_qps": len(batch) / wall,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p95_ms": percentile(latencies, 95) * 1000 if latencies else 0.0,
        "errors": errors,
        "resets": resets,
        **(probe.during(started, ended) if probe else {}),
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
        with HealthProbe(f"http://127.0.0.1:{port}/healthz") as probe:
            rows += served_rows(args, qs, port, probe, httpx, Client)
    finally:
        app.terminate()
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:  # open client connections can hold a graceful stop
            app.kill()
            app.wait(timeout=10)
    print(
        "| path | N | requests | throughput (q/s) | p50 (ms) | p95 (ms) | errors | resets "
        "| /healthz max (ms) | /healthz failed |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path, r in rows:
        health = (
            f"{r['health_max_ms']:.0f} | {r['health_failed']}/{r['health_probes']}"
            if "health_max_ms" in r
            else "– | –"
        )
        print(
            f"| {path} | {r['n']} | {r['requests']} | {r['throughput_qps']:.1f} | "
            f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['errors']} | {r['resets']} | {health} |"
        )


def served_rows(
    args: argparse.Namespace, qs: list[str], port: int, probe: HealthProbe, httpx: Any, client: Any
) -> list[tuple[str, dict[str, Any]]]:
    """The rows of the paths that go through the server, with the probe running."""
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
            ("/chat (gradio_client)", run_level(via_chat, qs, n, args.rounds, probe))
            for n in args.levels
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
                ("/v1/chat/completions (httpx)", run_level(via_v1, qs, n, args.rounds, probe))
                for n in args.levels
            ]
        if "chat_http" in args.paths:
            rows += [
                (
                    "/chat (httpx, Gradio call API)",
                    run_level(via_chat_http, qs, n, args.rounds, probe),
                )
                for n in args.levels
            ]
    return rows


if __name__ == "__main__":
    main()
