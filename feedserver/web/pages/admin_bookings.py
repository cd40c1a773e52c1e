"""Admin pages for bookings: a filtered, paged list (from today by default, searchable by
attendee); create, edit, confirm, reject and cancel (the day and week grids are
``feedserver.web.pages.schedule``). Every change goes through the same domain
functions and commands as ``/api/bookings`` (``BookingDraft``/``BookingPatch``); bookings made
from calendar events are read-only here, with the reason shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy, MultiMapping

from feedserver.domain import bookings, events
from feedserver.domain.bookings import CALENDAR_SOURCES
from feedserver.domain.commands import BookingDraft, BookingPatch
from feedserver.errors import FeedserverError
from feedserver.model import Booking, Role, Status, User
from feedserver.numbers import is_whole
from feedserver.store import BookingQuery, Store
from feedserver.times import zone
from feedserver.web.errors import status_of
from feedserver.web.pages.base import (
    Visitor,
    admin_only,
    path_id,
    read_form,
    render,
    see_other,
    unconfirmed,
)
from feedserver.web.state import EFFECTS, RUNNER, SERVICES

routes = web.RouteTableDef()

PAGE_SIZE = 50
STATUSES = [s.value for s in Status]


@dataclass(frozen=True)
class Filters:
    start: date | None
    end: date | None
    location: str
    type: str
    staff: str
    status: str
    attendee: str  # part of an attendee's name or email
    offset: int
    timezone: str  # the reader's: what "today" and the dates mean

    @classmethod
    def from_query(cls, query: MultiMapping[str], timezone: str) -> Filters:
        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(query.get(name, ""))
            except ValueError:
                return None

        offset = query.get("offset", "0")
        # No "start" at all: from today (an empty one: from the first booking).
        today = datetime.now(zone(timezone)).date()
        return cls(
            start=day("start") if "start" in query else today,
            end=day("end"),
            location=query.get("location", ""),
            type=query.get("type", ""),
            staff=query.get("staff", "") if is_whole(query.get("staff", "")) else "",
            status=query.get("status", "") if query.get("status") in STATUSES else "",
            attendee=query.get("attendee", "").strip()[:200],
            offset=int(offset) if is_whole(offset) else 0,
            timezone=timezone,
        )

    def query(self, limit: int) -> BookingQuery:
        return BookingQuery(
            types=[self.type] if self.type else None,
            locations=[self.location] if self.location else None,
            staff_ids=[int(self.staff)] if self.staff else None,
            statuses=[self.status] if self.status else None,
            start=datetime.combine(self.start, time(0), zone(self.timezone))
            if self.start
            else None,
            end=datetime.combine(self.end + timedelta(days=1), time(0), zone(self.timezone))
            if self.end
            else None,
            attendee=self.attendee or None,
            limit=limit,
            offset=self.offset,
        )

    def link(self, **changes: Any) -> str:
        values = {
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "location": self.location,
            "type": self.type,
            "staff": self.staff,
            "status": self.status,
            "attendee": self.attendee,
            "offset": str(self.offset),
        }
        values.update({k: str(v) for k, v in changes.items()})
        kept = {k: v for k, v in values.items() if (v and v != "0") or k == "start"}
        return "?" + urlencode(kept)


def catalog_choices(store: Store) -> dict[str, Any]:
    people = store.users.list()
    locations = store.locations.list()
    types = store.types.list()
    return {
        "people": people,
        "locations": locations,
        "types": types,
        "staff": [u for u in people if u.role is not Role.CUSTOMER],
        "names": {u.id: u.name for u in people},
        "type_names": {t.key: t.name for t in types},
        "location_names": {x.code: x.name for x in locations},
        "statuses": STATUSES,
    }


@routes.get("/admin/bookings")
@admin_only
async def bookings_list(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    filters = Filters.from_query(request.query, user.timezone)

    def load(store: Store) -> dict[str, Any]:
        found = store.bookings.list(filters.query(PAGE_SIZE + 1))
        return {"rows": found[:PAGE_SIZE], "more": len(found) > PAGE_SIZE, **catalog_choices(store)}

    context = await request.app[RUNNER].run(load)
    previous = filters.link(offset=max(filters.offset - PAGE_SIZE, 0)) if filters.offset else ""
    following = filters.link(offset=filters.offset + PAGE_SIZE) if context["more"] else ""
    context.update(filters=filters, previous=previous, following=following)
    return render(request, who, "admin/bookings.html", context)


def _local_iso(value: str, timezone: str) -> str:
    """A ``datetime-local`` value (no offset) as an ISO date-time in ``timezone``."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return value  # the domain's own message names the field and the expected form
    return naive.replace(tzinfo=zone(timezone)).isoformat()


def booking_form_data(
    store: Store, form: MultiDictProxy[str], current: Booking | None
) -> dict[str, Any]:
    """The domain's booking body from the edit form; times are wall-clock in the booking's
    time zone (a new booking: its location's)."""
    code = form.get("location", "")
    if current is not None and code == current.location_code:
        timezone = current.timezone
    else:
        found = store.locations.get(code)
        timezone = found.timezone if found else "UTC"
    emails = [x.strip() for x in form.get("attendees", "").splitlines() if x.strip()]
    data: dict[str, Any] = {
        "type": form.get("type", ""),
        "location": code,
        "staff": int(form["staff"]) if is_whole(form.get("staff", "")) else form.get("staff"),
        "start": _local_iso(form.get("start", ""), timezone),
        "title": form.get("title", ""),
        "notes": form.get("notes", ""),
        "attendees": [{"email": e} for e in emails],
    }
    if form.get("end"):  # none: the type's duration (a new booking) or the same (a change)
        data["end"] = _local_iso(form["end"], timezone)
    if current is not None:
        kept = {a.email: a.name for a in current.attendees}
        data["attendees"] = [{"email": e, "name": kept.get(e, "")} for e in emails]
    if current is None:
        data["status"] = form.get("status", Status.CONFIRMED.value)
    return data


FIELDS = ("type", "location", "staff", "start", "end", "title", "attendees", "notes", "status")


def form_values(booking: Booking | None, query: MultiMapping[str]) -> dict[str, str]:
    """The edit form's values: the booking's, or for a new one what the link says (the day
    grid links a staff member, a place and a start)."""
    if booking is None:
        return {name: query.get(name, "") for name in FIELDS} | {
            "status": query.get("status", Status.CONFIRMED.value)
        }
    return {
        "type": booking.type_key,
        "location": booking.location_code,
        "staff": str(booking.staff_id),
        "start": booking.local_start.strftime("%Y-%m-%dT%H:%M"),
        "end": booking.local_end.strftime("%Y-%m-%dT%H:%M"),
        "title": booking.title or "",
        "attendees": "\n".join(a.email for a in booking.attendees),
        "notes": booking.notes or "",
        "status": booking.status.value,
    }


def refusal(exc: FeedserverError, who: Visitor) -> tuple[str, str]:
    """(the form field the error concerns, or "", its message in the visitor's words)."""
    where = (exc.field or "").split(".")[0].split("[")[0]
    return (where if where in FIELDS else ""), who._(exc.message)


async def _edit_page(
    request: web.Request,
    who: Visitor,
    booking: Booking | None,
    error: FeedserverError | None = None,
    status: int = 200,
    sent: MultiDictProxy[str] | None = None,
) -> web.Response:
    """The booking's page; after a refusal, with what was sent and the error by its field."""
    choices = await request.app[RUNNER].run(catalog_choices)
    read_only = booking is not None and booking.source in CALENDAR_SOURCES
    values = form_values(booking, request.query)
    if sent is not None:
        values |= {name: sent.get(name, "") for name in FIELDS if name in sent}
    field, message = refusal(error, who) if error is not None else ("", "")
    context = {
        **choices,
        "booking": booking,
        "values": values,
        "error": message,
        "error_field": field,
        "read_only": read_only,
    }
    return render(request, who, "admin/booking.html", context, status)


@routes.get("/admin/bookings/new")
@admin_only
async def new_booking(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _edit_page(request, who, None)


@routes.post("/admin/bookings/new")
@admin_only
async def create_booking(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    effects = request.app[EFFECTS].by(events.Origin("web", user=user.id))
    budget = request.app[SERVICES].budget

    def create(store: Store) -> Booking:
        draft = BookingDraft.from_json(booking_form_data(store, form, None))
        return bookings.create_booking(store, draft, effects=effects, budget=budget).after

    try:
        made = await request.app[RUNNER].run(create)
    except FeedserverError as exc:
        return await _edit_page(request, who, None, exc, status_of(exc), sent=form)
    return see_other(f"/admin/bookings/{made.id}", "saved")


@routes.get("/admin/bookings/{id}")
@admin_only
async def edit_booking(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    booking_id = path_id(request, "booking")
    booking = await request.app[RUNNER].run(lambda s: bookings.get_booking(s, booking_id))
    return await _edit_page(request, who, booking)


@routes.post("/admin/bookings/{id}")
@admin_only
async def save_booking(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    booking_id = path_id(request, "booking")
    effects = request.app[EFFECTS].by(events.Origin("web", user=user.id))
    budget = request.app[SERVICES].budget

    def save(store: Store) -> None:
        current = bookings.get_booking(store, booking_id)
        patch = BookingPatch.from_json(booking_form_data(store, form, current))
        bookings.update_booking(store, booking_id, patch, effects=effects, budget=budget)

    try:
        await request.app[RUNNER].run(save)
    except FeedserverError as exc:
        booking = await request.app[RUNNER].run(lambda s: bookings.get_booking(s, booking_id))
        return await _edit_page(request, who, booking, exc, status_of(exc), sent=form)
    return see_other(f"/admin/bookings/{booking_id}", "saved")


ACTIONS = {"confirm": Status.CONFIRMED, "reject": Status.REJECTED, "cancel": Status.CANCELLED}
QUESTIONS = {
    "reject": ("Reject this booking? Attendees are told by email.", "Reject"),
    "cancel": ("Cancel this booking? Attendees are told by email.", "Cancel booking"),
}


@routes.post("/admin/bookings/{id}/{action:confirm|reject|cancel}")
@admin_only
async def transition(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    booking_id = path_id(request, "booking")
    action = request.match_info["action"]
    if action in QUESTIONS:
        question, label = QUESTIONS[action]
        ask = unconfirmed(request, who, form, question, label, f"/admin/bookings/{booking_id}")
        if ask is not None:
            return ask
    status = ACTIONS[request.match_info["action"]]
    effects = request.app[EFFECTS].by(events.Origin("web", user=user.id))
    budget = request.app[SERVICES].budget

    def apply(store: Store) -> None:
        bookings.set_status(store, booking_id, status, effects=effects, budget=budget)

    try:
        await request.app[RUNNER].run(apply)
    except FeedserverError as exc:
        booking = await request.app[RUNNER].run(lambda s: bookings.get_booking(s, booking_id))
        return await _edit_page(request, who, booking, exc, 409)
    return see_other(f"/admin/bookings/{booking_id}", "saved")
