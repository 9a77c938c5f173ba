"""Exploring the report in Debian's headless Chromium, at desktop and phone width: suggested
follow-ups, section scope, "show in report", shared links and an untrusted `?q=`.

One server and one browser serve the whole module; each test opens its own page. Screenshots
go to OA_SHOTS (default /tmp/ui-shots); a few are kept in docs/screenshots.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from browser_pages import answer_at, ask, open_page, shoot
from helpers import free_port
from opioid_assistant import Settings

pytestmark = pytest.mark.browser

PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
NALOXONE = "What does the report recommend about naloxone?"
SECTION = "Public health solutions"
CITED = "An additional settlement of $13.8 billion with pharmacy chains followed."


@pytest.fixture(scope="module")
def url(index_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free loopback port, over a copy of the session's index."""
    from opioid_assistant import Assistant
    from opioid_assistant.serve.page import launch

    data = tmp_path_factory.mktemp("explore") / "data"
    shutil.copytree(index_settings.data_dir / "chroma", data / "chroma")
    port = free_port()
    demo = launch(Assistant(settings=Settings(data_dir=data)), port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def answer_text(answer: Any) -> tuple[str, list[str]]:
    """An answer's prose and its citation links' texts."""
    prose = " ".join(answer.locator(".oa-answer > p:not(.oa-meta)").all_inner_texts())
    return prose, answer.locator("a.cite").all_inner_texts()


def test_a_suggested_follow_up_asks_it(page: Any, url: str) -> None:
    from playwright.sync_api import expect

    open_page(page, url)
    first = ask(page, PHARMACY, 0)
    buttons = first.locator("button.oa-follow-up")
    assert 2 <= buttons.count() <= 4
    question = buttons.first.inner_text()
    buttons.first.click()
    second = answer_at(page, 1)
    expect(page.locator('[data-testid="user"]').nth(1)).to_have_text(question)
    expect(second.locator(".oa-scope")).to_have_text("Answered from: the whole report")
    assert second.locator("a.cite").count() >= 1  # follow-ups are checked to get a cited answer
    expect(page.locator("#oa-evidence .oa-ev-question")).to_contain_text(question)
    second.locator(".oa-meta").scroll_into_view_if_needed()
    shoot(page, "follow-ups")


def test_a_scoped_answer_shows_only_that_sections_evidence(page: Any, url: str) -> None:
    from playwright.sync_api import expect

    open_page(page, url)
    scope = page.locator("#oa-scope input")
    scope.click()
    scope.fill(SECTION)
    page.get_by_role("option", name=SECTION, exact=True).click()
    expect(scope).to_have_value(SECTION)
    answer = ask(page, NALOXONE, 0)
    expect(answer.locator(".oa-scope")).to_have_text(f"Answered from: {SECTION}")
    expect(answer).to_contain_text("naloxone")
    headings = page.locator("#oa-evidence .oa-passage .oa-section").all_text_contents()
    assert headings, "no evidence passage shown"
    for heading in headings:
        assert heading.startswith(SECTION), heading
    shoot(page, "scoped")


def test_show_in_report_lands_on_the_highlighted_sentence(page: Any, url: str) -> None:
    from playwright.sync_api import expect

    open_page(page, url)
    ask(page, PHARMACY, 0)
    page.locator("#oa-evidence .oa-passage").first.locator("a.oa-show").click()
    highlighted = page.locator(".oa-reader .oa-hl")
    expect(highlighted).to_have_count(1)
    expect(highlighted).to_contain_text(CITED)
    expect(highlighted).to_be_in_viewport()
    colour = highlighted.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(253, 224, 71)"  # #fde047, the highlight
    shoot(page, "show-in-report")

    # Endnote markers: the endnote's text on hover, the source on click.
    marker = highlighted.locator("sup a")
    expect(marker).to_have_text("59")
    assert marker.get_attribute("title").startswith("Brendan Pierson, “CVS, Walmart")
    assert marker.get_attribute("href").startswith("https://www.reuters.com/")
    assert marker.get_attribute("target") == "_blank"

    # The table of contents scrolls to its section.
    page.locator('.oa-reader nav a[href="#sec-border-security-solutions"]').click()
    expect(page.locator("#sec-border-security-solutions")).to_be_in_viewport()


def test_a_copied_link_gives_the_same_answer(page: Any, url: str) -> None:
    from playwright.sync_api import expect

    open_page(page, url)
    first = ask(page, PHARMACY, 0)
    share = first.locator("a.oa-share")
    href = share.get_attribute("href")
    share.click()
    expect(share).to_have_text("Link copied")
    link = url.rstrip("/") + "/" + href
    assert page.evaluate("navigator.clipboard.readText()") == link
    expected = answer_text(first)

    # Another reader (another browser profile: no conversation of theirs is kept) opens it.
    context = page.context.browser.new_context(viewport=page.viewport_size)
    fresh = context.new_page()
    fresh.viewport_name = page.viewport_name
    fresh.goto(link, wait_until="load")
    again = answer_at(fresh, 0)
    assert answer_text(again) == expected
    expect(fresh.locator('[data-testid="user"]')).to_have_text(PHARMACY)
    again.locator("a.cite").scroll_into_view_if_needed()
    shoot(fresh, "shared-link")
    context.close()


def test_script_in_q_is_shown_as_text(page: Any, url: str) -> None:
    from playwright.sync_api import expect

    question = "<script>window.pwned = 1</script><img src=x onerror=window.pwned=2>naloxone?"
    page.goto(url + "?q=" + quote(question), wait_until="load")
    answer_at(page, 0)
    expect(page.locator('[data-testid="user"]')).to_have_text(question)
    assert page.evaluate("window.pwned") is None
    assert page.locator('[data-testid="user"] script, [data-testid="user"] img').count() == 0
    page.locator('[data-testid="user"]').scroll_into_view_if_needed()
    shoot(page, "script-in-q")
    # The server keeps answering.
    ask(page, PHARMACY, 1)
    expect(page.locator('[data-testid="bot"]').nth(1).locator("a.cite")).to_have_text(["[59]"])
