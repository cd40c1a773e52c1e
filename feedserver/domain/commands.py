"""Typed booking commands, parsed at the edges: ``BookingDraft`` (a new booking) and
``BookingPatch`` (a change). The JSON parsers are here; ``feedserver.inbound.pipeline`` builds
them from calendar events. The domain receives values (dates, aware date-times, attendees),
never strings to parse again; it resolves the references (type, location, staff member) and
applies the rules.

Times: an all-day booking's start and end are ``date`` values (end exclusive), a timed one's
are aware ``datetime`` values. A ``None`` in a patch means "keep what the booking has".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from feedserver.domain import schemas
from feedserver.domain.catalog import normalise_code
from feedserver.domain.inputs import Body, email, external_id
from feedserver.domain.recurrence import normalised_rrule
from feedserver.errors import InvalidInput
from feedserver.model import MESSAGE_LANGUAGES, Attendee, Status
from feedserver.numbers import is_whole
from feedserver.times import parse_date, parse_instant, zone

MAX_ATTENDEES = 500
StaffRef = int | str  # a user id, or an email address
Moment = date | datetime  # a date (all-day bookings) or an aware date-time

_NEW_STATUSES = (Status.PENDING.value, Status.CONFIRMED.value)


@dataclass(frozen=True)
class BookingDraft:
    type_key: str
    location_code: str
    staff: StaffRef
    start: Moment
    end: Moment | None = None  # None: the type's duration (one day when all-day)
    all_day: bool = False
    timezone: str | None = None  # None: the location's
    attendees: tuple[Attendee, ...] = ()
    status: Status = Status.CONFIRMED
    title: str = ""
    notes: str = ""
    rrule: str | None = None
    exdates: tuple[Moment, ...] = ()
    allow_conflict: bool = False  # book although the staff member's own calendar is busy
    calendar_uid: str = ""  # a bridged booking: its event's UID (not busy with itself)
    uid: str = ""  # an imported booking keeps its source's UID; "": a new one
    external_id: str | None = None  # the booking system's own id

    @classmethod
    def from_json(cls, data: object) -> BookingDraft:
        body = Body(data, schemas.BOOKING)
        status = body.text("status", default=Status.CONFIRMED.value)
        if status not in _NEW_STATUSES:
            raise InvalidInput("a new booking is pending or confirmed", field="status")
        start = _moment(body, "start")
        if start is None:
            all_day = body.flag("all_day")
            wanted = "" if all_day else " (an ISO 8601 date-time with offset)"
            raise InvalidInput(f"start is required{wanted}", field="start")
        return cls(
            type_key=_type_key(body.raw("type")),
            location_code=_code(body.raw("location")),
            staff=_staff(body.raw("staff")),
            start=start,
            end=_moment(body, "end"),
            all_day=body.flag("all_day"),
            timezone=_timezone(body),
            attendees=attendees(body.raw("attendees") or []),
            status=Status(status),
            title=body.text("title"),
            notes=body.text("notes"),
            rrule=_rrule(body) or None,
            exdates=_moments(body.raw("exdates") or []),
            allow_conflict=body.flag("allow_conflict"),
            external_id=external_id(body),
        )

    def patch(self) -> BookingPatch:
        """The same event as a change of an existing booking: its time, place, type,
        attendees, title and recurrence (the staff member, notes and status stay)."""
        return BookingPatch(
            type_key=self.type_key,
            location_code=self.location_code,
            start=self.start,
            end=self.end,
            all_day=self.all_day,
            timezone=self.timezone,
            attendees=self.attendees,
            title=self.title,
            rrule=self.rrule or "",
            exdates=self.exdates,
            calendar_uid=self.calendar_uid,
        )


@dataclass(frozen=True)
class BookingPatch:
    type_key: str | None = None
    location_code: str | None = None
    staff: StaffRef | None = None
    start: Moment | None = None
    end: Moment | None = None
    all_day: bool | None = None
    timezone: str | None = None
    attendees: tuple[Attendee, ...] | None = None
    title: str | None = None
    notes: str | None = None
    rrule: str | None = None  # "" removes the recurrence
    exdates: tuple[Moment, ...] | None = None
    allow_conflict: bool = False  # move although the staff member's own calendar is busy
    calendar_uid: str = ""  # a bridged booking: its event's UID (not busy with itself)
    external_id: str | None = None  # "" removes it

    @classmethod
    def from_json(cls, data: object) -> BookingPatch:
        body = Body(data, schemas.BOOKING_PATCH)
        given = body.data
        timezone = _timezone(body) if "timezone" in given else None
        if "timezone" in given and not timezone:
            raise InvalidInput("timezone is required", field="timezone")
        return cls(
            type_key=_type_key(body.raw("type")) if "type" in given else None,
            location_code=_code(body.raw("location")) if "location" in given else None,
            staff=_staff(body.raw("staff")) if "staff" in given else None,
            start=_moment(body, "start"),
            end=_moment(body, "end"),
            all_day=body.flag("all_day") if _given(given, "all_day") else None,
            timezone=timezone,
            attendees=attendees(body.raw("attendees")) if "attendees" in given else None,
            title=body.text("title") if "title" in given else None,
            notes=body.text("notes") if "notes" in given else None,
            rrule=_rrule(body) if "rrule" in given else None,
            exdates=_moments(body.raw("exdates") or []) if "exdates" in given else None,
            allow_conflict=body.flag("allow_conflict"),
            external_id=(external_id(body) or "") if "external_id" in given else None,
        )


def _given(data: Mapping[str, Any], name: str) -> bool:
    return data.get(name) is not None


def _type_key(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("type must be a reservation type key", field="type")
    return value.strip().lower()


def _code(value: object) -> str:
    return normalise_code(value, field="location")


def _staff(value: object) -> StaffRef:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and (is_whole(value.strip()) or "@" in value):
        return int(value) if is_whole(value.strip()) else value.strip().lower()
    raise InvalidInput("staff must be a user id or an email address", field="staff")


def _timezone(body: Body) -> str | None:
    name = body.text("timezone")
    if name:
        zone(name)
    return name or None


def _rrule(body: Body) -> str:
    return normalised_rrule(body.text("rrule"))


def _parse_moment(value: object, field: str) -> Moment:
    """A date (``YYYY-MM-DD``) or an ISO 8601 date-time with offset."""
    if isinstance(value, str) and len(value.strip()) == 10:
        return parse_date(value.strip(), field)
    return parse_instant(value, field)


def _moment(body: Body, name: str) -> Moment | None:
    value = body.raw(name)
    return None if value is None else _parse_moment(value, name)


def _moments(value: object) -> tuple[Moment, ...]:
    if not isinstance(value, list):
        raise InvalidInput("exdates must be a list of date-times", field="exdates")
    return tuple(_parse_moment(item, f"exdates[{index}]") for index, item in enumerate(value))


def attendees(value: object) -> tuple[Attendee, ...]:
    """A JSON list of ``{email, name}`` objects (or bare emails), each email once."""
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
        language = item.get("language") or ""
        if language not in ("", *MESSAGE_LANGUAGES):
            raise InvalidInput(
                f"language is one of {', '.join(MESSAGE_LANGUAGES)}", field=f"{where}.language"
            )
        timezone = item.get("timezone") or ""
        if not isinstance(timezone, str) or len(timezone) > 64:
            raise InvalidInput("timezone is an IANA zone name", field=f"{where}.timezone")
        if timezone:
            zone(timezone, f"{where}.timezone")
        seen.setdefault(address, Attendee(address, name.strip()[:200], language, timezone))
    return tuple(seen.values())
