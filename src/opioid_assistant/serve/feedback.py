"""The feedback log: one JSON object per line in `data_dir/feedback.jsonl`.

The log only grows: a rating changed or a comment added after the thumbs is a new line with
the same `id` as the first, and the newest line of an `id` is that feedback's current state
(`current_feedback`).

Writers in one process are serialised by a lock and writers in different processes by
`flock`; each record goes out in a single `write()` on an `O_APPEND` descriptor, so lines
are never lost or interleaved.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FEEDBACK_FILE = "feedback.jsonl"
_LOCK = threading.Lock()


def feedback_path(data_dir: Path) -> Path:
    """Return the feedback log's path inside `data_dir`."""
    return Path(data_dir) / FEEDBACK_FILE


def now_iso() -> str:
    """Return the current UTC time as an ISO 8601 string (second precision)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def feedback_record(
    turn: Mapping[str, Any], rating: str, comment: str, feedback_id: str
) -> dict[str, Any]:
    """One line of the log: the rated answer (from the conversation's turn), the rating,
    the comment and the `id` that later changes to the same feedback share."""
    return {
        "id": feedback_id,
        "question": turn["question"],
        "answer": turn["answer"],
        "citations": turn["citations"],
        "abstained": turn["abstained"],
        "backend": turn["backend"],
        "rating": rating,
        "comment": comment,
        "timestamp": now_iso(),
    }


def append_feedback(path: Path, record: Mapping[str, Any]) -> None:
    """Append `record` as one JSON line to `path`, creating the file and its folder if needed.

    Args:
        path: The JSONL log.
        record: JSON-serialisable data; newlines inside strings are escaped by JSON.
    """
    line = (json.dumps(dict(record), ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                written = os.write(fd, line)
                while written < len(line):  # a short write only happens on a full disk
                    written += os.write(fd, line[written:])
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """Return every record of the feedback log, oldest first ([] when there is none)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def current_feedback(path: Path) -> list[dict[str, Any]]:
    """Each feedback's newest line (a later line with the same `id` replaces an earlier
    one), in the order each was first given."""
    current: dict[str, dict[str, Any]] = {}
    for number, record in enumerate(read_feedback(path)):
        current[str(record.get("id", f"line-{number}"))] = record
    return list(current.values())
