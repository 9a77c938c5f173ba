"""The on-disk cache of cited sources: one manifest row per URL, and the extracted texts.

Layout under `settings.data_dir / "sources"`: `manifest.json` (one row per URL) and
`text/<hash>.txt` (the extracted text). Every write is atomic (a temporary file, then a rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from opioid_assistant.errors import AssistantError
from opioid_assistant.settings import Settings

MANIFEST_NAME = "manifest.json"


class SourceFetchError(AssistantError):
    """The source cache or an import folder cannot be read or written."""


@dataclass(frozen=True)
class SourceRow:
    """One manifest row: a distinct URL cited by the report and what fetching it gave.

    Attributes:
        url: The URL as the report gives it.
        endnotes: Numbers of every endnote citing the URL (Ibid. and short forms included).
        status: 'ok', 'http_<code>' (e.g. 'http_404'), 'timeout', 'too_large',
            'unsupported_type', 'refused_private_address', 'bad_scheme', 'redirect_loop',
            'too_many_redirects', 'no_text' (nothing readable in the body) or 'error'.
        content_type: Media type of the body ('' when none was received).
        sha256: Hex SHA-256 of the body as received; None when no body was kept.
        fetched_at: When the row was written, ISO 8601 in UTC.
        error: Why the fetch failed (or why a refresh failed while an older copy is kept).
        text_path: The extracted text file, relative to the sources folder; None if none.
        title: The document title found in the body, or ''.
    """

    url: str
    endnotes: tuple[int, ...]
    status: str
    content_type: str = ""
    sha256: str | None = None
    fetched_at: str = ""
    error: str | None = None
    text_path: str | None = None
    title: str = ""


def sources_dir(settings: Settings) -> Path:
    """The folder holding the source cache and its manifest."""
    return settings.data_dir / "sources"


def read_manifest(folder: Path) -> dict[str, SourceRow]:
    """The manifest rows under `folder`, by URL; empty when there is no manifest yet.

    Raises:
        SourceFetchError: The manifest exists but cannot be parsed.
    """
    path = folder / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = [SourceRow(**{**item, "endnotes": tuple(item["endnotes"])}) for item in data]
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise SourceFetchError(
            f"source manifest {path} is unreadable ({e}): move it aside and fetch again"
        ) from e
    return {row.url: row for row in rows}


def store_row(manifest: dict[str, SourceRow], row: SourceRow) -> SourceRow:
    """Put `row` in the manifest unless it is a failure and an ok copy is cached.

    Returns the row that is now in the manifest.
    """
    old = manifest.get(row.url)
    if row.status != "ok" and old is not None and old.status == "ok":
        note = f"refresh at {row.fetched_at} failed ({row.status}: {row.error}); older copy kept"
        manifest[row.url] = replace(old, error=note, endnotes=row.endnotes or old.endnotes)
    else:
        manifest[row.url] = row
    return manifest[row.url]


def is_cached(folder: Path, row: SourceRow | None) -> bool:
    """Whether `row` is an ok fetch whose text file is still on disk."""
    return (
        row is not None
        and row.status == "ok"
        and row.text_path is not None
        and (folder / row.text_path).is_file()
    )


def write_text(folder: Path, url: str, text: str) -> str:
    """Store a URL's extracted text; return its path relative to `folder`."""
    relative = f"text/{hashlib.sha256(url.encode()).hexdigest()[:24]}.txt"
    _atomic_write(folder / relative, text)
    return relative


def write_manifest(folder: Path, manifest: dict[str, SourceRow]) -> None:
    """Write the manifest, rows in endnote order (rows citing no endnote last)."""
    rows = sorted(manifest.values(), key=lambda r: (r.endnotes or (10**9,), r.url))
    data = [{**asdict(row), "endnotes": list(row.endnotes)} for row in rows]
    _atomic_write(folder / MANIFEST_NAME, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as e:
        raise SourceFetchError(f"cannot write {path}: {e}; check the data dir") from e
