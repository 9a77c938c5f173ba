"""OpenAI's generation options applied to a finished answer: n, temperature, max_tokens, stop.

The answer is deterministic (extractive, or an LLM run at temperature 0), so:
- `n` must be 1 (n > 1 would repeat the same answer): anything else is a 400;
- `temperature` is checked (0 to 2, as OpenAI's) and otherwise ignored;
- `max_tokens` / `max_completion_tokens` cut the answer after the last whole sentence that
  fits (whole words when not even one sentence fits), counted with the embedding model's
  tokenizer; the finish reason is then "length";
- `stop` (a string or up to 4) cuts the answer before the first stop sequence it contains.
A cut answer keeps only the citations still in its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from opioid_assistant.answer.citations import CITATION_GROUP
from opioid_assistant.serve.http_errors import ApiError
from opioid_assistant.serve.token_count import TokenCounter
from opioid_assistant.types import Answer, Citation

MAX_STOP_SEQUENCES = 4  # as OpenAI's
# A sentence ends at . ! or ? (closing quotes/brackets included) before a space or the end;
# "U.S." is not an end (a lone capital before the stop), "$13.8" is not (no space after).
SENTENCE_END = re.compile(r"(?<!\b[A-Z])[.!?][\"'”’)\]]*(?=\s|$)|\n")

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Limits:
    """What a request allows an answer to be: a token budget and stop sequences."""

    max_tokens: int | None = None
    stop: tuple[str, ...] = ()

    @property
    def cuts(self) -> bool:
        """Whether the answer may be cut (so a stream must wait for the whole answer)."""
        return self.max_tokens is not None or bool(self.stop)


@dataclass(frozen=True)
class CutAnswer:
    """The answer's text after the limits, the citations still in it, and why it ends."""

    text: str
    citations: tuple[Citation, ...]
    finish_reason: FinishReason


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, message, param=param)


def check_limits(
    n: int | None,
    temperature: float | None,
    max_tokens: int | None,
    max_completion_tokens: int | None,
    stop: str | list[str] | None,
) -> Limits:
    """The request's limits, or a 400 ApiError naming the option to fix.

    Args:
        n: How many choices; only 1 (or unset).
        temperature: 0 to 2; ignored, as the answer is deterministic.
        max_tokens: The token budget (OpenAI's older name).
        max_completion_tokens: The token budget; the smaller wins when both are set.
        stop: A stop sequence or a list of up to 4; empty strings are ignored.
    """
    if n is not None and n != 1:
        raise _bad(f"n must be 1: the answer is deterministic, so n={n} would repeat it", "n")
    if temperature is not None and not 0 <= temperature <= 2:
        raise _bad(f"temperature must be between 0 and 2, not {temperature}", "temperature")
    budgets = {"max_tokens": max_tokens, "max_completion_tokens": max_completion_tokens}
    for name, value in budgets.items():
        if value is not None and value < 1:
            raise _bad(f"{name} must be at least 1, not {value}", name)
    given = [v for v in budgets.values() if v is not None]
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > MAX_STOP_SEQUENCES:
        raise _bad(f"stop takes at most {MAX_STOP_SEQUENCES} sequences, not {len(stops)}", "stop")
    return Limits(min(given) if given else None, tuple(s for s in stops if s))


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    found = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[: min(found)] if found else text


def _cut_to_chars(text: str, limit: int) -> str:
    """The longest run of whole sentences within `limit` characters; else whole words."""
    ends = [m.end() for m in SENTENCE_END.finditer(text) if m.end() <= limit]
    if ends:
        return text[: ends[-1]].rstrip()
    space = text.rfind(" ", 0, limit + 1)
    return text[:space].rstrip() if space > 0 else ""


def cited_numbers(text: str) -> set[int]:
    """The endnote numbers cited in `text`."""
    return {int(n) for g in CITATION_GROUP.findall(text) for n in re.findall(r"\d+", g)}


def cut_answer(answer: Answer, limits: Limits, counter: TokenCounter) -> CutAnswer:
    """Apply `limits` to the answer; the result's text is always a prefix of the answer's."""
    text = _cut_at_stop(answer.text, limits.stop)
    finish: FinishReason = "stop"
    if limits.max_tokens is not None:
        ends = counter.token_ends(text)
        if len(ends) > limits.max_tokens:
            text, finish = _cut_to_chars(text, ends[limits.max_tokens - 1]), "length"
    if text == answer.text:
        return CutAnswer(text, answer.citations, finish)
    numbers = cited_numbers(text)
    return CutAnswer(text, tuple(c for c in answer.citations if c.number in numbers), finish)
