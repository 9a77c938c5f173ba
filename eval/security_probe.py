"""Issue 25's attacks, re-run against a real server: the figures of README's "Security and
limits" section.

Starts `opioid-assistant serve` on a free loopback port (twice: on an empty data dir, so it
builds its index, then again on the same dir) and reports:

- resident memory after a first start that built the index, and after a warm start;
- one question of ~1 MB of "<script" over /v1/ask: its time and status, and the slowest
  /healthz probe (every 100 ms) meanwhile;
- five 2 MB uploads to /gradio_api/upload: their statuses and the server's memory after;
- 300 wrong passwords at Gradio's /login (a server with --auth): how many were checked
  (400) and how many refused unchecked (429), and how long they took.

Run: .venv/bin/python eval/security_probe.py [--keep DIR] [--question-kb 1000]
Loopback only; everything it starts is stopped when it ends. Run it against another tree
with PYTHONPATH=that/src to compare.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT_S = 600


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """`opioid-assistant serve` on loopback; returns once /healthz and the page answer."""
    env = {**os.environ, "OA_DATA_DIR": str(data_dir)}
    app = subprocess.Popen(
        [sys.executable, "-m", "opioid_assistant.cli", "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return app
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    app.kill()
    raise RuntimeError("the app did not start in time")


def stop(app: subprocess.Popen[bytes]) -> None:
    app.terminate()
    try:
        app.wait(timeout=20)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait(timeout=20)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hostile_question(base: str, size: int) -> dict[str, Any]:
    """`size` characters of '<script' as one question, /healthz probed every 100 ms meanwhile."""
    probes: list[float] = []
    failed = 0
    done = threading.Event()

    def probe() -> None:
        nonlocal failed
        with httpx.Client(timeout=5) as client:
            while not done.wait(0.1):
                started = time.perf_counter()
                try:
                    ok = client.get(f"{base}/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                probes.append(time.perf_counter() - started)
                failed += not ok

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    question = "<script" * (size // 7) + " What is LEAD?"
    started = time.perf_counter()
    reply = httpx.post(f"{base}/v1/ask", json={"question": question}, timeout=1800)
    seconds = time.perf_counter() - started
    done.set()
    prober.join()
    return {
        "status": reply.status_code,
        "seconds": seconds,
        "health_max_ms": max(probes, default=0.0) * 1000,
        "health_failed": failed,
        "health_probes": len(probes),
    }


def uploads(base: str, pid: int) -> dict[str, Any]:
    """Five 2 MB uploads; their statuses and the server's memory after them."""
    before = rss_mb(pid)
    statuses = []
    for i in range(5):
        files = {"files": (f"big-{i}.json", b"x" * 2_000_000, "application/json")}
        statuses.append(
            httpx.post(f"{base}/gradio_api/upload", files=files, timeout=120).status_code
        )
    time.sleep(2)
    return {"statuses": statuses, "rss_before_mb": before, "rss_after_mb": rss_mb(pid)}


def wrong_passwords(data_dir: Path) -> dict[str, Any]:
    """300 wrong passwords at Gradio's /login on a server started with --auth."""
    port = free_port()
    app = start(data_dir, port, "--auth", "reader:right-password")
    try:
        started = time.perf_counter()
        statuses = [
            httpx.post(
                f"http://127.0.0.1:{port}/login",
                data={"username": "reader", "password": f"guess-{i}"},
                timeout=30,
            ).status_code
            for i in range(300)
        ]
        seconds = time.perf_counter() - started
    finally:
        stop(app)
    return {
        "checked_400": statuses.count(400),
        "refused_429": statuses.count(429),
        "seconds": seconds,
    }


def main() -> None:
    """Print each figure with what it measures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="data dir to use (default: a new temporary one)")
    parser.add_argument(
        "--question-kb", type=int, default=1000, help="size of the '<script' question (kB)"
    )
    args = parser.parse_args()
    data = Path(args.keep or tempfile.mkdtemp(prefix="oa-probe-"))
    load = os.getloadavg()[0]
    port = free_port()
    app = start(data, port)  # builds the index first
    time.sleep(5)  # let it settle
    first = rss_mb(app.pid)
    stop(app)
    port = free_port()
    app = start(data, port)
    time.sleep(5)
    warm = rss_mb(app.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        hostile = hostile_question(base, args.question_kb * 1000)
        uploaded = uploads(base, app.pid)
    finally:
        stop(app)
    logins = wrong_passwords(data)
    print(f"load average at start: {load:.1f}")
    print(
        f"serve RSS after a first start that built the index: {first:.0f} MB; warm: {warm:.0f} MB"
    )
    print(
        f"{args.question_kb} kB '<script' question: HTTP {hostile['status']} in {hostile['seconds']:.2f} s; "
        f"/healthz meanwhile: slowest {hostile['health_max_ms']:.0f} ms, "
        f"{hostile['health_failed']} of {hostile['health_probes']} failed"
    )
    print(
        f"5 uploads of 2 MB: {uploaded['statuses']}; RSS {uploaded['rss_before_mb']:.0f} MB "
        f"before, {uploaded['rss_after_mb']:.0f} MB after"
    )
    print(
        f"300 wrong passwords: {logins['checked_400']} checked (400), "
        f"{logins['refused_429']} refused unchecked (429), {logins['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
