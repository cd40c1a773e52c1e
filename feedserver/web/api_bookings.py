"""/api/bookings: create, list, read, change, confirm, cancel and reject bookings; import
them from a CSV or iCalendar file."""

from __future__ import annotations

import asyncio
from functools import partial

from aiohttp import web

from feedserver.domain import bookings, imports
from feedserver.domain.commands import BookingDraft, BookingPatch
from feedserver.domain.views import booking_json
from feedserver.errors import NotFound, TooLarge
from feedserver.model import Booking, Status
from feedserver.numbers import is_whole
from feedserver.store import Store
from feedserver.web.auth import require_admin
from feedserver.web.requests import read_json
from feedserver.web.state import CONFIG, EFFECTS, MEETINGS, RUNNER, SERVICES

routes = web.RouteTableDef()


def _booking_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not is_whole(raw):
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


async def _file(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the file is larger than {limit} bytes (server.max_import_bytes)")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the file is larger than {limit} bytes (server.max_import_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _import_chunk(importer: imports.Importer, batch: list[imports.Row], store: Store) -> None:
    importer.chunk(batch)  # ``importer`` holds the runner's store


@routes.post("/api/bookings/import")
async def import_bookings(request: web.Request) -> web.Response:
    """A CSV (``text/csv``) or iCalendar (``text/calendar``) file of bookings, imported as
    ``feedserver import bookings`` does: ``?dry_run=1`` checks without writing; ``?type=``,
    ``?location=``, ``?staff=`` are the defaults of events that name none. Each chunk of rows
    is one transaction; other requests are served between chunks."""
    await require_admin(request)
    config = request.app[CONFIG]
    data = await _file(request, config.server.max_import_bytes)
    name = "upload.ics" if "calendar" in request.content_type else "upload.csv"
    rows = list(imports.read_file(data, name))
    query = request.query
    defaults = imports.Defaults(
        query.get("type", ""), query.get("location", "").upper(), query.get("staff", "")
    )
    budget = request.app[SERVICES].budget
    effects = request.app[SERVICES].quiet_effects
    if query.get("dry_run", "") in ("1", "true", "yes"):

        def check() -> imports.Report:
            store = Store.scratch(config.database_url)
            try:
                importer = imports.Importer(
                    store, effects, budget, defaults, imports.Report(dry_run=True)
                )
                return imports.import_rows(importer, rows)
            finally:
                store.close()

        report = await asyncio.to_thread(check)
        return web.json_response(report.as_json())
    runner = request.app[RUNNER]
    importer = await runner.run(lambda s: imports.Importer(s, effects, budget, defaults))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for batch in imports.batches(rows):
        await runner.run(partial(_import_chunk, importer, batch))
    if importer.report.imported:
        await runner.run(lambda s: s.refresh_statistics(after_import=True))
    importer.report.seconds = loop.time() - started
    return web.json_response(importer.report.as_json())


@routes.get("/api/bookings")
async def list_bookings(request: web.Request) -> web.Response:
    await require_admin(request)
    params = dict(request.query)
    found = await request.app[RUNNER].run(lambda s: bookings.list_bookings(s, params))
    return await _respond(request, found, single=False)


@routes.put("/api/bookings/external/{external_id}")
async def put_external(request: web.Request) -> web.Response:
    """Create or replace the booking the caller knows by its own id."""
    await require_admin(request)
    data = await read_json(request)
    external_id = request.match_info["external_id"]
    effects = request.app[EFFECTS]
    budget = request.app[SERVICES].budget
    done = await request.app[RUNNER].run(
        lambda s: bookings.replace_by_external(s, external_id, data, effects, budget)
    )
    return await _respond(request, [done.booking], status=201 if done.created else 200)


@routes.get("/api/bookings/external/{external_id}")
async def get_external(request: web.Request) -> web.Response:
    await require_admin(request)
    external_id = request.match_info["external_id"]
    found = await request.app[RUNNER].run(
        lambda s: bookings.list_bookings(s, {"external_id": external_id})
    )
    if not found:
        raise NotFound(f"no booking with external_id {external_id!r}")
    return await _respond(request, found)


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
