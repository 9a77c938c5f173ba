"""The `opioid-assistant` command: a thin edge over the Python API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from opioid_assistant.errors import AssistantError
from opioid_assistant.settings import Settings
from opioid_assistant.types import Answer


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from opioid_assistant.indexing import build_index

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
    from opioid_assistant.assistant import Assistant

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
    ingest.set_defaults(handler=_ingest)
    ask = sub.add_parser("ask", help="answer a question (no question: an interactive loop)")
    ask.add_argument("question", nargs="*", help="the question")
    ask.add_argument(
        "--json", action="store_true", help="print answer, citations, evidence as JSON"
    )
    ask.add_argument("--backend", choices=["extractive", "openai", "llamacpp"], help="answerer")
    ask.add_argument("--k", type=int, help="passages to retrieve")
    ask.set_defaults(handler=_ask)
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
