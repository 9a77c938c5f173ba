"""The Evaluation tab: its handlers on a real index, and the tab in headless Chromium.

The tab is tested on a small fixture set with a scripted model, so what it shows follows
from the fixture, not from how well today's answerer does on the evaluation set.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from helpers import free_port, headless_chromium
from opioid_assistant import Settings
from opioid_assistant.serve.formatting import render_answer, render_question

SHOTS = Path("/tmp/ui-shots")
SETTLEMENT = (
    "Public health solutions > Expand access to evidence-based treatment and recovery services"
)
PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"
# The scripted model's one answer: grounded in the pharmacy-settlement sentence [59].
REPLY = "The report says pharmacy chains agreed to an additional settlement of $13.8 billion [59]."


def item(id_: str, category: str, question: str, facts: list[list[str]], **more: Any) -> dict:
    return {
        "id": id_,
        "category": category,
        "question": question,
        "required_facts": facts,
        "gold_endnotes": [59],
        "gold_section": SETTLEMENT,
        **more,
    }


# A fixture set whose results follow from REPLY, not from how well the answerer does today:
# REPLY states "$13.8 billion" and cites [59], and names neither a year nor a chain, so
# fx-003 and fx-004 fail on their required facts and the others pass (the extractive answer
# that a rejected reply falls back to states the same fact and lacks the same ones).
FIXTURE = [
    item("fx-001", "numeric", PHARMACY, [["$13.8 billion", "13.8 billion"]]),
    item(
        "fx-002",
        "numeric",
        "What did pharmacy chains agree to pay over opioids?",
        [["13.8 billion"]],
    ),
    item(
        "fx-003",
        "numeric",
        "What did the pharmacy chains' settlement total, and when was it reached?",
        [["13.8 billion"], ["2022"]],
    ),
    item("fx-004", "named_entity", "Which pharmacy chains settled for $13.8 billion?", [["CVS"]]),
    item(
        "fx-005",
        "multi_turn",
        "And how much did the pharmacy chains pay after that?",
        [["13.8 billion"]],
        turns=[
            "What did the 2021 opioid settlement involve?",
            "And how much did the pharmacy chains pay after that?",
        ],
    ),
]
NUMERIC = ["fx-001", "fx-002", "fx-003"]


class ScriptedBackend:
    """A ChatBackend that answers every question with REPLY and condenses every follow-up
    to the pharmacy question; it records the prompts it was sent."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        self.calls.append(messages)
        if messages[0]["content"].startswith("Rewrite the last question"):
            yield PHARMACY
        else:
            yield from (REPLY[i : i + 9] for i in range(0, len(REPLY), 9))


def write_fixture(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scripted(index_settings: Settings) -> Any:
    """An Assistant over the session index whose answers come from ScriptedBackend."""
    from opioid_assistant import Assistant

    settings = Settings(data_dir=index_settings.data_dir, follow_ups=0)
    return Assistant(settings=settings, backend=ScriptedBackend())


@pytest.fixture
def eval_ui(scripted: Any, tmp_path: Path) -> Any:
    from opioid_assistant.serve.chat import ChatUI
    from opioid_assistant.serve.eval_tab import EvalUI

    evalset = write_fixture(tmp_path / "fixture.jsonl", FIXTURE)
    return EvalUI(scripted, ChatUI(scripted), runs_dir=tmp_path / "runs", evalset=evalset)


def test_filter_rows_counts_every_category_and_searches(eval_ui: Any) -> None:
    assert eval_ui.categories == ["All categories", "numeric", "named_entity", "multi_turn"]
    assert [r[0] for r in eval_ui.filter_rows("All categories", "")] == [r["id"] for r in FIXTURE]
    assert [r[0] for r in eval_ui.filter_rows("numeric", "")] == NUMERIC
    assert eval_ui.filter_rows("numeric", "")[2] == [
        "fx-003",
        "numeric",
        "What did the pharmacy chains' settlement total, and when was it reached?",
        "13.8 billion; 2022",
        "59",
    ]
    assert eval_ui.filter_rows(None, "$13.8 billion / 13.8")[0][3] == "$13.8 billion / 13.8 billion"
    # The search looks at the id, the question and the required facts, ignoring case.
    assert [r[0] for r in eval_ui.filter_rows(None, "  FX-004 ")] == ["fx-004"]
    assert [r[0] for r in eval_ui.filter_rows(None, "after that")] == ["fx-005"]
    assert [r[0] for r in eval_ui.filter_rows("numeric", "2022")] == ["fx-003"]
    assert [r[0] for r in eval_ui.filter_rows("named_entity", "2022")] == []


def test_run_of_all_matching_rows_writes_the_run_and_shows_it(eval_ui: Any, scripted: Any) -> None:
    outputs = list(eval_ui.run("numeric", "", 0, 6))  # 0 items: every matching row
    # One status per item of each system, counting as it goes, then the results.
    assert [o[0] for o in outputs[:-1]] == [
        *(f"Evaluating scripted: {n}/3 items…" for n in range(3)),
        *(f"Evaluating the baseline: {n}/3 items…" for n in range(3)),
    ]
    status, summary, categories, chart, cards, opener, get_md, get_json, *pickers = outputs[-1]
    (name,) = eval_ui.list_runs()
    folder = eval_ui.runs_dir / name
    assert sorted(p.name for p in folder.iterdir()) == ["chart.png", "report.md", "run.json"]
    assert status == f"Run **{name}** written to `{folder}`."
    data = json.loads((folder / "run.json").read_text("utf-8"))
    assert data["meta"] == {"backend": "scripted", "k": 6, "items": 3, "run": name}
    assert [r["system"] for r in data["runs"]] == ["scripted", "baseline"]
    items = data["runs"][0]["items"]
    assert [i["id"] for i in items] == NUMERIC
    assert [i["answer"] for i in items] == [REPLY] * 3  # the model's answers were kept
    # 3 numeric items, 2 right: accuracy 0.667 (the other columns measure the answerer).
    assert "\n| numeric | 3 | 0.667 | " in categories
    assert [i["citations"] for i in items] == [[59]] * 3
    assert summary.startswith(f"**Run {name}** (backend: scripted, k: 6, items: 3, run: {name})")
    assert "| metric | scripted | baseline |\n" in summary
    assert "\n| answer accuracy | 0.667 |" in summary
    assert chart == str(folder / "chart.png")
    assert (folder / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    question = FIXTURE[2]["question"]
    assert opener.choices == [(f"fx-003: {question}", "fx-003")]
    assert cards.count('<article class="oa-failure"') == 1
    assert "Failures of scripted: 1 of 3" in cards
    assert (
        "<strong>Expected:</strong> 13.8 billion; 2022; <strong>gold endnotes:</strong> 59" in cards
    )
    assert '<span class="oa-check">required facts</span>' in cards
    assert f"<strong>Answer:</strong> {html.escape(REPLY)}" in cards
    # Gradio serves a copy of each file (from its cache) under the original name.
    for button, file in ((get_md, "report.md"), (get_json, "run.json")):
        assert button.value["orig_name"] == file and button.interactive is True
        assert Path(button.value["path"]).read_bytes() == (folder / file).read_bytes()
    assert [(p.value, p.choices) for p in pickers] == [
        (name, [(name, name)]),
        (None, [(name, name)]),
        (name, [(name, name)]),
    ]
    # Showing the run later gives the same panel.
    view = eval_ui.view(name)
    assert (view.summary, view.categories, view.chart, view.failures) == (
        summary,
        categories,
        chart,
        cards,
    )
    assert (view.report, view.data) == (str(folder / "report.md"), str(folder / "run.json"))


def test_run_of_n_items_samples_them_evenly_as_the_cli_does(eval_ui: Any) -> None:
    outputs = list(eval_ui.run("All categories", "", 2, 6))
    assert outputs[-1][0].startswith("Run **")
    data = eval_ui.load(eval_ui.list_runs()[0])
    # 5 rows, 2 of them: every 2.5th row, as `opioid-assistant eval --limit 2`.
    assert [i["id"] for i in data["runs"][0]["items"]] == ["fx-001", "fx-003"]
    assert data["meta"]["items"] == 2


def test_run_with_other_k_uses_a_copy_of_the_assistant(eval_ui: Any, scripted: Any) -> None:
    list(eval_ui.run("named_entity", "", 0, 3))
    data = json.loads((eval_ui.runs_dir / eval_ui.list_runs()[0] / "run.json").read_text())
    assert data["meta"]["k"] == 3 and data["meta"]["items"] == 1
    copy = eval_ui._assistant_for(3)
    assert copy is not scripted and copy.settings.top_k == 3 and scripted.settings.top_k == 6
    assert copy.retriever.k == 3
    assert copy.backend is scripted.backend  # the same model is evaluated
    assert eval_ui._assistant_for(6) is scripted


def test_run_with_no_matching_item_says_so(eval_ui: Any) -> None:
    ((status, *_),) = list(eval_ui.run("numeric", "no such words anywhere", None, 6))
    assert status == "No item matches the filters: nothing to run."
    assert eval_ui.list_runs() == []


def test_open_failure_asks_it_in_the_chat_with_evidence(eval_ui: Any, scripted: Any) -> None:
    question = FIXTURE[3]["question"]
    tabs, chat, box, evidence, session = eval_ui.open_failure("fx-004")
    assert tabs.selected == "chat"
    answer = scripted.ask(question)
    assert answer.text == REPLY
    assert chat == [
        {"role": "user", "content": render_question(question)},
        {"role": "assistant", "content": render_answer(answer)},
    ]
    assert box == gr.skip()  # a question the reader was typing stays in the box
    assert f"Evidence for: <q>{html.escape(question)}</q>" in evidence
    assert [t["question"] for t in session["turns"]] == [question]
    assert [t["index"] for t in session["turns"]] == [1]


def test_open_multi_turn_failure_replays_its_turns(eval_ui: Any) -> None:
    turns = FIXTURE[4]["turns"]
    _, chat, *_, session = eval_ui.open_failure("fx-005")
    assert [t["question"] for t in session["turns"]] == turns
    assert [m["content"] for m in chat[::2]] == [render_question(t) for t in turns]
    assert eval_ui.open_failure("no-such-id") == tuple({"__type__": "update"} for _ in range(5))


def write_run(root: Path, name: str, ids: list[str], failing: set[str]) -> None:
    items = [
        {
            "id": i,
            "question": f"question {i}?",
            "failed_checks": ["required facts"] * (i in failing),
        }
        for i in ids
    ]
    (root / name).mkdir(parents=True)
    run = {"meta": {"run": name}, "runs": [{"system": "extractive", "items": items}]}
    (root / name / "run.json").write_text(json.dumps(run), encoding="utf-8")


def test_past_runs_listed_newest_first_and_flips_compared(eval_ui: Any) -> None:
    ids = ["a-1", "a-2", "a-3", "a-4", "a-5", "a-6"]
    write_run(eval_ui.runs_dir, "20250101T000000Z", ids, {"a-2", "a-3", "a-5"})
    write_run(eval_ui.runs_dir, "20250102T000000Z", [*ids, "a-7"], {"a-3", "a-4", "a-7"})
    (eval_ui.runs_dir / "20250103T000000Z").mkdir()  # no run.json: not a run
    assert eval_ui.list_runs() == ["20250102T000000Z", "20250101T000000Z"]
    from opioid_assistant.evaluate.report import flips

    old, new = (eval_ui.load(n) for n in ("20250101T000000Z", "20250102T000000Z"))
    assert flips(old, new) == {"fixed": ["a-2", "a-5"], "broken": ["a-4"]}
    assert flips(new, old) == {"fixed": ["a-4"], "broken": ["a-2", "a-5"]}
    assert eval_ui.compare("20250101T000000Z", "20250102T000000Z") == (
        "**20250101T000000Z** → **20250102T000000Z**: 2 fixed, 1 broken.\n\n"
        "#### Now pass (failed before)\n\n- `a-2` question a-2?\n- `a-5` question a-5?\n\n"
        "#### Now fail (passed before)\n\n- `a-4` question a-4?"
    )
    assert eval_ui.compare("20250101T000000Z", None) == "Pick two runs to compare."
    choices = [(n, n) for n in eval_ui.list_runs()]
    assert [d.choices for d in eval_ui.refresh()] == [choices] * 3


def test_show_without_a_run(eval_ui: Any) -> None:
    from opioid_assistant.serve.eval_tab import NO_RUN

    summary, categories, chart, cards, opener, get_md, get_json = eval_ui.show(None)
    assert (summary, categories, chart, cards, opener.choices) == (NO_RUN, "", None, "", [])
    assert get_md.interactive is False and get_json.interactive is False


@pytest.fixture
def served(scripted: Any, tmp_path: Path) -> Iterator[str]:
    """The page of the scripted assistant, its Evaluation tab on the fixture set."""
    from opioid_assistant.serve.page import launch

    port = free_port()
    evalset = write_fixture(tmp_path / "fixture.jsonl", FIXTURE)
    demo = launch(scripted, port=port, block=False, evalset=evalset)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def _evaluation_tab(browser: Any, url: str) -> Any:
    """A page at `url` with the Evaluation tab open."""
    page = browser.new_page(viewport={"width": 1400, "height": 1500})
    page.goto(url, wait_until="load")
    page.get_by_role("tab", name="Evaluation").click()
    return page


@pytest.mark.browser
def test_eval_tab_runs_and_opens_a_failure_in_the_chat(
    served: str, index_settings: Settings, tmp_path: Path
) -> None:
    question = FIXTURE[3]["question"]
    with headless_chromium() as browser:
        page = _evaluation_tab(browser, served)
        search = page.locator("#oa-eval-search textarea")
        search.wait_for(timeout=30_000)
        search.fill("pharmacy chains")  # fx-001 .. fx-005; 4 of them: fx-001 .. fx-004
        search.press("Enter")
        page.locator("#oa-eval-table").get_by_text("fx-005").first.wait_for(timeout=30_000)
        page.locator("#oa-eval-subset input").fill("4")
        page.locator("#oa-eval-run").click()
        page.locator("#oa-eval-categories table").first.wait_for(timeout=180_000)
        summary = page.locator("#oa-eval-summary").inner_text()
        assert "items: 4" in summary
        table = page.locator("#oa-eval-categories").inner_text()
        assert "numeric\t3\t0.667" in table
        assert "named_entity\t1\t0.000" in table
        runs = sorted((index_settings.data_dir / "eval-runs").iterdir())
        assert (runs[-1] / "report.md").is_file()
        failures = page.locator("#oa-eval-failures .oa-failure")
        assert failures.count() == 2
        assert [
            "fx-003" in failures.nth(0).inner_text(),
            "fx-004" in failures.nth(1).inner_text(),
        ] == [True, True]
        page.locator("#oa-eval-chart img").wait_for(timeout=30_000)
        shot = tmp_path / "eval-tab.png"
        page.screenshot(path=str(shot), full_page=True)
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SHOTS / "eval-tab.png")

        page.locator("#oa-eval-open").get_by_text("fx-004").click()
        page.locator("#oa-chat").wait_for(state="visible", timeout=60_000)
        user = page.locator('[data-testid="user"]').first
        user.wait_for(timeout=60_000)
        assert user.inner_text().strip() == question
        bot = page.locator('[data-testid="bot"]').first
        bot.locator(".oa-answer:not(.oa-streaming)").wait_for(timeout=60_000)
        assert "$13.8 billion" in bot.inner_text()
        page.locator("#oa-evidence .oa-ev-question").wait_for(timeout=30_000)
        assert question in page.locator("#oa-evidence .oa-ev-question").inner_text()
        chat_shot = tmp_path / "eval-failure-in-chat.png"
        page.screenshot(path=str(chat_shot))
        shutil.copy(chat_shot, SHOTS / "eval-failure-in-chat.png")


@pytest.fixture
def served_small_set(scripted: Any, tmp_path: Path) -> Iterator[str]:
    """The page with a three-item evaluation set (fx-001, fx-002, fx-003)."""
    from opioid_assistant.serve.page import launch

    small = write_fixture(tmp_path / "small.jsonl", FIXTURE[:3])
    port = free_port()
    demo = launch(scripted, port=port, block=False, evalset=small)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.mark.browser
def test_run_evaluation_with_the_defaults_runs_the_whole_set(served_small_set: str) -> None:
    from playwright.sync_api import expect

    with headless_chromium() as browser:
        page = _evaluation_tab(browser, served_small_set)
        items = page.locator("#oa-eval-subset input")
        items.wait_for(timeout=30_000)
        assert items.input_value() == "0"  # untouched: 0 means every row
        expect(page.locator("#oa-eval-subset")).to_contain_text("0 = all rows")
        page.locator("#oa-eval-run").click()
        # The panel may already show an earlier run: wait for this run's status line.
        expect(page.locator("#oa-eval-status")).to_contain_text("written to", timeout=180_000)
        assert "items: 3" in page.locator("#oa-eval-summary").inner_text()
        assert "numeric\t3\t0.667" in page.locator("#oa-eval-categories").inner_text()
        assert page.get_by_text("Error", exact=True).count() == 0


# Every text the status line shows, as the page shows it (a run's statuses come and go fast).
RECORD_STATUS = """() => {
  window.oaStatuses = [];
  const status = document.querySelector('#oa-eval-status');
  new MutationObserver(() => window.oaStatuses.push(status.innerText.trim()))
    .observe(status, {childList: true, subtree: true, characterData: true});
}"""


@pytest.mark.browser
def test_the_run_counter_sits_beside_the_button_and_counts_the_baseline(
    served_small_set: str,
) -> None:
    from playwright.sync_api import expect

    with headless_chromium() as browser:
        page = _evaluation_tab(browser, served_small_set)
        button = page.locator("#oa-eval-run")
        button.wait_for(timeout=30_000)
        page.evaluate(RECORD_STATUS)
        button.click()
        status = page.locator("#oa-eval-status")
        expect(status).to_contain_text("Evaluating", timeout=60_000)
        run, counter = button.bounding_box(), status.bounding_box()
        assert run is not None and counter is not None
        # Beside: to the right of the button, on its line (their vertical spans overlap).
        assert counter["x"] >= run["x"] + run["width"]
        assert (
            counter["y"] < run["y"] + run["height"] and run["y"] < counter["y"] + counter["height"]
        )
        expect(status).to_contain_text("written to", timeout=180_000)
        seen = page.evaluate("window.oaStatuses")
        baseline = [s for s in dict.fromkeys(seen) if s.startswith("Evaluating the baseline")]
        assert baseline == [f"Evaluating the baseline: {n}/3 items…" for n in range(3)], seen
