"""/api/users (admins) and /api/me (the signed-in personal account)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from feedserver.domain import accounts, app_passwords
from feedserver.domain.views import user_json
from feedserver.errors import NotFound
from feedserver.model import AppPassword, Role
from feedserver.numbers import is_whole
from feedserver.times import iso_utc
from feedserver.web.auth import require_account, require_admin
from feedserver.web.requests import read_json
from feedserver.web.state import RUNNER

routes = web.RouteTableDef()


@routes.post("/api/users")
async def create_user(request: web.Request) -> web.Response:
    await require_admin(request)
    data = await read_json(request)
    user = await request.app[RUNNER].run(lambda s: accounts.create_user(s, data))
    return web.json_response(user_json(user), status=201)


@routes.get("/api/users")
async def list_users(request: web.Request) -> web.Response:
    await require_admin(request)
    role_name = request.query.get("role")
    role = Role(role_name) if role_name in {r.value for r in Role} else None
    found = await request.app[RUNNER].run(lambda s: s.users.list(role))
    return web.json_response({"users": [user_json(u) for u in found]})


@routes.get("/api/users/{id}")
async def get_user(request: web.Request) -> web.Response:
    await require_admin(request)
    ref = request.match_info["id"]
    user = await request.app[RUNNER].run(lambda s: accounts.find_user(s, ref, "id"))
    return web.json_response(user_json(user))


@routes.patch("/api/users/{id}")
async def update_user(request: web.Request) -> web.Response:
    await require_admin(request)
    ref = request.match_info["id"]
    data = await read_json(request)
    user = await request.app[RUNNER].run(lambda s: accounts.update_user(s, ref, data))
    return web.json_response(user_json(user))


async def _set_active(request: web.Request, active: bool) -> web.Response:
    who = await require_admin(request)
    ref = request.match_info["id"]
    user = await request.app[RUNNER].run(lambda s: accounts.set_active(s, ref, active, who.user))
    return web.json_response(user_json(user))


@routes.post("/api/users/{id}/deactivate")
async def deactivate(request: web.Request) -> web.Response:
    """Sign-ins, sessions, feed links and app passwords stop at once; bookings stay."""
    return await _set_active(request, False)


@routes.post("/api/users/{id}/reactivate")
async def reactivate(request: web.Request) -> web.Response:
    return await _set_active(request, True)


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    return web.json_response(user_json(await require_account(request)))


def _app_password_json(found: AppPassword) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "created_at": iso_utc(found.created_at),
        "last_used_at": iso_utc(found.last_used_at) if found.last_used_at else None,
        "revoked": found.revoked_at is not None,
    }


@routes.post("/api/me/app-passwords")
async def create_app_password(request: web.Request) -> web.Response:
    """A new password for one device (DAVx5, Thunderbird...), shown once in ``password``."""
    user = await require_account(request)
    data = await read_json(request)
    created, secret = await request.app[RUNNER].run(lambda s: app_passwords.create(s, user, data))
    return web.json_response(
        {**_app_password_json(created), "password": secret, "login": user.email}, status=201
    )


@routes.get("/api/me/app-passwords")
async def list_app_passwords(request: web.Request) -> web.Response:
    user = await require_account(request)
    found = await request.app[RUNNER].run(lambda s: s.app_passwords.list(user.id))
    return web.json_response({"app_passwords": [_app_password_json(x) for x in found]})


@routes.delete("/api/me/app-passwords/{id}")
async def revoke_app_password(request: web.Request) -> web.Response:
    user = await require_account(request)
    raw = request.match_info["id"]
    if not is_whole(raw):
        raise NotFound(f"no app password {raw!r}")
    await request.app[RUNNER].run(lambda s: app_passwords.revoke(s, user, int(raw)))
    return web.Response(status=204)
