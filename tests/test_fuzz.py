"""Hostile input costs linear work: property tests over the question cleaner, the guard (its
rules and the help-first rules), the spelling corrector and the question-shape rules
(issue 25: no user-controlled backtracking).

Work is counted, never timed: `regex_steps` re-runs each module's regular expressions in a
matcher that counts its steps (and checks it finds what `re` finds), and adds the Python
lines the call runs. For an input built as prefix + unit x k + suffix, doubling k may at
most double the work (2.5x allows for the fixed part); quadratic work gives about 4x.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from regex_steps import Cost, CountingPattern, counting_copy

# The guard imports its help-first patterns from help_first: count those too.
HELP_FIRST = counting_copy("opioid_assistant.answer.help_first")
GUARD = counting_copy("opioid_assistant.answer.guard", using=(HELP_FIRST,))
SHAPES = counting_copy("opioid_assistant.answer.question_shapes")
SMALL_TALK = counting_copy("opioid_assistant.answer.small_talk", using=(SHAPES,))
SPELLING = counting_copy("opioid_assistant.answer.spelling")
LIMIT = 2000  # the default OA_MAX_QUESTION_CHARS
RATIO = 2.5
SIZE = 160  # characters of repeated unit in the smaller input; the larger has twice as many

# Pieces of the patterns' own vocabulary, so generated text reaches deep into them.
TOKENS = [
    " ",
    "  ",
    "\t",
    "\n",
    "?",
    "!",
    ".",
    ",",
    "'",
    "’",
    "“",
    "/",
    "-",
    "<",
    ">",
    "</",
    "<script",
    "script>",
    "<style>",
    "<b>",
    "a",
    "ab",
    "Z",
    "1",
    "99",
    "2022",
    "%",
    "what is ",
    "who are ",
    "define ",
    "how does ",
    "how to ",
    "why ",
    "is ",
    "the report ",
    "ignore ",
    "previous ",
    "instructions",
    "reply ",
    "with ",
    "exactly ",
    "you are now ",
    "dose ",
    "how much ",
    "take ",
    "safely ",
    "my ",
    "i ",
    "buy ",
    "get ",
    "fentanyl",
    "pills ",
    "without ",
    "prescription",
    "make ",
    "cook ",
    "ship ",
    "across the border",
    "stop ",
    "prevent ",
    "smuggling",
    "undetected",
    "lab",
    "U.S.",
    "since ",
    "in '",
    "4 the ",
    "2 me ",
    "w/",
    "wat ",
    "r ",
    "ppl ",
    "ODs ",
    "teh ",
    "naloxne ",
    "LEAD ",
    "three sentences",
    "summarize ",
    "overview ",
    "compare ",
    "stand for",
    "suicidal ",
    "self-harm ",
    "to die ",
    "kill me ",
    "thanks ",
    "hi, ",
]
pieces = st.lists(st.sampled_from(TOKENS), min_size=0, max_size=4).map("".join)
units = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=4).map("".join)
FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays deterministic
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def doubling(fn: Callable[[str], Any], prefix: str, unit: str, suffix: str) -> float:
    """Work on prefix + unit x 2k + suffix over work on prefix + unit x k + suffix."""
    k = max(1, SIZE // len(unit))
    small, large = prefix + unit * k + suffix, prefix + unit * (2 * k) + suffix
    fn(small), fn(large)  # warm caches (wordfreq, SymSpell) so both runs count alike
    cost = Cost()
    return cost.of(fn, large) / cost.of(fn, small)


@pytest.fixture(scope="module")
def speller() -> Any:
    """The spelling corrector over the report's vocabulary, as the assistant builds it."""
    from opioid_assistant.report.parsing import load_report

    report = load_report(None)
    return SPELLING.build_speller([s.text for s in report.sentences])


def sanitized(text: str) -> str:
    return str(GUARD.sanitize_question(text, LIMIT)[0])


@FUZZ
@given(prefix=pieces, unit=units, suffix=pieces)
@example(prefix="", unit="<script", suffix=" What is LEAD?")  # issue 25's stall
@example(prefix="<style>", unit="<a ", suffix="")
@example(prefix="", unit="</script", suffix="</scrip")
def test_sanitize_question_is_linear(prefix: str, unit: str, suffix: str) -> None:
    assert doubling(lambda t: GUARD.sanitize_question(t, LIMIT), prefix, unit, suffix) <= RATIO


@FUZZ
@given(prefix=pieces, unit=units, suffix=pieces)
@example(prefix="", unit="ignore ", suffix="instructions")
@example(prefix="reply ", unit="a ", suffix="with 'x'")
@example(prefix="how to ", unit="buy ", suffix="fentanyl")
@example(prefix="stop ", unit="smugglingsmuggling", suffix="")
@example(prefix="my ", unit="dose ", suffix="")
@example(prefix="my friend ", unit="is not breathing ", suffix="what do we do")
@example(prefix="", unit="suicidal ", suffix="")  # the crisis cue's lookaheads: no asker
@example(prefix="how much would it take ", unit="to to ", suffix="die")
def test_the_guards_rules_are_linear(prefix: str, unit: str, suffix: str) -> None:
    """refusal_reason (injection, then asks_for_harm's acts) and decide (help first), with a
    fixed vote of the neighbours so that only the rules' work is counted."""
    votes = {"overdose": 0.2, "treatment": 0.2, "harmful": 0.3, "benign": 0.3}

    def guard(text: str) -> tuple[Any, ...]:
        return GUARD.refusal_reason(text), GUARD.decide(text, votes)

    assert doubling(guard, prefix, unit, suffix) <= RATIO


@FUZZ
@given(prefix=pieces, unit=units, suffix=pieces)
@example(prefix="", unit="wat r ppl ", suffix="")
@example(prefix="since ", unit="99 ", suffix="")
@example(prefix="", unit="a/b/", suffix="")
@example(prefix="", unit="teh naloxne ", suffix="?")
def test_correct_question_is_linear(speller: Any, prefix: str, unit: str, suffix: str) -> None:
    def correct(text: str) -> str:
        return str(SPELLING.correct_question(text, speller))

    assert doubling(correct, prefix, unit, suffix) <= RATIO


@FUZZ
@given(prefix=pieces, unit=units, suffix=pieces)
@example(prefix="what is ab", unit=" ", suffix="x")  # quadratic raw: see the test below
@example(prefix="define ", unit="x ", suffix="")
@example(prefix="summarize ", unit="the report ", suffix="")
def test_question_shape_is_linear_on_what_the_assistant_passes_it(
    prefix: str, unit: str, suffix: str
) -> None:
    # The assistant shapes the cleaned question (Assistant._prepare: sanitize_question first,
    # which also collapses whitespace); the work of shaping alone is counted.
    assert doubling(lambda t: SHAPES.question_shape(sanitized(t)), prefix, unit, suffix) <= (RATIO)


@FUZZ
@given(prefix=pieces, unit=units, suffix=pieces)
@example(prefix="", unit="ok thanks ", suffix="?")  # the repeated acknowledgement group
@example(prefix="hi", unit=", ", suffix="what is LEAD?")
@example(prefix="can you answer in one sentence", unit=": ", suffix="what is LEAD?")
@example(prefix="can you make that ", unit="shorter ", suffix="please")
def test_small_talk_is_linear(prefix: str, unit: str, suffix: str) -> None:
    def read(text: str) -> str:  # as Assistant._prepare: the greeting lead, then small talk
        # (outside a conversation, "go on" and "shorter" are asked after too)
        return str(SMALL_TALK.small_talk(SMALL_TALK.GREETING_LEAD.sub("", sanitized(text)), False))

    assert doubling(read, prefix, unit, suffix) <= RATIO


# A long run of raw whitespace made DEFINITION (`[^?,;]{2,60}?\s*\??\s*$`) retry two adjacent
# \s* runs for each term length (about 60 x W^2 steps); question_shape now collapses
# whitespace before any pattern reads the question.
def test_question_shape_on_raw_whitespace_runs_is_linear() -> None:
    assert doubling(SHAPES.question_shape, "what is ab", " ", "x") <= RATIO


def test_the_step_count_sees_quadratic_work() -> None:
    """The measure can fail: a pattern known to backtrack quadratically doubles to ~4x."""
    quadratic = CountingPattern(r"a\s*\??\s*$")
    assert doubling(quadratic.search, "a", " ", "x") > 3.5
    linear = CountingPattern(r"a\s*$")
    assert doubling(linear.search, "a", " ", "x") <= RATIO
