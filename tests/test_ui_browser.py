"""The chat page in Debian's headless Chromium: citations, evidence panel, follow-up, feedback."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import free_port, headless_chromium
from opioid_assistant import Settings

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/ui-shots")
PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
FOLLOW_UP = "And what did the distributors pay?"
REUTERS = "https://www.reuters.com/"


@pytest.fixture(scope="module")
def served(
    index_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The app on a free loopback port; yields its URL and the feedback log path.

    It works on a copy of the session's index, so its feedback log is its own.
    """
    import shutil

    from opioid_assistant import Assistant
    from opioid_assistant.serve.page import launch

    data = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(index_settings.data_dir / "chroma", data / "chroma")
    settings = Settings(data_dir=data)
    port = free_port()
    demo = launch(Assistant(settings=settings), port=port, block=False)
    yield f"http://127.0.0.1:{port}/", settings.data_dir / "feedback.jsonl"
    demo.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with headless_chromium() as browser:
        yield browser


def ask(page: Any, question: str, answers_before: int) -> Any:
    """Type a question, wait for the answer with a citation link; return that bot message."""
    box = page.locator("#oa-question textarea")
    box.fill(question)
    box.press("Enter")
    answer = page.locator('[data-testid="bot"]').nth(answers_before)
    answer.locator("a.cite").first.wait_for(timeout=60_000)
    return answer


def shoot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / name)


def last_feedback(path: Path, count: int, timeout: float = 15.0) -> dict[str, Any]:
    """Wait until the log has `count` lines; return the last one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) >= count:
                return dict(json.loads(lines[-1]))
        time.sleep(0.1)
    raise AssertionError(f"no feedback line {count} in {path} after {timeout} s")


def test_chat_page_end_to_end(served: tuple[str, Path], browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    url, feedback_file = served
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(url, wait_until="load")
    page.locator("#oa-question textarea").wait_for()
    expect(page.locator("#oa-header")).to_contain_text("Backend: extractive")

    answer = ask(page, PHARMACY, 0)
    cite = answer.locator("a.cite")
    expect(cite).to_have_count(1)
    expect(cite).to_have_text("[59]")
    assert cite.get_attribute("href") == "#endnote-59"
    assert cite.get_attribute("target") is None
    assert cite.get_attribute("title").startswith("Brendan Pierson, “CVS, Walmart, Walgreens")
    expect(answer.locator(".oa-sources")).to_contain_text("Sources")
    expect(answer.locator(".oa-sources li")).to_contain_text("[59] Brendan Pierson")

    # The click opens the endnote in place and highlights the cited sentence.
    cite.click()
    expect(page.locator(".oa-popover .oa-pop-source a")).to_have_attribute(
        "href", re.compile("^" + re.escape(REUTERS))
    )
    assert len(page.context.pages) == 1
    active = page.locator("#oa-evidence mark.oa-active")
    expect(active).to_have_text(
        "An additional settlement of $13.8 billion with pharmacy chains followed."
    )
    expect(active).to_be_in_viewport()
    shoot(page, tmp_path, "desktop-1280x800.png")

    second = ask(page, FOLLOW_UP, 1)
    expect(page.locator('[data-testid="bot"]')).to_have_count(2)
    expect(second.locator("a.cite")).to_have_text(["[58]"])
    expect(second).to_contain_text("$26 billion")

    dislikes = page.locator('#oa-chat button[aria-label="Not helpful"]')
    expect(dislikes).to_have_count(2)  # one per answer
    dislikes.last.click()
    second.locator(".oa-feedback textarea").fill("Which distributors?")
    second.locator(".oa-fb-save").click()
    record = last_feedback(feedback_file, 2)
    assert record["rating"] == "down"
    assert record["comment"] == "Which distributors?"
    assert record["question"] == FOLLOW_UP
    assert [c["number"] for c in record["citations"]] == [58]
    expect(second.locator(".oa-fb-status")).to_have_text(
        "Thanks: your feedback (down) and your comment were saved."
    )
    shoot(page, tmp_path, "desktop-after-feedback-1280x800.png")

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    shoot(page, tmp_path, "mobile-390x844.png")
    page.locator("#oa-evidence").scroll_into_view_if_needed()
    shoot(page, tmp_path, "mobile-evidence-390x844.png")


def test_abstained_answer_in_the_page(
    served: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(served[0], wait_until="load")
    box = page.locator("#oa-question textarea")
    box.wait_for()
    box.fill("Who won the World Cup in 2022? <b>bold</b>")
    box.press("Enter")
    answer = page.locator('[data-testid="bot"] .oa-abstained')
    answer.wait_for(timeout=60_000)
    expect(answer.locator(".oa-label")).to_have_text("Not in the report:")
    expect(answer).to_contain_text("The report does not mention World Cup. Its sections are")
    expect(page.locator('[data-testid="user"]')).to_contain_text("<b>bold</b>")
    shoot(page, tmp_path, "abstained-1280x800.png")
    page.locator("#oa-clear").click()
    expect(page.locator('[data-testid="bot"]')).to_have_count(0)
