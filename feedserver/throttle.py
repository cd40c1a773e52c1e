"""Throttling failed sign-ins, per account and per client address, with exponential back-off.

Each key (``account:<email>``, ``ip:<address>``) may fail ``attempts`` times; after that, each
further try must wait ``base * 2**(failures - attempts)`` seconds (capped) from the last
failure, and is answered 429 with Retry-After until then. A success clears the account's key.
Keys forget their failures after a quiet period; memory is bounded (oldest keys dropped).

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
        self._verified: OrderedDict[str, float] = OrderedDict()  # pair -> last verified
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

    # -- sign-ins: address, account and the pair ----------------------------------------------

    def _sign_in_keys(self, address: str, account: str) -> tuple[str, ...]:
        pair = f"pair:{address}|{account}"
        verified = self._verified.get(pair)
        if verified is not None and self.clock() - verified <= self.quiet:
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
        self._verified.pop(pair, None)
        self._verified[pair] = self.clock()
        while len(self._verified) > self.max_keys:
            self._verified.popitem(last=False)


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
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.per_hour = per_hour
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self.refused = 0  # items refused since start (metrics)

    def _bucket(self, key: str, rate: int, now: float) -> _Bucket:
        bucket = self._buckets.pop(key, None) or _Bucket(float(rate), now)
        bucket.tokens = min(float(rate), bucket.tokens + (now - bucket.at) * rate / 3600.0)
        bucket.at = now
        self._buckets[key] = bucket
        return bucket

    def take(self, keys: list[tuple[str, str]]) -> Refusal | None:
        """Spend one item of every (kind, value) key, or refuse (spending nothing) naming the
        first key with no item left."""
        now = self.clock()
        buckets = []
        for kind, value in dict.fromkeys(keys):
            rate = self.per_hour.get(kind, 0)
            if rate <= 0:
                continue
            bucket = self._bucket(f"{kind} {value}", rate, now)
            if bucket.tokens < 1.0:
                self.refused += 1
                wait = (1.0 - bucket.tokens) * 3600.0 / rate
                return Refusal(f"{kind} {value}", rate, wait)
            buckets.append(bucket)
        for bucket in buckets:
            bucket.tokens -= 1.0
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return None
