"""Liveness that never waits for an answer: /healthz reads a status that a side thread keeps.

The route runs on the event loop and only reads the last status, so a probe is answered
while every answering thread is busy. When the status is older than `max_age_s`, the read
also wakes one thread, started with the monitor, that refreshes it: it counts the active
collection, as a question would find it. The read never starts a thread: `Thread.start`
waits until the new thread has run, and under load that kept the event loop (and every
other probe) waiting up to 150 ms.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant


class Health(BaseModel):
    """Whether the store answers; 503 when it does not."""

    status: Literal["ok", "degraded"]
    index: dict[str, Any] | None = Field(description="The collection answered from, or None.")
    store: str = Field(description="'ok', or why the store cannot be reached.")
    backend: str


def check_health(assistant: Assistant) -> Health:
    """Check that the store answers (a count of the active collection)."""
    collection = assistant.retriever.collection
    try:
        index: dict[str, Any] | None = {"collection": collection.name, "chunks": collection.count()}
        state = "ok"
    except Exception as e:  # a dead server raises several chromadb/httpx types
        index, state = None, f"unreachable: {e}"
    status: Literal["ok", "degraded"] = "ok" if state == "ok" else "degraded"
    return Health(status=status, index=index, store=state, backend=assistant.backend_name)


class HealthMonitor:
    """The last health status, refreshed by a side thread when it is older than `max_age_s`.

    The side thread holds the monitor only while it refreshes, so a monitor (and the
    assistant it checks) that nothing else holds is freed, and its thread ends within
    IDLE_CHECK_S.
    """

    def __init__(self, assistant: Assistant, max_age_s: float = 1.0) -> None:
        self.assistant, self.max_age_s = assistant, max_age_s
        self._status = check_health(assistant)
        self._checked = time.monotonic()
        self.refreshes = 0  # finished by the side thread
        self._wanted = threading.Event()
        threading.Thread(
            target=_refresh_when_wanted,
            args=(weakref.ref(self), self._wanted),
            daemon=True,
            name="oa-health",
        ).start()

    def status(self) -> Health:
        """The last status (never blocks); asks for a refresh when it is stale."""
        if time.monotonic() - self._checked > self.max_age_s and not self._wanted.is_set():
            self._wanted.set()
        return self._status

    def refresh(self) -> None:
        """Check the store now (the side thread's work)."""
        self._status = check_health(self.assistant)
        self._checked = time.monotonic()
        self.refreshes += 1


IDLE_CHECK_S = 30.0


def _refresh_when_wanted(ref: weakref.ref[HealthMonitor], wanted: threading.Event) -> None:
    while True:
        if not wanted.wait(IDLE_CHECK_S):
            if ref() is None:
                return
            continue
        wanted.clear()  # a read during the refresh asks for the next one
        monitor = ref()
        if monitor is None:
            return
        monitor.refresh()
        del monitor
