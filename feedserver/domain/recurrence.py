"""Recurring bookings: validating RRULEs against the recurrence budget and expanding
occurrences in the booking's timezone, lazily, within the budget's count and time."""

from __future__ import annotations

import logging
import time as clock
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from feedserver.calendar.rrules import RecurrenceBudget, barren, problem
from feedserver.errors import InvalidInput
from feedserver.model import Booking

log = logging.getLogger(__name__)

DEFAULT_BUDGET = RecurrenceBudget()
_ALLOWED_FREQ = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_CLOCK_EVERY = 256  # iterations between two looks at the clock


class RecurrenceTooLarge(InvalidInput):
    """Expanding the series would take more occurrences or time than the budget allows."""

    code = "recurrence_too_large"


def parse_rrule(
    text: str, local_start: datetime, budget: RecurrenceBudget = DEFAULT_BUDGET
) -> rrule:
    """Validate an RRULE value (``FREQ=WEEKLY;COUNT=10``, with or without ``RRULE:``)."""
    value = normalised_rrule(text)
    parts = dict(p.split("=", 1) for p in value.upper().split(";") if "=" in p)
    if parts.get("FREQ") not in _ALLOWED_FREQ:
        raise InvalidInput("rrule needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY", field="rrule")
    refused = problem(value, budget)
    if refused is not None:
        raise RecurrenceTooLarge(f"rrule refused: {refused}", field="rrule")
    if barren(value, local_start):
        raise InvalidInput(
            f"rrule {text!r} makes no occurrence in its first hundred years", field="rrule"
        )
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


def _bounded(rule: rrule, budget: RecurrenceBudget, what: str) -> Iterator[datetime]:
    """The rule's occurrences from its start; RecurrenceTooLarge past the budget."""
    deadline = clock.monotonic() + budget.max_seconds
    for count, moment in enumerate(rule):
        if count >= budget.max_occurrences:
            raise RecurrenceTooLarge(
                f"{what} has more than {budget.max_occurrences} occurrences to go through",
                field="rrule",
            )
        if count % _CLOCK_EVERY == 0 and clock.monotonic() > deadline:
            raise RecurrenceTooLarge(
                f"{what} takes longer than {budget.max_seconds * 1000:.0f} ms to expand",
                field="rrule",
            )
        yield moment


def last_end(
    start: datetime,
    end: datetime,
    rrule_text: str | None,
    timezone: str,
    budget: RecurrenceBudget = DEFAULT_BUDGET,
) -> datetime | None:
    """End of the last occurrence (UTC), or None for an endless series (or one whose end is
    further than the budget reaches: it is treated as endless)."""
    if not rrule_text:
        return end
    tz = ZoneInfo(timezone)
    rule = parse_rrule(rrule_text, start.astimezone(tz), budget)
    parts = normalised_rrule(rrule_text).upper().split(";")
    if not any(part.startswith(("COUNT=", "UNTIL=")) for part in parts):
        return None
    last = None
    try:
        for last in _bounded(rule, budget, "the series"):  # noqa: B007
            pass
    except RecurrenceTooLarge:
        return None
    if last is None:
        return end
    return (last + (end - start)).astimezone(end.tzinfo)


def occurrences(
    booking: Booking,
    window_start: datetime,
    window_end: datetime,
    budget: RecurrenceBudget = DEFAULT_BUDGET,
    strict: bool = True,
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of each occurrence overlapping the window, EXDATEs removed.

    Past the budget: RecurrenceTooLarge when ``strict`` (the booking being written), else the
    expansion stops there and is logged (another booking, already accepted)."""
    duration = booking.end - booking.start
    if not booking.rrule:
        if booking.start < window_end and booking.end > window_start:
            yield booking.start, booking.end
        return
    rule = parse_rrule(booking.rrule, booking.local_start, budget)
    excluded = set(booking.exdates)
    utc = booking.start.tzinfo
    earliest = window_start - duration
    try:
        for local in _bounded(rule, budget, f"booking {booking.id or 'new'}"):
            start = local.astimezone(utc)
            if start >= window_end:
                return
            if start < earliest or start in excluded:
                continue
            if booking.all_day:  # whole local days, whatever DST does to the hours
                days = booking.end_date - booking.start_date
                end = datetime.combine(local.date() + days, time(0), local.tzinfo).astimezone(utc)
            else:
                end = start + duration
            if end > window_start:
                yield start, end
    except RecurrenceTooLarge:
        if strict:
            raise
        log.warning("expansion stopped at the recurrence budget", extra={"booking_id": booking.id})


def padded(start: datetime, end: datetime, before: int, after: int) -> tuple[datetime, datetime]:
    return start - timedelta(minutes=before), end + timedelta(minutes=after)
