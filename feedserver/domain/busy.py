"""Busy calendars: a staff member's own calendars (Google's secret address, an Outlook
published calendar, any .ics URL), read only for when they are busy.

An event is busy unless it is transparent (TRANSP:TRANSPARENT), cancelled, or declined by the
staff member (their own ATTENDEE with PARTSTAT=DECLINED); all-day events are busy for their
whole days in the staff member's zone; VFREEBUSY periods count (all but FBTYPE=FREE). Series
are expanded with recurring-ical-events over the horizon, exceptions included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit, urlunsplit

import recurring_ical_events
from icalendar import Calendar

from feedserver.calendar.rrules import barren, event_rules, item_steps
from feedserver.domain import schemas
from feedserver.domain.inputs import Body
from feedserver.errors import InvalidInput, NotFound
from feedserver.model import BusyCalendar, User
from feedserver.store import Store
from feedserver.times import zone
from feedserver.tokens.credentials import CredentialBox

MAX_CALENDARS = 10
# The most steps the series of one calendar may take to expand up to the horizon (about a
# second of recurring-ical-events): an event repeating every second since 1990 would take
# hours, on a thread of the server.
MAX_EXPANSION_STEPS = 500_000


class NotACalendar(ValueError):
    """What a busy calendar's URL answered is not iCalendar; the message says what it was."""


def normalise_url(value: str) -> str:
    """http(s) URLs, and ``webcal://`` read as ``https://``; anything else is refused."""
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if scheme == "webcal":
        scheme = "https"
    if scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url is an http, https or webcal address of a calendar", field="url")
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))


def calendar_url(data: object) -> str:
    """The address a busy calendar body names (``url``, or ``caldav_url`` for a server)."""
    if isinstance(data, dict):
        raw = data.get("caldav_url") or data.get("url") or ""
        field = "caldav_url" if data.get("caldav_url") else "url"
        if isinstance(raw, str):
            try:
                return normalise_url(raw)
            except InvalidInput as exc:
                raise InvalidInput(exc.message, field=field) from exc
    raise InvalidInput('send {"name", "url"} or {"name", "caldav_url", "username", "password"}')


def add_calendar(store: Store, user: User, data: object, box: CredentialBox) -> BusyCalendar:
    """``{"name", "url"}`` (an iCalendar URL) or ``{"name", "caldav_url", "username",
    "password"}`` (every calendar of a CalDAV account; the password is sealed)."""
    body = Body(data, schemas.BUSY_CALENDAR)
    name = body.text("name", required=True)
    caldav = "caldav_url" in body
    url = calendar_url(data)
    username = body.text("username", required=caldav) if caldav else ""
    secret = box.seal(body.text("password", required=True)) if caldav else ""
    with store.transaction():
        if len(store.busy_calendars.list(user.id)) >= MAX_CALENDARS:
            raise InvalidInput(f"at most {MAX_CALENDARS} busy calendars a person", field="url")
        kind = "caldav" if caldav else "ics"
        return store.busy_calendars.create(user.id, name, url, kind, username, secret)


def own_calendar(store: Store, user: User, calendar_id: int) -> BusyCalendar:
    found = store.busy_calendars.get(calendar_id)
    if found is None or found.user_id != user.id:
        raise NotFound(f"no busy calendar {calendar_id}")
    return found


def remove_calendar(store: Store, user: User, calendar_id: int) -> None:
    """Forget one of ``user``'s busy calendars and its busy times (NotFound if not theirs)."""
    with store.transaction():
        own_calendar(store, user, calendar_id)
        store.busy_calendars.delete(calendar_id)


def _instant(value: date | datetime, where: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=zone(where)) if value.tzinfo is None else value
    return datetime.combine(value, time(0), zone(where))


def busy_times(
    text: bytes, email: str, timezone: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str]]:
    """The busy intervals (UTC, with their event's UID) of an iCalendar text in [start, end)."""
    stripped = text.lstrip()
    if not stripped.startswith(b"BEGIN:VCALENDAR"):
        shown = stripped[:40].decode("utf-8", "replace").splitlines()[0] if stripped else ""
        raise NotACalendar(f"not an iCalendar file (it begins with {shown!r})")
    decoded = text.decode("utf-8", "replace")
    cost = item_steps(decoded, end)
    if cost > MAX_EXPANSION_STEPS:
        raise NotACalendar(
            f"its recurring events repeat too often to read up to {end:%Y-%m-%d} (about {cost} "
            f"steps; at most {MAX_EXPANSION_STEPS} are taken)"
        )
    for first, rules in event_rules(decoded):
        never = next((rule for rule in rules if barren(rule, first)), None)
        if never is not None:
            raise NotACalendar(
                f"an event repeats by a rule that never occurs ({never[:80]}): it cannot be read"
            )
    try:
        calendar = Calendar.from_ical(text)
        events = recurring_ical_events.of(calendar, skip_bad_series=True).between(start, end)
    except Exception as exc:
        raise NotACalendar(f"unreadable iCalendar: {exc}") from exc
    found: list[tuple[datetime, datetime, str]] = []
    me = email.lower()
    for event in events:
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        attendees = event.get("ATTENDEE", [])
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            if (
                str(attendee).lower().removeprefix("mailto:") == me
                and str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED"
            ):
                break
        else:
            begin = event.get("DTSTART")
            if begin is None:
                continue
            finish = event.get("DTEND")
            first = _instant(begin.dt, timezone)
            if finish is not None:
                last = _instant(finish.dt, timezone)
            elif isinstance(begin.dt, datetime):
                duration = event.get("DURATION")
                last = first + (duration.dt if duration is not None else timedelta(0))
            else:
                last = first + timedelta(days=1)
            if last > first:
                uid = str(event.get("UID", ""))
                found.append((first.astimezone(UTC), last.astimezone(UTC), uid))
    for freebusy in calendar.walk("VFREEBUSY"):
        periods = freebusy.get("FREEBUSY", [])
        for period in periods if isinstance(periods, list) else [periods]:
            if str(period.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                continue
            first, last = period.start, period.end
            if first < end and last > start:
                found.append((first.astimezone(UTC), last.astimezone(UTC), ""))
    return sorted(found)
