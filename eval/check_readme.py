"""Find the README's figures that name no command or file anyone could rerun or read.

A figure is a number with a unit (ms, s, MB, GB, %, x or ×, "N times"), a p50/p95/p99, or an
accuracy-like decimal (0.878, 1.000, 0.9999998). It is sourced when a command or an existing
file of the repository is named nearby: in the same paragraph or list item, in the same table,
or in the paragraph that introduces the table or list. A command is a code span that runs
something (`.venv/bin/python eval/x.py`, `opioid-assistant eval ...`, `pytest ...`, `make`,
`curl`, `chroma run`); a file is a code span naming a path that exists. A command that names a
script which does not exist counts as no command. Fenced code blocks are skipped.

    .venv/bin/python eval/check_readme.py [README.md]

Exits 1 and lists every unsourced figure line (file:line: text), 0 when there is none.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"\d[\d,]*(?:\.\d+)?"
FIGURE = re.compile(
    rf"(?<![\w.]){NUMBER}(?:\s?[-–]\s?{NUMBER})?\s?(?:ms|MB|GB|%)(?!\w)"  # 20 ms, 3.7 MB, 20-30%
    rf"|(?<![\w.]){NUMBER}(?:\s?[-–]\s?{NUMBER})?\s+s\b"  # 0.32 s, 2.6-2.9 s (not "1990s")
    rf"|(?<![\w.]){NUMBER}\s?[x×](?![\w\d])"  # 3x, 0.8×, but not 1280×800
    rf"|(?<![\w.]){NUMBER}\s+times\b"  # about 1,000 times faster
    r"|\bp(?:50|95|99)\b"
    r"|(?<![\w.])(?:0\.\d{2,}|1\.0{2,})(?![\d.])"  # 0.878, 1.000 (not 0.3.36)
)
CODE_SPAN = re.compile(r"`([^`]+)`")  # a span may wrap onto the next line
RUNS = re.compile(
    r"^(?:[A-Z][A-Z0-9_]*=\S*\s+)*"  # leading VAR=value assignments
    r"(?:\.venv/bin/\S+|python(?:3(?:\.\d+)?)?|opioid-assistant|pytest|make|curl|chroma)(?:\s|$)"
)


@dataclass(frozen=True)
class Unit:
    """A paragraph, list item or table: the lines that share one context."""

    kind: str  # "paragraph", "item" or "table"
    lines: list[tuple[int, str]]  # (1-based line number, text)
    introducer: list[tuple[int, str]]  # the paragraph just before a table or list, or []

    def text(self) -> str:
        return "\n".join(t for _, t in self.introducer + self.lines)


def units(lines: Sequence[str]) -> Iterator[Unit]:
    """Split Markdown into units, skipping fenced code. A blank line, a heading or a fence ends
    a unit; each list item is its own unit; a table or list keeps the paragraph before it."""
    kind, current = "", []
    introducer: list[tuple[int, str]] = []  # the last paragraph since a heading or table
    in_code = False

    def flush() -> Iterator[Unit]:
        nonlocal kind, current, introducer
        if current:
            yield Unit(kind, current, introducer if kind in ("table", "item") else [])
            if kind == "paragraph":
                introducer = current
            elif kind == "table":
                introducer = []
        kind, current = "", []

    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        fence = line.lstrip().startswith("```")
        if fence:
            in_code = not in_code
        if fence or in_code or not line or line.startswith("#"):
            yield from flush()
            if line.startswith("#") and not in_code:
                introducer = []
            continue
        if line.startswith("|"):
            line_kind = "table"
        elif re.match(r"\s*[-*] ", line):
            line_kind = "item"
        else:
            line_kind = "paragraph"
        continues = (line_kind == kind == "table") or (
            line_kind == "paragraph" and (kind == "paragraph" or (raw.startswith(" ") and kind))
        )
        if not continues:
            yield from flush()
            kind = line_kind
        current.append((number, line))
    yield from flush()


def names_source(text: str, root: Path = ROOT) -> bool:
    """Whether `text` names a command (whose scripts exist) or an existing file."""
    for found in CODE_SPAN.findall(text):
        span = " ".join(found.split())
        scripts = [t for t in span.split() if t.endswith(".py") and "/" in t]
        if RUNS.match(span):
            if all((root / s).is_file() for s in scripts):
                return True
            continue
        first = span.split()[0].rstrip(",;:")
        if ("/" in first or re.search(r"\.\w+$", first)) and (root / first).is_file():
            return True
    return False


def unsourced(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line number, text) of every figure line whose unit names no command or file."""
    found = []
    for unit in units(path.read_text(encoding="utf-8").splitlines()):
        if names_source(unit.text(), root):
            continue
        found += [(n, t) for n, t in unit.lines if FIGURE.search(t)]
    return found


def main(argv: Sequence[str] = ()) -> int:
    """Print the unsourced figure lines of the README (or the file given) and return 1 if any."""
    path = Path(argv[0]) if argv else ROOT / "README.md"
    bad = unsourced(path)
    for number, text in bad:
        print(f"{path.name}:{number}: {text.strip()}")
    if bad:
        print(
            f"{len(bad)} figure line(s) name no command or file: name the command that "
            "produces each figure, re-run it, or delete the figure.",
            file=sys.stderr,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
