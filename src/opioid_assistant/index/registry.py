"""The registry: a small collection whose metadata names the active index.

The pointer lives in Chroma itself, so several app processes sharing one server agree on it.
It also names the generation that was active before (kept, so a process still answering from
it finishes its questions) and the report the active index was built from.
"""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass
from typing import Any

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError

from opioid_assistant.settings import Settings

_WRITING = threading.Lock()


@dataclass(frozen=True)
class ActiveIndex:
    """What the registry says is the index to answer from.

    Attributes:
        collection: The active collection's name.
        fingerprint: The index version: chunks, embedding model and schema.
        chunks: Chunks in the collection (its snapshot records not counted).
        records: Every record in the collection (chunks and snapshot parts).
        previous: The collection that was active before; kept until the next swap, so a
            process still answering from it finishes its questions.
        report_fingerprint: The fingerprint of the report the index was built from.
        report_title: That report's title.
    """

    collection: str
    fingerprint: str
    chunks: int
    records: int = 0
    previous: str = ""
    report_fingerprint: str = ""
    report_title: str = ""


def registry_name(settings: Settings) -> str:
    """The name of the collection whose metadata names the active index."""
    return f"{settings.collection_name}-registry"


def _registry(client: ClientAPI, settings: Settings) -> Collection:
    return client.get_or_create_collection(registry_name(settings))


def read_registry(client: ClientAPI, settings: Settings) -> dict[str, Any]:
    """The registry's metadata (the pointer, and an ingest's lease in server mode)."""
    return dict(_registry(client, settings).metadata or {})


def write_registry(client: ClientAPI, settings: Settings, **changes: str | int | float) -> None:
    """Change some keys of the registry's metadata (Chroma replaces it whole, so merge).

    One writer at a time in this process: a lease renewal must not write back a pointer that
    the swap beside it just changed.
    """
    with _WRITING:
        registry = _registry(client, settings)
        registry.modify(metadata={**(registry.metadata or {}), **changes})


def read_active(client: ClientAPI, settings: Settings) -> ActiveIndex | None:
    """Return the active index named by the registry, or None when none was built."""
    meta = read_registry(client, settings)
    if "active" not in meta:
        return None
    return ActiveIndex(
        str(meta["active"]),
        str(meta["fingerprint"]),
        int(meta["chunks"]),
        records=int(meta.get("records", meta["chunks"])),
        previous=str(meta.get("previous", "")),
        report_fingerprint=str(meta.get("report_fingerprint", "")),
        report_title=str(meta.get("report_title", "")),
    )


def collect_generations(client: ClientAPI, settings: Settings, keep: set[str]) -> list[str]:
    """Delete this index's collections other than `keep` (the active one and its previous)."""
    generation = re.compile(rf"{re.escape(settings.collection_name)}-[0-9a-f]{{16}}")
    deleted = []
    for name in [c.name for c in client.list_collections()]:
        if generation.fullmatch(name) and name not in keep:
            delete_if_exists(client, name)
            deleted.append(name)
    return deleted


def delete_if_exists(client: ClientAPI, name: str) -> None:
    with contextlib.suppress(NotFoundError):  # already gone
        client.delete_collection(name)
