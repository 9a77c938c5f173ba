"""Liveness that never waits for an answer: /healthz reads a status that a side thread keeps.

The route runs on the event loop and only reads the last status, so a probe is answered
while every answering thread is busy. When the status is older than `max_age_s`, the read
also starts one refresh in its own thread (never more than one at a time); the refresh
counts the active collection, as a question would find it.
"""

from __future__ import annotations

import threading
import time
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
    """The last health status, refreshed in a side thread when it is older than `max_age_s`."""

    def __init__(self, assistant: Assistant, max_age_s: float = 1.0) -> None:
        self.assistant, self.max_age_s = assistant, max_age_s
        self._status = check_health(assistant)
        self._checked = time.monotonic()
        self._refreshing = threading.Lock()

    def status(self) -> Health:
        """The last status (never blocks); starts a refresh when it is stale."""
        if time.monotonic() - self._checked > self.max_age_s and self._refreshing.acquire(
            blocking=False
        ):
            threading.Thread(target=self._refresh, name="oa-health", daemon=True).start()
        return self._status

    def _refresh(self) -> None:
        try:
            self._status = check_health(self.assistant)
            self._checked = time.monotonic()
        finally:
            self._refreshing.release()
