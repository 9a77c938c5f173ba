"""The report's sections as a reader and the API name them: paths ('Section > Sub-section'),
labels (' › ' between headings), and the sections a question scoped to one answers from."""

from __future__ import annotations

from opioid_assistant.errors import UnknownSectionError
from opioid_assistant.types import Report

SHOWN_NAME = 80  # an unknown section's name is quoted back cut to this many characters


def section_paths(report: Report) -> tuple[str, ...]:
    """The report's sections and sub-sections ('Section > Sub-section'), in reading order:
    what a question may be scoped to."""
    return tuple(s.path for s in report.sections)


def summarised_section(report: Report, path: str) -> str:
    """The top-level section a sub-section summarises, when it is titled as one (the
    introduction's "Public health solutions" sums up the section of that name); else ''."""
    parent, _, title = path.rpartition(" > ")
    tops = {s.path for s in report.sections if s.level == 1}
    return title if parent and title in tops and title != parent else ""


def section_label(report: Report, path: str) -> str:
    """How a section path is shown to a reader: ' › ' between its headings, and a summary of
    another section marked as one ('Introduction and summary › Public health solutions
    (summary)'), so it is never taken for the section it sums up."""
    label = path.replace(" > ", " › ")
    return f"{label} (summary)" if summarised_section(report, path) else label


def section_choices(report: Report) -> tuple[tuple[str, str], ...]:
    """(label, path) of every section, in reading order: a scope picker's choices."""
    return tuple((section_label(report, p), p) for p in section_paths(report))


def canonical_section(report: Report, section: str) -> str:
    """The path of a section given as a path, as its label (which a reader may copy from the
    page) or with ' › ' between its headings (as an answer's "Answered from:" shows it);
    anything else comes back as given, for `section_scope` to refuse."""
    wanted = " ".join(section.split())
    by_label = {" ".join(label.split()): path for label, path in section_choices(report)}
    return by_label.get(wanted) or wanted.replace(" › ", " > ")


def section_scope(report: Report, section: str) -> tuple[str, ...]:
    """The section paths a question scoped to `section` answers from: it and its
    sub-sections, and for a summary of another section, that section too (a summary's lines
    carry no endnotes of their own; the section it sums up cites the sources).

    Raises:
        UnknownSectionError: the report has no such section; the message lists those it has.
    """
    wanted = canonical_section(report, section)
    paths = section_paths(report)
    scope = tuple(p for p in paths if p == wanted or p.startswith(f"{wanted} > "))
    if not wanted or not scope:
        shown = wanted if len(wanted) <= SHOWN_NAME else f"{wanted[: SHOWN_NAME - 1]}…"
        raise UnknownSectionError(
            f"the report has no section “{shown}”; choose one of: "
            + "; ".join(f"“{p}”" for p in paths)
        )
    summed = {summarised_section(report, p) for p in scope} - {""}
    return scope + tuple(
        p
        for p in paths
        if p not in scope and any(p == t or p.startswith(f"{t} > ") for t in summed)
    )


def recommendation_headings(report: Report) -> dict[str, list[str]]:
    """Each top-level section's sub-section headings, which name its recommendations."""
    named: dict[str, list[str]] = {}
    for heading in report.headings:
        if heading.level == 2:
            named.setdefault(heading.section.split(" > ")[0], []).append(heading.text)
    return named
