"""The Evaluation tab: browse the evaluation set, run it, read and compare runs.

A run is the CLI's `eval` command driven from the page: both call
`evaluate.runs.run_evaluation`, which writes run.json, report.md and chart.png under
data_dir/eval-runs/<UTC stamp>/, so runs from either edge can be listed and compared.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from opioid_assistant.evaluate import runner as evaluation
from opioid_assistant.evaluate import runs as eval_runs
from opioid_assistant.evaluate.report import category_table, failures, flips_markdown, summary_table

if TYPE_CHECKING:
    from opioid_assistant.answer.assistant import Assistant
    from opioid_assistant.serve.chat import ChatUI

ALL = "All categories"
COLUMNS = ["id", "category", "question", "required facts", "gold endnotes"]
NO_RUN = "No run yet: start one above, or pick a past run."
CSS = """
.oa-failure { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .4em .7em; margin: .5em 0; font-size: .92em; }
.oa-failure p { margin: .2em 0; overflow-wrap: anywhere; }
.oa-failure-q { font-weight: 600; }
.oa-check { background: #fee2e2; color: #991b1b; border-radius: 4px; padding: 0 .4em;
  margin-left: .3em; font-size: .85em; }
"""


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
    ):
        """Evaluate `assistant`; open failures in `chat`; keep runs under `runs_dir`.

        Args:
            assistant: The assistant the chat tab uses (its backend is the one evaluated).
            chat: The chat tab's handlers, used to answer an opened failure.
            runs_dir: Where runs are written; default: data_dir/eval-runs.
            evalset: The evaluation set (JSON lines); default: the bundled one.
        """
        self.assistant = assistant
        self.chat = chat
        self.runs_dir = runs_dir or eval_runs.runs_dir(assistant.settings.data_dir)
        self.items = evaluation.load_evalset(evalset)
        self.by_id = {i.id: i for i in self.items}
        self._by_k: dict[int, Assistant] = {assistant.settings.top_k: assistant}

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
        """The assistant retrieving `k` passages: the chat's own, or a copy with top_k=k."""
        if k not in self._by_k:
            from opioid_assistant.answer.assistant import Assistant

            settings = self.assistant.settings.model_copy(update={"top_k": k})
            self._by_k[k] = Assistant(settings=settings, backend=self.assistant.backend)
        return self._by_k[k]

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
        if not items:
            yield ("No item matches the filters: nothing to run.", *skip)
            return
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
                progress((0, step.total), desc="baseline", unit="items")
                yield (f"Evaluating the baseline on {step.total} items…", *skip)
            else:
                progress((step.done, step.total), desc=f"{step.system}: {step.item}", unit="items")
                yield (f"Evaluating {step.system}: {step.done}/{step.total} items…", *skip)
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
            (tabs update, chat messages, textbox, evidence HTML, session, export path).
        """
        item = self.by_id.get(item_id or "")
        if item is None:
            return (gr.skip(),) * 6
        chat: list[Any] = []
        session: dict[str, Any] | None = None
        last: tuple[Any, ...] = ()
        for question in [*item.turns[:-1], item.question]:
            last = list(self.chat.respond(question, chat, session))[-1]
            chat, session = last[0], last[3]
        return (gr.Tabs(selected="chat"), *last)


def _evalset_section(ui: EvalUI) -> tuple[Any, Any]:
    """The filterable evaluation-set table; returns (category, search box)."""
    with gr.Accordion("Evaluation set", open=True):
        with gr.Row():
            category = gr.Dropdown(ui.categories, value=ALL, label="Category", scale=1)
            query = gr.Textbox(
                label="Search (press Enter)",
                placeholder="words in the question, id or facts",
                scale=2,
                elem_id="oa-eval-search",
            )
        table = gr.Dataframe(
            ui.filter_rows(ALL, ""),
            headers=COLUMNS,
            interactive=False,
            wrap=True,
            max_height=300,
            column_widths=["9%", "12%", "49%", "20%", "10%"],
            elem_id="oa-eval-table",
        )
    for trigger in (category.change, query.submit):
        trigger(ui.filter_rows, [category, query], [table], api_visibility="private")
    return category, query


def _results_section(v: RunView) -> list[Any]:
    """The results panel, filled with `v`; returns its components in `RunView` order."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=360):
            summary = gr.Markdown(v.summary, elem_id="oa-eval-summary")
            with gr.Row():
                get_md = gr.DownloadButton("Report (Markdown)", v.report, size="sm")
                get_json = gr.DownloadButton("Run (JSON)", v.data, size="sm")
        with gr.Column(scale=1, min_width=320):
            opener = gr.Radio(
                v.choices,
                label="Open a failure in the chat (asks it afresh, with its evidence)",
                elem_id="oa-eval-open",
            )
            failed = gr.HTML(
                v.failures, css_template=CSS, max_height=520, elem_id="oa-eval-failures"
            )
    categories = gr.Markdown(v.categories, elem_id="oa-eval-categories")
    chart = gr.Image(
        v.chart,
        show_label=False,
        type="filepath",
        interactive=False,
        height=400,
        elem_id="oa-eval-chart",
    )
    return [summary, categories, chart, failed, opener, get_md, get_json]


def build_eval_tab(ui: EvalUI, tabs: gr.Tabs, chat_outputs: Sequence[Any]) -> None:
    """Add the Evaluation tab inside `tabs` (call within its `with`) and wire its events.

    Args:
        ui: The tab's handlers.
        tabs: The page's gr.Tabs; an opened failure switches it to the tab with id "chat".
        chat_outputs: The chat's [chatbot, textbox, evidence, session, export button].
    """
    runs = ui.list_runs()
    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Tab("Evaluation", id="evaluation", elem_id="oa-eval-tab") as tab:
        category, query = _evalset_section(ui)
        with gr.Row(equal_height=True):
            name = ui.assistant.backend_name
            info = "The chat's backend; set OA_LLM_BACKEND and restart to evaluate another."
            gr.Dropdown([name], value=name, label="Backend", interactive=False, info=info)
            top_k = ui.assistant.settings.top_k
            k = gr.Number(top_k, label="k (passages retrieved)", precision=0, minimum=1, maximum=50)
            subset = gr.Number(
                0,
                label="Items: N rows of the table, evenly spaced (0 = all rows)",
                precision=0,
                minimum=0,
                elem_id="oa-eval-subset",
            )
        with gr.Row():
            start = gr.Button("Run evaluation", variant="primary", elem_id="oa-eval-run")
            cancel = gr.Button("Cancel", variant="stop", scale=0, min_width=140)
        status = gr.Markdown("", elem_id="oa-eval-status")
        pick = gr.Dropdown(runs, value=runs[0] if runs else None, label="Showing run")
        view = _results_section(ui.view(runs[0] if runs else None))
        with gr.Accordion("Compare two runs", open=False):
            with gr.Row():
                run_a = gr.Dropdown(runs, value=runs[1] if len(runs) > 1 else None, label="Run A")
                run_b = gr.Dropdown(runs, value=runs[0] if runs else None, label="Run B")
                compare = gr.Button("Compare", scale=0, elem_id="oa-eval-compare")
            flipped = gr.Markdown("", elem_id="oa-eval-flips")
    running = start.click(
        ui.run,
        [category, query, subset, k],
        [status, *view, pick, run_a, run_b],
        concurrency_id="evaluation",  # its own queue slot: chat users are never blocked
        concurrency_limit=1,
        **private,
    )
    cancel.click(
        lambda: "Cancelled: no run was written.", None, [status], cancels=[running], **private
    )
    tab.select(ui.refresh, None, [pick, run_a, run_b], **private)
    pick.input(ui.show, [pick], view, **private)
    compare.click(ui.compare, [run_a, run_b], [flipped], **private)
    view[4].select(ui.open_failure, [view[4]], [tabs, *chat_outputs], **private)
