"""Errors the assistant raises; each message says what failed, on which input, and how to fix it."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class of every error this package raises on purpose."""


class ReportParseError(AssistantError):
    """The report file could not be read or parsed."""


class IndexMissingError(AssistantError):
    """No index exists where the settings point."""


class StoreUnavailableError(AssistantError):
    """The vector store (local or a Chroma server) cannot be reached."""


class EmbeddingModelError(AssistantError):
    """The embedding model could not be loaded."""


class EmbedderMismatchError(IndexMissingError):
    """The index was embedded by another model than the one the settings name."""


class InvalidQuestionError(AssistantError):
    """The question is empty or otherwise unusable."""


class PromptTemplateError(AssistantError):
    """A prompt file is missing or its placeholders do not match what the code renders."""


class BackendError(AssistantError):
    """The answering backend (LLM) failed or is misconfigured."""


class UnknownSettingError(AssistantError):
    """An `OA_*` environment variable names no setting (a typo would otherwise be ignored)."""


class InvalidSettingError(AssistantError):
    """A setting's value is of the wrong type or out of its range ("OA_TOP_K=-1")."""


class IndexReplacedError(AssistantError):
    """The collection a question was searching was replaced by a newer ingest and collected.

    Not a store outage: the assistant switches to the new index and asks again.
    """


class IngestBusyError(AssistantError):
    """Another ingest holds the index lock for longer than this one would wait."""


class UnknownSectionError(InvalidQuestionError):
    """A question was scoped to a section the report does not have."""


class DamagedIndexError(AssistantError):
    """The index's files exist but cannot be read (truncated, zeroed or emptied)."""
