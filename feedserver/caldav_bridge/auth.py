"""Radicale logins checked against feedserver's accounts: email with the account password or
one of the account's app passwords. Successful logins are remembered for a short while (a
CalDAV sync sends many requests; scrypt costs ~50 ms) and forgotten as soon as a user or an
app password changes."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

from radicale.auth import BaseAuth

from feedserver.domain import app_passwords
from feedserver.passwords import verify_password
from feedserver.store import Change, Store, StoreRunner

T = TypeVar("T")


class AccountLogins:
    """Checks logins from Radicale's worker threads, using the store through its runner."""

    def __init__(
        self, runner: StoreRunner, loop: asyncio.AbstractEventLoop, cache_seconds: int
    ) -> None:
        self.runner = runner
        self.loop = loop
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[str, float]] = {}

    def _store(self, fn: Callable[[Store], T]) -> T:
        return asyncio.run_coroutine_threadsafe(self.runner.run(fn), self.loop).result(30)

    async def on_changes(self, changes: list[Change]) -> None:
        """A changed account or app password ends every remembered login at once."""
        if any(c.entity in ("user", "app_password") for c in changes):
            self._cache.clear()

    def check(self, login: str, password: str) -> str:
        """The principal (the account's lowercase email) or "" when the login fails."""
        email = login.strip().lower()
        key = (email, hashlib.sha256(password.encode("utf-8")).hexdigest())
        cached = self._cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        found = self._store(lambda s: s.users.password_hash(email))
        if found is None:
            verify_password(password, None)  # the same cost as for a real account
            return ""
        user_id, password_hash = found
        device = self._store(lambda s: app_passwords.device_login(s, user_id, password))
        if not device and not verify_password(password, password_hash):
            return ""
        self._cache[key] = (email, time.monotonic() + self.cache_seconds)
        return email


def auth_class(logins: AccountLogins) -> type[BaseAuth]:
    """A Radicale auth plugin bound to this server's accounts (Radicale instantiates it)."""

    class FeedserverAuth(BaseAuth):
        def __init__(self, configuration: Any) -> None:
            super().__init__(configuration)

        def _login(self, login: str, password: str) -> str:
            return logins.check(login, password)

    return FeedserverAuth
