"""The report's cited sources: fetch (or import) each distinct endnote URL into an on-disk
cache, and cut the cached texts into `source` chunks.

Cache layout under `settings.data_dir / "sources"`: `manifest.json` (one row per URL) and
`text/<hash>.txt` (the extracted text). Fetched text is untrusted data: it is stored and
quoted, never executed or followed as an instruction.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx

from opioid_assistant.errors import AssistantError
from opioid_assistant.index.chunking import chunk_id
from opioid_assistant.index.source_fetch import (
    ExtractionError,
    Fetched,
    extract_text,
    fetch_url,
    make_client,
)
from opioid_assistant.settings import Settings
from opioid_assistant.types import Chunk, Report

MANIFEST_NAME = "manifest.json"
MAX_CHUNKS_PER_SOURCE = 40
_IMPORT_TYPES = {".html": "text/html", ".htm": "text/html", ".pdf": "application/pdf"}
_IMPORT_TYPES[".txt"] = "text/plain"
_NUMBERED_FILE = re.compile(r"^(\d+)\.(html?|pdf|txt)$", re.IGNORECASE)


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


def sources_dir(settings: Settings) -> Path:
    """The folder holding the source cache and its manifest."""
    return settings.data_dir / "sources"


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
    todo = [url for url in wanted if refresh or not _is_cached(folder, manifest.get(url))]
    failures: list[SourceRow] = []
    requests = 0
    with make_client(settings) as client, ThreadPoolExecutor(settings.sources_concurrency) as pool:
        futures = [pool.submit(_fetch_and_extract, client, url, settings) for url in todo]
        for future in _progress(as_completed(futures), len(futures), progress):
            fetched, text, title = future.result()
            requests += fetched.requests
            row = _fetched_row(fetched, wanted[fetched.url], text, title, folder)
            _store(manifest, row)
            if row.status != "ok":
                failures.append(row)
            _write_manifest(folder, manifest)
    for url, endnotes in wanted.items():
        if url in manifest and manifest[url].endnotes != endnotes:
            manifest[url] = replace(manifest[url], endnotes=endnotes)
    _write_manifest(folder, manifest)
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
        kept = _store(manifest, row)
        rows[url] = kept
        if kept is not row or row.status != "ok":
            failures.append(row)
    _write_manifest(folder, manifest)
    return FetchResult(
        rows=tuple(sorted(rows.values(), key=lambda r: r.endnotes)),
        failures=tuple(failures),
        no_url=_no_url(report),
    )


def source_chunks(
    settings: Settings, max_chars: int = 800, max_per_source: int = MAX_CHUNKS_PER_SOURCE
) -> list[Chunk]:
    """Cut each cached source text (status 'ok') into chunks of at most `max_chars`.

    Chunks break at paragraph, then sentence, then word boundaries. Only the first
    `max_per_source` chunks of a source are kept so one long PDF cannot swamp the index.
    """
    folder = sources_dir(settings)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for row in sorted(read_manifest(folder).values(), key=lambda r: r.endnotes):
        if not _is_cached(folder, row) or not row.endnotes or row.text_path is None:
            continue
        # Chunks past the cap are never used: don't sentence-split megabytes to find them.
        text = (folder / row.text_path).read_text(encoding="utf-8")[
            : 2 * max_chars * max_per_source
        ]
        section = f"Source: {row.title or row.url}"
        for piece in itertools.islice(_pack(text, max_chars), max_per_source):
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
        text_path=_write_text(folder, fetched.url, text) if ok else None,
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
        text_path=_write_text(folder, url, text),
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


def _store(manifest: dict[str, SourceRow], row: SourceRow) -> SourceRow:
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


def _is_cached(folder: Path, row: SourceRow | None) -> bool:
    return (
        row is not None
        and row.status == "ok"
        and row.text_path is not None
        and (folder / row.text_path).is_file()
    )


def _write_text(folder: Path, url: str, text: str) -> str:
    relative = f"text/{hashlib.sha256(url.encode()).hexdigest()[:24]}.txt"
    _atomic_write(folder / relative, text)
    return relative


def _write_manifest(folder: Path, manifest: dict[str, SourceRow]) -> None:
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


def _pack(text: str, max_chars: int) -> Iterator[str]:
    """Yield chunks of whole paragraphs; split a long paragraph by sentences, then words."""
    run: list[str] = []
    size = 0
    for piece in _pieces(text, max_chars):
        if run and size + 1 + len(piece) > max_chars:
            yield "\n".join(run)
            run, size = [], 0
        size += len(piece) + (1 if run else 0)
        run.append(piece)
    if run:
        yield "\n".join(run)


def _pieces(text: str, max_chars: int) -> Iterator[str]:
    from opioid_assistant.report.sentences import split_sentences

    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if len(paragraph) <= max_chars:
            if paragraph:
                yield paragraph
            continue
        sentences = [paragraph[a:b] for a, b in split_sentences(paragraph)]
        run = ""
        for sentence in sentences:
            for part in _split_words(sentence, max_chars):
                if run and len(run) + 1 + len(part) > max_chars:
                    yield run
                    run = ""
                run = f"{run} {part}" if run else part
        if run:
            yield run


def _split_words(sentence: str, max_chars: int) -> Iterator[str]:
    run = ""
    for word in sentence.split():
        word = word[:max_chars]
        if run and len(run) + 1 + len(word) > max_chars:
            yield run
            run = ""
        run = f"{run} {word}" if run else word
    if run:
        yield run


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
