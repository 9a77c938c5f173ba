"""A damaged embedded store: found before Chroma opens it, named, and set aside on request.

Chroma reads a truncated or zeroed `chroma.sqlite3` in many ways (an open error, a
traceback from its query planner later on), and opens an emptied one as a new store, so an
index that exists but cannot be read would be rebuilt from the bundled report without a word.
The embedded store's database is checked first instead (its SQLite header, then
`PRAGMA quick_check`: a few milliseconds on the 4 MB index), and only an explicit rebuild
(`opioid-assistant ingest --rebuild`, `serve --reindex`) replaces it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

DATABASE = "chroma.sqlite3"
SQLITE_HEADER = b"SQLite format 3\x00"
REBUILD_HINT = (
    "rebuild it with `opioid-assistant ingest --rebuild` (or `opioid-assistant serve "
    "--reindex`), which keeps the damaged folder aside"
)


def store_damage(folder: Path) -> str | None:
    """Why the embedded store in `folder` cannot be read, or None when it is sound or new.

    A folder that does not exist yet, or holds nothing, is a new store, not a damaged one.
    """
    if not folder.is_dir():
        return None
    database = folder / DATABASE
    vectors = any(p.is_dir() for p in folder.iterdir())
    if not database.exists():
        return f"{DATABASE} is missing beside the index's vector folders" if vectors else None
    if database.stat().st_size == 0:
        return "it is empty (0 bytes)"
    with database.open("rb") as f:
        if f.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            return "it is not an SQLite database (its header is overwritten)"
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute("PRAGMA quick_check(1)").fetchall()
            emptied = vectors and rows == [("ok",)] and not _holds_an_index(db)
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            return None  # an ingest is writing it: busy, not damaged
        return f"SQLite cannot read it ({e})"
    except sqlite3.DatabaseError as e:
        return f"SQLite cannot read it ({e})"
    if rows != [("ok",)]:
        first = str(rows[0][0]).splitlines() if rows else ["no answer"]
        return f"SQLite finds it damaged ({first[-1]})"
    if emptied:
        return "it holds no index, yet the index's vector folders are beside it (it was emptied)"
    return None


def _holds_an_index(db: sqlite3.Connection) -> bool:
    """Whether Chroma's catalogue holds a collection this package built (every index records
    its embedder); a store that Chroma re-created from an emptied file holds none."""
    try:
        query = "SELECT count(*) FROM collection_metadata WHERE key = 'embedder'"
        return int(db.execute(query).fetchone()[0]) > 0
    except sqlite3.OperationalError:  # no catalogue at all
        return False


def damage_message(folder: Path, why: str) -> str:
    """One line naming the file, what is wrong and the fix."""
    return f"the index file {folder / DATABASE} cannot be read: {why}. {REBUILD_HINT}"


def set_aside(folder: Path) -> Path | None:
    """Move a damaged store folder to `<folder>.damaged-<UTC time>`; its new path, or None
    when the store is sound (nothing moved)."""
    if store_damage(folder) is None:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target, n = folder.with_name(f"{folder.name}.damaged-{stamp}"), 2
    while target.exists():
        target, n = folder.with_name(f"{folder.name}.damaged-{stamp}-{n}"), n + 1
    folder.rename(target)
    return target
