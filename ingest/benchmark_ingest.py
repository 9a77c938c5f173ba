"""Measure ingest: a fresh build, a no-change re-run, and the index size on disk.

Run: .venv/bin/python ingest/benchmark_ingest.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from opioid_assistant import Settings
from opioid_assistant.indexing import build_index


def folder_size(path: Path) -> int:
    """Bytes of all files under path."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    """Print the figures the README quotes."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        started = time.perf_counter()
        first = build_index(settings, progress=False)
        fresh = time.perf_counter() - started
        started = time.perf_counter()
        again = build_index(settings, progress=False)
        rerun = time.perf_counter() - started
        size = folder_size(Path(tmp) / "chroma")
    print(f"chunks indexed        {first.chunks}")
    print(f"fresh ingest          {fresh:.1f} s (includes loading the embedding model)")
    print(f"re-run, no change     {rerun:.2f} s (re-embedded nothing: {again.reused})")
    print(f"index size on disk    {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
