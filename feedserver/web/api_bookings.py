"""/api/bookings."""

from __future__ import annotations

from aiohttp import web

from feedserver.domain import bookings
from feedserver.errors import NotFound
from feedserver.model import Status
from feedserver.web.auth import require_admin
from feedserver.web.requests import read_json
from feedserver.web.serialize import booking_json
from feedserver.web.state import RUNNER

routes = web.RouteTableDef()


def _booking_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise NotFound(f"no booking {raw!r}")
    return int(raw)


@routes.post("/api/bookings")
async def create_booking(request: web.Request) -> web.Response:
    await require_admin(request)
    data = await read_json(request)
    change = await request.app[RUNNER].run(lambda s: bookings.create_booking(s, data))
    return web.json_response(booking_json(change.after), status=201)


@routes.get("/api/bookings")
async def list_bookings(request: web.Request) -> web.Response:
    await require_admin(request)
    params = dict(request.query)
    found = await request.app[RUNNER].run(lambda s: bookings.list_bookings(s, params))
    return web.json_response({"bookings": [booking_json(b) for b in found]})


@routes.get("/api/bookings/{id}")
async def get_booking(request: web.Request) -> web.Response:
    await require_admin(request)
    booking_id = _booking_id(request)
    booking = await request.app[RUNNER].run(lambda s: bookings.get_booking(s, booking_id))
    return web.json_response(booking_json(booking))


@routes.patch("/api/bookings/{id}")
async def update_booking(request: web.Request) -> web.Response:
    await require_admin(request)
    booking_id = _booking_id(request)
    data = await read_json(request)
    change = await request.app[RUNNER].run(lambda s: bookings.update_booking(s, booking_id, data))
    return web.json_response(booking_json(change.after))


async def _transition(request: web.Request, status: Status) -> web.Response:
    await require_admin(request)
    booking_id = _booking_id(request)
    change = await request.app[RUNNER].run(lambda s: bookings.set_status(s, booking_id, status))
    return web.json_response(booking_json(change.after))


@routes.post("/api/bookings/{id}/confirm")
async def confirm_booking(request: web.Request) -> web.Response:
    return await _transition(request, Status.CONFIRMED)


@routes.post("/api/bookings/{id}/cancel")
async def cancel_booking(request: web.Request) -> web.Response:
    return await _transition(request, Status.CANCELLED)


@routes.post("/api/bookings/{id}/reject")
async def reject_booking(request: web.Request) -> web.Response:
    return await _transition(request, Status.REJECTED)
