"""The parsed report stored inside the collection built from it: the index is the snapshot.

The report (sections, sentences with endnotes and clause offsets, endnotes with their
resolutions, headings) is kept as JSON documents of kind "snapshot" in the same collection as
the chunks, so it is written, pointed at and deleted together with them, in embedded and in
server mode alike. Searches filter by kind, so these records are never retrieved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from chromadb.api.models.Collection import Collection
from chromadb.api.types import Where

from opioid_assistant.errors import IndexMissingError, ReportParseError
from opioid_assistant.report.serialising import report_fingerprint, report_from_json, report_to_json
from opioid_assistant.types import Report

SNAPSHOT_KIND = "snapshot"
PART_CHARS = 60_000  # one Chroma document per this many characters of JSON
NOT_SNAPSHOT = cast(Where, {"kind": {"$ne": SNAPSHOT_KIND}})  # every chunk, no snapshot part


@dataclass(frozen=True)
class SnapshotRecords:
    """The records that carry a report inside a collection."""

    ids: list[str]
    documents: list[str]
    metadatas: list[dict[str, str | int]]
    fingerprint: str
    title: str

    def embeddings(self, dimension: int) -> list[list[float]]:
        """Placeholder vectors (Chroma stores one per record; searches never reach these)."""
        unit = [1.0] + [0.0] * (dimension - 1)
        return [unit for _ in self.ids]


def snapshot_records(report: Report) -> SnapshotRecords:
    """Split the report's JSON into records of kind "snapshot"."""
    text = report_to_json(report)
    parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
    fingerprint = report_fingerprint(report)
    return SnapshotRecords(
        ids=[f"snapshot-{i:04d}" for i in range(len(parts))],
        documents=parts,
        metadatas=[
            {"kind": SNAPSHOT_KIND, "part": i, "parts": len(parts), "report": fingerprint}
            for i in range(len(parts))
        ],
        fingerprint=fingerprint,
        title=report.title,
    )


def read_snapshot(collection: Collection, where: str = "the Chroma store") -> Report:
    """The report a collection was built from.

    Raises:
        IndexMissingError: the collection holds no (complete, readable) snapshot: it was built
            by an older version; run `opioid-assistant ingest`.
    """
    records = collection.get(where={"kind": SNAPSHOT_KIND}, include=["documents", "metadatas"])
    rows = sorted(
        zip(records["metadatas"] or [], records["documents"] or [], strict=True),
        key=lambda row: int(str(row[0]["part"])),
    )
    hint = "run `opioid-assistant ingest` to rebuild it"
    if not rows or len(rows) != int(str(rows[0][0]["parts"])):
        raise IndexMissingError(
            f"the index {collection.name} in {where} holds no complete report snapshot (built by "
            f"an older version): {hint}"
        )
    try:
        return report_from_json("".join(document for _, document in rows))
    except (ReportParseError, ValueError, KeyError, TypeError) as e:
        raise IndexMissingError(
            f"the report snapshot in the index {collection.name} in {where} is unreadable "
            f"({e}): {hint}"
        ) from e
