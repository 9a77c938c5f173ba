"""A first `serve` says what it is doing before the slow part: building the index."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from helpers import CLI, cli_env, free_port
from opioid_assistant import Settings
from opioid_assistant.cli import FIRST_BUILD_S, starting_line


def test_the_starting_line_says_build_rebuild_or_open(tmp_path: Path) -> None:
    fresh = Settings(data_dir=tmp_path / "fresh")
    assert starting_line(fresh) == (
        f"Building the index from the bundled report (first start, about {FIRST_BUILD_S} s)…"
    )
    assert starting_line(fresh, reindex=True) == (
        f"Rebuilding the index from the bundled report (--reindex, about {FIRST_BUILD_S} s)…"
    )
    (tmp_path / "fresh" / "chroma").mkdir(parents=True)
    assert starting_line(fresh) == f"Opening the index in {tmp_path / 'fresh'}…"
    server = Settings(data_dir=tmp_path / "other", chroma_host="chroma.internal")
    assert starting_line(server) == f"Opening the index in {tmp_path / 'other'}…"


def test_a_first_serve_says_what_it_does_before_the_index_is_built(tmp_path: Path) -> None:
    """`serve --no-ui` into an empty data dir, stdout and stderr in one file, unbuffered by
    nothing but the CLI's own flushes: the first line announces the build, the embedding
    progress follows it, then the build's summary, then where it serves."""
    port = free_port()
    log = tmp_path / "output.txt"  # a file: a pipe would fill up
    command = [*CLI, "serve", "--no-ui", "--port", str(port)]
    with log.open("w") as out:
        server = subprocess.Popen(
            command, env=cli_env(tmp_path / "data"), stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 300  # an index build under load
            while True:
                assert server.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "the server did not start in 300 s"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = log.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0] == (
        f"Building the index from the bundled report (first start, about {FIRST_BUILD_S} s)…"
    )
    steps = [
        lines[0],
        "embedding:",  # the progress bar of the child that builds the index
        "index built (",
        "Loading the assistant (embedding model, index, answering)…",
        f"Serving the API (/v1, /docs) on http://127.0.0.1:{port}/",
    ]
    where = [text.find(step) for step in steps]
    assert -1 not in where, (where, text[-2000:])
    assert where == sorted(where)
