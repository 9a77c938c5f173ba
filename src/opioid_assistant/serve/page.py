"""The Gradio page: `build_app(assistant)` lays out the chat, report and evaluation tabs and
wires their events; `launch(...)` serves the page alone and `mount_page` puts it on the API's app.

The page only lays out: the chat's handlers are in `chat.py`, the evaluation tab's in
`eval_tab.py`, and every answer comes from the `Assistant`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from opioid_assistant.serve.assets import CSS, JS
from opioid_assistant.serve.chat import ChatUI
from opioid_assistant.serve.eval_layout import build_eval_tab
from opioid_assistant.serve.eval_tab import EvalUI
from opioid_assistant.serve.feedback_form import DONE_JS, FEEDBACK_CSS, TAKE_JS, feedback_js
from opioid_assistant.serve.formatting import EMPTY_EVIDENCE, WHOLE_REPORT
from opioid_assistant.serve.hosts import check_page_host, is_loopback
from opioid_assistant.serve.page_script import (
    DARK_CSS,
    DRAFT_JS,
    READING_CSS,
    READING_JS,
    combined_js,
)
from opioid_assistant.serve.saved_session import STORAGE_KEY, browser_secret

if TYPE_CHECKING:
    from fastapi import FastAPI

    from opioid_assistant.answer.assistant import Assistant

Auth = tuple[str, str] | list[tuple[str, str]]

EXAMPLES = [
    "How much did pharmacy chains pay in the opioid settlement?",
    "How many people died of opioid overdoses since 1999?",
    "What does the report recommend about naloxone?",
    "What role do China and Mexico play in the fentanyl supply?",
]
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])


# Export buttons write their file on click, then the page clicks the hidden download button
# that received it (a DownloadButton downloads the value it holds before its click handler
# runs, so it cannot write the file on the click that downloads it).
DOWNLOAD = "() => { setTimeout(() => document.querySelector('#oa-download')?.click(), 60); }"
# Uploads and downloads pass through Gradio's cache: every hour, drop what is over an hour old.
DELETE_CACHE = (3600, 3600)
PAGE_SESSIONS = 1000


def build_app(
    assistant: Assistant, *, evalset: Path | None = None, eval_runs: bool = True
) -> gr.Blocks:
    """Build the chat page for `assistant` (serve it with `launch` or `mount_page`).

    Args:
        assistant: The assistant that answers.
        evalset: The evaluation set the Evaluation tab shows and runs; default: the bundled one.
        eval_runs: Whether the Evaluation tab may start runs (off for a page open to the
            network without credentials).
    """
    ui = ChatUI(assistant)
    title = assistant.report.title
    # Events that compute answers share OA_ANSWER_THREADS slots, as the HTTP API does.
    answers: dict[str, Any] = {
        "concurrency_id": "answers",
        "concurrency_limit": assistant.settings.answer_threads,
    }
    with gr.Blocks(title="Opioid report assistant", delete_cache=DELETE_CACHE) as demo:
        # The conversation lives in the browser (local storage): a reload or a restart keeps it.
        session = gr.BrowserState(
            None, storage_key=STORAGE_KEY, secret=browser_secret(assistant.settings.data_dir)
        )
        gr.Markdown(
            f"## Opioid report assistant\nAnswers from *{title}*, citing the report's "
            f"endnotes. Backend: **{assistant.backend_name}**",
            elem_id="oa-header",
        )
        # Chat and Evaluation are tabs; opening an evaluation failure switches to "chat".
        with (
            gr.Tabs(selected="chat") as tabs,
            gr.Tab("Chat", id="chat", elem_id="oa-chat-tab"),
            gr.Row(equal_height=False),
        ):
            with gr.Column(scale=3, min_width=340):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height=520,
                    latex_delimiters=[],
                    buttons=["copy", "copy_all"],
                    layout="panel",
                    autoscroll=False,  # the page script shows a new answer from its top
                    placeholder="Ask about the report; answers cite its endnotes.",
                    elem_id="oa-chat",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Ask about the report…",
                        show_label=False,
                        scale=5,
                        min_width=200,
                        elem_id="oa-question",
                    )
                    send = gr.Button(
                        "Ask", variant="primary", scale=1, min_width=70, elem_id="oa-ask"
                    )
                scope = gr.Dropdown(
                    ui.scopes(),
                    value=WHOLE_REPORT,
                    label="Answer from:",
                    filterable=True,
                    elem_id="oa-scope",
                )
                gr.Examples(EXAMPLES, inputs=box, label="Example questions")
                status = gr.Markdown("", elem_id="oa-feedback-status")
                with gr.Row():
                    clear = gr.Button("Clear conversation", size="sm", elem_id="oa-clear")
                    export_md = gr.Button("Export as Markdown", size="sm", elem_id="oa-export")
                    export_json = gr.Button("Export as JSON", size="sm", elem_id="oa-export-json")
                    upload = gr.UploadButton(
                        "Load conversation (JSON)",
                        file_types=[".json"],
                        size="sm",
                        elem_id="oa-import",
                    )
                download = gr.DownloadButton(
                    "Download", elem_id="oa-download", elem_classes=["oa-hidden"]
                )
                # The feedback form under each answer (the page script's) sends through these.
                sent = gr.Textbox(elem_id="oa-feedback-in", elem_classes=["oa-hidden"])
                reply = gr.Textbox(elem_id="oa-feedback-out", elem_classes=["oa-hidden"])
                send_feedback = gr.Button(elem_id="oa-feedback-send", elem_classes=["oa-hidden"])
            with gr.Column(scale=2, min_width=300):
                gr.Markdown("### Evidence")
                evidence = gr.HTML(EMPTY_EVIDENCE, elem_id="oa-evidence")
        outputs = [chatbot, box, evidence, session]
        quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        # A question sent while the last answer is still streaming (or its event is ending) is
        # asked when it ends, not dropped.
        for trigger in (box.submit, send.click):
            trigger(
                ui.respond,
                [box, chatbot, session, scope],
                outputs,
                trigger_mode="always_last",
                **quiet,
                **answers,
            )
        # A shared link (?q=...&section=...) asks its question when the page opens.
        # First the conversation the browser kept, then a shared link's question after it.
        demo.load(ui.restore, [session], [chatbot, evidence, session], **quiet).then(
            ui.on_load, [chatbot, session], [*outputs, scope], **quiet, **answers
        )
        for button, write in ((export_md, ui.export), (export_json, ui.export_json)):
            button.click(write, [session], [download], **quiet).then(None, js=DOWNLOAD, **quiet)
        upload.upload(ui.load_json, [upload], [*outputs, status], **quiet)
        # Every click is sent (not only the first while one is pending), one at a time in order.
        send_feedback.click(
            ui.on_feedback,
            [sent, session],
            [reply],
            js=TAKE_JS,
            trigger_mode="multiple",
            concurrency_limit=1,
            concurrency_id="feedback",
            **quiet,
        ).then(None, [reply], None, js=DONE_JS, **quiet)
        chatbot.select(ui.on_select, [session], [evidence], api_visibility="private")
        for reset in (clear.click, chatbot.clear):  # the button and the chat's own trash icon
            reset(ui.clear, None, [*outputs, status], api_visibility="private")
        gr.api(ui.chat_api, api_name="chat", **answers)
        with tabs:
            with gr.Tab("Report", id="report", elem_id="oa-report-tab"):
                # Rendered per page load from the current snapshot (cached per index version).
                gr.HTML(ui.reader, elem_id="oa-reader")
            eval_ui = EvalUI(assistant, ui, evalset=evalset, allow_runs=eval_runs)
            build_eval_tab(eval_ui, tabs, outputs)
    return demo


def check_host(host: str, auth: object, no_auth: bool) -> None:
    """Raise ValueError for a non-loopback host without auth unless `no_auth` is set."""
    check_page_host(host, auth, no_auth)


def launch(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: Auth | None = None,
    *,
    no_auth: bool = False,
    block: bool = True,
    evalset: Path | None = None,
) -> gr.Blocks:
    """Serve the chat page on `host:port` (loopback by default; never a share link).

    Args:
        assistant: The assistant that answers.
        host: Interface to bind; anything but loopback needs `auth` or `no_auth=True`.
        port: TCP port.
        auth: (user, password) pair(s) required to open the page.
        no_auth: Allow a non-loopback host without auth (you take responsibility).
        block: Wait until the server stops; False returns once it is serving.
        evalset: The evaluation set of the Evaluation tab; default: the bundled one.

    Raises:
        ValueError: a non-loopback host without auth and without no_auth=True.
    """
    check_host(host, auth, no_auth)
    eval_runs = bool(auth) or is_loopback(host)  # as `server.page_may_run_evaluations`
    demo = queued_app(assistant, evalset=evalset, eval_runs=eval_runs)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        share=False,
        prevent_thread_lock=not block,
        quiet=True,
        **page_options(assistant),
    )
    return demo


def queued_app(
    assistant: Assistant, *, evalset: Path | None = None, eval_runs: bool = True
) -> gr.Blocks:
    """The app with its queue: a few answers at a time, a bounded wait list.

    Queue positions go out every 5 s, not on every event start: with "auto", each start
    sends every waiting client its new position (64 waiting: thousands of messages a
    minute, all written by the event loop that also answers /healthz).
    """
    settle_matplotlib()
    demo = build_app(assistant, evalset=evalset, eval_runs=eval_runs)
    demo.queue(default_concurrency_limit=4, max_size=64, status_update_rate=5)
    # Gradio keeps each session's state (about 126 kB) for up to 10,000 sessions, and every
    # call to /gradio_api/call/chat opens one: keep the newest PAGE_SESSIONS.
    demo.state_session_capacity = PAGE_SESSIONS
    return demo


def settle_matplotlib() -> None:
    """Choose matplotlib's Agg backend before serving. Gradio saves and restores the backend
    around every event; left unresolved, the first event resolves it by importing pyplot on
    the event loop (1.7 s here, every probe waiting). The page draws charts with Agg only."""
    import matplotlib

    matplotlib.use("agg")


def page_options(assistant: Assistant) -> dict[str, Any]:
    """Options shared by `launch` and `mount_page`: files it may serve, look, and
    no server-side rendering, PWA or MCP."""
    data = Path(assistant.settings.data_dir)
    return {
        "allowed_paths": [str(data / "exports"), str(data / "eval-runs")],
        "max_file_size": assistant.settings.max_body_bytes,
        "theme": THEME,
        "css": CSS + READING_CSS + DARK_CSS + FEEDBACK_CSS,
        "js": combined_js(
            JS, READING_JS, DRAFT_JS, feedback_js(assistant.settings.feedback_max_chars)
        ),
        "ssr_mode": False,
        "pwa": False,
        "mcp_server": False,
        "footer_links": ["api"],
    }


def mount_page(
    app: FastAPI,
    assistant: Assistant,
    auth: Auth | None = None,
    *,
    evalset: Path | None = None,
    eval_runs: bool = True,
) -> FastAPI:
    """Mount the page at "/" of `app` (the API's), behind `auth` when given; return `app`."""
    page = queued_app(assistant, evalset=evalset, eval_runs=eval_runs)
    return gr.mount_gradio_app(app, page, path="/", auth=auth, **page_options(assistant))
