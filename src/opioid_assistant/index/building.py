"""Ingest: report -> chunks -> embeddings -> the active Chroma index."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chromadb.api import ClientAPI
from tqdm import tqdm

from opioid_assistant.index import damage, store
from opioid_assistant.index.chunking import (
    chunk_report,
    endnote_chunks,
    front_matter_chunks,
    sentence_chunks,
)
from opioid_assistant.index.embedding import (
    Embedder,
    embedder_backend,
    load_embedder,
    model_fingerprint,
    prepare_embedder,
)
from opioid_assistant.index.locking import ingest_lock
from opioid_assistant.index.snapshot import NOT_SNAPSHOT
from opioid_assistant.index.sources import source_chunks
from opioid_assistant.report.parsing import load_report
from opioid_assistant.settings import Settings
from opioid_assistant.types import Chunk, Report

INDEX_SCHEMA = 5  # bump when chunk metadata, embedded text or the search graph changes
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


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_index(
    settings: Settings, progress: bool = True, on_wait: Callable[[str], None] = _say
) -> IngestSummary:
    """Parse the report, chunk it and (re)build the index unless it is already current.

    One ingest runs at a time per index (`locking.ingest_lock`); a second one waits for it.

    Args:
        settings: Where the report, model and store are.
        progress: Show a progress bar while embedding.
        on_wait: Told, once, that this ingest waits for another one.

    Raises:
        IngestBusyError: another ingest held the lock for longer than `locking.WAIT_S`.
    """
    started = time.perf_counter()
    report = load_report(settings.report_path)
    chunks = (
        chunk_report(report, settings.chunk_max_chars)
        + endnote_chunks(report)
        + sentence_chunks(report)
        + front_matter_chunks(report)
    )
    sources = source_chunks(settings, settings.chunk_max_chars)
    chunks += sources
    key = fingerprint(chunks, settings.embedding_model, settings.data_dir)
    client = store.connect(settings)
    with ingest_lock(client, settings, on_wait):
        active, reused, embedded = _build_locked(client, settings, report, chunks, key, progress)
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


def _build_locked(
    client: ClientAPI,
    settings: Settings,
    report: Report,
    chunks: list[Chunk],
    key: str,
    progress: bool,
) -> tuple[store.ActiveIndex, bool, int]:
    """Build under the ingest lock: (the active index, whether it was reused, texts embedded)."""
    identity = model_fingerprint(settings.embedding_model, settings.data_dir)
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
            report=report,
        )
    else:  # answering needs the ONNX export even when the index is current
        prepare_embedder(settings.embedding_model, settings.data_dir)
    return active, reused, embedded


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
        records = collection.get(
            where=NOT_SNAPSHOT,
            include=["documents", "metadatas", "embeddings"],
        )
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
        collection = client.get_collection(active.collection)
        return active.report_fingerprint != "" and collection.count() == active.records
    except Exception:  # a missing collection is reported differently by each chromadb client
        return False


def build_in_child(settings: Settings, progress: bool = True) -> IngestSummary:
    """`build_index` in a fresh child process, for a process that goes on serving.

    A first build loads torch and transformers for the one-time ONNX export (about 0.8 GB
    that the allocator never gives back); in a child they leave with it, so a server that
    built its index settles at the size of one that found it built.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # a fork would share this process's state
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as child:
        return child.submit(build_index, settings, progress).result()


def set_aside_damaged(settings: Settings) -> str:
    """Move a damaged embedded store aside (kept for inspection) so a rebuild starts afresh.

    Returns:
        What was done, for the terminal ('' when the store is sound or is a Chroma server).
    """
    if settings.chroma_host:
        return ""
    moved = damage.set_aside(settings.data_dir / "chroma")
    return f"the damaged index folder was moved to {moved}; rebuilding" if moved else ""


def index_for_serving(settings: Settings, reindex: bool = False, progress: bool = True) -> str:
    """Make sure there is an index to serve; never replace one silently.

    With no usable index (none, or one built before report snapshots), build one. When the
    active index was built from another report than the settings name, say so with both
    fingerprints and titles and serve the active index anyway: replacing it would change the
    answers of every process sharing it. `reindex` rebuilds it from the settings' report,
    setting a damaged store aside first; without it, a damaged store stops start-up.

    Returns:
        What was done, for the terminal.

    Raises:
        DamagedIndexError: the store exists but cannot be read, and `reindex` is not set.
    """
    from opioid_assistant.report.serialising import report_fingerprint

    moved = set_aside_damaged(settings) if reindex else ""
    if moved:
        return f"{moved}\n" + build_in_child(settings, progress).describe()
    client = store.connect(settings)
    active = store.read_active(client, settings)
    if active is None or not _intact(client, active):
        return build_in_child(settings, progress).describe()
    report = load_report(settings.report_path)
    ours = report_fingerprint(report)
    named = str(settings.report_path or "the bundled report")
    if ours == active.report_fingerprint:
        if reindex:
            return build_in_child(settings, progress).describe()
        return f"serving the active index {active.collection} ({active.report_title})"
    differs = (
        f"the active index {active.collection} was built from “{active.report_title}” (report "
        f"{active.report_fingerprint[:12]}), not from {named}, “{report.title}” (report "
        f"{ours[:12]})"
    )
    if reindex:
        return (
            f"{differs}; rebuilding it (--reindex)\n"
            + build_in_child(settings, progress).describe()
        )
    return (
        f"warning: {differs}. Serving the active index; to replace it (for every process "
        "sharing it), run `opioid-assistant ingest` or `opioid-assistant serve --reindex`"
    )
