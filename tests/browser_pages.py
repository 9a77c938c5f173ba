"""Driving the served page in headless Chromium: the steps the browser tests share (their
`browser` and `page` fixtures, a page at each of VIEWPORTS, are in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

SHOTS = Path(os.environ.get("OA_SHOTS", "/tmp/ui-shots"))
VIEWPORTS = [
    pytest.param({"width": 1280, "height": 800}, id="1280x800"),
    pytest.param({"width": 390, "height": 844}, id="390x844"),
]


def open_page(page: Any, url: str) -> None:
    """Open the page and wait until its scripts have run (they run in one call, see
    `combined_js`, so the reading script's `oaPlainText` marks them all): a question typed
    before then would miss the handlers that keep it."""
    page.goto(url, wait_until="load")
    page.locator("#oa-question textarea").wait_for()
    page.wait_for_function("() => window.oaPlainText !== undefined")


def answer_at(page: Any, index: int) -> Any:
    """The bot message `index` once it is final (its footer with the scope is there)."""
    answer = page.locator('[data-testid="bot"]').nth(index)
    answer.locator(".oa-meta").wait_for(state="attached", timeout=60_000)
    return answer


def ask(page: Any, question: str, index: int) -> Any:
    box = page.locator("#oa-question textarea")
    box.fill(question)
    box.press("Enter")
    return answer_at(page, index)


def watch_answer_streams(page: Any) -> None:
    """Count the page's open answer streams (Gradio's queue/data requests) on `page.streams`."""
    page.streams = set()

    def opened(request: Any) -> None:
        if "/queue/data" in request.url:
            page.streams.add(request)

    def ended(request: Any) -> None:
        page.streams.discard(request)

    page.on("request", opened)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)


def settled(page: Any, timeout_ms: int = 30_000) -> None:
    """Wait until no answer stream is open: the events behind the answers shown have ended, so
    a server stopped now interrupts nothing (the final answer shows a moment before its event
    ends; a stop in between is a lost connection mid-answer, after which Gradio reloads)."""
    for _ in range(timeout_ms // 50):
        if not page.streams:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"{len(page.streams)} answer streams still open after {timeout_ms} ms")


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{page.viewport_name}.png"))
