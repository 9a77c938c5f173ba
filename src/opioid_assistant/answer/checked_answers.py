"""Answers already given, by index version, section and question: the composer is
deterministic, so a suggested follow-up checked once needs no second check while the index
stays the same (the same few suggestions come back under many answers)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from opioid_assistant.types import Answer

Key = tuple[str, str, str]  # index version, section ('' for the whole report), question


class CheckedAnswers:
    """A bounded, thread-safe memo of answers, least recently used out first."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, key: Key, ask: Callable[[], Answer]) -> Answer:
        """The remembered answer for `key`, or `ask()`'s (remembered; errors are not)."""
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        found = ask()
        with self._lock:
            self._answers[key] = found
            if len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return found
