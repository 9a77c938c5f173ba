"""Measure ingest: fresh (with and without the one-time ONNX export), a no-change re-run, and
the index size on disk.

Run: .venv/bin/python ingest/benchmark_ingest.py [--runs 3]
Each ingest is `opioid-assistant ingest --quiet` in a fresh process (imports included), timed
by wall clock and by the CPU time it used (user + system, all threads: on a shared machine the
CPU time moves less than the wall clock), in a temporary data dir; the no-change re-run is also
timed inside one process (`build_index` alone, what `serve` pays before it starts). Figures are
medians of --runs; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opioid_assistant import Settings
from opioid_assistant.index.building import build_index

CLI = (sys.executable, "-m", "opioid_assistant.cli", "ingest", "--quiet")


def folder_size(path: Path) -> int:
    """Bytes of all files under path."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def cpu_seconds() -> float:
    """CPU time (user + system) used by finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ingest(data_dir: Path) -> tuple[float, float, str]:
    """Run the CLI's ingest in a fresh process; return (wall s, CPU s, its summary line)."""
    cpu = cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(
        CLI,
        env={**os.environ, "OA_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    return wall, cpu_seconds() - cpu, done.stdout.strip().splitlines()[-1]


def main() -> None:
    """Print the figures the README quotes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    fresh, cached, rerun, inside = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            data = Path(tmp) / f"run{i}"
            *seconds, summary = ingest(data)  # a new data dir: exports the model too
            fresh.append(seconds)
            shutil.rmtree(data / "chroma")  # keep the export, drop the index
            cached.append(ingest(data)[:2])
            rerun.append(ingest(data)[:2])
            settings = Settings(data_dir=data)
            build_index(settings, progress=False)  # warm this process's caches once
            started = time.perf_counter()
            again = build_index(settings, progress=False)
            inside.append(time.perf_counter() - started)
            if not again.reused:
                raise SystemExit("the no-change re-run re-embedded: the figures are wrong")
        size = folder_size(Path(tmp) / "run0" / "chroma")
        export = folder_size(Path(tmp) / "run0" / "embedders")

    def median(pairs: list[list[float]] | list[tuple[float, ...]]) -> str:
        wall = statistics.median(p[0] for p in pairs)
        cpu = statistics.median(p[1] for p in pairs)
        return f"{wall:5.2f} s wall, {cpu:5.2f} s CPU ({', '.join(f'{p[0]:.1f}' for p in pairs)})"

    print(summary)
    print(f"fresh ingest, with the one-time ONNX export   {median(fresh)}")
    print(f"fresh ingest, export already cached          {median(cached)}")
    print(f"re-run, no change (new process)              {median(rerun)}")
    print(f"re-run, no change (build_index in a process) {statistics.median(inside):5.2f} s")
    print(f"index size on disk                           {size / 1e6:.1f} MB")
    print(f"ONNX export on disk                          {export / 1e6:.1f} MB")
    print(f"load average (1, 5, 15 min) at the end       {os.getloadavg()}")


if __name__ == "__main__":
    main()
