"""/api/locations and /api/types."""

from __future__ import annotations

from aiohttp import web

from feedserver.domain import catalog
from feedserver.domain.views import location_json, type_json
from feedserver.web.auth import require_admin
from feedserver.web.requests import read_json
from feedserver.web.state import RUNNER

routes = web.RouteTableDef()


@routes.post("/api/locations")
async def create_location(request: web.Request) -> web.Response:
    await require_admin(request)
    data = await read_json(request)
    location = await request.app[RUNNER].run(lambda s: catalog.create_location(s, data))
    return web.json_response(location_json(location), status=201)


@routes.get("/api/locations")
async def list_locations(request: web.Request) -> web.Response:
    await require_admin(request)
    found = await request.app[RUNNER].run(lambda s: s.locations.list())
    return web.json_response({"locations": [location_json(x) for x in found]})


@routes.get("/api/locations/{code}")
async def get_location(request: web.Request) -> web.Response:
    await require_admin(request)
    code = request.match_info["code"]
    location = await request.app[RUNNER].run(lambda s: catalog.get_location(s, code))
    return web.json_response(location_json(location))


@routes.patch("/api/locations/{code}")
async def update_location(request: web.Request) -> web.Response:
    await require_admin(request)
    code = request.match_info["code"]
    data = await read_json(request)
    location = await request.app[RUNNER].run(lambda s: catalog.update_location(s, code, data))
    return web.json_response(location_json(location))


@routes.delete("/api/locations/{code}")
async def delete_location(request: web.Request) -> web.Response:
    await require_admin(request)
    code = request.match_info["code"]
    await request.app[RUNNER].run(lambda s: catalog.delete_location(s, code))
    return web.Response(status=204)


@routes.post("/api/types")
async def create_type(request: web.Request) -> web.Response:
    await require_admin(request)
    data = await read_json(request)
    rtype = await request.app[RUNNER].run(lambda s: catalog.create_type(s, data))
    return web.json_response(type_json(rtype), status=201)


@routes.get("/api/types")
async def list_types(request: web.Request) -> web.Response:
    await require_admin(request)
    found = await request.app[RUNNER].run(lambda s: s.types.list())
    return web.json_response({"types": [type_json(x) for x in found]})


@routes.get("/api/types/{key}")
async def get_type(request: web.Request) -> web.Response:
    await require_admin(request)
    key = request.match_info["key"]
    rtype = await request.app[RUNNER].run(lambda s: catalog.get_type(s, key))
    return web.json_response(type_json(rtype))


@routes.patch("/api/types/{key}")
async def update_type(request: web.Request) -> web.Response:
    await require_admin(request)
    key = request.match_info["key"]
    data = await read_json(request)
    rtype = await request.app[RUNNER].run(lambda s: catalog.update_type(s, key, data))
    return web.json_response(type_json(rtype))


@routes.delete("/api/types/{key}")
async def delete_type(request: web.Request) -> web.Response:
    await require_admin(request)
    key = request.match_info["key"]
    await request.app[RUNNER].run(lambda s: catalog.delete_type(s, key))
    return web.Response(status=204)
