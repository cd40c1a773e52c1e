"""Working hours (/api/users/{id}/working-hours, /api/me/working-hours), busy calendars
(/api/users/{id}/busy-calendars, /api/me/busy-calendars) and free slots (/api/availability,
/api/me/availability)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from feedserver.domain import accounts, availability, busy
from feedserver.errors import InvalidInput, NotFound
from feedserver.model import BusyCalendar, User
from feedserver.netguard import Refused
from feedserver.numbers import is_whole
from feedserver.store import Store
from feedserver.times import iso_utc, utcnow, zone
from feedserver.web.auth import require_account, require_admin
from feedserver.web.requests import read_json
from feedserver.web.state import BUSY, CONFIG, RUNNER, SERVICES

routes = web.RouteTableDef()


async def _person(request: web.Request) -> User:
    """The account the path names: /api/me/... (oneself) or /api/users/{id}/... (admins)."""
    if request.path.startswith("/api/me/"):
        return await require_account(request)
    await require_admin(request)
    ref = request.match_info["id"]
    return await request.app[RUNNER].run(lambda s: accounts.find_user(s, ref, "id"))


async def get_hours(request: web.Request) -> web.Response:
    person = await _person(request)
    found = await request.app[RUNNER].run(lambda s: s.working_hours.get(person.id))
    if found is None:
        raise NotFound(f"{person.email} has no working hours: always available")
    return web.json_response(availability.working_hours_json(found))


async def put_hours(request: web.Request) -> web.Response:
    person = await _person(request)
    hours = availability.parse_working_hours(await read_json(request))

    await request.app[RUNNER].run(lambda s: availability.save_working_hours(s, person.id, hours))
    return web.json_response(availability.working_hours_json(hours))


async def delete_hours(request: web.Request) -> web.Response:
    person = await _person(request)

    await request.app[RUNNER].run(lambda s: availability.save_working_hours(s, person.id, None))
    return web.Response(status=204)


for prefix in ("/api/users/{id}/working-hours", "/api/me/working-hours"):
    routes.get(prefix)(get_hours)
    routes.put(prefix)(put_hours)
    routes.delete(prefix)(delete_hours)


def slot_json(slot: availability.Slot, timezone: str) -> dict[str, Any]:
    where = zone(timezone)
    return {
        "start": slot.start.astimezone(where).isoformat(),
        "end": slot.end.astimezone(where).isoformat(),
        "staff": {"id": slot.staff.id, "name": slot.staff.name, "email": slot.staff.email},
    }


async def _slots(request: web.Request, params: dict[str, str]) -> web.Response:
    config = request.app[CONFIG].availability
    budget = request.app[SERVICES].budget
    now = utcnow()

    def find(store: Store) -> tuple[list[availability.Slot], str]:
        found = availability.slots(
            store, params, now, config.slot_step_minutes, config.min_notice_minutes, budget
        )
        location = store.locations.get(params.get("location", "").upper())
        return found, location.timezone if location else "UTC"

    found, timezone = await request.app[RUNNER].run(find)
    return web.json_response({"slots": [slot_json(s, timezone) for s in found]})


@routes.get("/api/availability")
async def free_slots(request: web.Request) -> web.Response:
    """Free slots of a type at a location, of one staff member or any staff there."""
    await require_admin(request)
    return await _slots(request, dict(request.query))


@routes.get("/api/me/availability")
async def my_free_slots(request: web.Request) -> web.Response:
    """A staff member's own free slots."""
    me = await require_account(request)
    return await _slots(request, {**request.query, "staff": str(me.id)})


def busy_calendar_json(calendar: BusyCalendar) -> dict[str, Any]:
    """A busy calendar as the API shows it (its URL can be a credential: it is shown to its
    owner and admins only, like a feed link)."""
    return {
        "id": calendar.id,
        "name": calendar.name,
        "url": calendar.url,
        "last_synced_at": iso_utc(calendar.last_synced_at) if calendar.last_synced_at else None,
        "last_status": calendar.last_status,
        "last_error": calendar.last_error or None,
        "busy_count": calendar.busy_count,
        "kind": calendar.kind,
    }


async def add_busy_calendar(request: web.Request) -> web.Response:
    """Add a calendar and read it at once (its first result is in the answer)."""
    person = await _person(request)
    data = await read_json(request)
    url = busy.calendar_url(data)
    try:
        await request.app[BUSY].check(url)
    except Refused as exc:
        refusal = f"{exc}: not read (availability.allow_private_networks)"
        raise InvalidInput(refusal, field="url") from exc
    box = request.app[BUSY].box
    made = await request.app[RUNNER].run(lambda s: busy.add_calendar(s, person, data, box))
    await request.app[BUSY].refresh(made)
    fresh = await request.app[RUNNER].run(lambda s: busy.own_calendar(s, person, made.id))
    return web.json_response(busy_calendar_json(fresh), status=201)


async def list_busy_calendars(request: web.Request) -> web.Response:
    person = await _person(request)
    found = await request.app[RUNNER].run(lambda s: s.busy_calendars.list(person.id))
    return web.json_response({"busy_calendars": [busy_calendar_json(c) for c in found]})


def _calendar_id(request: web.Request) -> int:
    raw = request.match_info["bid"]
    if not is_whole(raw):
        raise NotFound(f"no busy calendar {raw!r}")
    return int(raw)


async def refresh_busy_calendar(request: web.Request) -> web.Response:
    person = await _person(request)
    calendar_id = _calendar_id(request)
    calendar = await request.app[RUNNER].run(lambda s: busy.own_calendar(s, person, calendar_id))
    await request.app[BUSY].refresh(calendar)
    fresh = await request.app[RUNNER].run(lambda s: busy.own_calendar(s, person, calendar_id))
    return web.json_response(busy_calendar_json(fresh))


async def delete_busy_calendar(request: web.Request) -> web.Response:
    person = await _person(request)
    calendar_id = _calendar_id(request)

    await request.app[RUNNER].run(lambda s: busy.remove_calendar(s, person, calendar_id))
    return web.Response(status=204)


for prefix in ("/api/users/{id}/busy-calendars", "/api/me/busy-calendars"):
    routes.post(prefix)(add_busy_calendar)
    routes.get(prefix)(list_busy_calendars)
    routes.post(prefix + "/{bid}/refresh")(refresh_busy_calendar)
    routes.delete(prefix + "/{bid}")(delete_busy_calendar)
