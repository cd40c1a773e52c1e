"""/api/bookings: create, list, read, change, confirm, cancel and reject bookings."""

from __future__ import annotations

from aiohttp import web

from feedserver.domain import bookings
from feedserver.domain.commands import BookingDraft, BookingPatch
from feedserver.errors import NotFound
from feedserver.model import Booking, Status
from feedserver.store import Store
from feedserver.web.auth import require_admin
from feedserver.web.requests import read_json
from feedserver.web.serialize import booking_json
from feedserver.web.state import EFFECTS, MEETINGS, RUNNER, SERVICES

routes = web.RouteTableDef()


def _booking_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise NotFound(f"no booking {raw!r}")
    return int(raw)


async def _respond(
    request: web.Request, found: list[Booking], status: int = 200, single: bool = True
) -> web.Response:
    """Bookings as JSON, with their online meetings."""
    ids = [b.id for b in found]
    meetings = await request.app[RUNNER].run(lambda s: s.meetings.for_bookings(ids))
    service = request.app[MEETINGS]
    rendered = [booking_json(b, meetings.get(b.id), service) for b in found]
    return web.json_response(rendered[0] if single else {"bookings": rendered}, status=status)


@routes.post("/api/bookings")
async def create_booking(request: web.Request) -> web.Response:
    await require_admin(request)
    draft = BookingDraft.from_json(await read_json(request))
    effects = request.app[EFFECTS]
    budget = request.app[SERVICES].budget
    change = await request.app[RUNNER].run(
        lambda s: bookings.create_booking(s, draft, effects=effects, budget=budget)
    )
    return await _respond(request, [change.after], status=201)


@routes.get("/api/bookings")
async def list_bookings(request: web.Request) -> web.Response:
    await require_admin(request)
    params = dict(request.query)
    found = await request.app[RUNNER].run(lambda s: bookings.list_bookings(s, params))
    return await _respond(request, found, single=False)


@routes.get("/api/bookings/{id}")
async def get_booking(request: web.Request) -> web.Response:
    await require_admin(request)
    booking_id = _booking_id(request)
    booking = await request.app[RUNNER].run(lambda s: bookings.get_booking(s, booking_id))
    return await _respond(request, [booking])


@routes.patch("/api/bookings/{id}")
async def update_booking(request: web.Request) -> web.Response:
    await require_admin(request)
    booking_id = _booking_id(request)
    patch = BookingPatch.from_json(await read_json(request))
    effects = request.app[EFFECTS]
    budget = request.app[SERVICES].budget
    change = await request.app[RUNNER].run(
        lambda s: bookings.update_booking(s, booking_id, patch, effects=effects, budget=budget)
    )
    return await _respond(request, [change.after])


async def _transition(request: web.Request, status: Status) -> web.Response:
    await require_admin(request)
    booking_id = _booking_id(request)
    effects = request.app[EFFECTS]
    budget = request.app[SERVICES].budget

    def transition(store: Store) -> bookings.BookingChange:
        return bookings.set_status(store, booking_id, status, effects=effects, budget=budget)

    change = await request.app[RUNNER].run(transition)
    return await _respond(request, [change.after])


@routes.post("/api/bookings/{id}/confirm")
async def confirm_booking(request: web.Request) -> web.Response:
    return await _transition(request, Status.CONFIRMED)


@routes.post("/api/bookings/{id}/cancel")
async def cancel_booking(request: web.Request) -> web.Response:
    return await _transition(request, Status.CANCELLED)


@routes.post("/api/bookings/{id}/reject")
async def reject_booking(request: web.Request) -> web.Response:
    return await _transition(request, Status.REJECTED)
