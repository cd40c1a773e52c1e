"""Throttling failed sign-ins, per account and per client address, with exponential back-off.

Each key (``account:<email>``, ``ip:<address>``) may fail ``attempts`` times; after that, each
further try must wait ``base * 2**(failures - attempts)`` seconds (capped) from the last
failure, and is answered 429 with Retry-After until then. A success clears the account's key.
Keys forget their failures after a quiet period; memory is bounded (oldest keys dropped).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    def __init__(
        self,
        attempts: int,
        base_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.attempts = attempts
        self.base = base_seconds
        self.max = max_seconds
        self.clock = clock
        self.max_keys = max_keys
        self.quiet = max(max_seconds * 2, 900.0)  # failures older than this are forgotten
        self._keys: OrderedDict[str, _Failures] = OrderedDict()
        self.failures = 0  # every failure since start (metrics)
        self.refused = 0  # tries answered "wait" (metrics)

    def _wait(self, failures: _Failures, now: float) -> float:
        if failures.count < self.attempts:
            return 0.0
        delay: float = min(self.base * 2.0 ** (failures.count - self.attempts), self.max)
        return max(0.0, float(failures.last + delay - now))

    def retry_after(self, *keys: str) -> float:
        """Seconds to wait before the next try with these keys (0: go ahead)."""
        now = self.clock()
        longest = 0.0
        for key in keys:
            failures = self._keys.get(key)
            if failures is None:
                continue
            if now - failures.last > self.quiet:
                del self._keys[key]
                continue
            longest = max(longest, self._wait(failures, now))
        if longest > 0:
            self.refused += 1
        return longest

    def failed(self, *keys: str) -> None:
        now = self.clock()
        self.failures += 1
        for key in keys:
            failures = self._keys.pop(key, None) or _Failures(0, now)
            failures.count += 1
            failures.last = now
            self._keys[key] = failures
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._keys.pop(key, None)
