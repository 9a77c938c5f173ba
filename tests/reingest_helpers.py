"""Helpers for the re-ingest tests: a changed report, a served app process, a question loop.

Imported as `from reingest_helpers import ...` (tests/ is on sys.path, see helpers.py); the
benchmark script imports it too.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from helpers import CLI, cli_env, free_port

BUNDLED = Path(__file__).parents[1] / "src/opioid_assistant/data/cap-opioid-report-2023.txt"
PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
OLD_SENTENCE = "An additional settlement of $13.8 billion with pharmacy chains followed."
NEW_SENTENCE = "An additional settlement of $13.8 billion with large pharmacy chains followed."


def changed_report(folder: Path) -> Path:
    """A copy of the bundled report with one word added to the pharmacy-settlement sentence."""
    text = BUNDLED.read_text(encoding="utf-8")
    assert text.count("with pharmacy chains followed.59") == 1
    path = folder / "changed-report.txt"
    path.write_text(
        text.replace("with pharmacy chains followed.59", "with large pharmacy chains followed.59"),
        encoding="utf-8",
    )
    return path


@dataclass
class Served:
    """A served app process: its base URL, and its output once it has stopped."""

    base: str
    output: str = ""


@contextmanager
def serving(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Run `opioid-assistant serve --no-ui` on loopback; yield it once it answers /healthz."""
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--no-ui", "--port", str(port)],
        env={**cli_env(data_dir), "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    served = Served(base)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited: {process.communicate()[0][-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not answer /healthz in 180 s")
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield served
    finally:
        process.terminate()
        served.output = process.communicate(timeout=30)[0]


@dataclass
class Asked:
    """One question over HTTP: when it started and ended, its status and its body."""

    started: float
    ended: float
    status: int
    body: dict[str, Any]


@dataclass
class QuestionLoop:
    """Ask one question over and over from a thread until stopped (or `limit` questions)."""

    base: str
    question: str = PHARMACY
    limit: int = 50_000
    asked: list[Asked] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> QuestionLoop:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.stop.is_set() and len(self.asked) < self.limit:
                started = time.monotonic()
                try:
                    reply = client.post(f"{self.base}/v1/ask", json={"question": self.question})
                    status, body = reply.status_code, reply.json()
                except (httpx.HTTPError, ValueError) as e:
                    status, body = 0, {"error": str(e)}
                self.asked.append(Asked(started, time.monotonic(), status, body))

    def finish(self) -> list[Asked]:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout=120)
        return self.asked


def report_sentences(path: Path | None) -> set[str]:
    """The sentence texts of a report file (None: the bundled one)."""
    from opioid_assistant import load_report

    return {s.text for s in load_report(path).sentences}


def check_one_version(asked: Asked, sentences_by_version: dict[str, set[str]]) -> str:
    """Assert an answer's text, citations and evidence all come from its index version."""
    body = asked.body
    version = body["index_version"]
    assert version in sentences_by_version, f"unknown index version {version[:12]}"
    sentences = sentences_by_version[version]
    quoted = [s for e in body["evidence"] for s in e["sentences"]]
    assert quoted and set(quoted) <= sentences, "evidence from another report version"
    assert [c["number"] for c in body["citations"]] == [59]
    expected = NEW_SENTENCE if NEW_SENTENCE in sentences else OLD_SENTENCE
    assert expected[1:-1] in body["text"], body["text"]
    return str(version)


def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 180.0) -> None:
    """Poll `condition` every 0.1 s until it holds; fail saying `what` did not happen in time.

    The deadline is generous on purpose: it bounds a hang, it does not measure speed (the
    benchmarks do that).
    """
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {deadline_s:.0f} s")
        time.sleep(0.1)


def answers_from(loop: QuestionLoop, version: str, after: float = 0.0) -> int:
    """How many of the loop's questions asked after `after` (monotonic) `version` answered."""
    return sum(a.started > after and a.body.get("index_version") == version for a in loop.asked)


def wait_for_switch(loops: list[QuestionLoop], version: str, after: float, settle: int = 3) -> None:
    """Wait until every loop has had `settle` answers from `version` to questions asked after
    `after` (the ingest's end)."""
    wait_for(
        lambda: all(answers_from(loop, version, after) >= settle for loop in loops),
        f"every server answering from the new index {version[:12]}",
    )


def switched_once(asked: list[Asked], old: str, new: str) -> bool:
    """Whether the answers, in the order they were asked, came from `old` and then from `new`,
    each at least once, never going back."""
    versions = [a.body.get("index_version") for a in asked]
    first_new = versions.index(new) if new in versions else 0
    return (
        first_new > 0 and set(versions[:first_new]) == {old} and set(versions[first_new:]) == {new}
    )


def switch_seconds(asked: list[Asked], ingest_ended: float, new_version: str) -> float:
    """Seconds from the ingest's end until every later question got the new version."""
    last_old = max(
        (a.started for a in asked if a.body.get("index_version") != new_version), default=0.0
    )
    first_new_after = min(
        (
            a.ended
            for a in asked
            if a.started > last_old and a.body.get("index_version") == new_version
        ),
        default=float("inf"),
    )
    return max(0.0, first_new_after - ingest_ended)
