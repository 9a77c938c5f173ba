"""Bounded folders: keep the newest N entries of the data dir's exports and evaluation runs."""

from __future__ import annotations

import shutil
from pathlib import Path


def keep_newest(folder: Path, keep: int, pattern: str = "*") -> list[Path]:
    """Delete all but the `keep` most recently modified entries of `folder` matching `pattern`.

    Files and folders alike (an evaluation run is a folder); an entry that vanishes meanwhile
    (another process pruning too) is skipped.

    Returns:
        The entries deleted, oldest first.
    """
    if not folder.is_dir():
        return []
    entries = []
    for entry in folder.glob(pattern):
        try:
            entries.append((entry.stat().st_mtime, entry.name, entry))
        except FileNotFoundError:
            continue
    entries.sort(reverse=True)
    removed = [entry for _, _, entry in entries[keep:]]
    for entry in reversed(removed):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return removed[::-1]
