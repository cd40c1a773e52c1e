"""Throttling failed sign-ins, per account and per client address, with exponential back-off.

Each key (``account:<email>``, ``ip:<address>``) may fail ``attempts`` times; after that, each
further try must wait ``base * 2**(failures - attempts)`` seconds (capped) from the last
failure, and is answered 429 with Retry-After until then. A success clears the account's key.
Keys forget their failures after a quiet period; memory is bounded (oldest keys dropped).
The counters are in memory, or in the store (``on(store.limits)``), where every process of a
cluster charges the same ones: 40 wrong passwords spread over two nodes count as on one.

Sign-ins (``sign_in_wait``, ``sign_in_failed``, ``sign_in_succeeded``) are keyed by address, by
account and by the (address, account) pair. A pair whose password was verified is remembered
for as long as failures are (the quiet period): its tries wait only for its own failures, so a
flood of wrong passwords from a shared address (an office or a school behind one NAT), or
against the account from elsewhere, never locks out the person who signs in correctly there.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Counts(Protocol):
    """Where the counters live: a count and when it last changed (Unix ms), by key. In
    memory for one process (``MemoryCounts``); in the store (``LimitStore``) when every
    process of a cluster must count the same failures: the throttles then run on the
    store's thread (``on(store.limits)``)."""

    def get(self, key: str) -> tuple[int, int] | None: ...

    def put(self, key: str, n: int, at_ms: int) -> None: ...

    def drop(self, key: str) -> None: ...


class MemoryCounts:
    """Counters in this process's memory, at most ``max_keys`` (the least recently changed
    are dropped first)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._values: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def get(self, key: str) -> tuple[int, int] | None:
        return self._values.get(key)

    def put(self, key: str, n: int, at_ms: int) -> None:
        self._values.pop(key, None)
        self._values[key] = (n, at_ms)
        while len(self._values) > self.max_keys:
            self._values.popitem(last=False)

    def drop(self, key: str) -> None:
        self._values.pop(key, None)

    def __len__(self) -> int:
        return len(self._values)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass
class _Failures:
    count: int
    last: float


@dataclass
class Tally:
    """What a throttle did since the process started (metrics)."""

    failures: int = 0
    refused: int = 0


class LoginThrottle:
    def __init__(
        self,
        attempts: int,
        base_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.time,
        max_keys: int = 100_000,
        counts: Counts | None = None,
        tally: Tally | None = None,
    ) -> None:
        self.attempts = attempts
        self.base = base_seconds
        self.max = max_seconds
        self.clock = clock  # wall-clock seconds: processes on several machines compare them
        self.max_keys = max_keys
        self.quiet = max(max_seconds * 2, 900.0)  # failures older than this are forgotten
        self.counts: Counts = counts if counts is not None else MemoryCounts(max_keys)
        self.tally = tally or Tally()

    def on(self, counts: Counts) -> LoginThrottle:
        """The same throttle counting in ``counts`` (the store's shared counters)."""
        return LoginThrottle(
            self.attempts, self.base, self.max, self.clock, self.max_keys, counts, self.tally
        )

    @property
    def failures(self) -> int:
        """Every failure since start (metrics)."""
        return self.tally.failures

    @property
    def refused(self) -> int:
        """Tries answered "wait" since start (metrics)."""
        return self.tally.refused

    def _get(self, key: str) -> _Failures | None:
        found = self.counts.get(key)
        return None if found is None else _Failures(found[0], found[1] / 1000)

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
            failures = self._get(key)
            if failures is None:
                continue
            if now - failures.last > self.quiet:
                self.counts.drop(key)
                continue
            longest = max(longest, self._wait(failures, now))
        if longest > 0:
            self.tally.refused += 1
        return longest

    def failed(self, *keys: str) -> None:
        now = self.clock()
        self.tally.failures += 1
        for key in keys:
            failures = self._get(key)
            count = 0 if failures is None or now - failures.last > self.quiet else failures.count
            self.counts.put(key, count + 1, _ms(now))

    def succeeded(self, key: str) -> None:
        self.counts.drop(key)

    # -- sign-ins: address, account and the pair ----------------------------------------------

    def _sign_in_keys(self, address: str, account: str) -> tuple[str, ...]:
        pair = f"pair:{address}|{account}"
        verified = self.counts.get(f"verified:{pair}")
        if verified is not None and self.clock() - verified[1] / 1000 <= self.quiet:
            return (pair,)
        return (f"ip:{address}", f"account:{account}", pair)

    def sign_in_wait(self, address: str, account: str) -> float:
        """Seconds before ``account`` may try to sign in from ``address`` (0: go ahead)."""
        return self.retry_after(*self._sign_in_keys(address, account.strip().lower()))

    def sign_in_failed(self, address: str, account: str) -> None:
        self.failed(*self._sign_in_keys(address, account.strip().lower()))

    def sign_in_succeeded(self, address: str, account: str) -> None:
        """The password was right: the account's failures are cleared, and the pair is
        trusted from now on (until it has been quiet for the quiet period)."""
        account = account.strip().lower()
        pair = f"pair:{address}|{account}"
        self.succeeded(f"account:{account}")
        self.succeeded(pair)
        self.counts.put(f"verified:{pair}", 0, _ms(self.clock()))


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass(frozen=True)
class Refusal:
    """Why an item was refused: the key out of items, and when it has one again."""

    key: str  # e.g. "sender maya@example.org", "source 192.0.2.7"
    per_hour: int
    retry_after: float  # seconds

    @property
    def seconds(self) -> int:
        """Retry-After, whole seconds (at least 1)."""
        return max(1, math.ceil(self.retry_after))

    @property
    def message(self) -> str:
        return (
            f"too many inbound items from {self.key} (at most {self.per_hour} an hour); "
            f"try again in {self.seconds} s"
        )


class RateLimits:
    """Token buckets per key, each kind of key with its own rate (``per_hour`` items an hour).

    A key's bucket holds an hour's items and refills evenly: a quiet key may spend them all at
    once, then one every ``3600 / per_hour`` seconds. A kind whose rate is 0 is not limited.
    ``take`` is all or nothing: an item charged to a sender and a source spends from both or,
    when either is empty, from neither. Memory is bounded (the least recently used keys are
    dropped, which only ever makes a key's bucket full again).
    """

    def __init__(
        self,
        per_hour: dict[str, int],
        clock: Callable[[], float] = time.time,
        max_keys: int = 100_000,
        counts: Counts | None = None,
        tally: Tally | None = None,
    ) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self.max_keys = max_keys
        self.counts: Counts = counts if counts is not None else MemoryCounts(max_keys)
        self.tally = tally or Tally()

    def on(self, counts: Counts) -> RateLimits:
        """The same limits, their buckets in ``counts`` (the store's shared counters)."""
        return RateLimits(self.per_hour, self.clock, self.max_keys, counts, self.tally)

    @property
    def refused(self) -> int:
        """Items refused since start (metrics)."""
        return self.tally.refused

    def _bucket(self, key: str, rate: int, now: float) -> _Bucket:
        found = self.counts.get(key)
        if found is None:
            return _Bucket(float(rate), now)
        elapsed = max(0.0, now - found[1] / 1000)  # the clock may step back, or ms round up
        tokens = found[0] / 1000 + elapsed * rate / 3600.0
        return _Bucket(min(float(rate), tokens), now)

    def take(self, keys: list[tuple[str, str]]) -> Refusal | None:
        """Spend one item of every (kind, value) key, or refuse (spending nothing) naming the
        first key with no item left."""
        now = self.clock()
        buckets = []
        for kind, value in dict.fromkeys(keys):
            rate = self.per_hour.get(kind, 0)
            if rate <= 0:
                continue
            key = f"bucket:{kind} {value}"
            bucket = self._bucket(key, rate, now)
            if bucket.tokens < 1.0:
                self.tally.refused += 1
                wait = (1.0 - bucket.tokens) * 3600.0 / rate
                return Refusal(f"{kind} {value}", rate, wait)
            buckets.append((key, bucket))
        for key, bucket in buckets:
            self.counts.put(key, round((bucket.tokens - 1.0) * 1000), _ms(now))
        return None
