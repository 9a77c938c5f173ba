"""A few threads compute answers; requests beyond them wait without holding the interpreter.

Starlette would run each synchronous route in its 40-thread pool, so 64 concurrent questions
meant 40 threads taking turns at the GIL with the event loop, and a liveness probe waited
behind them. The API's routes are async instead and hand the work to `AnswerThreads`, whose
capacity limiter lets `n` answers run and parks the rest on the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")
_END = object()


class AnswerThreads:
    """Run answer work in at most `n` threads at once."""

    def __init__(self, n: int) -> None:
        self.limiter = CapacityLimiter(n)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in one of the answer threads (waiting for one to be free)."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def iterate(self, items: Iterator[T]) -> AsyncIterator[T]:
        """Each `next(items)` in an answer thread: a streamed answer holds a thread only
        while it computes its next piece."""
        while True:
            item = await self.run(next, items, _END)
            if item is _END:
                return
            yield item
