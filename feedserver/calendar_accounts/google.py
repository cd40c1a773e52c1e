"""Google accounts: OAuth 2.0 authorization code with PKCE (RFC 7636, S256), tokens refreshed
before they expire, revoked on disconnecting; and Google's CalDAV with the access token.

authlib builds the authorization request and the PKCE challenge (a maintained implementation
of the RFCs); the token requests are two form POSTs, sent with the same aiohttp sessions as
everything else. The tokens are kept sealed in the account's ``secret`` as JSON:
``{"access_token", "refresh_token", "expires_at"}``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from feedserver.calendar_accounts.dav import Refused, Unavailable
from feedserver.config import GoogleConfig

CALLBACK_PATH = "/oauth/google/callback"
REFRESH_EARLY = 120  # seconds before expiry a token is refreshed


class NotConfigured(Exception):
    """No Google client is configured (``google.client_id``)."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float  # Unix time

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Tokens:
        data = json.loads(text)
        return cls(data["access_token"], data.get("refresh_token", ""), data["expires_at"])

    @property
    def expiring(self) -> bool:
        return time.time() > self.expires_at - REFRESH_EARLY


class GoogleOAuth:
    def __init__(self, config: GoogleConfig, public_url: str) -> None:
        self.config = config
        self.redirect_uri = public_url.rstrip("/") + CALLBACK_PATH

    @property
    def configured(self) -> bool:
        return bool(self.config.client_id)

    def authorization(self) -> tuple[str, str, str]:
        """(URL to send the person to, its state, the PKCE verifier to keep)."""
        if not self.configured:
            raise NotConfigured("Google is not configured on this server (google.client_id)")
        state = generate_token(32)
        verifier = generate_token(64)
        url = prepare_grant_uri(
            self.config.authorize_url,
            self.config.client_id,
            "code",
            redirect_uri=self.redirect_uri,
            scope=self.config.scope,
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
            access_type="offline",  # a refresh token
            prompt="consent",
        )
        return url, state, verifier

    async def _token_request(self, http: aiohttp.ClientSession, form: dict[str, str]) -> Any:
        form = {
            **form,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
        }
        try:
            async with http.post(self.config.token_url, data=form) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise Unavailable(f"Google's token endpoint: {exc or type(exc).__name__}") from exc
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        if status >= 500 or status == 429:
            raise Unavailable(f"Google's token endpoint answered {status}")
        if status != 200 or "access_token" not in data:
            error = data.get("error", f"HTTP {status}") if isinstance(data, dict) else status
            raise Refused(f"Google refused the authorization ({error}): connect the account again")
        return data

    async def exchange(self, http: aiohttp.ClientSession, code: str, verifier: str) -> Tokens:
        data = await self._token_request(
            http,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
        )
        return _tokens(data, "")

    async def refresh(self, http: aiohttp.ClientSession, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:
            raise Refused("Google gave no refresh token: connect the account again")
        data = await self._token_request(
            http, {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        return _tokens(data, tokens.refresh_token)

    async def revoke(self, http: aiohttp.ClientSession, tokens: Tokens) -> None:
        """Give the grant back (disconnecting); a failure is not the person's problem."""
        token = tokens.refresh_token or tokens.access_token
        try:
            async with http.post(self.config.revoke_url, data={"token": token}) as response:
                await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass

    async def create_calendar(self, http: aiohttp.ClientSession, tokens: Tokens, name: str) -> str:
        """A new calendar (Google's CalDAV cannot make one: the Calendar API does); its
        CalDAV URL."""
        url = self.config.calendar_api_url.rstrip("/") + "/calendars"
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        try:
            async with http.post(url, json={"summary": name}, headers=headers) as response:
                status = response.status
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise Unavailable(f"Google Calendar API: {exc or type(exc).__name__}") from exc
        if status == 401:
            raise Refused("Google refused the access token")
        if status != 200 or not isinstance(data, dict) or not data.get("id"):
            raise Unavailable(f"Google Calendar API answered {status}")
        return self.calendar_url(str(data["id"]))

    def calendar_url(self, calendar_id: str) -> str:
        return f"{self.config.caldav_url.rstrip('/')}/{quote(calendar_id, safe='@.')}/events/"


def _tokens(data: dict[str, Any], refresh_token: str) -> Tokens:
    expires_in = data.get("expires_in", 3600)
    try:
        lifetime = float(expires_in)
    except (TypeError, ValueError):
        lifetime = 3600.0
    return Tokens(
        str(data["access_token"]),
        str(data.get("refresh_token") or refresh_token),
        time.time() + lifetime,
    )
