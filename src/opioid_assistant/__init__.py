"""Answers questions about CAP's 2023 opioid report, citing the report's own endnotes."""

from opioid_assistant.offline import apply_offline_defaults

apply_offline_defaults()

from opioid_assistant.parsing import load_report  # noqa: E402
from opioid_assistant.settings import Settings  # noqa: E402

__all__ = ["Settings", "load_report"]
