"""Recurring bookings: validating RRULEs and expanding occurrences in the booking's timezone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from feedserver.errors import InvalidInput
from feedserver.model import Booking

MAX_OCCURRENCES = 5000
_ALLOWED_FREQ = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")


def parse_rrule(text: str, local_start: datetime) -> rrule:
    """Validate an RRULE value (``FREQ=WEEKLY;COUNT=10``, with or without ``RRULE:``)."""
    value = normalised_rrule(text)
    parts = dict(p.split("=", 1) for p in value.upper().split(";") if "=" in p)
    if parts.get("FREQ") not in _ALLOWED_FREQ:
        raise InvalidInput("rrule needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY", field="rrule")
    try:
        rule: Any = rrulestr(value, dtstart=local_start, ignoretz=False)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"rrule {text!r} is not a valid RFC 5545 RRULE: {exc}", field="rrule"
        ) from exc
    if not isinstance(rule, rrule):
        raise InvalidInput("rrule must be a single RRULE", field="rrule")
    return rule


def normalised_rrule(text: str) -> str:
    value = text.strip()
    return value[6:] if value.upper().startswith("RRULE:") else value


def last_end(
    start: datetime, end: datetime, rrule_text: str | None, timezone: str
) -> datetime | None:
    """End of the last occurrence (UTC), or None for an endless series."""
    if not rrule_text:
        return end
    tz = ZoneInfo(timezone)
    rule = parse_rrule(rrule_text, start.astimezone(tz))
    parts = normalised_rrule(rrule_text).upper().split(";")
    if not any(part.startswith(("COUNT=", "UNTIL=")) for part in parts):
        return None
    last = None
    for last in islice(rule, MAX_OCCURRENCES):  # noqa: B007
        pass
    if last is None:
        return end
    return (last + (end - start)).astimezone(end.tzinfo)


def occurrences(
    booking: Booking, window_start: datetime, window_end: datetime, limit: int = MAX_OCCURRENCES
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of each occurrence overlapping the window, EXDATEs removed."""
    duration = booking.end - booking.start
    if not booking.rrule:
        if booking.start < window_end and booking.end > window_start:
            yield booking.start, booking.end
        return
    rule = parse_rrule(booking.rrule, booking.local_start)
    excluded = set(booking.exdates)
    utc = booking.start.tzinfo
    found = rule.between(
        (window_start - duration).astimezone(booking.zone),
        window_end.astimezone(booking.zone),
        inc=True,
    )
    for local in islice(found, limit):
        start = local.astimezone(utc)
        if start in excluded:
            continue
        if booking.all_day:  # whole local days, whatever DST does to the hours
            days = booking.end_date - booking.start_date
            end = datetime.combine(local.date() + days, time(0), local.tzinfo).astimezone(utc)
        else:
            end = start + duration
        if start < window_end and end > window_start:
            yield start, end


def padded(start: datetime, end: datetime, before: int, after: int) -> tuple[datetime, datetime]:
    return start - timedelta(minutes=before), end + timedelta(minutes=after)
