"""The understand stage: what flows through the answering chain for one question, stage to
stage, the chat history in one shape (the only place that turns what callers send into
turns), and the conversation read into a standalone question (`condense`: the topic a
follow-up carries, and the item of the last answer an ordinal points at)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opioid_assistant.answer.answer_kinds import names_in, numbers_in
from opioid_assistant.answer.citations import CITATION_MARKS
from opioid_assistant.answer.prompts import ANSWER_LEADS
from opioid_assistant.answer.small_talk import small_talk
from opioid_assistant.errors import InvalidQuestionError
from opioid_assistant.report.sentences import split_sentences
from opioid_assistant.text import tokenize
from opioid_assistant.types import Evidence, Heading, Report, Sentence

FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|so|what about|how about|what else|why|how so|then)\b|"
    r"\b(it|its|they|them|their|that|those|this|these|he|she|his|her|there|after that|"
    r"the same|the third|the second|the first|one)\b"
    # "... too?", "any other ...?", "besides X, ...": a turn that adds to what was said.
    r"|\b(too|as well|either|else|other|others|another|besides|beyond|instead|again)\b"
    # "Does wider availability save lives?": a comparison with no "than" is with what was said.
    r"|\b(more|better|higher|lower|wider|broader|greater|bigger|larger|stronger|tougher|"
    r"easier|cheaper)\b(?!.*\bthan\b)",
    re.IGNORECASE,
)
SHORT = 4  # a question of this few terms, with no figure or name, leans on the conversation


@dataclass(frozen=True)
class Question:
    """A question ready to answer: its own words and the words it takes from the history."""

    text: str
    standalone: str
    context: str = ""
    previous_answer: str = ""

    def just_said(self, sentence: str) -> bool:
        """Whether the previous answer quoted the sentence."""
        return bool(self.previous_answer) and said_before(sentence, self.previous_answer)


@dataclass(frozen=True)
class Signals:
    """What the extractive answerer knows besides the evidence.

    Attributes:
        similarity: Cosine similarity of each report sentence (by text) to the question.
        vocabulary: The report body, lowercased: a name missing from it is not in the report.
        clauses: For each sentence (by text), the clause each of its endnotes supports.
        preceding: For each sentence (by text), the sentence before it in the report, even
            when a passage starts between them.
        position: For each sentence (by text), its section and its index in the report.
        topic: For each sentence (by text), the side-box heading it stands under, if any.
        favoured: Sentences under a heading the question matches.
        spans: The sub-sections (sentence index ranges) of the section the question matches.
        report: The parsed report, for neighbouring sentences and the summary.
        vectors: Each sentence's embedding (by text), for diverse composed answers.
        query: The question's embedding (normalised), to weigh sentences beyond the evidence.
        scope: The section paths a scoped question may quote from; empty for the whole report.
        parts: For a question that asks two or more things, each part with its normalised
            embedding; empty otherwise.
        cited_figures: The figures the report's cited sentences state (`cited_figures`),
            worked out once per index; None: from `report` when it is set.
    """

    similarity: Mapping[str, float] = field(default_factory=dict)
    vocabulary: str = ""
    clauses: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    preceding: Mapping[str, str] = field(default_factory=dict)
    position: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    topic: Mapping[str, str] = field(default_factory=dict)
    favoured: frozenset[str] = frozenset()
    spans: tuple[tuple[int, int], ...] = ()
    report: Report | None = None
    vectors: Mapping[str, Sequence[float]] = field(default_factory=dict)
    query: Sequence[float] = ()
    scope: frozenset[str] = frozenset()
    parts: tuple[tuple[str, tuple[float, ...]], ...] = ()
    cited_figures: frozenset[str] | None = None


@dataclass(frozen=True)
class Turn:
    """One question on its way through prepare -> retrieve -> answer.

    Attributes:
        question: The question as asked and as a standalone question.
        history: Earlier turns as role/content messages.
        notice: Notes for the reader gathered so far (a clipped or corrected question).
        evidence: The retrieved passages.
        refusal: Why the guard refused the question ('unsafe', 'injection'), or None.
        signals: What the extractive composer scores sentences with.
        corrected: The question with its spelling corrected, when that changed it.
        missing: Key terms of the question that the report never uses.
        closest: The heading nearest the question, suggested when the answer abstains.
        section: The section the question is scoped to, or '' for the whole report.
        scope: The section paths answers may come from (the section and its sub-sections);
            empty for the whole report.
        section_named: The scope comes from the question's own words ("in the border
            section"), not from a `section=` argument.
        extractive_only: Answer with the composer even when an LLM backend is set (checking
            that a suggested follow-up is answerable needs no model).
        need: The help the guard found the question needs ('overdose', 'treatment'): its
            help line comes first, then the answer; '' when none (see `generation.topic_reply`).
        chat: The kind of small talk the message is (`question_shapes.small_talk`: a
            greeting, thanks, what the assistant does), answered with a fixed reply; ''
            for a question.
    """

    question: Question
    history: list[dict[str, str]]
    notice: str = ""
    evidence: tuple[Evidence, ...] = ()
    refusal: str | None = None
    signals: Signals = field(default_factory=Signals)
    corrected: str = ""
    missing: tuple[str, ...] = ()
    closest: Heading | None = None
    section: str = ""
    scope: tuple[str, ...] = ()
    section_named: bool = False
    extractive_only: bool = False
    need: str = ""
    chat: str = ""


@dataclass(frozen=True)
class Reply:
    """The answer stage's final word, before the check stage verifies its citations.

    Attributes:
        turn: The turn it answers (its evidence is what the citations are checked against).
        text: The answer text with inline endnote numbers.
        abstained: True when the report does not answer the question.
        notice: A note for the reader about this answer (e.g. a fallback), or ''.
        backend: The backend that wrote it; None for the assistant's configured one.
        dropped: Endnote numbers the model wrote that the evidence does not carry.
    """

    turn: Turn
    text: str
    abstained: bool
    notice: str = ""
    backend: str | None = None
    dropped: tuple[int, ...] = ()


History = Sequence[Mapping[str, Any]]


def normalize_history(history: History | str | None) -> list[dict[str, str]]:
    """History as role/content strings, whatever shape a caller keeps it in.

    Gradio's content blocks are joined into text; a recorded exchange ({"question",
    "answer"}, as the chat page keeps its turns) stands for its user and assistant messages;
    a string is parsed as a JSON list first (API clients that can only send text). Messages
    with another role or no text are dropped.

    Raises:
        InvalidQuestionError: a string that is not a JSON list.
    """
    if isinstance(history, str):
        history = _parse(history)
    normalized = []
    for message in history or []:
        if not isinstance(message, Mapping):
            continue
        if "question" in message and "answer" in message and "role" not in message:
            pairs = [("user", _text(message["question"])), ("assistant", _text(message["answer"]))]
        else:
            pairs = [(str(message.get("role", "")), _text(message.get("content")))]
        for role, content in pairs:
            if role in ("user", "assistant") and content.strip():
                normalized.append({"role": role, "content": content})
    return normalized


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):
        return " ".join(
            str(b.get("text", "")) if isinstance(b, Mapping) else str(b) for b in content
        )
    return str(content)


def _parse(text: str) -> History:
    if not text.strip():
        return []
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidQuestionError(
            f"history is not valid JSON ({e}): send a list of {{role, content}} messages"
        ) from e
    if not isinstance(parsed, list):
        raise InvalidQuestionError("history must be a list of {role, content} messages")
    return parsed


def said_before(sentence: str, previous_answer: str) -> bool:
    """Whether an earlier answer quoted the sentence."""
    return quoted_at(sentence, previous_answer) >= 0


def quoted_at(sentence: str, answer: str) -> int:
    """Where an answer quoted the sentence (-1: it did not)."""
    # The answer lowercases a sentence's first letter and puts citations before its period,
    # and drops a leading connective ("Instead, officers can ..." is quoted "Officers can ...").
    if len(sentence) > 2 and (at := answer.find(sentence[1:-1])) >= 0:
        return at
    lead, comma, rest = sentence.partition(", ")
    if not comma or len(lead) > CONNECTIVE_CHARS or len(rest) < REST_MIN_CHARS:
        return -1
    return answer.find(rest[1:-1])


CONNECTIVE_CHARS = 24  # "On the other hand", "At the same time": a lead this long at most
REST_MIN_CHARS = 30  # what follows it is a clause, not a word or two found anywhere


def quoted_sentences(report: Report, answer: str) -> list[Sentence]:
    """The report's sentences an earlier answer quoted, in report order."""
    return [s for s in report.sentences if said_before(s.text, answer)]


FOLLOWING_SENTENCES = 3  # "say more" reads on this many sentences


def following_sentences(report: Report, answer: str) -> list[int]:
    """The sentences after the last one an answer quoted (at most FOLLOWING_SENTENCES, on
    into the next section when its own ends): what "say more" reads on to."""
    said = [i for i, s in enumerate(report.sentences) if said_before(s.text, answer)]
    start = said[-1] + 1 if said else len(report.sentences)
    return list(range(start, min(start + FOLLOWING_SENTENCES, len(report.sentences))))


def read_on(report: Report, index: int, answer: str) -> int | None:
    """The sentence after `index` in its section, when the previous `answer` quoted sentence
    `index`: a follow-up best answered by what was just said asks for more
    than it ("What did they achieve?" after the operations were named), so the answer reads on."""
    after = index + 1
    if not answer or after >= len(report.sentences):
        return None
    if not said_before(report.sentences[index].text, answer):
        return None
    return after if report.sentences[after].section == report.sentences[index].section else None


def lead_sentence(report: Report, answer: str) -> int | None:
    """The sentence an answer quoted first, its best (or None): what "shorter" keeps."""
    if not answer:  # no earlier answer: nothing to search (asked of every question)
        return None
    # Of a sentence the report states twice (a takeaway restated in its section), the copy
    # that cites a source: the answer quoted it with its endnotes.
    said = [(quoted_at(s.text, answer), not s.endnotes, i) for i, s in enumerate(report.sentences)]
    return min((place for place in said if place[0] >= 0), default=(0, False, None))[2]


def condense(question: str, history: Sequence[Mapping[str, str]]) -> Question:
    """Make a follow-up standalone by adding the topic the conversation carries (rule-based).

    Follow-ups are recognised by a leading 'and/what about…', a pronoun, or very few words
    without a figure or a name. The carried topic is the previous question made standalone
    the same way, so a third or fourth elliptical turn still reaches back to the question
    that set the topic, however many turns ago. An ordinal reference ("the second one")
    names the item of the previous answer's enumeration it points at.
    """
    # "thanks" or "ok" between questions carries no topic (nor the reply to it): the
    # question before it does.
    chat = {
        i
        for i, m in enumerate(history)
        if m.get("role") == "user" and small_talk(str(m.get("content") or ""))
    }
    chat |= {i + 1 for i in chat if i + 1 < len(history) and history[i + 1].get("role") != "user"}
    turns = [m for i, m in enumerate(history) if m.get("content") and i not in chat]
    asked = [i for i, m in enumerate(turns) if m.get("role") == "user"]
    if not asked or not (FOLLOW_UP.search(question) or _short_and_vague(question)):
        return Question(question, question)
    last = asked[-1]
    context = condense(turns[last]["content"], turns[:last]).standalone
    answers = [m["content"] for m in turns if m.get("role") == "assistant"]
    previous = answers[-1] if answers else ""
    match = ORDINAL.search(question)
    ordinal = (match[1] or match[3]).lower() if match else ""
    position = ORDINALS.get(ordinal, 0)
    item = (counted(previous, ordinal, position) or enumerated(previous, position)) if match else ""
    # "Tell me more about the second one" -> "Tell me more about <that item>".
    own = (
        f"{question[: match.start()]}{item}{question[match.end() :]}"
        if match and item
        else question
    )
    return Question(question, f"{context} {own}", context, previous)


ORDINALS = {
    word: n
    for n, words in enumerate(
        ("first 1st", "second 2nd", "third 3rd", "fourth 4th", "fifth 5th", "sixth 6th", "last"),
        start=1,
    )
    for word in words.split()
}
ORDINALS["last"] = -1
# "a second one" asks for another of a kind, not the second of a list: no ordinal then.
ORDINAL = re.compile(
    r"(?<!\ba )(?<!\ban )\b(?:the\s+)?(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|last)\s+"
    r"(one|item|point|thing|option|strategy|step|measure|idea|recommendation|example|sentence)\b"
    r"|\bthe\s+(first|second|third|fourth|fifth|sixth|last)\b(?!\s+(wave|time|half|quarter))",
    re.IGNORECASE,
)


def _short_and_vague(question: str) -> bool:
    return len(tokenize(question)) <= SHORT and not numbers_in(question) and not names_in(question)


COUNTS = {w: n for n, w in enumerate("two three four five six seven eight nine".split(), start=2)}
COUNTED_THINGS = re.compile(
    rf"\b({'|'.join(COUNTS)})\s+(?:[a-z-]+\s+){{0,3}}?([a-z]+s)\b", re.IGNORECASE
)


def counted(answer: str, ordinal: str, position: int) -> str:
    """'the third wave' for the ordinal 'third' (`position` 3; -1 for 'last') when the answer
    counts 'three distinct waves': an ordinal points at the things an answer counted."""
    found = COUNTED_THINGS.search(CITATION_MARKS.sub("", answer))
    if found is None or position > COUNTS[found[1].lower()]:
        return ""
    noun = found[2].lower()
    noun = noun[:-3] + "y" if noun.endswith("ies") else noun[:-1]
    return f"the {ordinal} {noun}"


def enumerated(answer: str, position: int) -> str:
    """The item at `position` (1-based; -1 for the last) of what an answer enumerates: a
    list of three or more items split by semicolons (several lists, one after another);
    else, in an answer of several sentences, its sentences; else a comma list of three or
    more. '' when there is none."""
    text = CITATION_MARKS.sub("", answer)
    text = ANSWER_LEADS.sub(r"\1", text)
    sentences = [text[a:b] for a, b in split_sentences(text)]  # "U.S. citizens" is one

    def items(separator: str) -> list[str]:
        # Several such lists ("Public health solutions: A; B; C." then "Border ...: D; E")
        # are counted through as one.
        found = [s for s in sentences if s.count(separator) >= 2]
        parts = [p for s in found for p in re.split(rf"{separator}\s+(?:and\s+)?", s)]
        return [p.strip(" .") for p in parts if p.strip(" .")]

    listed = items(";") or (sentences if len(sentences) > 1 else items(","))
    if position == 0 or abs(position) > len(listed):
        return ""
    return listed[position - 1 if position > 0 else -1].strip(" .")
