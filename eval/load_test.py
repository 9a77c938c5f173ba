"""Bounded load test: N concurrent questions at the Python API, /v1/chat/completions and /chat.

/chat is driven twice: through gradio_client (what a Python user of Gradio's API runs; its
client threads share the app's cores) and over plain HTTP with Gradio's call protocol (POST
/gradio_api/call/chat, then read the event stream), which measures the server alone.

Run: .venv/bin/python eval/load_test.py [--levels 1 8 32 64] [--rounds 2]
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

EVALSET = Path(__file__).with_name("evalset.jsonl")
READY_TIMEOUT_S = 300
CALL_TIMEOUT_S = 120


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


def run_level(ask: Callable[[str], object], qs: list[str], n: int, rounds: int) -> dict[str, float]:
    """Fire n concurrent questions, `rounds` times; return throughput, latency and errors."""
    latencies: list[float] = []
    errors = 0

    def one(q: str) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            ask(q)
            latencies.append(time.perf_counter() - started)
        except Exception:  # counted, reported; the load test itself must not stop
            errors += 1

    batch = [qs[i % len(qs)] for i in range(n * rounds)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, batch))
    wall = time.perf_counter() - started
    return {
        "n": n,
        "requests": len(batch),
        "throughput_qps": len(batch) / wall,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p95_ms": percentile(latencies, 95) * 1000 if latencies else 0.0,
        "errors": errors,
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
    args = parser.parse_args()
    qs = questions()
    import httpx
    from gradio_client import Client

    from opioid_assistant import Assistant

    assistant = Assistant()
    rows = [("python API", run_level(assistant.ask, qs, n, args.rounds)) for n in args.levels]
    port = free_port()
    app = start_app(port)
    try:
        # Clients connect before the clock starts: one per concurrent caller, lent out in turn.
        pool: queue.Queue[Client] = queue.Queue()
        for _ in range(max(args.levels)):
            pool.put(Client(f"http://127.0.0.1:{port}/", verbose=False))

        def via_chat(q: str) -> object:
            client = pool.get()
            try:
                return client.predict(q, api_name="/chat")
            finally:
                pool.put(client)

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

            rows += [
                ("/v1/chat/completions (httpx)", run_level(via_v1, qs, n, args.rounds))
                for n in args.levels
            ]
            rows += [
                ("/chat (httpx, Gradio call API)", run_level(via_chat_http, qs, n, args.rounds))
                for n in args.levels
            ]
    finally:
        app.terminate()
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:  # open client connections can hold a graceful stop
            app.kill()
            app.wait(timeout=10)
    print("| path | N | requests | throughput (q/s) | p50 (ms) | p95 (ms) | errors |")
    print("|---|---|---|---|---|---|---|")
    for path, r in rows:
        print(
            f"| {path} | {r['n']} | {r['requests']} | {r['throughput_qps']:.1f} | "
            f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['errors']} |"
        )


if __name__ == "__main__":
    main()
