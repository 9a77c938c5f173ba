"""Measure the resident memory of `opioid-assistant serve` after N questions over /v1.

Run: .venv/bin/python eval/benchmark_memory.py [--questions 200]
Serves twice on loopback: with the bundled model (ONNX Runtime), then with a linked copy of the
same model folder, which any path other than the bundled one sends through
sentence-transformers (torch), as every model was embedded before the ONNX embedder. Each
prints VmRSS and VmHWM (peak) of the server process after the questions.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from opioid_assistant.settings import default_embedding_model

EVALSET = Path(__file__).with_name("evalset.jsonl")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def serve_and_ask(env: dict[str, str], questions: list[str]) -> dict[str, int]:
    """Start serve with env, ask every question once, return its memory."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "opioid_assistant.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=60) as http:
            for q in questions:
                body = {"messages": [{"role": "user", "content": q}]}
                http.post("/v1/chat/completions", json=body).raise_for_status()
        return memory_kb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    """Print one line per embedder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=200)
    count = parser.parse_args().questions
    rows = [json.loads(line) for line in EVALSET.read_text().splitlines() if line.strip()]
    questions = [rows[i % len(rows)]["question"] for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(default_embedding_model())
        copy = Path(tmp) / "model"
        for source in model.rglob("*"):
            if source.is_file():
                target = copy / source.relative_to(model)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(source)
        base_env = {**os.environ, "OA_DATA_DIR": str(Path(tmp) / "onnx")}
        runs = {
            "onnxruntime (bundled model)": base_env,
            "sentence-transformers (same model, before)": {
                **base_env,
                "OA_DATA_DIR": str(Path(tmp) / "st"),
                "OA_EMBEDDING_MODEL": str(copy),
            },
        }
        for name, env in runs.items():
            subprocess.run(
                [sys.executable, "-m", "opioid_assistant.cli", "ingest", "--quiet"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            memory = serve_and_ask(env, questions)
            print(
                f"{name:45} after {count} questions: RSS {memory['VmRSS'] / 1024:.0f} MB, "
                f"peak {memory['VmHWM'] / 1024:.0f} MB"
            )


if __name__ == "__main__":
    main()
