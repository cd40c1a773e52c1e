"""iTIP (RFC 5546): reading inbound calendar objects into ``InboundEvent`` values, and building
the REQUEST and CANCEL objects that invitations by email carry (iMIP, RFC 6047).

Reading. Time zones: IANA TZIDs, embedded VTIMEZONEs (as Outlook/Exchange send with Windows
names such as ``W. Europe Standard Time``), Windows names without a VTIMEZONE, UTC, floating
times (read in the organizer's timezone) and all-day dates. A booking's timezone name is IANA:
a Windows name is mapped with icalendar's table.

Building. The VEVENT is the feeds' one (same UID and SEQUENCE), with ORGANIZER (the
organisation) and only this attendee (``RSVP=TRUE``), or every attendee when the type lets them
see each other.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component, Timezone, vCalAddress, vText
from icalendar.error import InvalidCalendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from feedserver.calendar.addresses import address, user_addresses
from feedserver.calendar.render import PRODID, Viewer, render_events
from feedserver.calendar.values import Catalog
from feedserver.calendar.vtimezone import vtimezone
from feedserver.model import Attendee, Booking
from feedserver.times import WINDOW, find_zone, in_window


class MalformedCalendar(ValueError):
    """The data is not an iCalendar object we can read; the message says why."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BAD_TZID = "a TZID names no time zone (not an IANA name, a Windows name or a VTIMEZONE)"


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    cutype: str  # INDIVIDUAL, GROUP, ROOM, RESOURCE, UNKNOWN
    partstat: str = "NEEDS-ACTION"  # a REPLY's answer: ACCEPTED, DECLINED, TENTATIVE
    also: str = ""  # the EMAIL parameter, when it names another address than the value

    def is_(self, email: str) -> bool:
        """Whether this person is ``email`` (their value or EMAIL parameter names it): the
        rule of ``addresses.invites``, on a parsed event."""
        wanted = address(email)
        return bool(wanted) and wanted in (self.email, self.also)


@dataclass(frozen=True)
class InboundEvent:
    method: str  # REQUEST, CANCEL, PUBLISH, REPLY... ("" for a stored CalDAV object)
    uid: str
    recurrence_id: str  # "" for the series or a single event; else the occurrence (UTC text)
    sequence: int
    dtstamp: datetime
    organizer: str | None
    attendees: tuple[Person, ...]
    summary: str
    location: str
    description: str
    categories: tuple[str, ...]
    start: datetime  # aware, UTC
    end: datetime
    timezone: str | None  # IANA name when known (None: floating or UTC)
    floating: bool
    all_day: bool
    rrule: str | None
    exdates: tuple[datetime, ...] = field(default=())
    cancelled: bool = False  # STATUS:CANCELLED
    unknown_tzid: str = ""  # DTSTART's TZID when it names no zone we know (read as floating)

    def version(self) -> tuple[int, datetime]:
        """RFC 5546: higher SEQUENCE wins; with equal SEQUENCE the newer DTSTAMP."""
        return (self.sequence, self.dtstamp)


def _email(value: object) -> str:
    return address(value)


def _person(value: object) -> Person | None:
    """An ATTENDEE as a person: its address is the ``mailto:`` value, or the EMAIL parameter
    when the value is another URI (iCloud writes ``urn:uuid:`` with ``EMAIL=``)."""
    params = getattr(value, "params", {})
    named, email = address(value), address(params.get("EMAIL", ""))
    if "@" not in named and email:
        named, email = email, ""
    if not named:
        return None
    return Person(
        named,
        str(params.get("CN", "")).strip(),
        str(params.get("CUTYPE", "INDIVIDUAL")).upper(),
        str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(),
        email if email != named else "",
    )


def _zone_name(value: datetime) -> str | None:
    tzinfo = value.tzinfo
    if tzinfo is None:
        return None
    key = getattr(tzinfo, "key", None)
    if isinstance(key, str):
        return key
    name = str(getattr(tzinfo, "_tzid", "") or tzinfo.tzname(value) or "")
    if name in WINDOWS_TO_OLSON:
        return WINDOWS_TO_OLSON[name]
    return name if find_zone(name) is not None else None


def _instant(value: datetime | date, fallback: tzinfo) -> datetime:
    if not isinstance(value, date):  # a TIME or a DURATION where a date belongs
        raise MalformedCalendar(f"{value!r} is not a date or a date-time")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=fallback)
    else:
        value = datetime.combine(value, time(0), fallback)
    if not in_window(value):  # also year 1 at +14:00, which does not convert
        raise MalformedCalendar(f"{value.isoformat()} is outside the dates accepted ({WINDOW})")
    return value.astimezone(UTC)


def _decoded(component: Component, name: str) -> object:
    """A single-valued property's value (a repeated one, as some clients write: the first)."""
    try:
        value = component.decoded(name) if name in component else None
    except (ValueError, TypeError) as exc:
        raise MalformedCalendar(f"{name}: {exc}") from exc
    except OSError as exc:  # the zone lookup of a TZID such as "Europe" (a folder)
        raise MalformedCalendar(f"{name}: {_BAD_TZID}") from exc
    return value[0] if isinstance(value, list) and value else value


def _event(
    component: Component, method: str, fallback: ZoneInfo, default_duration: timedelta
) -> InboundEvent:
    try:
        return _read_event(component, method, fallback, default_duration)
    except InvalidCalendar as exc:  # a property icalendar kept as broken, read on access
        raise MalformedCalendar(f"not valid iCalendar: {str(exc)[:300]}") from exc


def _read_event(
    component: Component, method: str, fallback: ZoneInfo, default_duration: timedelta
) -> InboundEvent:
    uid = str(component.get("UID", "")).strip()
    if not uid:
        raise MalformedCalendar("a VEVENT has no UID")
    start_value = _decoded(component, "DTSTART")
    if not isinstance(start_value, date):
        raise MalformedCalendar(f"event {uid} has no DTSTART")
    all_day = not isinstance(start_value, datetime)
    end_value = _decoded(component, "DTEND")
    duration = _decoded(component, "DURATION")
    start = _instant(start_value, fallback)
    if isinstance(end_value, date):
        end = _instant(end_value, fallback)
    elif isinstance(duration, timedelta):
        end = start + duration
    else:
        end = start + (timedelta(days=1) if all_day else default_duration)
    if end <= start:
        raise MalformedCalendar(f"event {uid} ends before it starts")
    zone = _zone_name(start_value) if isinstance(start_value, datetime) else None
    recurrence = _decoded(component, "RECURRENCE-ID")
    recurrence_id = ""
    if isinstance(recurrence, date):
        recurrence_id = _instant(recurrence, fallback).strftime("%Y%m%dT%H%M%SZ")
    stamp = _decoded(component, "DTSTAMP") or _decoded(component, "LAST-MODIFIED")
    try:
        dtstamp = _instant(stamp, UTC) if isinstance(stamp, date) else _EPOCH
    except MalformedCalendar:  # a stamp no clock could have written: the oldest version
        dtstamp = _EPOCH
    attendees = component.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    people = tuple(p for p in map(_person, attendees) if p is not None)
    categories: list[str] = []
    raw_categories = component.get("CATEGORIES")
    for entry in raw_categories if isinstance(raw_categories, list) else [raw_categories]:
        if entry is not None:
            categories.extend(str(c).strip() for c in getattr(entry, "cats", [entry]))
    rrule = component.get("RRULE")
    if isinstance(rrule, list):
        rrule = rrule[0] if rrule else None
    exdates: list[datetime] = []
    raw_exdates = component.get("EXDATE")
    for entry in raw_exdates if isinstance(raw_exdates, list) else [raw_exdates]:
        for value in getattr(entry, "dts", []):
            exdates.append(_instant(value.dt, fallback))
    try:
        sequence = int(str(component.get("SEQUENCE", 0)))
    except ValueError as exc:
        raise MalformedCalendar(f"event {uid}: SEQUENCE is not a number") from exc
    organizer_value = component.get("ORGANIZER")
    if isinstance(organizer_value, list):
        organizer_value = organizer_value[0] if organizer_value else None
    host = _person(organizer_value)
    organizer = host.email if host is not None else None
    return InboundEvent(
        method=method,
        uid=uid,
        recurrence_id=recurrence_id,
        sequence=sequence,
        dtstamp=dtstamp,
        organizer=organizer,
        attendees=people,
        summary=str(component.get("SUMMARY", "")),
        location=str(component.get("LOCATION", "")),
        description=str(component.get("DESCRIPTION", "")),
        categories=tuple(c for c in categories if c),
        start=start,
        end=end,
        timezone=zone,
        floating=isinstance(start_value, datetime) and start_value.tzinfo is None,
        all_day=all_day,
        rrule=rrule.to_ical().decode() if rrule is not None else None,
        exdates=tuple(exdates),
        cancelled=str(component.get("STATUS", "")).upper() == "CANCELLED",
        unknown_tzid=_unknown_tzid(component, start_value),
    )


def _unknown_tzid(component: Component, start: date) -> str:
    """DTSTART's TZID when icalendar could not resolve it (the value came back naive)."""
    if not isinstance(start, datetime) or start.tzinfo is not None:
        return ""
    prop = component.get("DTSTART")
    params = getattr(prop, "params", None)
    return str(params.get("TZID", "")) if params is not None else ""


def refloat(event: InboundEvent, zone: ZoneInfo) -> InboundEvent:
    """A floating event (parsed as UTC wall time) read in ``zone``, its organizer's."""
    if not event.floating:
        return event

    def moved(moment: datetime) -> datetime:
        return moment.replace(tzinfo=zone).astimezone(UTC)

    return dataclasses.replace(
        event,
        start=moved(event.start),
        end=moved(event.end),
        exdates=tuple(moved(x) for x in event.exdates),
        timezone=zone.key,
    )


def parse(
    data: bytes, fallback: ZoneInfo | None = None, default_duration: timedelta = timedelta(hours=1)
) -> list[InboundEvent]:
    """Every VEVENT of an iCalendar object. Floating times and dates are read in
    ``fallback`` (UTC by default; ``refloat`` reads them in the organizer's timezone once the
    organizer is known); events without DTEND last ``default_duration``."""
    text = _text(data)
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as exc:
        raise MalformedCalendar(f"not valid iCalendar: {exc}") from exc
    except OSError as exc:  # the zone lookup of a TZID such as "Europe" (a folder)
        raise MalformedCalendar(_BAD_TZID) from exc
    method = str(calendar.get("METHOD", "")).upper()
    events = [
        _event(c, method, fallback or ZoneInfo("UTC"), default_duration)
        for c in calendar.walk("VEVENT")
    ]
    if not events:
        raise MalformedCalendar("no VEVENT in the calendar")
    return events


def parse_each(
    data: bytes, fallback: ZoneInfo | None = None, default_duration: timedelta = timedelta(hours=1)
) -> list[InboundEvent | MalformedCalendar]:
    """Every VEVENT of an iCalendar file, each read on its own: an event that cannot be read
    is its ``MalformedCalendar`` (an import refuses that one and goes on with the others).
    A file that is not iCalendar at all raises it."""
    text = _text(data)
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as exc:
        raise MalformedCalendar(f"not valid iCalendar: {exc}") from exc
    except OSError as exc:
        raise MalformedCalendar(_BAD_TZID) from exc
    method = str(calendar.get("METHOD", "")).upper()
    found: list[InboundEvent | MalformedCalendar] = []
    for component in calendar.walk("VEVENT"):
        try:
            found.append(_event(component, method, fallback or ZoneInfo("UTC"), default_duration))
        except MalformedCalendar as exc:
            found.append(exc)
    return found


def organizers(data: bytes, most: int = 20) -> list[str]:
    """The ORGANIZER addresses of a calendar, each once (at most ``most``), read from its
    content lines without parsing it: what a rate limit needs before the calendar is even
    stored."""
    text = data.decode("utf-8", "replace")
    return [a for a in user_addresses(text, "ORGANIZER", most) if "@" in a][:most]


def _text(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedCalendar("not UTF-8 text") from exc
    if "BEGIN:VCALENDAR" not in text.upper():
        raise MalformedCalendar("no BEGIN:VCALENDAR: this is not iCalendar data")
    return text


# -- location codes -----------------------------------------------------------------------------

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_GOOGLE_MARKER = "-::~:~::~:~:~"
_TEAMS_RULE = re.compile(r"_{10,}.*?(_{10,}|$)", re.DOTALL)
_BOILERPLATE = re.compile(
    r"(join with google meet|join by phone|microsoft teams( meeting)?|join on your computer"
    r"|meeting id:|passcode:|zoom meeting|click here to join)[^\n]*",
    re.IGNORECASE,
)
CODE_SHAPE = re.compile(r"\b[A-Z][A-Z0-9]{1,11}\b|\b[0-9]+[A-Z][A-Z0-9]*\b")


def strip_conferencing(text: str) -> str:
    """Text without the join blocks Google Meet, Teams and Zoom add to events."""
    if _GOOGLE_MARKER in text:
        text = text.split(_GOOGLE_MARKER, 1)[0]
    text = _TEAMS_RULE.sub(" ", text)
    text = _BOILERPLATE.sub(" ", text)
    return _URL.sub(" ", text)


def find_code(event: InboundEvent, known: set[str]) -> tuple[str | None, str | None]:
    """(known code, unknown code-shaped word): the first known code as a whole word in
    LOCATION, then SUMMARY, then DESCRIPTION (case-insensitive); when there is none, a
    code-shaped word of LOCATION that matches nothing."""
    for text in (event.location, event.summary, event.description):
        cleaned = strip_conferencing(text)
        for word in re.findall(r"[A-Za-z0-9]+", cleaned):
            if word.upper() in known:
                return word.upper(), None
    location = strip_conferencing(event.location)
    shaped = [w for w in CODE_SHAPE.findall(location) if 2 <= len(w) <= 12]
    return None, shaped[0] if shaped else None


# -- building -----------------------------------------------------------------------------------


def invitation(
    method: str,
    booking: Booking,
    catalog: Catalog,
    viewer: Viewer,
    organizer: tuple[str, str],
    attendees: list[Attendee],
    meeting_link: str,
) -> str:
    """The iCalendar object of a REQUEST or CANCEL for ``attendees``."""
    events = render_events(booking, catalog, viewer, meeting_link)
    name, email = organizer
    for event in events:  # the series, and each override of it (RFC 5546 §2.1.5)
        event.add("organizer", _address(email, name))
        for attendee in attendees:
            address = _address(attendee.email, attendee.name)
            address.params.update(
                {
                    "ROLE": "REQ-PARTICIPANT",
                    "RSVP": "TRUE",
                    "PARTSTAT": "NEEDS-ACTION",
                    "CUTYPE": "INDIVIDUAL",
                }
            )
            event.add("attendee", address)
        if method == "CANCEL":
            event["STATUS"] = "CANCELLED"
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    if not booking.all_day:
        year = booking.local_start.year
        calendar.add_component(Timezone.from_ical(vtimezone(booking.timezone, year)))
    for event in events:
        calendar.add_component(event)
    return bytes(calendar.to_ical()).decode("utf-8")


def _address(email: str, name: str) -> vCalAddress:
    """ORGANIZER or ATTENDEE. A double quote cannot appear in a quoted parameter value; it is
    dropped rather than written as RFC 6868's ``^'``, which few readers decode."""
    address = vCalAddress(f"mailto:{email}")
    shown = " ".join(name.replace('"', "").split())
    if shown:
        address.params["CN"] = vText(shown)
    return address
