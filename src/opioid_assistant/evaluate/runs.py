"""An evaluation run from start to finish: the one implementation the CLI and the page share.

`run_evaluation` puts the items through the assistant and the tutorial baseline, then writes
run.json, report.md and chart.png into a run folder (data_dir/eval-runs/<UTC stamp> by
default). `sample_evenly` picks N items the same way for both edges; `list_runs` and
`load_run` read the folders back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opioid_assistant.evaluate import runner
from opioid_assistant.evaluate.report import write_run
from opioid_assistant.evaluate.runner import EvalItem, ItemResult

RUNS_DIR = "eval-runs"


def runs_dir(data_dir: Path) -> Path:
    """Where runs are written by default: data_dir/eval-runs."""
    return Path(data_dir) / RUNS_DIR


def sample_evenly(items: Sequence[EvalItem], n: int | None) -> list[EvalItem]:
    """`n` items spread evenly over `items`, so every category is represented.

    Args:
        items: The set (or the rows a filter kept), in order.
        n: How many; None, 0 or at least len(items) means all of them.
    """
    if not n or n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def new_run_folder(root: Path) -> Path:
    """A folder under `root` named for the current UTC time; never one that exists already
    (two runs in one second get "-2", "-3", ...). The folder is not created."""
    stamp = _stamp()
    out, n = root / stamp, 2
    while out.exists():
        out, n = root / f"{stamp}-{n}", n + 1
    return out


@dataclass(frozen=True)
class Progress:
    """How far a run is: `done` of `total` items evaluated by `system` ("baseline" last)."""

    system: str
    done: int
    total: int
    item: str = ""  # the id of the item evaluated next


@dataclass(frozen=True)
class WrittenRun:
    """A finished run: its folder, the files written there, and what run.json holds."""

    folder: Path
    files: dict[str, Path]  # "json", "markdown", "chart"
    runs: list[dict[str, Any]]  # one record per system, the assistant first
    meta: dict[str, Any]


def run_evaluation(
    assistant: Any,
    items: Sequence[EvalItem],
    out: Path | None = None,
    *,
    root: Path | None = None,
    baseline: bool = True,
) -> Iterator[Progress | WrittenRun]:
    """Evaluate `items` with `assistant` (and the tutorial baseline), then write the run.

    Args:
        assistant: An `Assistant`; its backend and top_k are recorded in the run's meta.
        items: The items, already picked (see `sample_evenly`).
        out: The run folder; default: a new folder, named for its UTC stamp, under `root`.
        root: Where new run folders go; default: data_dir/eval-runs.
        baseline: Also run the LangChain-tutorial baseline, side by side.

    Yields:
        A `Progress` before each item of each system (a caller reports it, or stops the run
        between items: nothing is written then), and the `WrittenRun` last.
    """
    settings = assistant.settings
    name = assistant.backend_name
    results: list[ItemResult] = []
    for done, item in enumerate(items):
        yield Progress(name, done, len(items), item.id)
        results += runner.evaluate_assistant(assistant, [item])
    runs = [runner.results_json(name, results)]
    if baseline:
        scored: list[ItemResult] = []
        pending = _baseline(assistant, items)
        for count in range(len(items)):
            yield Progress("baseline", count, len(items), items[count].id)
            scored.append(next(pending))
        scored += pending  # nothing left but dropping the baseline's store
        runs.append(runner.results_json("baseline", scored))
    # Named at the end, as it is written, so runs started in the same second stay apart.
    folder = out or new_run_folder(root or runs_dir(settings.data_dir))
    run_id = folder.name if out is None else _stamp()
    meta = {"backend": name, "k": settings.top_k, "items": len(items), "run": run_id}
    files = write_run(folder, runs, meta)
    yield WrittenRun(folder, files, runs, meta)


def _baseline(assistant: Any, items: Sequence[EvalItem]) -> Iterator[ItemResult]:
    from opioid_assistant.index.embedding import load_embedder
    from opioid_assistant.report.parsing import read_report_text

    settings = assistant.settings
    text = (
        read_report_text(settings.report_path)
        if settings.report_path
        else runner.bundled_report_text()
    )
    embedder = load_embedder(settings.embedding_model, settings.data_dir)
    return runner.baseline_results(text, assistant.report, embedder, items)


def list_runs(root: Path) -> list[str]:
    """Names of the run folders under `root` (those holding a run.json), newest first."""
    if not root.is_dir():
        return []
    return sorted((p.name for p in root.iterdir() if (p / "run.json").is_file()), reverse=True)


def load_run(root: Path, name: str) -> dict[str, Any]:
    """The run.json of the run folder `root/name`."""
    return dict(json.loads((root / name / "run.json").read_text(encoding="utf-8")))
