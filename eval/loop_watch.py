"""What holds up the server's event loop under load: where its thread is while it is stuck.

Serves the app in this process (as `opioid-assistant serve` does, on a free loopback port),
puts a heartbeat on its event loop (every 2 ms) and a watchdog thread beside it: whenever
the heartbeat is over `--threshold-ms` late, the watchdog samples the loop thread's Python
stack every 3 ms. It also times every garbage collection over 10 ms. Meanwhile a child
process drives `eval/load_test.py`'s served paths (and its /healthz probe) at the server.
Prints the load test's rows, the longest stalls with their most frequent stacks, and the
collections. A stall whose only frame is the loop's own `run` was spent in C: waiting for
the interpreter lock, or not scheduled by the machine.

Run: PYTHONPATH=src .venv/bin/python eval/loop_watch.py [--paths gradio_client chat_http]
        [--levels 64] [--rounds 3] [--top 5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import os
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class LoopWatch:
    """Heartbeat on the loop, stack samples while it is late, and long collections."""

    def __init__(self, threshold_s: float) -> None:
        self.threshold_s = threshold_s
        self.beat, self.loop_thread = time.perf_counter(), 0
        self.stalls: list[dict[str, Any]] = []
        self.collections: list[tuple[int, float]] = []
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    async def heartbeat(self) -> None:
        self.loop_thread = threading.get_ident()
        while True:
            self.beat = time.perf_counter()
            await asyncio.sleep(0.002)

    def watch(self) -> None:
        stall: dict[str, Any] | None = None
        while True:
            time.sleep(0.003)
            late = time.perf_counter() - self.beat
            if self.loop_thread and late > self.threshold_s:
                stall = stall or {"samples": []}
                stall["late_s"] = late
                frame = sys._current_frames().get(self.loop_thread)
                if frame is not None:
                    stack = traceback.extract_stack(frame)[-12:]
                    stall["samples"].append(
                        tuple(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in stack)
                    )
            elif stall is not None:
                self.stalls.append(stall)
                stall = None

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif time.perf_counter() - self._gc_started > 0.01:
            self.collections.append((info["generation"], time.perf_counter() - self._gc_started))


def drive(port: int, args: argparse.Namespace) -> str:
    """Run load_test's served paths at the server in a child process; its printed rows."""
    code = (
        "import sys, argparse, httpx\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import load_test as lt\n"
        "from gradio_client import Client\n"
        f"args = argparse.Namespace(paths={args.paths!r}, levels={args.levels!r}, "
        f"rounds={args.rounds!r})\n"
        f"url = 'http://127.0.0.1:{port}'\n"
        "with lt.HealthProbe(url + '/healthz') as probe:\n"
        "    rows = lt.served_rows(args, lt.questions(), int(url.rsplit(':', 1)[1]), httpx, Client)\n"
        "for name, r in rows:\n"
        "    r.update(probe.during(*r['epoch']))\n"
        "    print(f\"{name}: {r['throughput_qps']:.1f} q/s, /healthz p99 "
        "{r['health_p99_ms']:.0f} ms, max {r['health_max_ms']:.0f} ms, \"\n"
        "          f\"{r['errors']} errors, {r['resets']} resets\")\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return done.stdout + (done.stderr[-2000:] if done.returncode else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", nargs="+", default=["gradio_client", "chat_http"])
    parser.add_argument("--levels", type=int, nargs="+", default=[64])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threshold-ms", type=float, default=50.0)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    import uvicorn

    sys.path.insert(0, str(HERE))
    from load_test import free_port

    from opioid_assistant.answer.assistant import Assistant
    from opioid_assistant.serve import server as served

    port = free_port()
    app = served.create_server_app(Assistant())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    watch = LoopWatch(args.threshold_ms / 1000)
    startup = server.startup

    async def started(*a: Any, **k: Any) -> None:
        await startup(*a, **k)
        asyncio.get_running_loop().create_task(watch.heartbeat())

    server.startup = started  # type: ignore[method-assign]
    if hasattr(served, "settle_heap"):  # absent from trees before it
        served.settle_heap()
    threading.Thread(target=watch.watch, daemon=True).start()
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(drive(port, args))
    server.should_exit = True
    report(watch, args.top)


def report(watch: LoopWatch, top: int) -> None:
    """The longest stalls, each with its most frequent stacks, then the long collections."""
    stalls = sorted(watch.stalls, key=lambda s: -s["late_s"])
    late = ", ".join(f"{s['late_s'] * 1000:.0f}" for s in stalls[:20])
    print(f"{len(stalls)} stalls over the threshold; the longest (ms): {late}")
    for stall in stalls[:top]:
        print(f"\n{stall['late_s'] * 1000:.0f} ms, {len(stall['samples'])} samples:")
        for stack, n in collections.Counter(stall["samples"]).most_common(2):
            print(f"  x{n}\n    " + "\n    ".join(stack))
    long = ", ".join(f"gen {g}: {s * 1000:.0f} ms" for g, s in watch.collections)
    print(f"\ncollections over 10 ms: {long or 'none'}")


if __name__ == "__main__":
    main()
