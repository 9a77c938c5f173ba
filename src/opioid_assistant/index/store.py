"""The Chroma store: an embedded on-disk client or a Chroma server, and the active index.

Each build writes a new collection named after the content's fingerprint, holding the chunks
and the report's snapshot, then points the registry (`registry.py`) at it, so a crash
mid-build leaves the previous index answering. The pointer lives in Chroma itself, so several
app processes sharing one server agree on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.collection_configuration import CreateHNSWConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Where
from chromadb.errors import NotFoundError

from opioid_assistant.errors import (
    DamagedIndexError,
    EmbedderMismatchError,
    IndexMissingError,
    IndexReplacedError,
    StoreUnavailableError,
)
from opioid_assistant.index.damage import damage_message, store_damage
from opioid_assistant.index.embedding import embedder_backend, model_fingerprint
from opioid_assistant.index.registry import (
    ActiveIndex,
    collect_generations,
    delete_if_exists,
    read_active,
    write_registry,
)
from opioid_assistant.index.snapshot import NOT_SNAPSHOT, snapshot_records
from opioid_assistant.settings import Settings
from opioid_assistant.types import Chunk, Report

ADD_BATCH = 64
# Chroma's defaults (ef 100, 16 neighbours, threaded inserts) make an approximate graph that
# differs build to build, so the same question could get other passages after a re-ingest.
# The report's few hundred passages make a wide search cheap: the search then finds the
# exact nearest passages, whatever the build order.
EXACT_ENOUGH_HNSW: CreateHNSWConfiguration = {
    "space": "cosine",
    "ef_construction": 400,
    "ef_search": 400,
    "max_neighbors": 32,
}
INGEST_HINT = "run `opioid-assistant ingest`"


def connect(settings: Settings) -> ClientAPI:
    """Open the Chroma client the settings name: a server when OA_CHROMA_HOST is set.

    Raises:
        DamagedIndexError: the embedded store's database exists but cannot be read.
        StoreUnavailableError: the server does not answer, or the folder is unusable.
    """
    if not settings.chroma_host:
        folder = settings.data_dir / "chroma"
        why = store_damage(folder)
        if why is not None:
            raise DamagedIndexError(damage_message(folder, why))
    chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_host:
            client = chromadb.HttpClient(
                host=settings.chroma_host,
                port=settings.chroma_port,
                ssl=settings.chroma_ssl,
                headers=auth_headers(settings),
                settings=chroma_settings,
            )
            client.heartbeat()
            return client
        path = settings.data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as e:  # chromadb raises many types for a dead server or a bad folder
        raise StoreUnavailableError(
            f"cannot open {describe(settings)}: {e}. {fix_hint(settings)}"
        ) from e


def fix_hint(settings: Settings) -> str:
    """How to fix an unreachable store."""
    if settings.chroma_host:
        return (
            "Start the server (`chroma run --path DIR --host HOST --port PORT`) or unset "
            "OA_CHROMA_HOST to use the local store"
        )
    return "Check that the folder exists and is writable (OA_DATA_DIR)"


def auth_headers(settings: Settings) -> dict[str, str]:
    """The header that carries the Chroma server token, if one is set."""
    token = settings.chroma_auth_token
    if not token:
        return {}
    if settings.chroma_auth_header.lower() == "authorization":
        return {"Authorization": f"Bearer {token}"}
    return {settings.chroma_auth_header: token}


def describe(settings: Settings) -> str:
    """Where the index lives, for messages."""
    if settings.chroma_host:
        return f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}"
    return f"the Chroma store in {settings.data_dir / 'chroma'}"


def chunk_metadata(chunk: Chunk) -> dict[str, str | int]:
    """Flatten a chunk's fields into Chroma metadata (scalars only)."""
    return {
        "kind": chunk.kind,
        "section": chunk.section,
        "endnotes": json.dumps(list(chunk.endnotes)),
        "start": chunk.start,
        "end": chunk.end,
        "url": chunk.url or "",
        "sentences": json.dumps(list(chunk.sentences)),
        "sentence_endnotes": json.dumps([list(e) for e in chunk.sentence_endnotes]),
    }


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    """Rebuild a Chunk from what Chroma stored."""
    return Chunk(
        id=chunk_id,
        text=text,
        kind=meta["kind"],
        section=meta["section"],
        endnotes=tuple(json.loads(meta["endnotes"])),
        start=int(meta["start"]),
        end=int(meta["end"]),
        url=meta["url"] or None,
        sentences=tuple(json.loads(meta["sentences"])),
        sentence_endnotes=tuple(tuple(e) for e in json.loads(meta["sentence_endnotes"])),
    )


def write_index(
    client: ClientAPI,
    settings: Settings,
    chunks: Sequence[Chunk],
    vectors: Callable[[Sequence[Chunk]], list[list[float]]],
    fingerprint: str,
    on_batch: Callable[[int], None] = lambda n: None,
    embedder: str = "",
    runtime: str = "",
    report: Report | None = None,
) -> ActiveIndex:
    """Write chunks and the report's snapshot into a fresh collection, then make it active.

    The registry points at the new collection only once every record is written, so it never
    names a half-built one. The collection it named before stays (a process may still be
    answering from it); older generations are deleted.

    Args:
        client: The Chroma client.
        settings: Settings (collection name).
        chunks: Everything to index.
        vectors: Embeds a batch of chunks.
        fingerprint: Identifies the content; names the new collection.
        on_batch: Called with the number of chunks written after each batch.
        embedder: The vector space's identity (`embedding.model_fingerprint`), recorded in the
            collection's metadata so a query in another space is refused.
        runtime: What computed the vectors ("onnxruntime", "sentence-transformers"), for people.
        report: The parsed report the chunks came from, stored with them as the snapshot
            that serving processes answer from.
    """
    name = f"{settings.collection_name}-{fingerprint[:16]}"
    previous = read_active(client, settings)
    if previous is not None and name == previous.previous:
        # Rebuilding the generation before the active one: a process may still read it, so
        # retire it first (the registry then keeps no previous; a reader retries on the new).
        write_registry(client, settings, previous="")
    delete_if_exists(client, name)  # a leftover of a build that crashed
    collection = client.create_collection(
        name,
        configuration={"hnsw": EXACT_ENOUGH_HNSW},
        metadata={"embedder": embedder, "embedder_runtime": runtime},
    )
    for i in range(0, len(chunks), ADD_BATCH):
        batch = chunks[i : i + ADD_BATCH]
        collection.add(
            ids=[c.id for c in batch],
            documents=[c.text for c in batch],
            embeddings=vectors(batch),  # type: ignore[arg-type]
            metadatas=[chunk_metadata(c) for c in batch],
        )
        on_batch(len(batch))
    snapshot = snapshot_records(report) if report is not None else None
    records = len(chunks)
    if snapshot is not None:
        dimension = len(vectors(chunks[:1])[0]) if chunks else 1
        collection.add(
            ids=snapshot.ids,
            documents=snapshot.documents,
            embeddings=snapshot.embeddings(dimension),  # type: ignore[arg-type]
            metadatas=snapshot.metadatas,  # type: ignore[arg-type]
        )
        records += len(snapshot.ids)
    kept = previous.collection if previous and previous.collection != name else ""
    active = ActiveIndex(
        name,
        fingerprint,
        len(chunks),
        records=records,
        previous=kept,
        report_fingerprint=snapshot.fingerprint if snapshot else "",
        report_title=snapshot.title if snapshot else "",
    )
    write_registry(
        client,
        settings,
        active=name,
        fingerprint=fingerprint,
        chunks=len(chunks),
        records=records,
        previous=kept,
        report_fingerprint=active.report_fingerprint,
        report_title=active.report_title,
    )
    collect_generations(client, settings, keep={name, kept})
    return active


def open_active_collection(client: ClientAPI, settings: Settings) -> Collection:
    """Return the active index's collection, checked against the settings' embedding model.

    Raises:
        IndexMissingError: nothing was ingested yet, or the collection is gone.
        EmbedderMismatchError: the index was embedded by another model than the settings name.
    """
    active = read_active(client, settings)
    if active is None:
        raise IndexMissingError(f"no index in {where_of(settings)}: {INGEST_HINT}")
    return open_collection(client, settings, active.collection)


def open_collection(client: ClientAPI, settings: Settings, name: str) -> Collection:
    """Return the named index collection, checked against the settings' embedding model.

    Raises:
        IndexReplacedError: it is gone but the registry names another one (a newer ingest).
        IndexMissingError: it is gone and the registry still names it.
        EmbedderMismatchError: the index was embedded by another model than the settings name.
    """
    where = where_of(settings)
    try:
        collection = client.get_collection(name)
    except NotFoundError as e:
        active = read_active(client, settings)
        if active is not None and active.collection != name:
            raise IndexReplacedError(
                f"the index {name} in {where} was replaced by {active.collection}; switching"
            ) from e
        raise IndexMissingError(
            f"the index {name} named in {where} is missing: {INGEST_HINT}"
        ) from e
    except Exception as e:  # a dead server raises several chromadb/httpx types
        raise StoreUnavailableError(
            f"{describe(settings)} did not open the index {name}: {e}. {fix_hint(settings)}"
        ) from e
    check_embedder(collection, settings.embedding_model, where, settings.data_dir)
    return collection


def where_of(settings: Settings) -> str:
    """The server host or the store folder, for short messages."""
    return settings.chroma_host or str(settings.data_dir / "chroma")


def check_embedder(
    collection: Collection,
    model: str,
    where: str = "the Chroma store",
    data_dir: Path | None = None,
) -> None:
    """Refuse to query a collection embedded in another vector space than `model`'s.

    The ONNX and sentence-transformers runtimes of one model share a vector space, so either
    may query an index the other built.

    Raises:
        EmbedderMismatchError: the identities differ, or the index predates the record.
    """
    meta = collection.metadata or {}
    recorded, expected = str(meta.get("embedder", "")), model_fingerprint(model, data_dir)
    if recorded == expected:
        return
    built = (
        f"with the embedding model {recorded} ({meta.get('embedder_runtime', '?')})"
        if recorded
        else "before embedding models were recorded"
    )
    raise EmbedderMismatchError(
        f"the index {collection.name} in {where} was built {built}, but these settings embed "
        f"questions with {expected} ({embedder_backend(model)}: {model}); comparing vectors "
        f"of two models gives wrong answers. {INGEST_HINT} to rebuild it with this model, or "
        "set OA_EMBEDDING_MODEL back to the model that built it"
    )


def load_chunks(collection: Collection) -> list[Chunk]:
    """Read every chunk of a collection (for the lexical index and the UI)."""
    records = collection.get(where=NOT_SNAPSHOT, include=["documents", "metadatas"])
    documents = records["documents"] or []
    metadatas = records["metadatas"] or []
    return [
        chunk_from_record(i, d, dict(m))
        for i, d, m in zip(records["ids"], documents, metadatas, strict=True)
    ]


def load_sentence_vectors(collection: Collection) -> dict[str, list[float]]:
    """Embeddings of the report's sentences, by sentence text."""
    records = collection.get(where={"kind": "sentence"}, include=["documents", "embeddings"])
    vectors = records["embeddings"] if records["embeddings"] is not None else []
    return {
        text: [float(x) for x in vector]
        for text, vector in zip(records["documents"] or [], vectors, strict=True)
    }


PASSAGE_KINDS = ("report", "endnote", "source")


def query(
    collection: Collection,
    vector: list[float],
    k: int,
    where: str = "the Chroma store",
    kinds: Sequence[str] = PASSAGE_KINDS,
    sections: Sequence[str] = (),
) -> list[tuple[str, float]]:
    """Nearest chunks to a query vector: (chunk id, cosine similarity), best first.

    With `sections`, only chunks of those section paths take part (a Chroma `where` filter,
    so the store ranks within them rather than the caller filtering afterwards).

    Raises:
        IndexReplacedError: the collection is gone: a newer ingest replaced and collected it.
        StoreUnavailableError: the store stopped answering (e.g. the server went down).
    """
    try:
        result = collection.query(
            query_embeddings=[vector],  # type: ignore[arg-type]
            n_results=k,
            where=cast(Where, _passage_filter(kinds, sections)),
            include=["distances"],
        )
    except NotFoundError as e:
        raise IndexReplacedError(
            f"the index {collection.name} in {where} was replaced by a newer ingest and "
            "removed; switching to the new index"
        ) from e
    except Exception as e:  # connection errors surface as several chromadb/httpx types
        raise StoreUnavailableError(
            f"{where} did not answer the search: {e}. If it is a Chroma server, start it "
            "again; answers resume as soon as it is back"
        ) from e
    ids = result["ids"][0]
    distances = (result["distances"] or [[]])[0]
    return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]


def _passage_filter(kinds: Sequence[str], sections: Sequence[str]) -> dict[str, Any]:
    """The `where` filter for chunks of these kinds, within these sections when given."""
    by_kind = {"kind": {"$in": list(kinds)}}
    if not sections:
        return by_kind
    return {"$and": [by_kind, {"section": {"$in": list(sections)}}]}
