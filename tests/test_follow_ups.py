"""Suggested follow-ups: drawn from the report by rule, and every one shown is answerable."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from opioid_assistant import load_report
from opioid_assistant.answer.follow_ups import (
    candidate_follow_ups,
    checked_follow_ups,
    figure_question,
    gerund,
    heading_question,
)
from opioid_assistant.types import Answer, Citation, Heading

EVALSET = Path(__file__).parents[1] / "eval" / "evalset.jsonl"
PHARMACY = "How much did pharmacy chains pay in the opioid settlement?"


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return load_report()


def _heading(report, text):  # type: ignore[no-untyped-def]
    return next(h for h in report.headings if h.text == text)


def test_candidates_for_the_pharmacy_settlement_answer(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask(PHARMACY)
    assert candidate_follow_ups(assistant.report, answer) == [
        "How much was the national settlement with pharmaceutical distributors and manufacturers in 2021?",
        "What does the report say about addressing the needs of heavily affected communities and ensuring equitable access to treatment and recovery services?",
        "What does the report say about tackling the underlying causes of drug use in communities?",
        "What does the report say about the waves of the opioid epidemic?",
        "What does the report say about border security solutions?",
        "How should the Biden administration’s actions to address the opioid epidemic be strengthened with support from Congress?",
    ]
    assert candidate_follow_ups(assistant.report, answer, limit=2) == [
        "How much was the national settlement with pharmaceutical distributors and manufacturers in 2021?",
        "What does the report say about addressing the needs of heavily affected communities and ensuring equitable access to treatment and recovery services?",
    ]


def test_candidates_for_the_2022_deaths_answer(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask("How many Americans died from a drug overdose in 2022?")
    # The next sentence ("Of these deaths, more than 83,000 ...") points back: no question.
    assert candidate_follow_ups(assistant.report, answer, limit=3) == [
        "How many people have died from drug overdoses in the United States since 1999?",
        "What does the report say in its key takeaways?",
        "How should the Biden administration’s actions to address the opioid epidemic be strengthened with support from Congress?",
    ]


def test_an_abstention_asks_about_the_heading_it_names(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask(
        "What does the report say about xylazine being mixed into the drug supply?"
    )
    assert answer.abstained
    assert (
        "“Conduct evidence-based research and oversight of drug interdiction efforts”"
        in answer.text
    )
    assert candidate_follow_ups(assistant.report, answer)[:2] == [
        "What does the report say about conducting evidence-based research and oversight of drug interdiction efforts?",
        "What does the report say about partnering with the U.S. Postal Service to leverage technology to intercept illicit opioids?",
    ]


def test_a_refusal_gets_no_follow_ups(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask("Where can I buy fentanyl or oxycodone online without a prescription?")
    assert answer.abstained
    assert candidate_follow_ups(assistant.report, answer) == []
    assert checked_follow_ups([], answer, assistant.ask) == ()


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Key takeaways", "What does the report say in its key takeaways?"),
        (
            "Harm reduction is critical for overdose prevention",
            "Why is harm reduction critical for overdose prevention?",
        ),
        (
            "Expanding access to Narcan can prevent overdoses",
            "How can expanding access to Narcan prevent overdoses?",
        ),
        ("Border security solutions", "What does the report say about border security solutions?"),
        (
            "The waves of the opioid epidemic",
            "What does the report say about the waves of the opioid epidemic?",
        ),
        (
            "Invest in scanning technologies at all ports of entry",
            "What does the report say about investing in scanning technologies at all ports of entry?",
        ),
        (
            "Implement pre-booking diversion programs",
            "What does the report say about implementing pre-booking diversion programs?",
        ),
        # A verb that takes a gerund ("continue partnering"): the gerund names the topic.
        (
            "Continue partnering with the U.S. Postal Service to leverage technology to intercept illicit opioids",
            "What does the report say about partnering with the U.S. Postal Service to leverage technology to intercept illicit opioids?",
        ),
    ],
)
def test_heading_questions(report, text: str, question: str) -> None:  # type: ignore[no-untyped-def]
    assert heading_question(report, _heading(report, text)) == question


@pytest.mark.parametrize(
    ("text", "question"),
    [
        (
            "Keep funding syringe services programs",
            "What does the report say about funding syringe services programs?",
        ),
        (
            "Stop arresting people for drug possession",
            "What does the report say about arresting people for drug possession?",
        ),
        (
            "Begin testing wastewater for fentanyl",
            "What does the report say about testing wastewater for fentanyl?",
        ),
        # Any other verb before an "-ing" word is the action: "housing" is its object here.
        (
            "Expand housing options for people in recovery",
            "What does the report say about expanding housing options for people in recovery?",
        ),
    ],
)
def test_heading_questions_for_headings_of_other_reports(report, text: str, question: str) -> None:  # type: ignore[no-untyped-def]
    heading = Heading(text=text, section=text, level=2, first=0, last=1)
    assert heading_question(report, heading) == question


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        (
            "In 2022 alone, more than 100,000 people died from drug overdoses—the leading cause of injury mortality.",
            "How many people died from drug overdoses in 2022 alone?",
        ),
        (
            "An additional settlement of $13.8 billion with pharmacy chains followed.",
            "How much was the additional settlement with pharmacy chains?",
        ),
        (
            "Since 1971, America has spent more than $1 trillion on the war on drugs, with robust investments.",
            "How much has America spent on the war on drugs since 1971?",
        ),
        (
            "An estimated 8.3 million Black and Latino residents live in “pharmacy deserts,” disproportionately limiting access.",
            "How many Black and Latino residents live in “pharmacy deserts”?",
        ),
        (
            "Currently, 1 in 5 incarcerated people is being held due to a drug offense.",
            "What share of incarcerated people is being held due to a drug offense?",
        ),
        ("Of these deaths, more than 83,000 involved opioids.", None),  # points back
        ("In 2018, fentanyl-related convictions were rare, with only 63 being reported.", None),
        ("The Biden administration has taken a multipronged approach.", None),  # no figure
    ],
)
def test_figure_questions(sentence: str, question: str | None) -> None:
    assert figure_question(sentence) == question


def test_gerund() -> None:
    words = ["invest", "create", "tackle", "plan", "target", "see", "tie", "build"]
    assert [gerund(w) for w in words] == [
        "investing", "creating", "tackling", "planning", "targeting", "seeing", "tying", "building",
    ]  # fmt: skip


def _answer(text: str, abstained: bool = False, cited: bool = True) -> Answer:
    citations = (Citation(1, "A source.", None),) if cited else ()
    return Answer(text=text, citations=citations, evidence=(), abstained=abstained)


def test_checked_follow_ups_keeps_only_answerable_distinct_ones() -> None:
    original = _answer("The original answer [1].")
    replies = {
        "abstains?": _answer("Not in the report.", abstained=True, cited=False),
        "uncited?": _answer("Something.", cited=False),
        "same?": original,
        "first?": _answer("First answer [1]."),
        "first again?": _answer("First answer [1]."),  # leads where "first?" does
        "second?": _answer("Second answer [1]."),
        "third?": _answer("Third answer [1]."),
    }
    asked: list[str] = []

    def ask(question: str) -> Answer:
        asked.append(question)
        return replies[question]

    kept = checked_follow_ups(list(replies), original, ask, want=2)
    assert kept == ("first?", "second?")
    assert asked == ["abstains?", "uncited?", "same?", "first?", "first again?", "second?"]


def test_every_follow_up_for_the_evaluation_set_is_answerable(assistant) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    questions = list(dict.fromkeys(json.loads(line)["question"] for line in EVALSET.open()))
    answers = {q: assistant.ask(q) for q in questions}
    produced: dict[str, set[str]] = {}  # suggestion -> the answer texts it follows
    with_two = answered_with_two = 0
    for answer in answers.values():
        candidates = candidate_follow_ups(assistant.report, answer)
        kept = checked_follow_ups(candidates, answer, assistant.ask)
        with_two += len(kept) >= 2
        answered_with_two += len(kept) >= 2 and not answer.abstained
        for suggestion in kept:
            produced.setdefault(suggestion, set()).add(answer.text)
    for suggestion, followed in produced.items():  # asked afresh, not from a cache
        reply = assistant.ask(suggestion)
        assert not reply.abstained, suggestion
        assert reply.citations, suggestion
        assert reply.text not in followed, suggestion
    answered = sum(not a.abstained for a in answers.values())
    print(
        f"{len(produced)} follow-ups checked; {with_two} of {len(answers)} questions get 2 or "
        f"more ({answered_with_two} of the {answered} answered); "
        f"{time.perf_counter() - started:.1f} s"
    )
    assert len(produced) >= 30  # suggestions vary with the answer, not one fixed list
    assert answered_with_two == answered  # every answer gets at least two


def test_a_follow_up_restating_the_question_is_dropped(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask(PHARMACY)
    restated = replace(answer, question="What does the report say about border security solutions?")
    assert "What does the report say about border security solutions?" not in candidate_follow_ups(
        assistant.report, restated
    )


def test_checked_answers_remember_evict_the_oldest_and_never_keep_errors() -> None:
    from opioid_assistant.answer.assistant import CheckedAnswers
    from opioid_assistant.errors import InvalidQuestionError
    from opioid_assistant.types import Answer

    asked: list[str] = []

    def ask(text: str) -> Answer:
        asked.append(text)
        return Answer(text=text, citations=(), evidence=(), abstained=False)

    memo = CheckedAnswers(size=2)
    first = memo.answer(("v1", "", "a"), lambda: ask("a"))
    assert memo.answer(("v1", "", "a"), lambda: ask("again")) is first
    memo.answer(("v1", "", "b"), lambda: ask("b"))
    memo.answer(("v2", "", "a"), lambda: ask("a2"))  # another index version: asked anew
    memo.answer(("v1", "", "a"), lambda: ask("a3"))  # evicted by the two after it
    assert asked == ["a", "b", "a2", "a3"]

    def fail() -> Answer:
        raise InvalidQuestionError("no")

    with pytest.raises(InvalidQuestionError):
        memo.answer(("v1", "", "c"), fail)
    assert memo.answer(("v1", "", "c"), lambda: ask("c")).text == "c"
