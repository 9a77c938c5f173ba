"""Ingest: report -> chunks -> embeddings -> the active Chroma index."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from chromadb.api import ClientAPI
from tqdm import tqdm

from opioid_assistant import store
from opioid_assistant.chunking import chunk_report, endnote_chunks, sentence_chunks
from opioid_assistant.embedding import load_embedder, model_fingerprint
from opioid_assistant.parsing import load_report
from opioid_assistant.settings import Settings
from opioid_assistant.sources import source_chunks
from opioid_assistant.types import Chunk

INDEX_SCHEMA = 2  # bump when chunk metadata or embedded text changes shape


@dataclass(frozen=True)
class IngestSummary:
    """What an ingest did."""

    sections: int
    sentences: int
    chunks: int
    endnotes: int
    endnotes_linked: int
    source_passages: int
    reused: bool
    seconds: float
    collection: str

    def describe(self) -> str:
        """One line for the terminal."""
        action = "index up to date, nothing re-embedded" if self.reused else "index built"
        return (
            f"{action}: {self.sections} sections, {self.sentences} sentences, "
            f"{self.chunks} chunks ({self.source_passages} from cited sources), "
            f"{self.endnotes_linked}/{self.endnotes} endnotes linked, "
            f"{self.seconds:.1f} s ({self.collection})"
        )


def embedding_text(chunk: Chunk) -> str:
    """The text embedded for a chunk: its section heading gives the passage its topic."""
    heading = chunk.section.split(" > ")[-1]
    return f"{heading}: {chunk.text}"


def fingerprint(chunks: Sequence[Chunk], model: str) -> str:
    """Identify an index by its chunks, the embedding model and the schema version."""
    payload = json.dumps([INDEX_SCHEMA, model_fingerprint(model), [c.id for c in chunks]])
    return hashlib.sha256(payload.encode()).hexdigest()


def build_index(settings: Settings, progress: bool = True) -> IngestSummary:
    """Parse the report, chunk it and (re)build the index unless it is already current.

    Args:
        settings: Where the report, model and store are.
        progress: Show a progress bar while embedding.
    """
    started = time.perf_counter()
    report = load_report(settings.report_path)
    chunks = (
        chunk_report(report, settings.chunk_max_chars)
        + endnote_chunks(report)
        + sentence_chunks(report)
    )
    sources = source_chunks(settings, settings.chunk_max_chars)
    chunks += sources
    key = fingerprint(chunks, settings.embedding_model)
    client = store.connect(settings)
    active = store.read_active(client, settings)
    reused = active is not None and active.fingerprint == key and _intact(client, active)
    if active is None or not reused:
        embedder = load_embedder(settings.embedding_model)
        bar = tqdm(total=len(chunks), desc="embedding", unit="chunk", disable=not progress)
        active = store.write_index(
            client,
            settings,
            chunks,
            lambda batch: embedder.embed_documents([embedding_text(c) for c in batch]),
            key,
            on_batch=bar.update,
        )
        bar.close()
    linked = {n for s in report.sentences for n in s.endnotes}
    return IngestSummary(
        sections=len(report.sections),
        sentences=len(report.sentences),
        chunks=len(chunks),
        endnotes=len(report.endnotes),
        endnotes_linked=len(linked & set(report.endnotes)),
        source_passages=len(sources),
        reused=reused,
        seconds=time.perf_counter() - started,
        collection=active.collection,
    )


def _intact(client: ClientAPI, active: store.ActiveIndex) -> bool:
    try:
        return client.get_collection(active.collection).count() == active.chunks
    except Exception:  # a missing collection is reported differently by each chromadb client
        return False
