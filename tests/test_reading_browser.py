"""The page as a reader uses it, in Debian's headless Chromium at desktop and phone width:
where a new answer lands, what copy gives, dark-mode contrast, a conversation that outlives a
restart, long pastes, feedback and endnotes in place.

One server (restartable) and one browser serve the module; each test opens its own page.
Screenshots go to OA_SHOTS (default /tmp/ui-shots); the ones the README shows are kept in
docs/screenshots.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_pages import answer_at, ask, open_page, settled, shoot, watch_answer_streams
from helpers import free_port
from opioid_assistant import Settings
from opioid_assistant.serve.feedback import current_feedback, read_feedback

pytestmark = pytest.mark.browser

PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
NALOXONE = "What does the report recommend about naloxone?"
PHARMACY_ANSWER = (
    "According to the report, an additional settlement of $13.8 billion with pharmacy chains "
    "followed [59]."
)


class Server:
    """The app on one loopback port over a copy of the session's index; `restart()` stops it
    and serves a new one (a new Assistant) on the same port and data dir."""

    def __init__(self, data: Path):
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.demo: Any = None
        self.start()

    def start(self) -> None:
        from opioid_assistant import Assistant
        from opioid_assistant.serve.page import launch

        assistant = Assistant(settings=Settings(data_dir=self.data))
        self.demo = launch(assistant, port=self.port, block=False)

    def restart(self) -> None:
        self.demo.close()
        self.start()


@pytest.fixture(scope="module")
def server(index_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("reading") / "data"
    shutil.copytree(index_settings.data_dir / "chroma", data / "chroma")
    served = Server(data)
    yield served
    served.demo.close()


def box_of(locator: Any) -> dict[str, float]:
    return dict(locator.evaluate("e => e.getBoundingClientRect().toJSON()"))


def test_a_new_answer_shows_its_first_line(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    open_page(page, server.url)
    ask(page, PHARMACY, 0)
    second = ask(page, NALOXONE, 1)
    first_line = second.locator(".oa-answer > p").first
    expect(first_line).to_be_in_viewport()
    # Its question sits at the top of the chat, and the "Conversation" label above the
    # scrolling messages, never over them.
    question = page.locator('[data-testid="user"]').nth(1)
    expect(question).to_be_in_viewport()
    label = box_of(page.locator('#oa-chat label[data-testid="block-label"]'))
    messages = box_of(page.locator("#oa-chat .panel-wrap"))
    assert label["bottom"] <= messages["top"]
    assert box_of(question)["top"] >= messages["top"]
    shoot(page, "answer-first-line")


def test_a_question_sent_while_an_answer_streams_is_answered_next(
    page: Any, server: Server
) -> None:
    from playwright.sync_api import expect

    open_page(page, server.url)
    box = page.locator("#oa-question textarea")
    box.fill(PHARMACY)
    box.press("Enter")
    # The question is taken (it shows in the chat, the box is empty); the next one is typed
    # and sent at once, while the first answer streams or its event ends.
    expect(page.locator('[data-testid="user"]')).to_have_text([PHARMACY])
    expect(box).to_have_value("")
    box.fill(NALOXONE)
    box.press("Enter")
    expect(answer_at(page, 0).locator("a.cite")).to_have_text(["[59]"])
    expect(page.locator('[data-testid="user"]')).to_have_text([PHARMACY, NALOXONE])
    expect(answer_at(page, 1).locator(".oa-answer > p").first).to_contain_text("naloxone")
    expect(box).to_have_value("")


def test_a_question_whose_answer_never_came_is_back_in_the_box_after_a_reload(
    page: Any, server: Server
) -> None:
    from playwright.sync_api import expect

    open_page(page, server.url)
    # The question never reaches the server (a lost connection: its request hangs; holding
    # the answer stream instead would miss one a load event already has open), and the reader
    # reloads.
    page.route("**/queue/join*", lambda route: None)
    box = page.locator("#oa-question textarea")
    box.fill(NALOXONE)
    box.press("Enter")
    page.wait_for_timeout(500)
    page.unroute("**/queue/join*")
    page.reload(wait_until="load")
    expect(box).to_have_value(NALOXONE)
    expect(page.locator(".oa-interrupted")).to_have_text(
        "Your last question was not answered: the page reloaded or lost its connection first. "
        "It is back in the box: press Enter to ask it again."
    )
    expect(page.locator('[data-testid="bot"]')).to_have_count(0)
    # A second reload before asking keeps it, now as the question being typed.
    page.reload(wait_until="load")
    expect(box).to_have_value(NALOXONE)
    expect(page.locator(".oa-interrupted")).to_have_count(0)
    # Asked again, it is answered; the note goes, and a reload now brings back no question.
    box.press("Enter")
    expect(page.locator(".oa-interrupted")).to_have_count(0)
    expect(answer_at(page, 0).locator(".oa-answer > p").first).to_contain_text("naloxone")
    page.reload(wait_until="load")
    expect(page.locator('[data-testid="bot"]')).to_have_count(1)
    answer_at(page, 0)
    page.wait_for_timeout(1000)  # the draft's restore has had its chance
    expect(box).to_have_value("")
    expect(page.locator(".oa-interrupted")).to_have_count(0)


def test_copy_gives_plain_text_with_citations_and_sources(page: Any, server: Server) -> None:
    open_page(page, server.url)
    answer = ask(page, PHARMACY, 0)
    row = page.locator("#oa-chat .message-row").filter(has=answer)
    row.hover()
    row.locator('button[aria-label="Copy message"]').click()
    copied = page.evaluate("navigator.clipboard.readText()")
    head, sources = copied.split("\n\nSources:\n")
    assert head == PHARMACY_ANSWER
    assert sources.startswith("- [59] Brendan Pierson, “CVS, Walmart, Walgreens agree to pay")
    assert sources.count("https://www.reuters.com/") == 1
    assert "<" not in copied and "Ask next" not in copied and "Copy link" not in copied
    # A screen reader hears the same text.
    assert answer.get_attribute("aria-label") == "Answer: " + copied

    page.locator('#oa-chat button[aria-label="Copy conversation"]').click()
    whole = page.evaluate("navigator.clipboard.readText()")
    assert whole == f"**Q:** {PHARMACY}\n\n{copied}"
    user = page.locator('[data-testid="user"]').first
    assert user.get_attribute("aria-label") == f"Your question: {PHARMACY}"


# WCAG 2 contrast of an element's text against the first opaque background behind it
# (translucent layers blended in), computed in the page.
CONTRAST = """
(el) => {
  const rgba = (s) => { const m = s.match(/[\\d.]+/g).map(Number);
    return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3]));
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const bg = rgba(getComputedStyle(e).backgroundColor);
    if (bg[3] > 0) layers.push(bg);
    if (bg[3] === 1) break;
  }
  let bg = [255, 255, 255];
  for (const layer of layers.reverse()) bg = over(layer, bg);
  const fg = over(rgba(getComputedStyle(el).color), bg);
  const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}
"""


def test_dark_mode_text_passes_wcag_aa(browser: Any, server: Server) -> None:
    from playwright.sync_api import expect

    for viewport in ({"width": 1280, "height": 800}, {"width": 390, "height": 844}):
        context = browser.new_context(viewport=viewport, color_scheme="dark")
        page = context.new_page()
        page.viewport_name = f"{viewport['width']}x{viewport['height']}"
        open_page(page, server.url)
        assert page.evaluate("document.body.classList.contains('dark')")
        answer = ask(page, PHARMACY, 0)
        checked = {
            "citation": answer.locator("a.cite").first,
            "answer text": answer.locator(".oa-answer > p").first,
            "source": answer.locator(".oa-sources li").first,
            "follow-up button": answer.locator("button.oa-follow-up").first,
            "Ask button": page.locator("#oa-ask"),
            "evidence highlight": page.locator("#oa-evidence mark.oa-cited").first,
            "evidence heading": page.locator("#oa-evidence .oa-section").first,
        }
        ratios = {name: el.evaluate(CONTRAST) for name, el in checked.items()}
        answer.locator("a.cite").first.click()  # the endnote's popover and its link
        ratios["endnote popover"] = page.locator(".oa-popover .oa-pop-title").evaluate(CONTRAST)
        ratios["popover link"] = page.locator(".oa-popover .oa-pop-source a").evaluate(CONTRAST)
        page.keyboard.press("Escape")
        answer.get_by_role("button", name="Helpful", exact=True).click()
        thanks = answer.locator(".oa-fb-status.oa-fb-saved")
        expect(thanks).to_have_text("Thanks: your feedback (up) was saved.")
        ratios["feedback confirmation"] = thanks.evaluate(CONTRAST)
        page.locator("#oa-evidence a.oa-show").first.click()
        highlighted = page.locator(".oa-reader .oa-hl")
        expect(highlighted).to_be_in_viewport()
        ratios["report highlight"] = highlighted.evaluate(CONTRAST)
        shoot(page, "dark-report")
        assert {name: r for name, r in ratios.items() if r < 4.5} == {}, ratios
        page.locator('button[role="tab"]', has_text="Chat").click()
        page.locator("#oa-evidence mark.oa-cited").first.scroll_into_view_if_needed()
        shoot(page, "dark-evidence")
        context.close()


def test_the_conversation_survives_a_server_restart(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    watch_answer_streams(page)
    open_page(page, server.url)
    ask(page, PHARMACY, 0)
    draft = "And what did the distributors pay?"
    page.locator("#oa-question textarea").fill(draft)
    page.evaluate("window.oaSamePage = true")
    settled(page)  # the first answer's event has ended, and left the typed question alone
    expect(page.locator("#oa-question textarea")).to_have_value(draft)
    server.restart()
    # The page carries on against the new server without reloading: the conversation (kept
    # in the browser) is the follow-up's history.
    page.locator("#oa-question textarea").press("Enter")
    second = answer_at(page, 1)
    expect(second.locator("a.cite")).to_have_text(["[58]"])
    assert page.evaluate("window.oaSamePage") is True

    # A reload after another restart shows the conversation and the typed question again.
    page.locator("#oa-question textarea").fill(NALOXONE)
    settled(page)
    server.restart()
    page.reload(wait_until="load")
    expect(page.locator('[data-testid="user"]')).to_have_text([PHARMACY, draft])
    restored = answer_at(page, 1)
    expect(restored.locator("a.cite")).to_have_text(["[58]"])
    expect(page.locator('[data-testid="bot"]').first.locator("a.cite")).to_have_text(["[59]"])
    expect(page.locator("#oa-question textarea")).to_have_value(NALOXONE)
    expect(page.locator("#oa-evidence mark.oa-cited").first).to_contain_text("$26 billion")
    shoot(page, "restored")
    # Clearing the conversation clears what the browser keeps.
    page.locator("#oa-clear").click()
    expect(page.locator('[data-testid="bot"]')).to_have_count(0)
    page.reload(wait_until="load")
    open_page(page, server.url)
    page.wait_for_timeout(2000)  # the restore event has had its chance
    expect(page.locator('[data-testid="bot"]')).to_have_count(0)


PASTE_CONTEXT = (
    "States sued the companies that made, shipped and sold opioids, and many of those "
    "lawsuits were settled. "
)


def test_a_long_paste_is_answered_and_an_empty_question_only_hints(
    page: Any, server: Server
) -> None:
    from playwright.sync_api import expect

    open_page(page, server.url)
    page.locator("#oa-ask").click()
    expect(page.locator(".toast-body")).to_contain_text("Type a question about the report first")
    expect(page.locator('[data-testid="bot"], [data-testid="user"]')).to_have_count(0)

    paste = PASTE_CONTEXT * 47 + PHARMACY
    assert len(paste) == 4946
    answer = ask(page, paste, 0)
    expect(answer.locator(".oa-notice")).to_have_text(
        "Your question was 4,946 characters, over the limit of 2,000: the last question in "
        "it, with the context before it that fits, was used."
    )
    expect(answer.locator("a.cite")).to_have_text(["[58]"])
    expect(answer.locator(".oa-answer > p").first).to_be_in_viewport()
    header = page.locator("#oa-evidence .oa-ev-question q").inner_text()
    assert len(header) == 200 and header.startswith("…") and header.endswith(PHARMACY)
    shoot(page, "long-paste")


THIRD_WAVE = "When did the third wave of the opioid epidemic begin?"
CDC_URL = "https://www.cdc.gov/opioids/basics/epidemic.html"
CDC_EPIDEMIC = (
    f"Centers for Disease Control and Prevention, “Understanding the Epidemic,” available at "
    f"{CDC_URL} (last accessed June 2023)."
)


def test_an_endnote_opens_in_place_with_its_original_source(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    open_page(page, server.url)
    answer = ask(page, THIRD_WAVE, 0)
    cites = answer.locator("a.cite")
    expect(cites).to_have_text(["[45]", "[46]"])
    # Endnote 45 is "Ibid." after "Ibid." (44) after 43: its source is 43's, the URL once.
    first = answer.locator(".oa-sources li").first
    expect(first).to_have_text(f"[45] Ibid. (= endnote 43: {CDC_EPIDEMIC})")
    expect(first.locator("a")).to_have_count(1)
    expect(first.locator("a")).to_have_text(CDC_URL)

    tabs = len(page.context.pages)
    cites.first.click()
    popover = page.locator(".oa-popover")
    expect(popover).to_be_in_viewport()
    expect(popover.locator(".oa-pop-title")).to_have_text("Endnote 45")
    expect(popover.locator(".oa-pop-source")).to_have_text(f"Ibid. (= endnote 43: {CDC_EPIDEMIC})")
    link = popover.locator(".oa-pop-source a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", CDC_URL)
    expect(page.locator("#oa-evidence mark.oa-active")).to_contain_text("The third wave")
    assert len(page.context.pages) == tabs  # nothing opened in a new tab
    assert page.url == server.url  # nor left the page
    shoot(page, "endnote-popover")

    # Escape closes it; "Show in report" opens the reader at the endnote.
    page.keyboard.press("Escape")
    expect(popover).to_have_count(0)
    cites.first.click()
    popover.get_by_text("Show in report").click()
    expect(popover).to_have_count(0)
    note = page.locator(".oa-reader #rn-45")
    expect(note).to_have_class("oa-hl")
    expect(note).to_be_in_viewport()
    expect(note).to_have_text("Ibid.")
    assert len(page.context.pages) == tabs


def test_feedback_takes_a_comment_after_the_thumbs_and_confirms_beside_them(
    page: Any, server: Server
) -> None:
    from playwright.sync_api import expect

    log = server.data / "feedback.jsonl"
    lines, records = len(read_feedback(log)), len(current_feedback(log))
    open_page(page, server.url)
    answer = ask(page, PHARMACY, 0)
    form = answer.locator(".oa-feedback")
    helpful = form.get_by_role("button", name="Helpful", exact=True)
    box = form.get_by_role("textbox", name="Comment on this answer")
    expect(box).to_be_hidden()  # the comment box opens with the thumbs
    helpful.click()
    status = form.locator(".oa-fb-status")
    expect(status).to_have_text("Thanks: your feedback (up) was saved.")
    expect(helpful).to_have_attribute("aria-pressed", "true")
    # The confirmation sits beside the thumbs, on their line, in view.
    thumb, said = box_of(helpful), box_of(status)
    assert said["top"] < thumb["bottom"] and thumb["top"] < said["bottom"]
    assert said["left"] > thumb["right"]
    expect(status).to_be_in_viewport()

    # A comment typed after the click is saved to the same feedback.
    box.fill("Name the three pharmacy chains.")
    form.get_by_role("button", name="Save comment").click()
    expect(status).to_have_text("Thanks: your feedback (up) and your comment were saved.")
    shoot(page, "feedback")
    new = read_feedback(log)[lines:]
    assert [(r["rating"], r["comment"]) for r in new] == [
        ("up", ""),
        ("up", "Name the three pharmacy chains."),
    ]
    assert new[0]["id"] == new[1]["id"]
    (current,) = current_feedback(log)[records:]  # one feedback, now with its comment
    assert (current["question"], current["comment"]) == (PHARMACY, new[1]["comment"])
    assert [c["number"] for c in current["citations"]] == [59]

    # The form keeps its state while the chat changes (another answer streams in).
    second = ask(page, NALOXONE, 1)
    expect(second.locator(".oa-feedback .oa-fb-status")).to_have_text("")
    expect(box).to_have_value("Name the three pharmacy chains.")
    expect(status).to_have_text("Thanks: your feedback (up) and your comment were saved.")
    assert page.locator("#oa-chat .oa-feedback").count() == 2
