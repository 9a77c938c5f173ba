"""The replies the answer stage streams: the composed extractive answer, an abstention, the
help-first answer (`topic_reply`), and the LLM path: the prompts (numbered evidence with each
sentence's endnotes), the model writing from the composed sentences, and the check of every
answer it gives; any failure falls back to the composed extractive answer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace

from opioid_assistant.answer.answer_kinds import kind_lacking
from opioid_assistant.answer.backends import ChatBackend
from opioid_assistant.answer.citations import (
    CITATION_GROUP,
    check_citations,
    cite,
    ungrounded_claims,
)
from opioid_assistant.answer.composer import Draft
from opioid_assistant.answer.help_first import help_line, help_lines, safety_first
from opioid_assistant.answer.prompts import NOT_COVERED, REFUSALS, SMALL_TALK_REPLIES, render
from opioid_assistant.answer.turn import Question, Reply, Turn
from opioid_assistant.errors import BackendError
from opioid_assistant.types import Evidence, Report

Event = str | Reply


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


def spoken(text: str) -> Iterator[str]:
    """The text in word-sized pieces, as a stream."""
    yield from re.findall(r"\S+\s*", text)


def condensed_by_model(
    question: Question, history: list[dict[str, str]], backend: ChatBackend
) -> Question:
    """The follow-up made standalone by the model; the rule-based rewrite when it fails."""
    try:
        text = "".join(backend.stream(condense_messages(question.text, history))).strip()
    except BackendError:
        return question
    first_line = text.splitlines()[0].strip() if text else ""
    return replace(question, standalone=first_line) if first_line else question


def abstaining_reply(turn: Turn, text: str) -> Iterator[Event]:
    """Say `text` (the report does not answer, or the question is refused) in one piece."""
    yield text
    yield Reply(turn, text, abstained=True)


def chat_reply(turn: Turn, report: Report) -> Iterator[Event]:
    """The fixed reply to small talk (prompts.SMALL_TALK_REPLIES), after the turn's help line
    if it has one: what the assistant does, never a claim about the report, so no evidence."""
    text = safety_first(help_line(turn)) + SMALL_TALK_REPLIES[turn.chat].format(title=report.title)
    yield text
    yield Reply(replace(turn, evidence=()), text, abstained=False)


def extractive_reply(turn: Turn, draft: Draft, notice: str = "") -> Iterator[Event]:
    """Stream a composed answer; `notice` says why it stands in for the model's."""
    yield from spoken(draft.text)
    yield Reply(turn, draft.text, abstained=draft.abstains, notice=notice, backend="extractive")


def model_reply(
    turn: Turn, composed: Draft, backend: ChatBackend, report: Report
) -> Iterator[Event]:
    """Stream the model's answer written from the `composed` sentences, or the composed
    answer itself when the model fails, abstains, cites nothing or says what its passages
    do not."""
    picked = quoted_evidence(composed, report) or list(turn.evidence)
    messages = answer_messages(report, turn.question, picked, turn.history)
    pieces: list[str] = []
    raw: list[str] = []  # what the model wrote, to report the citations it invented

    def recorded(stream: Iterator[str]) -> Iterator[str]:
        for piece in stream:
            raw.append(piece)
            yield piece

    allowed = {n for e in turn.evidence for n in e.endnotes} & set(report.endnotes)
    try:
        for piece in filter_citations(recorded(backend.stream(messages)), allowed):
            pieces.append(piece)
            yield piece
    except BackendError as e:
        notice = f"The {backend.name} backend failed ({e}); this answer is extractive."
        yield from _fallback(turn, notice, composed)
        return
    text = "".join(pieces).strip()
    # Only the report's own words (they cite no source): the model has no number to write.
    uncited = bool(composed.quoted) and not any(
        report.sentences[i].endnotes for i in composed.quoted
    )
    problem = _problem(text, turn, report, uncited)
    if problem:
        yield from _fallback(turn, problem, composed)
        return
    checked = check_citations(text, turn.evidence, report.endnotes)
    dropped = check_citations("".join(raw), turn.evidence, report.endnotes).dropped
    yield Reply(turn, checked.text, abstained=False, dropped=dropped)


def _problem(text: str, turn: Turn, report: Report, uncited: bool = False) -> str:
    """Why the model's answer cannot stand, as a notice for the reader; '' when it can.
    With `uncited` (it was shown only sentences that cite nothing), citing nothing is no
    fault; what it says must still be in the evidence."""
    if NOT_COVERED.lower().rstrip(".") in text.lower():
        return (
            "The model found no answer in the evidence, but a report sentence answers the "
            "question; this answer is extractive."
        )
    checked = check_citations(text, turn.evidence, report.endnotes)
    if not checked.citations and not uncited:
        return "The model's answer cited nothing the evidence supports; this answer is extractive."
    # The model is shown only report sentences: what only a fetched source page says is not
    # the report's, and the model did not read it there.
    shown = [e for e in turn.evidence if e.kind != "source"]
    ungrounded = ungrounded_claims(checked.text, shown, report.endnotes)
    if ungrounded:
        return (
            f"The model's answer said what its cited passages do not (“{_clip(ungrounded[0])}”); "
            "this answer is extractive."
        )
    return ""


def _fallback(turn: Turn, notice: str, draft: Draft) -> Iterator[Event]:
    yield f"\n\n{notice}\n\n"
    yield from extractive_reply(turn, draft, notice)


def quoted_evidence(draft: Draft, report: Report) -> list[Evidence]:
    """The sentences a composed answer quotes, in its order, as the LLM's evidence."""
    passages = []
    for index in draft.quoted:
        sentence = report.sentences[index]
        passages.append(
            Evidence(
                chunk_id=f"sentence-{index}",
                text=sentence.text,
                section=sentence.section,
                endnotes=sentence.endnotes,
                score=1.0,
                sentences=(sentence.text,),
                sentence_endnotes=(sentence.endnotes,),
            )
        )
    return passages


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def filter_citations(pieces: Iterator[str], allowed: set[int]) -> Iterator[str]:
    """Pass model output through, holding back an open '[' until its citation is complete,
    and removing cited numbers that are not `allowed` (those the evidence carries)."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        cut = buffer.rfind("[")
        if cut != -1 and "]" not in buffer[cut:] and len(buffer) - cut < 40:
            ready, buffer = buffer[:cut], buffer[cut:]
        else:
            ready, buffer = buffer, ""
        if ready:
            yield _keep_allowed(ready, allowed)
    if buffer:
        yield _keep_allowed(buffer, allowed)


def _keep_allowed(text: str, allowed: set[int]) -> str:
    def rewrite(match: re.Match[str]) -> str:
        good = [n for n in map(int, re.findall(r"\d+", match.group(1))) if n in allowed]
        lead = " " if match.group(0)[0].isspace() else ""
        return lead + "".join(f"[{n}]" for n in good) if good else ""

    return CITATION_GROUP.sub(rewrite, text)


def answers_on_topic(own: Draft | None, topic: Draft | None) -> bool:
    """Whether a help-seeking question's own answer is on its report topic already: it quotes
    a sentence that the topics' answer quotes too (or the topics have no answer)."""
    if own is None:
        return False
    return topic is None or bool(set(own.quoted) & set(topic.quoted))


def topic_reply(
    turn: Turn,
    retrieve: Callable[[Turn], Turn],
    compose: Callable[[Turn], tuple[Turn, Draft | None]],
    backend: ChatBackend | None,
) -> Iterator[Event]:
    """The answer stage for a question the guard refused or marked, its help line first.

    Injected instructions are refused. A declined act gets the decline, then what the report
    says on its outcome's topics (`report_topics` in help_lines.json). A help-seeking question
    gets the answer to its own words, then the topics' answer unless the first quotes from it
    already (the topics' alone when its own words find nothing, or when its kind is answered
    from its topics only, as a crisis is): never a refusal, never a list of sections.

    Args:
        turn: The turn, retrieved for its own words.
        retrieve: Retrieves evidence for a turn (the assistant's retrieve stage).
        compose: The composed answer for a retrieved turn, and the turn with what it quotes.
        backend: The LLM that writes a help-seeking answer from the composed one, or None.
    """
    line = help_line(turn)
    if not line:
        yield from abstaining_reply(turn, REFUSALS[turn.refusal or "injection"])
        return
    yield safety_first(line)
    about, on_topic = _on_topics(turn, retrieve, compose)
    if turn.refusal:
        offered = f"\n\n{on_topic.text}" if on_topic else ""
        events = abstaining_reply(about, REFUSALS[turn.refusal] + offered)
    else:  # a crisis is answered from its topics alone: the report on help, nothing else
        topics_only = turn.need in help_lines().topics_only
        own, draft = (about, on_topic) if topics_only else compose(turn)
        if draft is None:
            own, draft = about, on_topic
            # Asked a kind of figure the topics' answer lacks (a price), it says so first. (A
            # crisis, answered from its topics alone, comes here only when they found nothing.)
            if on_topic is not None and kind_lacking(turn.question.text, on_topic.text, ""):
                text = f"{NOT_COVERED} What it says on the topic:\n\n{on_topic.text}"
                draft = replace(on_topic, text=text, abstains=True)
        elif on_topic is not None and not answers_on_topic(draft, on_topic):
            own = replace(own, evidence=_union(own.evidence, about.evidence))
            draft = _joined([draft, on_topic])
        report = own.signals.report
        if draft is None:
            events = abstaining_reply(own, NOT_COVERED)
        elif backend is None or own.extractive_only or report is None:
            events = extractive_reply(own, draft)
        else:
            events = model_reply(own, draft, backend, report)
    for event in events:  # the Reply's text opens with the line, as the stream did
        yield (
            replace(event, text=safety_first(line) + event.text)
            if isinstance(event, Reply)
            else event
        )


def _on_topics(
    turn: Turn,
    retrieve: Callable[[Turn], Turn],
    compose: Callable[[Turn], tuple[Turn, Draft | None]],
) -> tuple[Turn, Draft | None]:
    """What the whole report says on the turn's outcome's topics: one composed answer per
    topic, joined, and the turn (its own question) whose evidence carries them all."""
    drafts: list[Draft] = []
    evidence: tuple[Evidence, ...] = ()
    about = turn
    for topic in help_lines().report_topics[turn.need or "harmful"]:
        asked = replace(turn, question=Question(topic, topic), section="", scope=())
        about, draft = compose(retrieve(asked))
        if draft is not None:
            drafts.append(draft)
            evidence = _union(evidence, about.evidence)
    about = replace(about, question=turn.question, evidence=evidence)
    return about, (_joined(drafts) if drafts else None)


def _joined(drafts: Sequence[Draft]) -> Draft:
    """Composed answers one after the other, each sentence quoted once."""
    quoted = tuple(dict.fromkeys(i for d in drafts for i in d.quoted))
    return replace(drafts[0], text="\n\n".join(d.text for d in drafts), quoted=quoted)


def _union(first: Sequence[Evidence], second: Sequence[Evidence]) -> tuple[Evidence, ...]:
    return (*first, *(e for e in second if e not in first))
