"""Reaching a connected account: the HTTP session (bounded, guarded against private networks
like the busy calendars) and the credentials of each request (HTTP Basic with the sealed
password, or Google's access token, refreshed when it is about to expire)."""

from __future__ import annotations

import base64

import aiohttp

from feedserver import netguard
from feedserver.calendar_accounts.dav import DavClient
from feedserver.calendar_accounts.google import GoogleOAuth, Tokens
from feedserver.config import CalendarAccountsConfig
from feedserver.model import CalendarAccount
from feedserver.store import StoreRunner
from feedserver.tokens.credentials import CredentialBox


def basic(username: str, password: str) -> str:
    pair = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class Access:
    def __init__(
        self,
        runner: StoreRunner,
        box: CredentialBox,
        config: CalendarAccountsConfig,
        google: GoogleOAuth,
    ) -> None:
        self.runner = runner
        self.box = box
        self.config = config
        self.google = google

    @property
    def public_only(self) -> bool:
        return not self.config.allow_private_networks

    def session(self, connections: int = 100) -> aiohttp.ClientSession:
        connector = netguard.connector(connections, not self.public_only)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self.config.timeout_seconds, connect=min(10, self.config.timeout_seconds)
            ),
        )

    async def check(self, url: str) -> None:
        """Refused (with why) when ``url`` is aimed at a private or special address."""
        if self.public_only:
            await netguard.check(url)

    async def client(
        self, http: aiohttp.ClientSession, account: CalendarAccount, fresh: bool = False
    ) -> DavClient:
        """A client with the account's credentials; ``fresh``: Google's token refreshed
        even if it has not expired (the server refused it)."""
        if account.provider == "google":
            tokens = Tokens.from_json(self.box.open(account.secret))
            if fresh or tokens.expiring:
                tokens = await self.google.refresh(http, tokens)
                sealed = self.box.seal(tokens.to_json())
                await self.runner.run(
                    lambda s: s.calendar_accounts.update(account.id, secret=sealed)
                )
            return DavClient(http, f"Bearer {tokens.access_token}", self.public_only)
        password = self.box.open(account.secret)
        return DavClient(http, basic(account.username, password), self.public_only)

    def tokens(self, account: CalendarAccount) -> Tokens:
        return Tokens.from_json(self.box.open(account.secret))
