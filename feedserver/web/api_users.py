"""/api/users (admins) and /api/me (the signed-in personal account)."""

from __future__ import annotations

from aiohttp import web

from feedserver.domain import accounts
from feedserver.model import Role
from feedserver.web.auth import require_account, require_admin
from feedserver.web.requests import read_json
from feedserver.web.serialize import user_json
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


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    return web.json_response(user_json(await require_account(request)))
