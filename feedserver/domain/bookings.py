"""Bookings: creation, changes and status transitions, with the rules that protect them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol

from feedserver.domain.accounts import find_user
from feedserver.domain.catalog import normalise_code
from feedserver.domain.inputs import Body, email
from feedserver.domain.recurrence import (
    MAX_OCCURRENCES,
    last_end,
    normalised_rrule,
    occurrences,
    padded,
    parse_rrule,
)
from feedserver.errors import (
    Conflict,
    InvalidInput,
    ManagedByCalendar,
    NotFound,
    StaffDoubleBooked,
    UnknownReference,
)
from feedserver.model import Attendee, Booking, ReservationType, Role, Status
from feedserver.store import BookingQuery, Store
from feedserver.times import parse_date, parse_instant, to_db, utcnow, zone

MAX_ATTENDEES = 500
CALENDAR_SOURCES = ("caldav", "email", "http")  # bookings the bridge made from events
CHECK_HORIZON = timedelta(days=2 * 365)  # how far an endless series is checked for overlaps
_FIELDS = {
    "type",
    "location",
    "staff",
    "start",
    "end",
    "all_day",
    "timezone",
    "attendees",
    "status",
    "title",
    "notes",
    "rrule",
    "exdates",
}


@dataclass(frozen=True)
class BookingChange:
    """What a write did: the booking before (None when created) and after."""

    before: Booking | None
    after: Booking


class Effects(Protocol):
    """Work that must happen in the same transaction as a booking change (meetings, the
    notification outbox). ``event``: created, changed, confirmed, cancelled, rejected."""

    def after_change(self, store: Store, change: BookingChange, event: str) -> None: ...


def get_booking(store: Store, booking_id: int) -> Booking:
    booking = store.bookings.get(booking_id)
    if booking is None:
        raise NotFound(f"no booking {booking_id}")
    return booking


def _type(store: Store, value: object) -> ReservationType:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("type must be a reservation type key", field="type")
    found = store.types.get(value.strip().lower())
    if found is None:
        known = ", ".join(t.key for t in store.types.list()) or "none yet"
        raise UnknownReference(f"unknown reservation type {value!r} (known: {known})", field="type")
    return found


def _location_id(store: Store, value: object) -> tuple[int, str]:
    code = normalise_code(value, field="location")
    found = store.locations.get(code)
    if found is None:
        known = ", ".join(store.locations.codes()) or "none yet"
        raise UnknownReference(f"unknown location code {code!r} (known: {known})", field="location")
    return found.id, found.timezone


def _staff_id(store: Store, value: object) -> int:
    try:
        user = find_user(store, value, field="staff")
    except NotFound as exc:
        raise UnknownReference(f"unknown staff member {value!r}", field="staff") from exc
    if user.role is Role.CUSTOMER:
        raise InvalidInput(f"{user.email} is a customer, not a staff member", field="staff")
    return user.id


def _attendees(value: object) -> list[Attendee]:
    if not isinstance(value, list):
        raise InvalidInput("attendees must be a list of {email, name} objects", field="attendees")
    if len(value) > MAX_ATTENDEES:
        raise InvalidInput(f"at most {MAX_ATTENDEES} attendees", field="attendees")
    seen: dict[str, Attendee] = {}
    for index, item in enumerate(value):
        where = f"attendees[{index}]"
        if isinstance(item, str):
            item = {"email": item}
        if not isinstance(item, dict):
            raise InvalidInput("each attendee must be an object with email and name", field=where)
        address = email(item.get("email"), field=f"{where}.email")
        name = item.get("name") or ""
        if not isinstance(name, str):
            raise InvalidInput("name must be a string", field=f"{where}.name")
        seen.setdefault(address, Attendee(address, name.strip()[:200]))
    return list(seen.values())


def _times(
    body: Body, current: Booking | None, timezone: str, duration: timedelta
) -> dict[str, Any]:
    """start_utc, end_utc, all_day from the body (completed from ``current`` on PATCH)."""
    all_day = body.flag("all_day", default=current.all_day if current else False)
    tz = zone(timezone)
    if all_day:
        if "start" in body:
            start_day = parse_date(body.raw("start"), "start")
        elif current is not None:
            start_day = current.start_date
        else:
            raise InvalidInput("start is required", field="start")
        if "end" in body:
            end_day = parse_date(body.raw("end"), "end")
        elif current is not None and "start" not in body:
            end_day = current.end_date
        else:
            end_day = start_day + timedelta(days=1)
        start = datetime.combine(start_day, time(0), tz)
        end = datetime.combine(end_day, time(0), tz)
    else:
        if "start" in body:
            start = parse_instant(body.raw("start"), "start")
        elif current is not None and not current.all_day:
            start = current.start
        else:
            raise InvalidInput(
                "start is required (an ISO 8601 date-time with offset)", field="start"
            )
        if "end" in body:
            end = parse_instant(body.raw("end"), "end")
        elif current is not None and "start" not in body and not current.all_day:
            end = current.end
        else:
            end = start + (current.duration if current is not None else duration)
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    return {"start_utc": to_db(start), "end_utc": to_db(end), "all_day": int(all_day)}


def _exdates(value: object, all_day: bool, tz_name: str) -> list[datetime]:
    if not isinstance(value, list):
        raise InvalidInput("exdates must be a list of date-times", field="exdates")
    tz = zone(tz_name)
    out = []
    for index, item in enumerate(value):
        where = f"exdates[{index}]"
        if all_day:
            out.append(datetime.combine(parse_date(item, where), time(0), tz))
        else:
            out.append(parse_instant(item, where))
    return sorted(set(out))


def _next_stamp(previous: datetime | None) -> str:
    """A modification time strictly after the previous one (clients compare LAST-MODIFIED)."""
    now = utcnow()
    if previous is not None and now <= previous:
        now = previous + timedelta(seconds=1)
    return to_db(now)


def _busy(
    store: Store, booking: Booking, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    found = store.types.get(booking.type_key)
    before = found.buffer_before_minutes if found else 0
    after = found.buffer_after_minutes if found else 0
    return [padded(s, e, before, after) for s, e in occurrences(booking, start, end)]


def check_overlaps(store: Store, booking: Booking) -> None:
    """A confirmed booking must not overlap another confirmed one of its staff member,
    buffer times included (for series: every occurrence within two years)."""
    if booking.status is not Status.CONFIRMED:
        return
    horizon_end = booking.start + CHECK_HORIZON
    mine = _busy(store, booking, booking.start, horizon_end)[:MAX_OCCURRENCES]
    if not mine:
        return
    margin = timedelta(minutes=store.bookings.max_buffer_minutes())
    first, last = mine[0][0] - margin, mine[-1][1] + margin
    others = store.bookings.list(
        BookingQuery(
            staff_ids=[booking.staff_id], statuses=[Status.CONFIRMED.value], start=first, end=last
        )
    )
    for other in others:
        if other.id == booking.id:
            continue
        for theirs in _busy(store, other, first, last):
            for own in mine:
                if own[0] < theirs[1] and theirs[0] < own[1]:
                    raise StaffDoubleBooked(
                        f"the staff member already has booking {other.id} "
                        f"({other.start.isoformat()} to {other.end.isoformat()}) overlapping "
                        "this time, buffer times included"
                    )


def create_booking(
    store: Store, data: object, source: str = "api", effects: Effects | None = None
) -> BookingChange:
    body = Body(data, _FIELDS)
    with store.transaction():
        rtype = _type(store, body.raw("type"))
        location_id, location_tz = _location_id(store, body.raw("location"))
        staff_id = _staff_id(store, body.raw("staff"))
        timezone = body.text("timezone", default=location_tz)
        zone(timezone)
        values: dict[str, Any] = {
            "uid": f"{uuid.uuid4()}@feedserver",
            "type_id": rtype.id,
            "location_id": location_id,
            "staff_id": staff_id,
            "timezone": timezone,
            **_times(body, None, timezone, timedelta(minutes=rtype.duration_minutes)),
        }
        status = body.text("status", default=Status.CONFIRMED.value)
        if status not in (Status.PENDING.value, Status.CONFIRMED.value):
            raise InvalidInput("a new booking is pending or confirmed", field="status")
        _complete(body, values, None)
        now = _next_stamp(None)
        values.update(status=status, sequence=0, source=source, created_at=now, updated_at=now)
        attendees = _attendees(body.raw("attendees") or [])
        booking = store.bookings.create(values, attendees)
        check_overlaps(store, booking)
        change = BookingChange(None, booking)
        if effects is not None:
            effects.after_change(store, change, "created")
        return change


def _complete(body: Body, values: dict[str, Any], current: Booking | None) -> None:
    """Fill title, notes, rrule, exdates and last_end_utc into ``values``."""
    if current is None or "title" in body:
        values["title"] = body.text("title", max_len=500)
    if current is None or "notes" in body:
        values["notes"] = body.text("notes", max_len=20_000)
    rrule_text = current.rrule if current else None
    if "rrule" in body:
        rrule_text = normalised_rrule(body.text("rrule")) or None
    values["rrule"] = rrule_text
    start = datetime.fromisoformat(values["start_utc"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(values["end_utc"].replace("Z", "+00:00"))
    if rrule_text:
        parse_rrule(rrule_text, start.astimezone(zone(values["timezone"])))
    if "exdates" in body:
        values["exdates"] = _exdates(
            body.raw("exdates") or [], bool(values["all_day"]), values["timezone"]
        )
    elif current is None:
        values["exdates"] = []
    end_of_series = last_end(start, end, rrule_text, values["timezone"])
    values["last_end_utc"] = to_db(end_of_series) if end_of_series else None


def _managed_here(booking: Booking, by_calendar: bool) -> None:
    if booking.source in CALENDAR_SOURCES and not by_calendar:
        raise ManagedByCalendar(
            f"booking {booking.id} comes from a calendar event ({booking.source}); change or "
            "cancel the event in the organizer's calendar and the booking follows"
        )


def update_booking(
    store: Store,
    booking_id: int,
    data: object,
    effects: Effects | None = None,
    by_calendar: bool = False,
) -> BookingChange:
    body = Body(data, _FIELDS - {"status"})
    with store.transaction():
        current = get_booking(store, booking_id)
        _managed_here(current, by_calendar)
        values: dict[str, Any] = {}
        if "type" in body:
            values["type_id"] = _type(store, body.raw("type")).id
        if "location" in body:
            values["location_id"] = _location_id(store, body.raw("location"))[0]
        if "staff" in body:
            values["staff_id"] = _staff_id(store, body.raw("staff"))
        values["timezone"] = current.timezone
        if "timezone" in body:
            values["timezone"] = body.text("timezone", required=True)
            zone(values["timezone"])
        values.update(_times(body, current, values["timezone"], current.duration))
        _complete(body, values, current)
        attendees = _attendees(body.raw("attendees")) if "attendees" in body else None

        before = _row_values(store, current)
        changed = {k: v for k, v in values.items() if k in before and before[k] != v}
        if attendees is not None and tuple(attendees) == current.attendees:
            attendees = None
        if not changed and attendees is None:
            return BookingChange(current, current)
        changed["last_end_utc"] = values["last_end_utc"]
        changed["sequence"] = current.sequence + 1
        changed["updated_at"] = _next_stamp(current.updated_at)
        booking = store.bookings.update(booking_id, changed, attendees)
        check_overlaps(store, booking)
        change = BookingChange(current, booking)
        if effects is not None:
            effects.after_change(store, change, "changed")
        return change


def _row_values(store: Store, booking: Booking) -> dict[str, Any]:
    rtype = store.types.get(booking.type_key)
    location = store.locations.get(booking.location_code)
    return {
        "type_id": rtype.id if rtype else None,
        "location_id": location.id if location else None,
        "staff_id": booking.staff_id,
        "timezone": booking.timezone,
        "start_utc": to_db(booking.start),
        "end_utc": to_db(booking.end),
        "all_day": int(booking.all_day),
        "title": booking.title,
        "notes": booking.notes,
        "rrule": booking.rrule,
        "exdates": list(booking.exdates),
    }


_TRANSITIONS: dict[Status, tuple[set[Status], str]] = {
    Status.CONFIRMED: ({Status.PENDING}, "confirmed"),
    Status.CANCELLED: ({Status.PENDING, Status.CONFIRMED}, "cancelled"),
    Status.REJECTED: ({Status.PENDING}, "rejected"),
}


def set_status(
    store: Store,
    booking_id: int,
    status: Status,
    effects: Effects | None = None,
    by_calendar: bool = False,
) -> BookingChange:
    """confirm (pending → confirmed), cancel (pending/confirmed → cancelled), reject
    (pending → rejected). Repeating a transition already made changes nothing."""
    allowed_from, action = _TRANSITIONS[status]
    with store.transaction():
        current = get_booking(store, booking_id)
        _managed_here(current, by_calendar)
        if current.status is status:
            return BookingChange(current, current)
        if current.status not in allowed_from:
            raise Conflict(f"booking {booking_id} is {current.status.value}; it cannot be {action}")
        booking = store.bookings.update(
            booking_id,
            {
                "status": status.value,
                "sequence": current.sequence + 1,
                "updated_at": _next_stamp(current.updated_at),
            },
            action=action,
        )
        check_overlaps(store, booking)
        change = BookingChange(current, booking)
        if effects is not None:
            effects.after_change(store, change, action)
        return change


def list_bookings(store: Store, params: dict[str, str]) -> list[Booking]:
    """Bookings matching the query-string filters of ``GET /api/bookings``."""

    def many(name: str) -> list[str] | None:
        value = params.get(name)
        return [v.strip() for v in value.split(",") if v.strip()] if value else None

    staff = many("staff")
    statuses = many("status")
    for status in statuses or []:
        if status not in {s.value for s in Status}:
            raise InvalidInput(f"unknown status {status!r}", field="status")
    limit = params.get("limit", "500")
    offset = params.get("offset", "0")
    if not limit.isdigit() or not offset.isdigit() or not 1 <= int(limit) <= 5000:
        raise InvalidInput("limit must be 1 to 5000 and offset a whole number", field="limit")
    query = BookingQuery(
        types=[t.lower() for t in many("type") or []] or None,
        locations=[normalise_code(c, "location") for c in many("location") or []] or None,
        staff_ids=[find_user(store, s, "staff").id for s in staff] if staff else None,
        statuses=statuses,
        start=parse_instant(params["start"], "start") if params.get("start") else None,
        end=parse_instant(params["end"], "end") if params.get("end") else None,
        limit=int(limit),
        offset=int(offset),
    )
    return store.bookings.list(query)
