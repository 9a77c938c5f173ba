"""Answers questions about CAP's 2023 opioid report, citing the report's own endnotes."""

from typing import Any

from opioid_assistant.offline import apply_offline_defaults

apply_offline_defaults()

from opioid_assistant.report.parsing import load_report  # noqa: E402
from opioid_assistant.settings import Settings  # noqa: E402
from opioid_assistant.types import Answer, Citation, Evidence  # noqa: E402

__all__ = ["Answer", "Assistant", "Citation", "Evidence", "Settings", "load_report"]


def __getattr__(name: str) -> Any:
    # Assistant pulls in torch, Chroma and LangChain: import it only when asked for.
    if name == "Assistant":
        from opioid_assistant.answer.assistant import Assistant

        return Assistant
    raise AttributeError(f"module 'opioid_assistant' has no attribute {name!r}")
