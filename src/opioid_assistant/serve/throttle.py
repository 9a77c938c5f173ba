"""Per-client limits kept in memory: a back-off after wrong credentials, and a rate window.

Both are keyed by client address, take the clock as a parameter (tests pass their own), and
keep at most `max_clients` addresses (the least recently seen are forgotten first), so a
flood of addresses cannot grow them without bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
MAX_CLIENTS = 10_000


@dataclass
class _Failures:
    count: int = 0
    until: float = 0.0  # no credentials are checked for this address before then


class Backoff:
    """Exponential back-off after wrong credentials, per client address.

    The first `free` failures cost nothing; each one after them makes the address wait
    1 s, 2 s, 4 s, ... (at most `longest` seconds) before its next credentials are checked.
    A success forgets the address's failures.
    """

    def __init__(
        self,
        free: int = 5,
        longest: float = 300.0,
        clock: Clock = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.free, self.longest, self.clock, self.max_clients = free, longest, clock, max_clients
        self._clients: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> int:
        """Whole seconds `client` must still wait before credentials are checked (0: none)."""
        with self._lock:
            state = self._clients.get(client)
            left = state.until - self.clock() if state else 0.0
        return math.ceil(left) if left > 0 else 0

    def failed(self, client: str) -> None:
        """Record wrong credentials from `client`."""
        with self._lock:
            state = self._clients.pop(client, None) or _Failures()
            state.count += 1
            over = state.count - self.free
            if over > 0:
                state.until = self.clock() + min(self.longest, 2.0 ** (over - 1))
            self._clients[client] = state
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        """Forget `client`'s failures."""
        with self._lock:
            self._clients.pop(client, None)


class RateWindow:
    """At most `limit` events per client address in any `window_s` seconds."""

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        clock: Clock = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.limit, self.window_s, self.clock, self.max_clients = (
            limit,
            window_s,
            clock,
            max_clients,
        )
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        """Count one event for `client`; False (and not counted) when over the limit."""
        now = self.clock()
        with self._lock:
            events = self._events.pop(client, None) or deque()
            while events and events[0] <= now - self.window_s:
                events.popleft()
            allowed = len(events) < self.limit
            if allowed:
                events.append(now)
            self._events[client] = events
            while len(self._events) > self.max_clients:
                self._events.popitem(last=False)
        return allowed
