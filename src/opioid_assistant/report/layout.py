"""What the parser knows about one layout of the report, in one named place.

The parser's rules (headings are short lines without a final stop, markers are glued digits)
hold for any capture; the strings and positions here are facts of CAP's web page as a browser
saves it as text. A capture of another site, or another report, needs another profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CaptureLayout:
    """The layout facts of one kind of report capture.

    Attributes:
        furniture_lines: Whole lines that are page furniture (site navigation, link labels).
        furniture_prefixes: Starts of lines that are page furniture (captcha and cookie text).
        top_level_names: Headings that always open a top-level section.
        back_matter: Headings from which on everything is back matter, not body.
        endnotes_heading: The heading the numbered endnotes follow.
        publisher_line: Which non-blank line (0-based) names the publisher.
        title_line: Which non-blank line (0-based) holds the title.
        body_start: The heading the body opens with; without it, the body starts after the
            last line repeating the title.
        stats_figure: A line that is one figure of a call-out of statistics.
        authors_heading: The heading of the author list: name and role lines in pairs.
        authors_end: The heading that closes the author list.
    """

    furniture_lines: frozenset[str]
    furniture_prefixes: tuple[str, ...]
    top_level_names: frozenset[str]
    back_matter: tuple[str, ...]
    endnotes_heading: str
    publisher_line: int
    title_line: int
    body_start: str
    stats_figure: re.Pattern[str]
    authors_heading: str = "Authors"
    authors_end: str = "Team"


CAP_WEB_CAPTURE = CaptureLayout(
    # Link labels and navigation of americanprogress.org that a text capture keeps.
    furniture_lines=frozenset(
        {
            "Read more",
            "See also",
            "Additional reading",
            "Read a summary",
            "In this article",
            "Report",
        }
    ),
    # The reCAPTCHA notice under the newsletter form, and "Learn more about ..." links.
    furniture_prefixes=("This site is protected by reCAPTCHA", "Learn more about"),
    # The report's own top-level headings, which need no rule to be recognised.
    top_level_names=frozenset({"Key takeaways", "Introduction and summary", "Conclusion"}),
    # The acknowledgements and the endnotes close the report.
    back_matter=("Acknowledgements", "Endnotes"),
    # "Endnotes" on a line of its own, then "  N. text" lines.
    endnotes_heading="Endnotes",
    # The capture opens with the publisher's name ("Center for American Progress") ...
    publisher_line=0,
    # ... then the title.
    title_line=1,
    # The body opens with the "Key takeaways" box, after the title, dek and photo caption.
    body_start="Key takeaways",
    # One figure of a statistics call-out: "$1T", "47%", "107,000 in 2022" (its label follows).
    stats_figure=re.compile(r"[$\d][\d,.%xT ]*(in \d+)?"),
    # After the endnotes: "Authors", then a name line and a role line per author, then "Team".
    authors_heading="Authors",
    authors_end="Team",
)
