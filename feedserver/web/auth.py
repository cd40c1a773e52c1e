"""Who is calling: the bootstrap super-admin (Bearer admin token) or a personal account
(HTTP Basic with email and password).

HTTP Basic shares CalDAV's password checks (``AccountLogins``): a login verified a short while
ago is not hashed again, scrypt runs on its own small pool, and failures are throttled per
account and client address (429 with Retry-After) without holding anything while waiting.
App passwords are for devices (CalDAV) and do not sign in to the API."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from aiohttp import web

from feedserver.errors import (
    AuthenticationRequired,
    NotAPersonalAccount,
    PermissionDenied,
    TooManyAttempts,
)
from feedserver.model import User
from feedserver.web.state import LOGINS, RUNNER, SECRETS


@dataclass(frozen=True)
class Principal:
    """The super-admin has no ``user``: it is not a personal account."""

    user: User | None

    @property
    def is_superadmin(self) -> bool:
        return self.user is None

    @property
    def is_admin(self) -> bool:
        return self.user is None or self.user.is_admin


PRINCIPAL = web.RequestKey("principal", Principal)


async def _basic(request: web.Request, encoded: str) -> User:
    try:
        login, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationRequired("malformed Basic credentials") from exc
    attempt = await request.app[LOGINS].attempt(
        login[:320], password[:1024], request.remote or "", devices=False
    )
    if attempt.retry_after > 0:
        raise TooManyAttempts("too many failed sign-ins; try again later", attempt.retry_after)
    principal = attempt.principal
    if not principal:
        raise AuthenticationRequired("wrong email or password")
    user = await request.app[RUNNER].run(lambda s: s.users.get_by_email(principal))
    if user is None:
        raise AuthenticationRequired("wrong email or password")
    return user


async def principal(request: web.Request) -> Principal:
    if PRINCIPAL in request:
        return request[PRINCIPAL]
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        expected = request.app[SECRETS].admin_token.encode()
        if not hmac.compare_digest(credentials.strip().encode(), expected):
            raise AuthenticationRequired("invalid admin token")
        found = Principal(None)
    elif scheme.lower() == "basic" and credentials:
        found = Principal(await _basic(request, credentials.strip()))
    else:
        raise AuthenticationRequired(
            "authentication required: 'Authorization: Bearer <admin token>' or HTTP Basic "
            "with your email and password"
        )
    request[PRINCIPAL] = found
    return found


async def require_admin(request: web.Request) -> Principal:
    who = await principal(request)
    if not who.is_admin:
        raise PermissionDenied("this needs an admin")
    return who


async def require_account(request: web.Request) -> User:
    """A personal account; the super-admin token is refused with a clear reason."""
    who = await principal(request)
    if who.user is None:
        raise NotAPersonalAccount(
            "the admin token is the bootstrap super-admin, not a personal account; sign in "
            "with a user's email and password (HTTP Basic)"
        )
    return who.user
