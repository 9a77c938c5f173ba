"""Ingest: report -> chunks -> embeddings -> the active Chroma index."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chromadb.api import ClientAPI
from tqdm import tqdm

from opioid_assistant.index import store
from opioid_assistant.index.chunking import chunk_report, endnote_chunks, sentence_chunks
from opioid_assistant.index.embedding import (
    Embedder,
    embedder_backend,
    load_embedder,
    model_fingerprint,
    prepare_embedder,
)
from opioid_assistant.index.sources import source_chunks
from opioid_assistant.report.parsing import load_report
from opioid_assistant.settings import Settings
from opioid_assistant.types import Chunk

INDEX_SCHEMA = 3  # bump when chunk metadata or embedded text changes shape
EMBED_BATCH = 64  # texts per progress step


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
    embedded: int = 0

    def describe(self) -> str:
        """One line for the terminal."""
        action = (
            "index up to date, nothing re-embedded"
            if self.reused
            else f"index built ({self.embedded} distinct texts embedded)"
        )
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


def fingerprint(chunks: Sequence[Chunk], model: str, data_dir: Path | None = None) -> str:
    """Identify an index by its chunks, the embedding model's content and the schema version."""
    identity = model_fingerprint(model, data_dir)
    payload = json.dumps([INDEX_SCHEMA, identity, [c.id for c in chunks]])
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
    key = fingerprint(chunks, settings.embedding_model, settings.data_dir)
    identity = model_fingerprint(settings.embedding_model, settings.data_dir)
    client = store.connect(settings)
    active = store.read_active(client, settings)
    reused = active is not None and active.fingerprint == key and _intact(client, active)
    embedded = 0
    if active is None or not reused:
        known = _previous_vectors(client, active, identity)
        embedder = load_embedder(settings.embedding_model, settings.data_dir)
        texts = sorted({embedding_text(c) for c in chunks} - known.keys(), key=len)
        known.update(_embed(embedder, texts, progress))
        embedded = len(texts)
        vectors = {c.id: known[embedding_text(c)] for c in chunks}
        active = store.write_index(
            client,
            settings,
            chunks,
            lambda batch: [vectors[c.id] for c in batch],
            key,
            embedder=identity,
            runtime=embedder_backend(settings.embedding_model),
        )
    else:  # answering needs the ONNX export even when the index is current
        prepare_embedder(settings.embedding_model, settings.data_dir)
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
        embedded=embedded,
    )


def _embed(embedder: Embedder, texts: list[str], progress: bool) -> dict[str, list[float]]:
    """Vectors of distinct texts, embedded in length order so batches carry little padding."""
    vectors: dict[str, list[float]] = {}
    with tqdm(total=len(texts), desc="embedding", unit="text", disable=not progress) as bar:
        for i in range(0, len(texts), EMBED_BATCH):
            batch = texts[i : i + EMBED_BATCH]
            vectors.update(zip(batch, embedder.embed_documents(batch), strict=True))
            bar.update(len(batch))
    return vectors


def _previous_vectors(
    client: ClientAPI, active: store.ActiveIndex | None, embedder: str
) -> dict[str, list[float]]:
    """Vectors of the active index by embedded text, when it was embedded by the same model.

    Keyed by text, not chunk id: a sentence's id carries its offset, which an edit earlier in
    the report shifts, while its text and so its vector stay the same.
    """
    if active is None:
        return {}
    try:
        collection = client.get_collection(active.collection)
        if (collection.metadata or {}).get("embedder") != embedder:
            return {}
        records = collection.get(include=["documents", "metadatas", "embeddings"])
    except Exception:  # a missing collection is reported differently by each chromadb client
        return {}
    vectors = records["embeddings"] if records["embeddings"] is not None else []
    rows = zip(
        records["ids"], records["documents"] or [], records["metadatas"] or [], vectors, strict=True
    )
    return {
        embedding_text(store.chunk_from_record(i, d, dict(m))): [float(x) for x in v]
        for i, d, m, v in rows
    }


def _intact(client: ClientAPI, active: store.ActiveIndex) -> bool:
    try:
        return client.get_collection(active.collection).count() == active.chunks
    except Exception:  # a missing collection is reported differently by each chromadb client
        return False
