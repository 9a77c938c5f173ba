"""The Evaluation tab: browse the evaluation set, run it, read and compare runs.

A run is the CLI's `eval` command driven from the page: both call
`evaluate.runs.run_evaluation`, which writes run.json, report.md and chart.png under
data_dir/eval-runs/<UTC stamp>/, so runs from either edge can be listed and compared.

The tab's layout is in `eval_layout`. A run costs seconds of CPU and a folder on disk, so the page starts one only when it is
allowed to (a signed-in page, or one served on loopback), one at a time for the whole
server, and keeps the newest `keep_eval_runs` runs.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from opioid_assistant.evaluate import runner as evaluation
from opioid_assistant.evaluate import runs as eval_runs
from opioid_assistant.evaluate.report import category_table, failures, flips_markdown, summary_table
from opioid_assistant.serve.retention import keep_newest

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant
    from opioid_assistant.serve.chat import ChatUI

ALL = "All categories"
COLUMNS = ["id", "category", "question", "required facts", "gold endnotes"]
NO_RUN = "No run yet: start one above, or pick a past run."
RUNS_OFF = (
    "Runs are off on this page: it is open to the network without a token or login. "
    "Serve it with OA_API_TOKEN or --auth, or run `opioid-assistant eval` on the server."
)
BUSY = "An evaluation is already running on this server: wait for it to finish."


def facts_text(required: Sequence[Sequence[str]]) -> str:
    """Required facts as text: alternatives joined by ' / ', facts by '; '."""
    return "; ".join(" / ".join(alternatives) for alternatives in required)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def failure_html(item: Mapping[str, Any], expected: evaluation.EvalItem | None) -> str:
    """One failed item as an HTML card: question, what was expected, the answer, failed checks."""
    facts = facts_text(expected.required_facts) if expected else "?"
    gold = ", ".join(str(n) for n in expected.gold_endnotes) if expected else "?"
    cited = ", ".join(f"[{n}]" for n in item["citations"]) or "none"
    checks = "".join(f'<span class="oa-check">{_esc(c)}</span>' for c in item["failed_checks"])
    return (
        f'<article class="oa-failure" id="failure-{_esc(item["id"])}">'
        f'<p class="oa-failure-head"><code>{_esc(item["id"])}</code> '
        f"<em>{_esc(item['category'])}</em> {checks}</p>"
        f'<p class="oa-failure-q">{_esc(item["question"])}</p>'
        f"<p><strong>Expected:</strong> {_esc(facts or '(an abstention)')}; "
        f"<strong>gold endnotes:</strong> {_esc(gold or 'none')}</p>"
        f"<p><strong>Answer:</strong> {_esc(item['answer'])}</p>"
        f"<p><strong>Cited:</strong> {_esc(cited)}</p></article>"
    )


@dataclass(frozen=True)
class RunView:
    """What the results panel shows of one run."""

    summary: str = NO_RUN  # the headline metrics table (Markdown), system beside baseline
    categories: str = ""  # the per-category table (Markdown)
    chart: str | None = None  # chart.png
    failures: str = ""  # the failed items as HTML cards
    choices: list[tuple[str, str]] = field(default_factory=list)  # (label, id) per failure
    report: str | None = None  # report.md
    data: str | None = None  # run.json


class EvalUI:
    """The handlers behind the Evaluation tab; each can be called directly (tests do)."""

    def __init__(
        self,
        assistant: Assistant,
        chat: ChatUI,
        runs_dir: Path | None = None,
        *,
        evalset: Path | None = None,
        allow_runs: bool = True,
    ):
        """Evaluate `assistant`; open failures in `chat`; keep runs under `runs_dir`.

        Args:
            assistant: The assistant the chat tab uses (its backend is the one evaluated).
            chat: The chat tab's handlers, used to answer an opened failure.
            runs_dir: Where runs are written; default: data_dir/eval-runs.
            evalset: The evaluation set (JSON lines); default: the bundled one.
            allow_runs: Whether `run` may start runs (browsing past runs always works).
        """
        self.assistant = assistant
        self.chat = chat
        self.runs_dir = runs_dir or eval_runs.runs_dir(assistant.settings.data_dir)
        self.items = evaluation.load_evalset(evalset)
        self.by_id = {i.id: i for i in self.items}
        self.allow_runs = allow_runs
        self._running = threading.Lock()  # one run at a time, whichever page starts it
        # The chat's assistant, and at most one copy for another k (each holds an index).
        self._other_k: tuple[int, Assistant] | None = None

    @property
    def categories(self) -> list[str]:
        """The category filter's choices."""
        return [ALL, *dict.fromkeys(i.category for i in self.items)]

    def select(self, category: str | None, query: str | None) -> list[evaluation.EvalItem]:
        """Items of `category` (or all) whose question, id or facts contain `query`."""
        needle = (query or "").strip().lower()
        if category and category != ALL:
            items = [i for i in self.items if i.category == category]
        else:
            items = self.items
        text = {i.id: f"{i.id} {i.question} {facts_text(i.required_facts)}".lower() for i in items}
        return [i for i in items if needle in text[i.id]]

    def filter_rows(self, category: str | None, query: str | None) -> list[list[str]]:
        """The evaluation-set table rows for the filters."""
        return [
            [
                i.id,
                i.category,
                i.question,
                facts_text(i.required_facts),
                ", ".join(str(n) for n in i.gold_endnotes),
            ]
            for i in self.select(category, query)
        ]

    def list_runs(self) -> list[str]:
        """Names of the past run folders (newest first)."""
        return eval_runs.list_runs(self.runs_dir)

    def load(self, name: str) -> dict[str, Any]:
        """The run.json of a past run."""
        return eval_runs.load_run(self.runs_dir, name)

    def _assistant_for(self, k: int) -> Assistant:
        """The assistant retrieving `k` passages: the chat's own, or a copy with top_k=k
        (the last one made is kept for the next run; an older one is dropped)."""
        if k == self.assistant.settings.top_k:
            return self.assistant
        if self._other_k is None or self._other_k[0] != k:
            from opioid_assistant.answer.assistant import Assistant

            settings = self.assistant.settings.model_copy(update={"top_k": k})
            self._other_k = None  # let the old copy go before the new one is built
            self._other_k = (k, Assistant(settings=settings, backend=self.assistant.backend))
        return self._other_k[1]

    def run(
        self,
        category: str | None,
        query: str | None,
        subset: float | None,
        k: float | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio injects it)
    ) -> Iterator[tuple[Any, ...]]:
        """Evaluate the filtered items (`subset` of them, evenly spaced; 0 or None: all) and
        write the run, as the CLI's `eval --limit N` does.

        Yields:
            Status text while it runs (other outputs skipped); at the end the status, the
            `show` outputs of the new run and the three run pickers (shown, A, B).
        """
        items = eval_runs.sample_evenly(self.select(category, query), int(subset or 0))
        skip = (gr.skip(),) * 10
        if not self.allow_runs:
            yield (RUNS_OFF, *skip)
            return
        if not items:
            yield ("No item matches the filters: nothing to run.", *skip)
            return
        if not self._running.acquire(blocking=False):
            yield (BUSY, *skip)
            return
        try:
            yield from self._run(items, k, progress)
        finally:  # also when the run is cancelled (the generator is closed)
            self._running.release()

    def _run(
        self, items: list[evaluation.EvalItem], k: float | None, progress: gr.Progress
    ) -> Iterator[tuple[Any, ...]]:
        skip = (gr.skip(),) * 10
        try:
            assistant = self._assistant_for(int(k or self.assistant.settings.top_k))
        except Exception as e:  # a bad k or a missing index: say so on the page
            yield (f"Could not start the run: {_esc(e)}", *skip)
            return
        # Each item is its own step, so a Cancel takes effect between items.
        for step in eval_runs.run_evaluation(assistant, items, root=self.runs_dir):
            if isinstance(step, eval_runs.WrittenRun):
                out = step.folder
            elif step.system == "baseline":
                progress((step.done, step.total), desc="baseline", unit="items")
                yield (f"Evaluating the baseline: {step.done}/{step.total} items…", *skip)
            else:
                progress((step.done, step.total), desc=f"{step.system}: {step.item}", unit="items")
                yield (f"Evaluating {step.system}: {step.done}/{step.total} items…", *skip)
        keep_newest(self.runs_dir, self.assistant.settings.keep_eval_runs)
        runs = self.list_runs()  # newest first: the new run beside the one before it
        pickers = (out.name, runs[1] if len(runs) > 1 else None, out.name)
        yield (
            f"Run **{out.name}** written to `{out}`.",
            *self.show(out.name),
            *(gr.Dropdown(choices=runs, value=v) for v in pickers),
        )

    def view(self, name: str | None) -> RunView:
        """A past run as plain values (an empty view when there is no such run)."""
        if not name or not (self.runs_dir / name / "run.json").is_file():
            return RunView()
        data = self.load(name)
        runs, meta = data["runs"], data["meta"]
        head = ", ".join(f"{k}: {v}" for k, v in meta.items())
        failed = failures(runs[0])
        cards = "".join(failure_html(i, self.by_id.get(i["id"])) for i in failed)
        title = (
            f"<h4>Failures of {_esc(runs[0]['system'])}: "
            f"{len(failed)} of {len(runs[0]['items'])}</h4>"
        )
        folder = self.runs_dir / name
        return RunView(
            f"**Run {name}** ({head})\n\n{summary_table(runs)}",
            f"#### Per category\n\n{category_table(runs)}",
            str(folder / "chart.png"),
            f'<div class="oa-failures">{title}{cards or "<p>None.</p>"}</div>',
            [(f"{i['id']}: {i['question']}", i["id"]) for i in failed],
            str(folder / "report.md"),
            str(folder / "run.json"),
        )

    def show(self, name: str | None) -> tuple[Any, ...]:
        """`view` as updates of the results panel, in `RunView` field order."""
        v = self.view(name)
        return (
            v.summary,
            v.categories,
            v.chart,
            v.failures,
            gr.Radio(choices=v.choices, value=None),
            gr.DownloadButton(value=v.report, interactive=v.report is not None),
            gr.DownloadButton(value=v.data, interactive=v.data is not None),
        )

    def refresh(self) -> tuple[Any, Any, Any]:
        """Fresh choices for the three run pickers (runs may have been written elsewhere)."""
        runs = self.list_runs()
        return (gr.Dropdown(choices=runs),) * 3

    def compare(self, name_a: str | None, name_b: str | None) -> str:
        """Markdown of the items that flipped between pass and fail from run a to run b."""
        if not name_a or not name_b:
            return "Pick two runs to compare."
        return flips_markdown(name_a, name_b, self.load(name_a), self.load(name_b))

    def open_failure(self, item_id: str | None) -> tuple[Any, ...]:
        """Ask a failed item in the chat (earlier turns first), then switch to the chat tab.

        Returns:
            (tabs update, chat messages, textbox, evidence HTML, session); the textbox is
            left as it is (a question the reader was typing stays).
        """
        item = self.by_id.get(item_id or "")
        if item is None:
            return (gr.skip(),) * 5
        chat: list[Any] = []
        session: dict[str, Any] | None = None
        last: tuple[Any, ...] = ()
        for question in [*item.turns[:-1], item.question]:
            last = list(self.chat.respond(question, chat, session))[-1]
            chat, session = last[0], last[3]
        return (gr.Tabs(selected="chat"), *last)
