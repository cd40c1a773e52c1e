"""Reminders before bookings: which are due when, kept in the store.

A reservation type lists its reminders (minutes before, to attendees and/or staff), or uses
the organisation's default (``[notifications] default_reminders``). When a booking changes,
its pending reminders are planned again in the same transaction (moved: new times; cancelled:
none). Series are planned ``HORIZON`` ahead and topped up as time passes. A reminder whose
time has passed when it is planned is not written (the booking's own message just went out);
one that fell due while the server was down is still sent if its occurrence has not begun
(``feedserver.notify.reminders``), and each is sent once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from feedserver.calendar.rrules import RecurrenceBudget
from feedserver.domain.recurrence import DEFAULT_BUDGET, occurrences
from feedserver.model import Booking, ReservationType, Status
from feedserver.store import Store

Rules = tuple[tuple[int, tuple[str, ...]], ...]
HORIZON = timedelta(days=14)
Planned = list[tuple[datetime, int, str, datetime]]


def rules_for(rtype: ReservationType | None, default: Rules) -> Rules:
    if rtype is None or rtype.reminders is None:
        return default
    return rtype.reminders


def plan(
    booking: Booking, rules: Rules, now: datetime, budget: RecurrenceBudget = DEFAULT_BUDGET
) -> Planned:
    """(occurrence start, minutes, audience, due) of the reminders to send after ``now``."""
    if booking.status is not Status.CONFIRMED or not rules:
        return []
    longest = timedelta(minutes=max(minutes for minutes, _ in rules))
    planned: Planned = []
    for start, _ in occurrences(booking, now, now + HORIZON + longest, budget, strict=False):
        if start <= now:
            continue
        for minutes, audiences in rules:
            due = start - timedelta(minutes=minutes)
            if now <= due <= now + HORIZON:
                planned.extend((start, minutes, audience, due) for audience in audiences)
    return planned


def reschedule(
    store: Store, booking: Booking, default: Rules, now: datetime, budget: RecurrenceBudget
) -> None:
    """Plan a changed booking's reminders again (inside its transaction)."""
    rules = rules_for(store.types.get(booking.type_key), default)
    store.reminders.replace_pending(booking.id, plan(booking, rules, now, budget))


def top_up(store: Store, default: Rules, now: datetime, budget: RecurrenceBudget) -> int:
    """Plan the reminders of series occurrences that came within the horizon; returns how
    many series were looked at. Nothing already planned is removed."""
    ids = store.reminders.series_ids()
    with store.transaction():
        for booking_id in ids:
            booking = store.bookings.get(booking_id)
            if booking is None:
                continue
            rules = rules_for(store.types.get(booking.type_key), default)
            store.reminders.add(booking.id, plan(booking, rules, now, budget))
    return len(ids)
