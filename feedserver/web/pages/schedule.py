"""The admins' day and week grids: a location's bookings on a time grid, one column per staff
member (per day in the week), recurrences expanded, each booking a link to its page; Today,
previous and next. Times are the location's wall clock.

The grid is CSS grid rows of a quarter of an hour: a booking's row and length are classes
(``from-N``, ``span-N``: the stylesheet has them; the pages allow no inline style)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from feedserver.domain.recurrence import occurrences
from feedserver.model import Booking, Location, Role, Status, User
from feedserver.numbers import is_whole
from feedserver.store import BookingQuery, Store
from feedserver.times import zone
from feedserver.web.pages.admin_bookings import catalog_choices
from feedserver.web.pages.base import Visitor, admin_only, render
from feedserver.web.state import RUNNER, SERVICES

routes = web.RouteTableDef()

SLOT_MINUTES = 15
FIRST_HOUR, LAST_HOUR = 8, 19  # shown at least; widened to fit every booking
SHOWN = (Status.CONFIRMED.value, Status.PENDING.value)


@dataclass
class Entry:
    booking: Booking
    start: datetime  # the location's wall clock
    end: datetime
    row: int = 1  # 1-based grid row of its first quarter hour
    span: int = 1
    beside: bool = False  # overlaps an earlier entry of its column: drawn beside it


@dataclass
class Column:
    day: date
    person: User | None
    entries: list[Entry] = field(default_factory=list)


def _place(columns: list[Column], first_hour: int) -> None:
    for column in columns:
        column.entries.sort(key=lambda e: (e.start, e.booking.id))
        latest_end: datetime | None = None
        for entry in column.entries:
            day_start = datetime.combine(column.day, time(first_hour), entry.start.tzinfo)
            minutes = (entry.start - day_start).total_seconds() / 60
            length = (entry.end - entry.start).total_seconds() / 60
            entry.row = max(int(minutes // SLOT_MINUTES), 0) + 1
            entry.span = max(math.ceil(length / SLOT_MINUTES), 1)
            entry.beside = latest_end is not None and entry.start < latest_end
            latest_end = max(latest_end, entry.end) if latest_end else entry.end


def _hours(columns: list[Column]) -> tuple[int, int]:
    """The hours the grid shows: the usual day, widened to every booking."""
    first, last = FIRST_HOUR, LAST_HOUR
    for column in columns:
        for entry in column.entries:
            first = min(first, entry.start.hour if entry.start.date() == column.day else 0)
            if entry.end.date() > column.day:
                last = 24
            else:
                last = max(last, entry.end.hour + (1 if entry.end.minute else 0))
    return first, min(last, 24)


def load_grid(
    store: Store,
    location: Location | None,
    people: list[User],
    days: list[date],
    staff_id: int | None,
    budget: Any,
) -> dict[str, Any]:
    """The columns of ``days`` at ``location`` (its staff members, or one); ``people``: every
    account, as the page's choices already hold them."""
    if location is None:
        return {"location": None, "columns": [], "first_hour": FIRST_HOUR}
    where = zone(location.timezone)
    start = datetime.combine(days[0], time(0), where)
    end = datetime.combine(days[-1] + timedelta(days=1), time(0), where)
    query = BookingQuery(
        locations=[location.code],
        staff_ids=[staff_id] if staff_id else None,
        statuses=list(SHOWN),
        start=start,
        end=end,
    )
    found: list[tuple[Booking, datetime, datetime]] = []
    for booking in store.bookings.list(query):
        for begin, finish in occurrences(booking, start, end, budget, strict=False):
            found.append((booking, begin.astimezone(where), finish.astimezone(where)))
    by_id = {u.id: u for u in people}
    if staff_id:
        shown = [by_id[staff_id]] if staff_id in by_id else []
    else:
        ids = {u.id for u in by_id.values() if u.role is not Role.CUSTOMER}
        ids = {i for i in ids if by_id[i].primary_location == location.code}
        ids |= {booking.staff_id for booking, _, _ in found}
        shown = sorted((by_id[i] for i in ids if i in by_id), key=lambda u: u.name.casefold())
    columns = [Column(day, person) for day in days for person in shown]
    index = {(c.day, c.person.id if c.person else 0): c for c in columns}
    for booking, begin, finish in found:
        column = index.get((begin.date(), booking.staff_id))
        if column is not None:
            column.entries.append(Entry(booking, begin, finish))
    first_hour, last_hour = _hours(columns)
    _place(columns, first_hour)
    return {
        "location": location,
        "columns": columns,
        "first_hour": first_hour,
        "hours": list(range(first_hour, last_hour)),
        "rows": (last_hour - first_hour) * 60 // SLOT_MINUTES,
        "today": datetime.now(where).date(),
    }


def _asked_day(raw: str, fallback: date) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return fallback


async def _grid_page(request: web.Request, who: Visitor, user: User, week: bool) -> web.Response:
    staff_raw = request.query.get("staff", "")
    staff_id = int(staff_raw) if is_whole(staff_raw) else None
    budget = request.app[SERVICES].budget

    def load(store: Store) -> dict[str, Any]:
        choices = catalog_choices(store)
        places = {x.code: x for x in choices["locations"]}
        code = request.query.get("location", "").upper()
        if code not in places:
            mine = user.primary_location or ""
            code = mine if mine in places else next(iter(places), "")
        where = zone(places[code].timezone) if code in places else zone("UTC")
        today = datetime.now(where).date()
        asked = _asked_day(request.query.get("date", request.query.get("week", "")), today)
        first = asked - timedelta(days=asked.weekday()) if week else asked
        days = [first + timedelta(days=i) for i in range(7 if week else 1)]
        return {
            **choices,
            **load_grid(store, places.get(code), choices["people"], days, staff_id, budget),
            "code": code,
            "days": days,
            "asked": asked,
        }

    context = await request.app[RUNNER].run(load)
    step = timedelta(days=7 if week else 1)
    here = "/admin/week" if week else "/admin/day"

    def link(path: str, day: date) -> str:
        query = {"location": context["code"], "date": day.isoformat()}
        if staff_id:
            query["staff"] = str(staff_id)
        return f"{path}?{urlencode(query)}"

    context.update(
        week=week,
        picked_staff=staff_id,
        previous=link(here, context["asked"] - step),
        following=link(here, context["asked"] + step),
        today_link=link(here, context["today"]) if "today" in context else here,
        day_link=lambda day: link("/admin/day", day),
        week_link=link("/admin/week", context["asked"]),
        one_day_link=link("/admin/day", context["asked"]),
    )
    return render(request, who, "admin/grid.html", context)


@routes.get("/admin/week")
@admin_only
async def week_grid(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _grid_page(request, who, user, week=True)


@routes.get("/admin/day")
@admin_only
async def day_grid(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _grid_page(request, who, user, week=False)
