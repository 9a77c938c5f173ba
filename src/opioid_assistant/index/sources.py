"""The report's cited sources: fetch (or import) each distinct endnote URL into the source
cache (see source_cache), and cut the cached texts into `source` chunks.

Fetched text is untrusted data: it is stored and quoted, never executed or followed as an
instruction.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx

from opioid_assistant.index.chunking import chunk_id
from opioid_assistant.index.source_cache import (
    MANIFEST_NAME,
    SourceFetchError,
    SourceRow,
    is_cached,
    read_manifest,
    sources_dir,
    store_row,
    write_manifest,
    write_text,
)
from opioid_assistant.index.source_fetch import (
    ExtractionError,
    Fetched,
    extract_text,
    fetch_url,
    make_client,
)
from opioid_assistant.settings import Settings
from opioid_assistant.types import Chunk, Report

MAX_CHUNKS_PER_SOURCE = 40
_IMPORT_TYPES = {".html": "text/html", ".htm": "text/html", ".pdf": "application/pdf"}
_IMPORT_TYPES[".txt"] = "text/plain"
_NUMBERED_FILE = re.compile(r"^(\d+)\.(html?|pdf|txt)$", re.IGNORECASE)


@dataclass(frozen=True)
class FetchResult:
    """What a fetch or import run did.

    Attributes:
        rows: The manifest rows of the URLs this run dealt with, in endnote order.
        failures: Rows describing each failed attempt (a kept older copy stays in `rows`).
        requests_made: HTTP requests sent, retries and redirect hops included.
        cached: URLs skipped because an ok copy was already cached.
        no_url: Endnotes that give no URL, so have no source to fetch.
    """

    rows: tuple[SourceRow, ...]
    failures: tuple[SourceRow, ...] = ()
    requests_made: int = 0
    cached: int = 0
    no_url: tuple[int, ...] = field(default=())

    def describe(self) -> str:
        """A short summary for a person: counts, then each unreachable source and why."""
        ok = sum(row.status == "ok" for row in self.rows)
        lines = [
            f"{len(self.rows)} sources: {ok} ok ({self.cached} already cached), "
            f"{len(self.failures)} failed; {self.requests_made} HTTP requests."
        ]
        if self.no_url:
            lines.append(f"Endnotes without a URL: {', '.join(map(str, self.no_url))}.")
        if self.failures:
            lines.append("Unreachable:")
        for row in self.failures:
            notes = ", ".join(map(str, row.endnotes)) or "none"
            lines.append(f"  {row.url} (endnotes {notes}): {row.status} - {row.error or ''}")
        return "\n".join(lines)


def cited_urls(report: Report) -> dict[str, tuple[int, ...]]:
    """Map each distinct source URL to the endnotes citing it, in order of first citation."""
    urls: dict[str, list[int]] = {}
    for number, note in sorted(report.endnotes.items()):
        url = note.resolved_url or note.url
        if url:
            urls.setdefault(url, []).append(number)
    return {url: tuple(numbers) for url, numbers in urls.items()}


def fetch_sources(
    report: Report, settings: Settings, refresh: bool = False, progress: bool = False
) -> FetchResult:
    """Fetch every distinct URL the report's endnotes cite into the source cache.

    URLs already cached with status 'ok' are skipped unless `refresh`. A failed fetch never
    removes a cached copy. The manifest is rewritten atomically after each URL, so an
    interrupted run keeps what it fetched.

    Args:
        report: The parsed report whose endnotes name the sources.
        settings: Data dir, timeouts, retries, byte cap, concurrency and the private-host rule.
        refresh: Fetch again even what is cached.
        progress: Show a progress bar.

    Returns:
        The rows of this run, the failures, and the number of HTTP requests sent.
    """
    folder = sources_dir(settings)
    manifest = read_manifest(folder)
    wanted = cited_urls(report)
    todo = [url for url in wanted if refresh or not is_cached(folder, manifest.get(url))]
    failures: list[SourceRow] = []
    requests = 0
    with make_client(settings) as client, ThreadPoolExecutor(settings.sources_concurrency) as pool:
        futures = [pool.submit(_fetch_and_extract, client, url, settings) for url in todo]
        for future in _progress(as_completed(futures), len(futures), progress):
            fetched, text, title = future.result()
            requests += fetched.requests
            row = _fetched_row(fetched, wanted[fetched.url], text, title, folder)
            store_row(manifest, row)
            if row.status != "ok":
                failures.append(row)
            write_manifest(folder, manifest)
    for url, endnotes in wanted.items():
        if url in manifest and manifest[url].endnotes != endnotes:
            manifest[url] = replace(manifest[url], endnotes=endnotes)
    write_manifest(folder, manifest)
    return FetchResult(
        rows=tuple(manifest[url] for url in wanted),
        failures=tuple(sorted(failures, key=lambda r: r.endnotes)),
        requests_made=requests,
        cached=len(wanted) - len(todo),
        no_url=_no_url(report),
    )


def import_sources_dir(report: Report, directory: Path, settings: Settings) -> FetchResult:
    """Ingest pre-downloaded source files (the air-gapped path) into the source cache.

    Files are matched to URLs either by `directory/manifest.json`, a list of
    `{"url": ..., "file": "name.pdf"}`, or by endnote number in the name ('59.html',
    '59.pdf', '59.txt'), which stands for the URL endnote 59 resolves to.

    Raises:
        SourceFetchError: The folder or its manifest cannot be read.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceFetchError(f"no folder of source files at {directory}")
    wanted = cited_urls(report)
    folder = sources_dir(settings)
    manifest = read_manifest(folder)
    rows: dict[str, SourceRow] = {}
    failures: list[SourceRow] = []
    for url, path in _import_entries(report, directory, failures):
        if url in rows:
            continue
        if url not in wanted:
            error = f"{path.name}: no endnote of the report cites {url}"
            failures.append(SourceRow(url, (), "error", fetched_at=_now(), error=error))
            continue
        row = _imported_row(url, wanted[url], path, settings, folder)
        kept = store_row(manifest, row)
        rows[url] = kept
        if kept is not row or row.status != "ok":
            failures.append(row)
    write_manifest(folder, manifest)
    return FetchResult(
        rows=tuple(sorted(rows.values(), key=lambda r: r.endnotes)),
        failures=tuple(failures),
        no_url=_no_url(report),
    )


def source_chunks(
    settings: Settings, max_chars: int = 800, max_per_source: int = MAX_CHUNKS_PER_SOURCE
) -> list[Chunk]:
    """Cut each cached source text (status 'ok') into chunks of at most `max_chars`.

    Chunks break at paragraph, then line, then sentence, then word boundaries (LangChain's
    RecursiveCharacterTextSplitter). Only the first
    `max_per_source` chunks of a source are kept so one long PDF cannot swamp the index.
    """
    folder = sources_dir(settings)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for row in sorted(read_manifest(folder).values(), key=lambda r: r.endnotes):
        if not is_cached(folder, row) or not row.endnotes or row.text_path is None:
            continue
        # Chunks past the cap are never used: don't sentence-split megabytes to find them.
        text = (folder / row.text_path).read_text(encoding="utf-8")[
            : 2 * max_chars * max_per_source
        ]
        section = f"Source: {row.title or row.url}"
        for piece in itertools.islice(_passages(text, max_chars), max_per_source):
            chunk = Chunk(
                id=chunk_id("source", row.url, piece),
                text=piece,
                kind="source",
                section=section,
                endnotes=row.endnotes,
                url=row.url,
            )
            if chunk.id not in seen:
                seen.add(chunk.id)
                chunks.append(chunk)
    return chunks


def _fetch_and_extract(
    client: httpx.Client, url: str, settings: Settings
) -> tuple[Fetched, str, str]:
    fetched = fetch_url(client, url, settings)
    if fetched.status != "ok":
        return fetched, "", ""
    try:
        text, title = extract_text(fetched.body, fetched.content_type)
    except ExtractionError as e:
        return replace(fetched, status="error", error=str(e)), "", ""
    if not text:
        return replace(fetched, status="no_text", error="no readable text in the body"), "", ""
    return fetched, text, title


def _fetched_row(
    fetched: Fetched, endnotes: tuple[int, ...], text: str, title: str, folder: Path
) -> SourceRow:
    ok = fetched.status == "ok"
    return SourceRow(
        url=fetched.url,
        endnotes=endnotes,
        status=fetched.status,
        content_type=fetched.content_type,
        sha256=hashlib.sha256(fetched.body).hexdigest() if ok else None,
        fetched_at=_now(),
        error=fetched.error,
        text_path=write_text(folder, fetched.url, text) if ok else None,
        title=title,
    )


def _imported_row(
    url: str, endnotes: tuple[int, ...], path: Path, settings: Settings, folder: Path
) -> SourceRow:
    content_type = _IMPORT_TYPES.get(path.suffix.lower(), "")
    row = SourceRow(url=url, endnotes=endnotes, status="ok", content_type=content_type)
    row = replace(row, fetched_at=_now())
    if not content_type:
        return replace(
            row, status="unsupported_type", error=f"{path.name}: not .html, .pdf or .txt"
        )
    if path.stat().st_size > settings.sources_max_bytes:
        error = f"{path.name} exceeds {settings.sources_max_bytes:,} bytes"
        return replace(row, status="too_large", error=error)
    body = path.read_bytes()
    try:
        text, title = extract_text(body, content_type)
    except ExtractionError as e:
        return replace(row, status="error", error=f"{path.name}: {e}")
    if not text:
        return replace(row, status="no_text", error=f"{path.name}: no readable text")
    return replace(
        row,
        sha256=hashlib.sha256(body).hexdigest(),
        text_path=write_text(folder, url, text),
        title=title,
    )


def _import_entries(
    report: Report, directory: Path, failures: list[SourceRow]
) -> Iterator[tuple[str, Path]]:
    """(url, file) pairs: manifest entries first, then files named by endnote number."""
    listing = directory / MANIFEST_NAME
    if listing.exists():
        try:
            entries = json.loads(listing.read_text(encoding="utf-8"))
            pairs = [(str(entry["url"]), str(entry["file"])) for entry in entries]
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise SourceFetchError(
                f"{listing} is not a list of {{'url': ..., 'file': ...}} entries: {e}"
            ) from e
        root = directory.resolve()
        for url, name in pairs:
            path = (directory / name).resolve()
            # A listed name must stay inside the folder: no '../' or absolute escapes.
            if path.is_relative_to(root) and path.is_file():
                yield url, path
            else:
                error = f"no file {name!r} in {directory}"
                failures.append(SourceRow(url, (), "error", fetched_at=_now(), error=error))
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        match = _NUMBERED_FILE.match(path.name)
        if not match or not path.is_file():
            continue
        note = report.endnotes.get(int(match.group(1)))
        numbered_url = (note.resolved_url or note.url) if note is not None else None
        if numbered_url:
            yield numbered_url, path
        else:
            error = f"{path.name}: endnote {match.group(1)} has no URL in the report"
            failures.append(SourceRow(path.name, (), "error", fetched_at=_now(), error=error))


def _passages(text: str, max_chars: int) -> list[str]:
    """Passages of at most `max_chars`: whole paragraphs, else sentences, else words."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max_chars,
        chunk_overlap=0,
        separators=[r"\n\s*\n", r"\n", r"(?<=[.?!])\s+", r"\s+", ""],
        keep_separator="end",
        is_separator_regex=True,
    )
    return splitter.split_text(text)


_T = TypeVar("_T")


def _progress(items: Iterable[_T], total: int, show: bool) -> Iterable[_T]:
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc="sources", unit="url")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _no_url(report: Report) -> tuple[int, ...]:
    return tuple(
        n for n, note in sorted(report.endnotes.items()) if not (note.resolved_url or note.url)
    )
