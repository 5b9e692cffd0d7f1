"""Login rate limiting: a few failures per client and per user name, then a pause.

Counts live in this process's memory: a restart forgets them, and several
``cygnet serve`` processes behind one address each count on their own, so an
attacker gets that many times the attempts.  One appliance runs one process,
which is why this is enough here.
"""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_FAILURES = 5
WINDOW_SECONDS = 300.0


class LoginLimiter:
    """At most ``max_failures`` failed logins per key in any ``window`` seconds."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        clock=time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, keys: list[str]) -> int | None:
        """Seconds to wait before another try, or None when one is allowed."""
        now = self.clock()
        with self._lock:
            waits = [
                times[0] + self.window - now
                for times in (self._recent(key, now) for key in keys)
                if len(times) >= self.max_failures
            ]
        return int(max(waits)) + 1 if waits else None

    def failed(self, keys: list[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
