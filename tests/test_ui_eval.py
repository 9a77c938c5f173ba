"""The Evaluation tab: its handlers on a real index, and the tab in headless Chromium."""

from __future__ import annotations

import html
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import free_port, headless_chromium
from opioid_assistant import Settings
from opioid_assistant.serve.formatting import render_answer, render_question

EVALSET = Path(__file__).resolve().parents[1] / "eval" / "evalset.jsonl"
SHOTS = Path("/tmp/ui-shots")
# The extractive backend abstains on num-010 and passes the other numeric items these tests
# run (num-004, -008, -009, -023, -038 match "fentanyl"; num-012 .. num-018 match "num-01"),
# so each run holds exactly one failure.
FAILING = "num-010"
FENTANYL_NUMERIC = ["num-004", "num-008", "num-009", "num-010", "num-023", "num-038"]


def evalset_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EVALSET.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture
def eval_ui(assistant: Any, tmp_path: Path) -> Any:
    from opioid_assistant.serve.chat import ChatUI
    from opioid_assistant.serve.eval_tab import EvalUI

    return EvalUI(assistant, ChatUI(assistant), runs_dir=tmp_path / "runs")


def test_filter_rows_counts_every_category_and_searches(eval_ui: Any) -> None:
    rows = evalset_rows()
    counts = Counter(r["category"] for r in rows)
    assert len(eval_ui.filter_rows("All categories", "")) == len(rows) == 324
    for category, count in counts.items():
        found = eval_ui.filter_rows(category, "")
        assert len(found) == count, category
        assert {r[1] for r in found} == {category}
    assert eval_ui.categories[0] == "All categories"
    assert set(eval_ui.categories[1:]) == set(counts)
    assert eval_ui.filter_rows("numeric", "")[4] == [
        "num-005",
        "numeric",
        rows[4]["question"],
        "$1 trillion / 1 trillion; annual",
        "11, 12, 13",
    ]
    # The search looks at the id, the question and the required facts.
    fentanyl = [
        r["id"]
        for r in rows
        if "fentanyl" in json.dumps([r["question"], r["required_facts"]]).lower()
    ]
    assert [r[0] for r in eval_ui.filter_rows(None, "  FENTANYL ")] == fentanyl
    assert [r[0] for r in eval_ui.filter_rows("numeric", "fentanyl")] == FENTANYL_NUMERIC
    assert eval_ui.filter_rows("numeric", "no such words anywhere") == []


def test_run_of_all_matching_rows_writes_the_run_and_shows_it(eval_ui: Any) -> None:
    outputs = list(eval_ui.run("numeric", "fentanyl", 0, 6))  # 0 items: every matching row
    # One status per item, one for the baseline, then the results.
    assert [o[0] for o in outputs[:-1]] == [
        *(f"Evaluating extractive: {n}/6 items…" for n in range(6)),
        "Evaluating the baseline on 6 items…",
    ]
    status, summary, categories, chart, cards, opener, get_md, get_json, *pickers = outputs[-1]
    (name,) = eval_ui.list_runs()
    folder = eval_ui.runs_dir / name
    assert sorted(p.name for p in folder.iterdir()) == ["chart.png", "report.md", "run.json"]
    assert status == f"Run **{name}** written to `{folder}`."
    data = json.loads((folder / "run.json").read_text("utf-8"))
    assert data["meta"] == {"backend": "extractive", "k": 6, "items": 6, "run": name}
    assert [r["system"] for r in data["runs"]] == ["extractive", "baseline"]
    assert [i["id"] for i in data["runs"][0]["items"]] == FENTANYL_NUMERIC
    # The per-category table: 6 numeric items, extractive accuracy 0.833 (num-010 fails).
    assert "\n| numeric | 6 | 0.833 | 1.000 |" in categories
    assert summary.startswith(f"**Run {name}** (backend: extractive, k: 6, items: 6, run: {name})")
    assert "| metric | extractive | baseline |\n" in summary
    assert "\n| answer accuracy | 0.833 |" in summary
    assert chart == str(folder / "chart.png")
    assert (folder / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    question = data["runs"][0]["items"][3]["question"]
    assert opener.choices == [(f"{FAILING}: {question}", FAILING)]
    assert cards.count('<article class="oa-failure"') == 1
    assert "Failures of extractive: 1 of 6" in cards
    assert "<strong>Expected:</strong> 1,200; <strong>gold endnotes:</strong> 37" in cards
    assert '<span class="oa-check">abstention</span>' in cards
    assert '<span class="oa-check">no gold endnote cited</span>' in cards
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
    outputs = list(eval_ui.run("numeric", "", 10, 6))
    assert outputs[-1][0].startswith("Run **")
    data = eval_ui.load(eval_ui.list_runs()[0])
    # 41 numeric rows, 10 of them: every 4.1th row, as `opioid-assistant eval --limit 10`.
    expected = ["num-001", "num-005", "num-009", "num-013", "num-017"]
    expected += ["num-021", "num-025", "num-029", "num-033", "num-037"]
    assert [i["id"] for i in data["runs"][0]["items"]] == expected
    assert data["meta"]["items"] == 10


def test_run_with_other_k_uses_a_copy_of_the_assistant(eval_ui: Any, assistant: Any) -> None:
    list(eval_ui.run("recommendation", "", 2, 3))
    data = json.loads((eval_ui.runs_dir / eval_ui.list_runs()[0] / "run.json").read_text())
    assert data["meta"]["k"] == 3 and data["meta"]["items"] == 2
    copy = eval_ui._assistant_for(3)
    assert copy is not assistant and copy.settings.top_k == 3 and assistant.settings.top_k == 6
    assert copy.retriever.k == 3
    assert eval_ui._assistant_for(6) is assistant


def test_run_with_no_matching_item_says_so(eval_ui: Any) -> None:
    ((status, *_),) = list(eval_ui.run("numeric", "no such words anywhere", None, 6))
    assert status == "No item matches the filters: nothing to run."
    assert eval_ui.list_runs() == []


def test_open_failure_asks_it_in_the_chat_with_evidence(eval_ui: Any, assistant: Any) -> None:
    question = next(r["question"] for r in evalset_rows() if r["id"] == FAILING)
    tabs, chat, box, evidence, session = eval_ui.open_failure(FAILING)
    assert tabs.selected == "chat"
    answer = assistant.ask(question)
    assert chat == [
        {"role": "user", "content": render_question(question)},
        {"role": "assistant", "content": render_answer(answer)},
    ]
    assert box == ""
    assert f"Evidence for: <q>{html.escape(question)}</q>" in evidence
    assert [t["question"] for t in session["turns"]] == [question]
    assert [t["index"] for t in session["turns"]] == [1]


def test_open_multi_turn_failure_replays_its_turns(eval_ui: Any) -> None:
    item = next(r for r in evalset_rows() if r["id"] == "mt-006")
    _, chat, *_, session = eval_ui.open_failure("mt-006")
    assert len(item["turns"]) >= 2
    assert [t["question"] for t in session["turns"]] == [*item["turns"][:-1], item["question"]]
    assert len(chat) == 2 * len(item["turns"])
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
def served(assistant: Any) -> Iterator[str]:
    from opioid_assistant.serve.page import launch

    port = free_port()
    demo = launch(assistant, port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.mark.browser
def test_eval_tab_runs_and_opens_a_failure_in_the_chat(
    served: str, index_settings: Settings, tmp_path: Path
) -> None:
    question = next(r["question"] for r in evalset_rows() if r["id"] == FAILING)
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(served, wait_until="load")
        page.get_by_role("tab", name="Evaluation").click()
        search = page.locator("#oa-eval-search textarea")
        search.wait_for(timeout=30_000)
        search.fill("num-01")  # num-010 .. num-019; 5 of them: num-010, -012, ..., -018
        search.press("Enter")
        page.locator("#oa-eval-table").get_by_text("num-019").first.wait_for(timeout=30_000)
        page.locator("#oa-eval-subset input").fill("5")
        page.locator("#oa-eval-run").click()
        page.locator("#oa-eval-categories table").first.wait_for(timeout=180_000)
        summary = page.locator("#oa-eval-summary").inner_text()
        assert "items: 5" in summary
        assert "numeric\t5\t0.800" in page.locator("#oa-eval-categories").inner_text()
        runs = sorted((index_settings.data_dir / "eval-runs").iterdir())
        assert (runs[-1] / "report.md").is_file()
        failure = page.locator("#oa-eval-failures .oa-failure")
        assert failure.count() == 1
        assert FAILING in failure.first.inner_text()
        page.locator("#oa-eval-chart img").wait_for(timeout=30_000)
        shot = tmp_path / "eval-tab.png"
        page.screenshot(path=str(shot), full_page=True)
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SHOTS / "eval-tab.png")

        page.locator("#oa-eval-open").get_by_text(FAILING).click()
        page.locator("#oa-chat").wait_for(state="visible", timeout=60_000)
        user = page.locator('[data-testid="user"]').first
        user.wait_for(timeout=60_000)
        assert user.inner_text().strip() == question
        bot = page.locator('[data-testid="bot"]').first
        bot.locator(".oa-answer:not(.oa-streaming)").wait_for(timeout=60_000)
        page.locator("#oa-evidence .oa-ev-question").wait_for(timeout=30_000)
        assert question in page.locator("#oa-evidence .oa-ev-question").inner_text()
        chat_shot = tmp_path / "eval-failure-in-chat.png"
        page.screenshot(path=str(chat_shot))
        shutil.copy(chat_shot, SHOTS / "eval-failure-in-chat.png")


@pytest.fixture
def served_small_set(assistant: Any, tmp_path: Path) -> Iterator[str]:
    """The page with a three-item evaluation set (num-004, num-008, num-010)."""
    from opioid_assistant.serve.page import launch

    small = tmp_path / "small.jsonl"
    rows = [r for r in evalset_rows() if r["id"] in ("num-004", "num-008", FAILING)]
    small.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    port = free_port()
    demo = launch(assistant, port=port, block=False, evalset=small)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.mark.browser
def test_run_evaluation_with_the_defaults_runs_the_whole_set(served_small_set: str) -> None:
    from playwright.sync_api import expect

    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(served_small_set, wait_until="load")
        page.get_by_role("tab", name="Evaluation").click()
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
