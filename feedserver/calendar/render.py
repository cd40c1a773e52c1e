"""Rendering bookings as iCalendar (RFC 5545) with icalendar: one renderer for feeds, CalDAV
and the VEVENT of email invitations (``feedserver.calendar.itip``).

A feed is assembled from byte fragments: a header, one VTIMEZONE per TZID used, and one VEVENT
per booking. VEVENT fragments are cached by (booking id, last change, rendering options), so the
first render after a change only renders what changed. Nothing here reads the clock: the same
bookings give the same bytes.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vDuration

from feedserver import __version__
from feedserver.calendar.clockshifts import shifted_occurrences
from feedserver.calendar.contentlines import ContentLines
from feedserver.calendar.templates import render
from feedserver.calendar.values import Catalog, booking_values
from feedserver.calendar.vtimezone import vtimezone
from feedserver.model import (
    Attendee,
    Booking,
    BookingKey,
    FeedFilters,
    Location,
    ReservationType,
    Role,
    Status,
    User,
)

log = logging.getLogger(__name__)

PRODID = f"-//feedserver//feedserver {__version__}//EN"
_ICAL_STATUS = {
    Status.CONFIRMED: "CONFIRMED",
    Status.PENDING: "TENTATIVE",
    Status.CANCELLED: "CANCELLED",
    Status.REJECTED: "CANCELLED",
}
_END = b"END:VCALENDAR\r\n"


@dataclass(frozen=True)
class Viewer:
    """Whose feed this is and what it may show of other people."""

    user: User
    filters: FeedFilters

    def attendee_mode(self, booking: Booking | BookingKey, rtype: ReservationType | None) -> str:
        if not self.filters.show_attendees:
            return "none"
        if self.user.role is Role.CUSTOMER and not (rtype and rtype.attendees_visible):
            return "self"
        return "all"


def _visible_attendees(booking: Booking, mode: str, viewer: User) -> list[Attendee]:
    if mode == "none":
        return []
    return [a for a in booking.attendees if mode == "all" or a.email == viewer.email.lower()]


def shortcode_values(
    booking: Booking, catalog: Catalog, viewer: Viewer, meeting_link: str = ""
) -> dict[str, str]:
    rtype = catalog.types.get(booking.type_key)
    people = _visible_attendees(booking, viewer.attendee_mode(booking, rtype), viewer.user)
    return {
        **booking_values(booking, catalog, people, viewer.user.role is Role.CUSTOMER),
        "customer_full_name": (people[0].name or people[0].email) if people else "",
        "customer_email": people[0].email if people else "",
        "notes": "" if viewer.user.role is Role.CUSTOMER else booking.notes,
        "online_meeting_link": meeting_link,
    }


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone)


def _written(moment: datetime, zone: ZoneInfo) -> datetime:
    """How a single instant is written: local time with its TZID, except the second pass of
    a repeated hour (02:30 after the autumn change), which RFC 5545 reads as the first pass:
    that one is written in UTC, so every reader gets the true instant."""
    local = moment.astimezone(zone)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def _buffers(
    booking: Booking, rtype: ReservationType | None, viewer: Viewer
) -> tuple[timedelta, timedelta]:
    """How much earlier the event starts and later it ends than the booking (buffers shown)."""
    if viewer.filters.include_buffers and rtype and not booking.all_day:
        return (
            timedelta(minutes=rtype.buffer_before_minutes),
            timedelta(minutes=rtype.buffer_after_minutes),
        )
    return timedelta(0), timedelta(0)


def _event_lines(
    booking: Booking,
    catalog: Catalog,
    viewer: Viewer,
    meeting_link: str,
    occurrence: datetime | None = None,
) -> ContentLines:
    """The booking as a VEVENT, without ORGANIZER or ATTENDEE (a subscription is no invitation);
    with ``occurrence``, that occurrence of its series written again as an override whose
    start and end are UTC instants (``clockshifts``)."""
    zone = booking.zone
    rtype = catalog.types.get(booking.type_key)
    location = catalog.locations.get(booking.location_code)
    before, after = _buffers(booking, rtype, viewer)

    event = ContentLines("VEVENT")
    event.text("UID", booking.uid)
    event.when("DTSTAMP", booking.updated_at)
    event.when("CREATED", booking.created_at)
    event.when("LAST-MODIFIED", booking.updated_at)
    event.add("SEQUENCE", str(booking.sequence))
    if booking.all_day:
        event.when("DTSTART", booking.start_date)
        event.when("DTEND", booking.end_date)
    else:
        start, end = booking.start - before, booking.end + after
        if occurrence is not None:
            event.when("RECURRENCE-ID", occurrence)  # the wall time, as the series names it
            event.when("DTSTART", occurrence.astimezone(UTC))
            event.when("DTEND", occurrence.astimezone(UTC) + (end - start))
        elif booking.rrule:
            # A series keeps its TZID (occurrences follow the wall clock); its DTEND only
            # gives the length, so it may be written as the true instant.
            event.when("DTSTART", _local(start, zone))
            event.when("DTEND", _written(end, zone))
        elif _written(start, zone).tzinfo is UTC or _written(end, zone).tzinfo is UTC:
            # The second pass of a repeated hour: both ends in UTC (a reader that subtracts
            # wall-clock times, as Python's datetime does within one zone, then agrees too).
            event.when("DTSTART", start.astimezone(UTC))
            event.when("DTEND", end.astimezone(UTC))
        else:
            event.when("DTSTART", _local(start, zone))
            event.when("DTEND", _local(end, zone))
    if booking.rrule and occurrence is None:
        event.recur("RRULE", booking.rrule)
        if booking.exdates:
            excluded: list[date | datetime] = [
                _local(x, zone).date() if booking.all_day else _local(x - before, zone)
                for x in booking.exdates
            ]
            event.whens("EXDATE", excluded)
    event.add("STATUS", _ICAL_STATUS[booking.status])
    if viewer.filters.busy_only:  # free/busy only: when, and nothing about what or who
        event.add("SUMMARY", "Busy")
        event.add("CLASS", "PRIVATE")
        event.add("TRANSP", "OPAQUE")
        return event
    template = catalog.templates.for_type(booking.type_key)
    values = shortcode_values(booking, catalog, viewer, meeting_link)
    event.text("SUMMARY", render(template.summary, values) or values["service_name"])
    description = render(template.description, values)
    if before or after:
        start, end = _local(booking.start, zone), _local(booking.end, zone)
        description += (
            f"\nAppointment {start:%H:%M}\u2013{end:%H:%M}; this event includes the buffer time."
        )
    if description:
        event.text("DESCRIPTION", description)
    where = _where(location, rtype, meeting_link)
    if where:
        event.text("LOCATION", where)
    if rtype:
        event.texts("CATEGORIES", [rtype.name])
    event.add("TRANSP", "TRANSPARENT" if booking.status is Status.CANCELLED else "OPAQUE")
    return event


def render_events(
    booking: Booking, catalog: Catalog, viewer: Viewer, meeting_link: str = ""
) -> list[Event]:
    """The VEVENTs of the feeds (the booking, then the overrides of its clock-shifted
    occurrences) as icalendar components, to add ORGANIZER and ATTENDEE to (email
    invitations)."""
    parsed = Event.from_ical(event_bytes(booking, catalog, viewer, meeting_link), multiple=True)
    events = [e for e in parsed if isinstance(e, Event)]
    assert len(events) == len(parsed)
    return events


def _shifted(booking: Booking, catalog: Catalog, viewer: Viewer) -> list[datetime]:
    """The occurrences of a timed series that need an override (``clockshifts``)."""
    if not booking.rrule or booking.all_day:
        return []
    before, _ = _buffers(booking, catalog.types.get(booking.type_key), viewer)
    return shifted_occurrences(
        booking.rrule,
        _local(booking.start - before, booking.zone),
        [x - before for x in booking.exdates if isinstance(x, datetime)],
    )


def _where(location: Location | None, rtype: ReservationType | None, meeting_link: str) -> str:
    """LOCATION: the place; for an online booking its meeting link, with the place only when
    the type also meets on site (``on_site``)."""
    place = ", ".join(p for p in (location.name, location.address) if p) if location else ""
    if not meeting_link:
        return place
    if rtype is not None and rtype.online and not rtype.on_site:
        return meeting_link
    return f"{place} ({meeting_link})" if place else meeting_link


def event_bytes(booking: Booking, catalog: Catalog, viewer: Viewer, meeting_link: str) -> bytes:
    """The booking's VEVENT, and one override per clock-shifted occurrence of its series."""
    parts = [_event_lines(booking, catalog, viewer, meeting_link).to_bytes()]
    for occurrence in _shifted(booking, catalog, viewer):
        parts.append(_event_lines(booking, catalog, viewer, meeting_link, occurrence).to_bytes())
    return b"".join(parts)


class FragmentCache:
    """Rendered VEVENT bytes, least recently used dropped beyond ``size`` entries."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()

    def get(self, key: tuple[object, ...]) -> bytes | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[object, ...], fragment: bytes) -> None:
        self._items[key] = fragment
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def _opening(calendar: Calendar) -> bytes:
    """A VCALENDAR's serialisation without its closing line, to append components to."""
    text = bytes(calendar.to_ical())
    assert text.endswith(_END)
    return text[: -len(_END)]


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    return calendar


def _header(name: str, refresh: timedelta) -> bytes:
    calendar = _calendar()
    calendar.add("method", "PUBLISH")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    return _opening(calendar)


def render_item(
    booking: Booking, catalog: Catalog, viewer: Viewer, meeting_link: str = ""
) -> bytes:
    """One booking as a calendar object resource (CalDAV): VCALENDAR, its VTIMEZONE, the
    same VEVENT as in the feeds."""
    parts = [_opening(_calendar())]
    if not booking.all_day:
        parts.append(vtimezone(booking.timezone, booking.local_start.year))
    parts.append(event_bytes(booking, catalog, viewer, meeting_link))
    parts.append(_END)
    return b"".join(parts)


# Loads the bookings of the ids given: (bookings by id, the reader's meeting link by id).
Loader = Callable[[list[int]], tuple[dict[int, Booking], dict[int, str]]]


@dataclass(frozen=True)
class RenderedEvents:
    body: bytes
    booking_ids: frozenset[int]
    skipped: int


def fragment_key(key: BookingKey, catalog: Catalog, viewer: Viewer) -> tuple[object, ...]:
    """What a booking's VEVENT depends on: its version (which its online meeting's changes
    bump too), the catalog's, its staff member's name, and how this reader sees it (a
    customer sees their own meeting link, everyone else the room)."""
    mode = viewer.attendee_mode(key, catalog.types.get(key.type_key))
    return (
        key.id,
        key.version,
        catalog.version,
        key.staff_version,
        viewer.filters.include_buffers,
        viewer.filters.busy_only,
        mode,
        viewer.user.role is Role.CUSTOMER,
        viewer.user.email if mode == "self" or viewer.user.role is Role.CUSTOMER else "",
    )


def _fragments(
    keys: Sequence[BookingKey],
    load: Loader,
    catalog: Catalog,
    viewer: Viewer,
    fragments: FragmentCache,
) -> tuple[list[tuple[BookingKey, bytes]], int]:
    """The VEVENT of each key, from ``fragments`` or rendered (``load`` is asked only for
    the bookings without one); a booking that fails to render is skipped and logged."""
    planned: list[tuple[BookingKey, tuple[object, ...], bytes | None]] = []
    for key in keys:
        cache_key = fragment_key(key, catalog, viewer)
        planned.append((key, cache_key, fragments.get(cache_key)))
    missing = [key.id for key, _, fragment in planned if fragment is None]
    loaded, links = load(missing) if missing else ({}, {})
    done: list[tuple[BookingKey, bytes]] = []
    skipped = 0
    for key, cache_key, fragment in planned:
        if fragment is None:
            booking = loaded.get(key.id)
            if booking is None:  # gone between the two queries
                continue
            try:
                fragment = event_bytes(booking, catalog, viewer, links.get(key.id, ""))
            except Exception:
                log.exception("booking not rendered", extra={"booking_id": key.id})
                skipped += 1
                continue
            fragments.put(cache_key, fragment)
        done.append((key, fragment))
    return done, skipped


def render_items(
    keys: Sequence[BookingKey],
    load: Loader,
    catalog: Catalog,
    viewer: Viewer,
    fragments: FragmentCache,
) -> dict[int, bytes]:
    """Each booking as a calendar object resource (CalDAV), by booking id: the same VEVENT
    fragments as the feeds, each in a VCALENDAR with its VTIMEZONE."""
    done, _ = _fragments(keys, load, catalog, viewer, fragments)
    opening = _opening(_calendar())
    items = {}
    for key, fragment in done:
        zone = b""
        if not key.all_day:
            year = datetime.fromisoformat(key.start_utc).astimezone(ZoneInfo(key.timezone)).year
            zone = vtimezone(key.timezone, year)
        items[key.id] = b"".join((opening, zone, fragment, _END))
    return items


def render_calendar(
    name: str,
    keys: Sequence[BookingKey],
    load: Loader,
    catalog: Catalog,
    viewer: Viewer,
    fragments: FragmentCache,
    refresh: timedelta,
) -> RenderedEvents:
    """The whole VCALENDAR of the bookings ``keys`` name, in their order. A booking whose
    VEVENT is in ``fragments`` (same version, same rendering options) is not loaded again:
    ``load`` is asked only for the others. One that fails to render is skipped and logged."""
    done, skipped = _fragments(keys, load, catalog, viewer, fragments)
    tzids: set[str] = set()
    first: BookingKey | None = None
    for key, _ in done:
        if not key.all_day:
            tzids.add(key.timezone)
            first = first or key
    parts = [_header(name, refresh)]
    if first is not None:  # the earliest timed booking: zones are written from then on
        year = datetime.fromisoformat(first.start_utc).astimezone(ZoneInfo(first.timezone)).year
        parts.extend(vtimezone(tzid, year) for tzid in sorted(tzids))
    parts.extend(fragment for _, fragment in done)
    parts.append(_END)
    return RenderedEvents(b"".join(parts), frozenset(key.id for key, _ in done), skipped)
