"""CalDAV logins, checked in aiohttp's event loop before Radicale sees the request.

``AccountLogins.verify`` checks an email with the account password or one of the account's app
passwords: successful logins are remembered for a short while (a sync sends many requests and
scrypt costs ~50 ms) and forgotten as soon as a user or an app password changes; scrypt itself
runs on a small pool of its own, never on Radicale's threads. A request that passed is handed
to Radicale with a one-time ticket in place of the password, which the Radicale auth plugin
(``ticket_auth``) redeems: Radicale never checks a password, so it never fails a login and
never sleeps on one.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from radicale.auth import BaseAuth

from feedserver.domain import app_passwords
from feedserver.passwords import verify_password
from feedserver.store import Change, StoreRunner
from feedserver.throttle import LoginThrottle


@dataclass(frozen=True)
class Attempt:
    """A sign-in's outcome: the principal, or "" with ``retry_after`` > 0 when it was not
    even checked (too many failures for the account or the address)."""

    principal: str = ""
    retry_after: float = 0.0


class AccountLogins:
    def __init__(
        self,
        runner: StoreRunner,
        throttle: LoginThrottle,
        cache_seconds: int,
        hash_threads: int = 2,
        tarpit_seconds: float = 0.0,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``settle``: brings the remembered logins up to date with what other processes
        changed (``ChangeWatcher.settle``), before one is trusted."""
        self.runner = runner
        self.settle = settle
        self.throttle = throttle
        self.cache_seconds = cache_seconds
        self.tarpit_seconds = tarpit_seconds
        # (email, password digest) -> (principal, expiry, whether it was an app password)
        self._cache: dict[tuple[str, str], tuple[str, float, bool]] = {}
        self._hashing = ThreadPoolExecutor(hash_threads, thread_name_prefix="password")

    def close(self) -> None:
        self._hashing.shutdown(wait=False, cancel_futures=True)

    async def on_changes(self, changes: list[Change]) -> None:
        """A changed account or app password ends every remembered login at once."""
        if any(c.entity in ("user", "app_password") for c in changes):
            self._cache.clear()

    @staticmethod
    def _key(email: str, password: str) -> tuple[str, str]:
        return email, hashlib.sha256(password.encode("utf-8")).hexdigest()

    def remembered(self, login: str, password: str, devices: bool = True) -> str:
        """The principal of a login verified a short while ago, or "". ``devices``: an app
        password counts (CalDAV), not only the account password (the API)."""
        cached = self._cache.get(self._key(login.strip().lower(), password))
        if cached is not None and cached[1] > time.monotonic() and (devices or not cached[2]):
            return cached[0]
        return ""

    async def attempt(
        self, login: str, password: str, address: str, devices: bool = True
    ) -> Attempt:
        """A sign-in over HTTP Basic (API and CalDAV): a login verified a short while ago
        at once; others only when the throttle lets the account and ``address`` try, their
        failures counted, a success clearing the account's."""
        if self.settle is not None:
            await self.settle()
        principal = self.remembered(login, password, devices)
        if principal:
            return Attempt(principal)
        throttle = self.throttle
        wait = await self.runner.run(lambda s: throttle.on(s.limits).sign_in_wait(address, login))
        if wait > 0:
            # A tarpit, not a worker held: the answer waits on the event loop, so a flood of
            # guesses is paced by its own connections instead of taking the loop's time.
            await asyncio.sleep(min(wait, self.tarpit_seconds))
            return Attempt(retry_after=wait)
        principal = await self.verify(login, password, devices)
        if principal:
            await self.runner.run(lambda s: throttle.on(s.limits).sign_in_succeeded(address, login))
        else:
            await self.runner.run(lambda s: throttle.on(s.limits).sign_in_failed(address, login))
        return Attempt(principal)

    async def verify(self, login: str, password: str, devices: bool = True) -> str:
        """The principal (the account's lowercase email) or "" when the login fails."""
        email = login.strip().lower()
        known = self.remembered(email, password, devices)
        if known:
            return known
        found = await self.runner.run(lambda s: s.users.password_hash(email))
        loop = asyncio.get_running_loop()
        if found is None:
            # The same cost as for a real account: no hint which emails exist.
            await loop.run_in_executor(self._hashing, verify_password, password, None)
            return ""
        user_id, password_hash = found
        device = devices and await self.runner.run(
            lambda s: app_passwords.device_login(s, user_id, password)
        )
        if not device and not await loop.run_in_executor(
            self._hashing, verify_password, password, password_hash
        ):
            return ""
        if len(self._cache) > 10_000:
            self._cache.clear()
        expiry = time.monotonic() + self.cache_seconds
        self._cache[self._key(email, password)] = (email, expiry, bool(device))
        return email


class Tickets:
    """One-time passwords for Radicale, one per request that passed feedserver's login."""

    def __init__(self) -> None:
        self._issued: dict[str, str] = {}
        self._lock = threading.Lock()

    def issue(self, principal: str) -> str:
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._issued[ticket] = principal
        return ticket

    def redeem(self, login: str, ticket: str) -> str:
        with self._lock:
            principal = self._issued.pop(ticket, None)
        return principal if principal is not None and principal == login else ""

    def cancel(self, ticket: str) -> None:
        with self._lock:
            self._issued.pop(ticket, None)


def ticket_auth(tickets: Tickets) -> type[BaseAuth]:
    """A Radicale auth plugin that accepts exactly the tickets feedserver issued."""

    class FeedserverAuth(BaseAuth):
        def __init__(self, configuration: Any) -> None:
            super().__init__(configuration)

        def _login(self, login: str, password: str) -> str:
            return tickets.redeem(login, password)

    return FeedserverAuth
