"""One way to run and write an evaluation: the CLI's `eval` and the Evaluation tab share it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opioid_assistant import Settings
from opioid_assistant.evaluate.runner import load_evalset
from opioid_assistant.evaluate.runs import (
    Progress,
    WrittenRun,
    list_runs,
    new_run_folder,
    run_evaluation,
    sample_evenly,
)

EVALSET = Path(__file__).resolve().parents[1] / "eval" / "evalset.jsonl"
SMALL = ["num-004", "num-008", "num-009", "num-010"]


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    """Four numeric items of the evaluation set, in its order."""
    lines = EVALSET.read_text("utf-8").splitlines()
    kept = [line for line in lines if line.strip() and json.loads(line)["id"] in SMALL]
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def test_sample_evenly_spreads_n_items_over_the_set(small_set: Path) -> None:
    items = load_evalset(small_set)
    assert [i.id for i in sample_evenly(items, 2)] == ["num-004", "num-009"]
    assert [i.id for i in sample_evenly(items, 3)] == ["num-004", "num-008", "num-009"]
    for everything in (None, 0, 4, 50):
        assert [i.id for i in sample_evenly(items, everything)] == SMALL
    # The bundled set, 10 of 324: every 32.4th item, from 9 categories (the first N would
    # all be numeric).
    picked = sample_evenly(load_evalset(), 10)
    assert [i.id for i in picked] == [
        "num-001",
        "num-033",
        "ent-024",
        "src-019",
        "rec-020",
        "mt-019",
        "adv-008",
        "syn-026",
        "cas-028",
        "abs-001",
    ]
    assert len({i.category for i in picked}) == 9


def test_new_run_folders_never_collide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opioid_assistant.evaluate import runs

    monkeypatch.setattr(runs, "_stamp", lambda: "20250101T000000Z")  # three runs in one second
    names = []
    for _ in range(3):
        folder = new_run_folder(tmp_path)
        folder.mkdir()
        names.append(folder.name)
    assert names == ["20250101T000000Z", "20250101T000000Z-2", "20250101T000000Z-3"]


def test_run_evaluation_reports_each_step_and_writes_the_run(
    assistant: Any, small_set: Path, tmp_path: Path
) -> None:
    items = sample_evenly(load_evalset(small_set), 2)
    steps = list(run_evaluation(assistant, items, root=tmp_path / "runs"))
    assert steps[:-1] == [
        Progress("extractive", 0, 2, "num-004"),
        Progress("extractive", 1, 2, "num-009"),
        Progress("baseline", 0, 2, "num-004"),  # the baseline counts its items too
        Progress("baseline", 1, 2, "num-009"),
    ]
    written = steps[-1]
    assert isinstance(written, WrittenRun)
    assert list_runs(tmp_path / "runs") == [written.folder.name]
    assert sorted(p.name for p in written.folder.iterdir()) == [
        "chart.png",
        "report.md",
        "run.json",
    ]
    data = json.loads(written.files["json"].read_text("utf-8"))
    assert data["meta"] == {"backend": "extractive", "k": 6, "items": 2, "run": written.folder.name}
    assert [r["system"] for r in data["runs"]] == ["extractive", "baseline"]
    assert [i["id"] for i in data["runs"][0]["items"]] == ["num-004", "num-009"]


def test_cli_and_tab_run_the_same_items_and_write_the_same_files(
    assistant: Any,
    index_settings: Settings,
    small_set: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from opioid_assistant.cli import main
    from opioid_assistant.serve.chat import ChatUI
    from opioid_assistant.serve.eval_tab import EvalUI

    monkeypatch.setenv("OA_DATA_DIR", str(index_settings.data_dir))
    out = tmp_path / "cli-run"
    assert main(["eval", "--set", str(small_set), "--limit", "3", "--out", str(out)]) == 0
    assert f"wrote {out / 'report.md'}, {out / 'run.json'}, {out / 'chart.png'}" in (
        capsys.readouterr().out
    )
    tab = EvalUI(assistant, ChatUI(assistant), runs_dir=tmp_path / "tab", evalset=small_set)
    list(tab.run("All categories", "", 3, 6))
    (name,) = tab.list_runs()
    cli_run = json.loads((out / "run.json").read_text("utf-8"))
    tab_run = tab.load(name)
    for run in (cli_run, tab_run):
        assert [[i["id"] for i in r["items"]] for r in run["runs"]] == [
            ["num-004", "num-008", "num-009"]
        ] * 2
        assert {k: v for k, v in run["meta"].items() if k != "run"} == {
            "backend": "extractive",
            "k": 6,
            "items": 3,
        }
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in (tab.runs_dir / name).iterdir()
    )
