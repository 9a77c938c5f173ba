"""HTML and Markdown rendering for the chat UI: pure functions from Answer to text.

Every piece of user or model text is HTML-escaped before any markup is added, and each
chat message is one HTML block without blank lines, so the Chatbot's Markdown renderer
leaves it alone (no Markdown or HTML in a question or answer can take effect).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from opioid_assistant.types import Answer, Citation, Evidence

ABSTAINED_LABEL = "Not in the report:"
WHOLE_REPORT = "the whole report"  # the scope dropdown's first choice: no section filter
CITATION = re.compile(r"\[(\d+)\]")
EMPTY_EVIDENCE = (
    '<div class="oa-evidence"><p class="oa-empty">Ask a question: the report passages behind '
    "the answer appear here, with the cited sentences highlighted.</p></div>"
)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _paragraphs(escaped: str) -> str:
    parts = [p.strip() for p in re.split(r"\n\s*\n", escaped) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in parts)


ECHO_CHARS = 200  # the most of a question the page repeats back (a long paste: its end)


def echo(question: str, limit: int = ECHO_CHARS) -> str:
    """`question` as the page repeats it: whole, or its last `limit` characters after "…"."""
    return question if len(question) <= limit else "…" + question[-(limit - 1) :].lstrip()


def safe_url(url: str | None) -> str | None:
    """Return `url` if it is an http(s) URL, else None (never a javascript: link)."""
    return url if url and re.match(r"https?://", url, re.IGNORECASE) else None


def citation_link(citation: Citation) -> str:
    """Return the inline link for one citation: the page script opens the endnote in place
    (a popover with its source) and shows the cited passage; the text of the endnote is its
    hover title."""
    return (
        f'<a class="cite" data-endnote="{citation.number}" href="#endnote-{citation.number}" '
        f'title="{_esc(citation.source)}">[{citation.number}]</a>'
    )


def source_html(source: str, url: str | None) -> str:
    """A citation's source as HTML, its URL a link shown once: where the endnote's text
    prints it, or after the text when it does not."""
    url = safe_url(url)
    if not url:
        return _esc(source)
    link = f'<a class="oa-source-url" href="{_esc(url)}" target="_blank" rel="noopener noreferrer">'
    link += f"{_esc(url)}</a>"
    before, found, after = source.partition(url)
    if not found:
        return f"{_esc(source)} {link}"
    return f"{_esc(before)}{link}{_esc(after)}"


def link_citations(escaped_text: str, citations: Iterable[Citation]) -> str:
    """Replace the [n] markers of already-escaped text with citation links."""
    by_number = {c.number: c for c in citations}

    def link(match: re.Match[str]) -> str:
        citation = by_number.get(int(match.group(1)))
        return citation_link(citation) if citation else match.group(0)

    return CITATION.sub(link, escaped_text)


def render_question(text: str) -> str:
    """Render the user's question as inert text."""
    return f'<div class="oa-question">{_paragraphs(_esc(text)) or "<p></p>"}</div>'


def render_streaming(text: str) -> str:
    """Render a partial answer while it streams (plain escaped text)."""
    body = _paragraphs(_esc(text)) or '<p class="oa-wait">Searching the report…</p>'
    return f'<div class="oa-answer oa-streaming">{body}</div>'


def render_error(message: str) -> str:
    """Render an error as a chat message."""
    return (
        '<div class="oa-answer oa-error"><p><strong>Could not answer:</strong> '
        f"{_esc(message)}</p></div>"
    )


def render_sources(citations: Sequence[Citation]) -> str:
    """Render the numbered Sources list under an answer."""
    if not citations:
        return ""
    items = [
        f'<li data-endnote="{c.number}"><span class="oa-num">[{c.number}]</span> '
        f"{source_html(c.source, c.url)}</li>"
        for c in citations
    ]
    return (
        '<div class="oa-sources"><p class="oa-sources-title">Sources</p>'
        f"<ul>{''.join(items)}</ul></div>"
    )


def share_href(question: str, section: str = "") -> str:
    """The page-relative link that asks `question` (scoped to `section`) when opened."""
    query = {"q": question, **({"section": section} if section else {})}
    return "?" + urlencode(query)


def render_follow_ups(questions: Sequence[str]) -> str:
    """The suggested next questions as buttons (the page's script asks one on click)."""
    if not questions:
        return ""
    buttons = "".join(
        f'<button type="button" class="oa-follow-up">{_esc(q)}</button>' for q in questions
    )
    return f'<div class="oa-follow-ups"><p class="oa-fu-title">Ask next:</p>{buttons}</div>'


def render_answer(answer: Answer) -> str:
    """Render a final answer: the help line first, then linked citations, Sources list,
    abstention label, notice, the scope it was answered from, suggested follow-ups and a link
    that asks it again."""
    classes = "oa-answer oa-abstained" if answer.abstained else "oa-answer"
    # A declined request with help offered is not a gap in the report: no label.
    label = (
        f'<p class="oa-label">{ABSTAINED_LABEL}</p>'
        if answer.abstained and not answer.safety
        else ""
    )
    safety = f'<p class="oa-safety">{_esc(answer.safety)}</p>' if answer.safety else ""
    text = answer.text
    if answer.safety and text.startswith(answer.safety):  # shown once, above the answer
        text = text[len(answer.safety) :].lstrip()
    body = safety + _paragraphs(link_citations(_esc(text), answer.citations))
    notice = f'<p class="oa-notice">{_esc(answer.notice)}</p>' if answer.notice else ""
    scope = _esc((answer.section or WHOLE_REPORT).replace(" > ", " › "))
    asked = answer.standalone_question or answer.question
    footer = (
        f'<p class="oa-meta"><span class="oa-scope">Answered from: {scope}</span> · '
        f'<a class="oa-share" href="{_esc(share_href(asked, answer.section))}">Copy link</a></p>'
    )
    return (
        f'<div class="{classes}">{label}{body}{notice}{render_sources(answer.citations)}'
        f"{footer}{render_follow_ups(answer.follow_ups)}</div>"
    )


Anchor = Callable[[str, str], str | None]  # (sentence, section) -> reader element id


def _show_link(evidence: Evidence, cited: set[int], anchor: Anchor | None) -> str:
    """ "Show in report": a link to the reader's first cited (else first) sentence."""
    if anchor is None:
        return ""
    pairs = list(zip(evidence.sentences, evidence.sentence_endnotes, strict=False))
    ordered = [s for s, notes in pairs if cited & set(notes)] + list(evidence.sentences)
    target = next((t for t in (anchor(s, evidence.section) for s in ordered) if t), None)
    if target is None and evidence.kind == "endnote" and evidence.endnotes:
        target = f"rn-{evidence.endnotes[0]}"  # the reader's endnote list item
    if target is None:
        return ""
    return f' <a class="oa-show" href="#{_esc(target)}">Show in report</a>'


def _passage_html(
    evidence: Evidence, cited: set[int], anchored: set[int], anchor: Anchor | None = None
) -> str:
    """One passage with its cited sentences in <mark> and an id="endnote-N" anchor per note."""
    if evidence.sentences:
        pairs = list(zip(evidence.sentences, evidence.sentence_endnotes, strict=False))
    else:
        pairs = [(evidence.text, evidence.endnotes)]
    parts = []
    for sentence, notes in pairs:
        hit = [n for n in notes if n in cited]
        anchors = "".join(
            f'<span class="oa-anchor" id="endnote-{n}"></span>' for n in hit if n not in anchored
        )
        anchored.update(hit)
        marks = "".join(f"<sup>[{n}]</sup>" for n in notes)
        text = _esc(sentence)
        if hit:
            data = " ".join(str(n) for n in hit)
            text = f'<mark class="oa-cited" data-endnotes="{data}">{text}</mark>'
        parts.append(f"{anchors}{text}{marks}")
    section = _esc(evidence.section.replace(" > ", " › "))
    source = safe_url(evidence.url)
    link = (
        f' <a href="{_esc(source)}" target="_blank" rel="noopener noreferrer">source</a>'
        if source
        else ""
    )
    show = _show_link(evidence, cited, anchor)
    return (
        f'<article class="oa-passage"><p class="oa-section">{section}{link}{show}</p>'
        f"<p>{' '.join(parts)}</p></article>"
    )


def render_evidence(answer: Answer, anchor: Anchor | None = None) -> str:
    """Render the evidence panel: cited passages first, the rest folded away.

    Args:
        answer: The answer whose evidence to show.
        anchor: Finds a sentence's element id in the Report tab; with it, every passage gets
            a "Show in report" link.
    """
    cited = {c.number for c in answer.citations}
    anchored: set[int] = set()
    used = [e for e in answer.evidence if cited & set(e.endnotes)]
    rest = [e for e in answer.evidence if e not in used]
    head = f'<p class="oa-ev-question">Evidence for: <q>{_esc(echo(answer.question))}</q></p>'
    if not used:
        head += (
            '<p class="oa-empty">No passage of the report answers this; the closest ones '
            "retrieved are below.</p>"
        )
    shown = "".join(_passage_html(e, cited, anchored, anchor) for e in used)
    folded = ""
    if rest:
        inner = "".join(_passage_html(e, cited, anchored, anchor) for e in rest)
        opened = "" if used else " open"
        folded = (
            f"<details{opened}><summary>Other retrieved passages ({len(rest)})</summary>"
            f"{inner}</details>"
        )
    return f'<div class="oa-evidence">{head}{shown}{folded}</div>'


def citations_data(citations: Iterable[Citation]) -> list[dict[str, Any]]:
    """Citations as plain JSON-ready dicts."""
    return [{"number": c.number, "source": c.source, "url": c.url} for c in citations]


def conversation_markdown(title: str, turns: Sequence[Mapping[str, Any]]) -> str:
    """Render the conversation as Markdown, each answer followed by its sources."""
    lines = [f"# Conversation about “{title}”", ""]
    for turn in turns:
        lines += [f"## Q: {turn['question']}", ""]
        declined = turn.get("abstained") and not turn.get("safety")  # as render_answer
        prefix = f"**{ABSTAINED_LABEL}** " if declined else ""
        lines += [prefix + str(turn["answer"]), ""]
        if turn.get("citations"):
            lines += ["Sources:", ""]
            for c in turn["citations"]:
                shown = c.get("url") and c["url"] not in c["source"]  # each URL once
                url = f" <{c['url']}>" if shown else ""
                lines.append(f"- [{c['number']}] {c['source']}{url}")
            lines.append("")
        lines += [f"_Backend: {turn.get('backend', '')}_", ""]
    return "\n".join(lines)
