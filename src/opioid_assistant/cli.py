"""The `opioid-assistant` command: a thin edge over the Python API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from opioid_assistant.errors import AssistantError
from opioid_assistant.settings import Settings
from opioid_assistant.types import Answer

if TYPE_CHECKING:
    from opioid_assistant.evaluate.runs import Progress, WrittenRun


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from opioid_assistant.index import sources
    from opioid_assistant.index.building import build_index, set_aside_damaged
    from opioid_assistant.report.parsing import load_report

    if args.rebuild and (moved := set_aside_damaged(settings)):
        print(moved)

    if args.sources or args.sources_dir:
        report = load_report(settings.report_path)
        if args.sources_dir:
            result = sources.import_sources_dir(report, Path(args.sources_dir), settings)
        else:
            result = sources.fetch_sources(
                report, settings, refresh=args.refresh, progress=not args.quiet
            )
        print(result.describe())
    summary = build_index(settings, progress=not args.quiet)
    print(summary.describe())
    return 0


def _print_answer(answer: Answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer_json(answer), ensure_ascii=False, indent=2))
        return
    if answer.notice:
        print(f"note: {answer.notice}")
    print(answer.text)
    for c in answer.citations:
        print(f"  [{c.number}] {c.source}" + (f" <{c.url}>" if c.url else ""))


def answer_json(answer: Answer) -> dict[str, Any]:
    """The JSON shape of an answer on the command line: answer, citations, evidence, abstained."""
    data = answer.to_dict()
    return {
        "answer": data["text"],
        "citations": data["citations"],
        "evidence": data["evidence"],
        "abstained": data["abstained"],
        "backend": data["backend"],
        "notice": data["notice"],
    }


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from opioid_assistant.answer.assistant import Assistant

    assistant = Assistant(settings=settings)
    if args.question:
        _print_answer(assistant.ask(" ".join(args.question)), args.json)
        return 0
    history: list[dict[str, str]] = []
    print(f"Ask about the report ({assistant.backend_name} backend). Empty line or Ctrl-D quits.")
    while True:
        try:
            question = input("> ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        try:
            answer = assistant.ask(question, history)
        except AssistantError as e:
            print(f"error: {e}", file=sys.stderr)
            continue
        _print_answer(answer, args.json)
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from opioid_assistant.answer.assistant import Assistant
    from opioid_assistant.evaluate.report import summary_table
    from opioid_assistant.evaluate.runner import load_evalset
    from opioid_assistant.evaluate.runs import run_evaluation, sample_evenly

    items = sample_evenly(load_evalset(Path(args.set) if args.set else None), args.limit)
    out = Path(args.out) if args.out else None
    assistant = Assistant(settings=settings)
    written = _with_bars(run_evaluation(assistant, items, out, baseline=not args.no_baseline))
    if out is None:  # the data dir's runs: keep the newest OA_KEEP_EVAL_RUNS
        from opioid_assistant.evaluate.runs import runs_dir
        from opioid_assistant.serve.retention import keep_newest

        keep_newest(runs_dir(settings.data_dir), settings.keep_eval_runs)
    print(summary_table(written.runs))
    files = written.files
    print(f"\nwrote {files['markdown']}, {files['json']}, {files['chart']}")
    return 0


def _with_bars(steps: Iterator[Progress | WrittenRun]) -> WrittenRun:
    """Show a run's progress as one tqdm bar per system; return the written run."""
    from tqdm import tqdm

    from opioid_assistant.evaluate.runs import WrittenRun

    bar: Any = None
    for step in steps:
        if bar is not None and (isinstance(step, WrittenRun) or bar.desc != step.system):
            bar.update(bar.total - bar.n)  # that system is done
            bar.close()
            bar = None
        if isinstance(step, WrittenRun):
            return step
        if bar is None:
            bar = tqdm(total=step.total, desc=step.system, unit="q")
        bar.update(step.done - bar.n)
    raise RuntimeError("the evaluation ended without writing its run")


# A first build of the bundled report's index on 2 cores, from `serve` starting to the index
# built (the one-time ONNX export, then 418 texts embedded): 25 s measured, load 2.
FIRST_BUILD_S = 25


def _say(message: str) -> None:
    print(message, flush=True)  # a pipe (a service log) sees each step as it happens


def starting_line(settings: Settings, reindex: bool = False) -> str:
    """What `serve` is about to do, said before anything slow is imported: building the
    index on a first start (an embedded store not yet created), else opening it."""
    report = str(settings.report_path or "the bundled report")
    if reindex:
        return f"Rebuilding the index from {report} (--reindex, about {FIRST_BUILD_S} s)…"
    if settings.chroma_host is None and not (settings.data_dir / "chroma").exists():
        return f"Building the index from {report} (first start, about {FIRST_BUILD_S} s)…"
    return f"Opening the index in {settings.data_dir}…"


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from opioid_assistant.serve.api import check_api_host
    from opioid_assistant.serve.hosts import check_page_host

    auth = None
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            print("error: --auth must be USER:PASSWORD", file=sys.stderr)
            return 2
        if args.no_ui:
            print(
                "error: --auth protects the chat page, which --no-ui does not serve",
                file=sys.stderr,
            )
            return 2
        auth = (user, password)
    token = settings.api_token
    try:  # before the index build
        if not args.no_ui:
            check_page_host(args.host, auth, args.no_auth)
        check_api_host(args.host, token, args.no_auth)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _say(starting_line(settings, args.reindex))
    from opioid_assistant.index.building import index_for_serving

    _say(index_for_serving(settings, reindex=args.reindex, progress=True))
    _say("Loading the assistant (embedding model, index, answering)…")
    from opioid_assistant.answer.assistant import Assistant
    from opioid_assistant.serve.server import serve

    assistant = Assistant(settings=settings)
    what = "the API" if args.no_ui else "the chat page and the API"
    _say(f"Serving {what} (/v1, /docs) on http://{args.host}:{args.port}/")
    serve(
        assistant,
        args.host,
        args.port,
        ui=not args.no_ui,
        ui_auth=auth,
        api_token=token,
        no_auth=args.no_auth,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="opioid-assistant",
        description="Ask CAP's 2023 opioid report; every claim cites the report's endnotes.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="parse the report and build the Chroma index")
    ingest.add_argument("--report", help="report file (.txt, .pdf, .html); default: bundled")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.add_argument(
        "--sources", action="store_true", help="also fetch the sources the endnotes cite (cached)"
    )
    ingest.add_argument("--refresh", action="store_true", help="with --sources: fetch again")
    ingest.add_argument(
        "--rebuild",
        action="store_true",
        help="a damaged index store is moved aside (chroma.damaged-TIME) and built afresh",
    )
    ingest.add_argument(
        "--sources-dir", help="air-gapped: ingest pre-downloaded sources (manifest.json or N.pdf)"
    )
    ingest.set_defaults(handler=_ingest)
    ask = sub.add_parser("ask", help="answer a question (no question: an interactive loop)")
    ask.add_argument("question", nargs="*", help="the question")
    ask.add_argument(
        "--json", action="store_true", help="print answer, citations, evidence as JSON"
    )
    ask.add_argument("--backend", choices=["extractive", "openai", "llamacpp"], help="answerer")
    ask.add_argument("--k", type=int, help="passages to retrieve")
    ask.set_defaults(handler=_ask)
    serve = sub.add_parser("serve", help="start the chat UI (builds the index when missing)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    serve.add_argument("--port", type=int, default=7860, help="TCP port (default 7860)")
    serve.add_argument("--auth", help="USER:PASSWORD required to open the page")
    serve.add_argument(
        "--no-auth", action="store_true", help="allow a non-loopback host without --auth"
    )
    serve.add_argument("--backend", choices=["extractive", "openai", "llamacpp"], help="answerer")
    serve.add_argument(
        "--no-ui",
        action="store_true",
        help="serve only the HTTP API (/v1, /healthz, /docs): no chat page, no Gradio",
    )
    serve.add_argument(
        "--reindex",
        action="store_true",
        help="rebuild the index from this report even when another report's index is active "
        "(a damaged store is moved aside first)",
    )
    serve.set_defaults(handler=_serve)
    ev = sub.add_parser("eval", help="run the evaluation set against the assistant and a baseline")
    ev.add_argument("--backend", choices=["extractive", "openai", "llamacpp"], help="answerer")
    ev.add_argument("--k", type=int, help="passages to retrieve")
    ev.add_argument("--out", help="folder for run.json, report.md, chart.png")
    ev.add_argument("--set", help="evaluation set (JSON lines); default: the bundled set")
    ev.add_argument("--limit", type=int, help="only N items, evenly spaced over the set")
    ev.add_argument("--no-baseline", action="store_true", help="skip the tutorial baseline")
    ev.set_defaults(handler=_eval)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by command-line options."""
    overrides = {}
    if getattr(args, "report", None):
        overrides["report_path"] = args.report
    if getattr(args, "backend", None):
        overrides["llm_backend"] = args.backend
    if getattr(args, "k", None):
        overrides["top_k"] = args.k
    return Settings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors become one clear line on stderr and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args, settings_from_args(args)))
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
