"""Who is calling: the bootstrap super-admin (Bearer admin token) or a personal account
(HTTP Basic with email and password)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from dataclasses import dataclass

from aiohttp import web

from feedserver.errors import AuthenticationRequired, NotAPersonalAccount, PermissionDenied
from feedserver.model import User
from feedserver.passwords import verify_password
from feedserver.web.state import RUNNER, SECRETS


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
    email = login.strip().lower()
    found = await request.app[RUNNER].run(lambda s: s.users.password_hash(email))
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(None, verify_password, password, found[1] if found else None)
    if not ok or found is None:
        raise AuthenticationRequired("wrong email or password")
    user = await request.app[RUNNER].run(lambda s: s.users.get(found[0]))
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
