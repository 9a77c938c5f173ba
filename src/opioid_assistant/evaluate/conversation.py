"""An evaluation conversation replayed: each earlier turn asked after the ones before it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opioid_assistant.types import Answer


def history_of(
    ask: Callable[[str, list[dict[str, str]]], Answer], turns: Sequence[str]
) -> list[dict[str, str]]:
    """The chat history that `turns` make when each is asked after the ones before it: each
    turn and its answer ([] for no turns)."""
    history: list[dict[str, str]] = []
    for turn in turns:
        earlier = ask(turn, history)
        history += [
            {"role": "user", "content": turn},
            {"role": "assistant", "content": earlier.text},
        ]
    return history
