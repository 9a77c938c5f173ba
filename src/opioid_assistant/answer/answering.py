"""Prompt building for the LLM backends: numbered evidence with each sentence's endnotes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opioid_assistant.answer.citations import cite
from opioid_assistant.answer.prompts import NOT_COVERED, render
from opioid_assistant.answer.ranking import Question
from opioid_assistant.types import Evidence, Report


def format_evidence(evidence: Sequence[Evidence]) -> str:
    """Number the passages for the prompt; each sentence carries its own endnote numbers."""
    lines = []
    for i, e in enumerate(evidence, start=1):
        if e.sentences:
            body = " ".join(
                f"{s} {cite(n)}" if n else s
                for s, n in zip(e.sentences, e.sentence_endnotes, strict=True)
            )
        elif e.kind == "source":
            # Fetched text is untrusted: quoted as data, never as instructions.
            body = f"«{e.text}» {cite(e.endnotes)}"
        else:
            body = f"{e.text} {cite(e.endnotes)}"
        label = ", ".join(map(str, e.endnotes)) or "none"
        origin = f"cited source {e.url}, quoted" if e.kind == "source" else e.section
        lines.append(f"[E{i}] ({origin}; endnotes {label}) {body}")
    return "\n".join(lines)


def report_name(report: Report) -> str:
    """How the prompt names the report: its title, quoted, and its publisher when known."""
    return f"“{report.title}” ({report.publisher})" if report.publisher else f"“{report.title}”"


def answer_messages(
    report: Report,
    question: Question,
    evidence: Sequence[Evidence],
    history: Sequence[Mapping[str, str]],
) -> list[dict[str, str]]:
    """The chat messages an LLM backend receives."""
    system = render("answer_system", report=report_name(report), not_covered=NOT_COVERED)
    messages = [{"role": "system", "content": system}]
    for m in history[-6:]:
        if m.get("role") in ("user", "assistant") and m.get("content"):
            messages.append({"role": m["role"], "content": m["content"][:1500]})
    user = render("answer_user", evidence=format_evidence(evidence), question=question.standalone)
    messages.append({"role": "user", "content": user})
    return messages


def condense_messages(question: str, history: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The chat messages that ask an LLM to make a follow-up standalone."""
    transcript = "\n".join(
        f"{m['role']}: {m['content'][:500]}" for m in history[-6:] if m.get("content")
    )
    return [{"role": "user", "content": render("condense", history=transcript, question=question)}]
