"""A parsed report as JSON and back, and its fingerprint: what an index stores as its snapshot.

A serving process answers from the report that its index was built from, read back from the
index, never from a separate parse of a file that may since have changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from opioid_assistant.errors import ReportParseError
from opioid_assistant.types import Endnote, Heading, Report, Section, Sentence

FORMAT = 1  # bump when the JSON shape changes


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data (sentences keep their endnotes and marker offsets)."""
    return {
        "format": FORMAT,
        "title": report.title,
        "publisher": report.publisher,
        "authors": [list(a) for a in report.authors],
        "text": report.text,
        "source": report.source,
        "sections": [[s.path, s.level, list(s.paragraphs)] for s in report.sections],
        "sentences": [
            [s.text, s.section, list(s.endnotes), s.start, s.end, list(s.endnote_offsets)]
            for s in report.sentences
        ],
        "endnotes": [
            [n.number, n.text, n.url, n.resolves_to, n.resolved_url]
            for n in report.endnotes.values()
        ],
        "headings": [[h.text, h.section, h.level, h.first, h.last] for h in report.headings],
    }


def report_from_dict(data: dict[str, Any]) -> Report:
    """Rebuild a Report from `report_to_dict`'s data.

    Raises:
        ReportParseError: the data is of another format version.
    """
    if data.get("format") != FORMAT:
        raise ReportParseError(
            f"the stored report snapshot has format {data.get('format')!r}, this version reads "
            f"{FORMAT}: run `opioid-assistant ingest` to rebuild the index"
        )
    return Report(
        title=data["title"],
        publisher=str(data.get("publisher", "")),
        authors=tuple((str(name), str(role)) for name, role in data.get("authors", [])),
        text=data["text"],
        source=data["source"],
        sections=tuple(Section(p, lv, tuple(paras)) for p, lv, paras in data["sections"]),
        sentences=tuple(
            Sentence(t, sec, tuple(notes), start, end, tuple(offsets))
            for t, sec, notes, start, end, offsets in data["sentences"]
        ),
        endnotes={
            number: Endnote(number, text, url, resolves_to, resolved)
            for number, text, url, resolves_to, resolved in data["endnotes"]
        },
        headings=tuple(Heading(*h) for h in data["headings"]),
    )


def report_to_json(report: Report) -> str:
    """The report as one compact JSON string."""
    return json.dumps(report_to_dict(report), ensure_ascii=False, separators=(",", ":"))


def report_from_json(text: str) -> Report:
    """Rebuild a Report from `report_to_json`'s string."""
    return report_from_dict(json.loads(text))


def report_fingerprint(report: Report) -> str:
    """Identify a report by its parsed content (not by where it was read from)."""
    data = report_to_dict(report)
    data.pop("source")
    payload = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
