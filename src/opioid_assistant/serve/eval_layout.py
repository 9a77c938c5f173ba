"""The Evaluation tab's layout: the evaluation set, the run controls, the results panel and
run comparison, wired to the handlers of `eval_tab.EvalUI`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from opioid_assistant.serve.eval_tab import ALL, COLUMNS, RUNS_OFF, EvalUI, RunView

CSS = """
.oa-failure { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .4em .7em; margin: .5em 0; font-size: .92em; }
.oa-failure p { margin: .2em 0; overflow-wrap: anywhere; }
.oa-failure-q { font-weight: 600; }
.oa-check { background: #fee2e2; color: #991b1b; border-radius: 4px; padding: 0 .4em;
  margin-left: .3em; font-size: .85em; }
"""


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
        # The counter sits beside the button that starts it, not under the row.
        with gr.Row(equal_height=True, elem_id="oa-eval-controls"):
            start = gr.Button(
                "Run evaluation",
                variant="primary",
                interactive=ui.allow_runs,
                scale=0,
                min_width=180,
                elem_id="oa-eval-run",
            )
            cancel = gr.Button("Cancel", variant="stop", scale=0, min_width=120)
            status = gr.Markdown(
                "" if ui.allow_runs else RUNS_OFF, min_height=0, elem_id="oa-eval-status"
            )
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
        show_progress_on=[status],  # the bar counts beside the button, over the status alone
        **private,
    )
    cancel.click(
        lambda: "Cancelled: no run was written.", None, [status], cancels=[running], **private
    )
    tab.select(ui.refresh, None, [pick, run_a, run_b], **private)
    pick.input(ui.show, [pick], view, **private)
    compare.click(ui.compare, [run_a, run_b], [flipped], **private)
    view[4].select(ui.open_failure, [view[4]], [tabs, *chat_outputs], **private)
