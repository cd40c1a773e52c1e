"""Availability: staff members' working hours and the free slots they leave.

Working hours are weekly local time ranges in the staff member's zone, with dated exceptions
(``hours: []``: not working that day); none set means always available. A slot is a start on
a grid of ``availability.slot_step_minutes`` (counted from local midnight) where the type's
duration, with its buffers before and after, fits inside working hours and overlaps no
confirmed or pending booking of the staff member (each with its own type's buffers) nor a
busy time read from their own calendars (``feedserver.domain.busy``), and starts no earlier
than ``availability.min_notice_minutes`` from now.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from feedserver.calendar.rrules import RecurrenceBudget
from feedserver.domain import schemas
from feedserver.domain.accounts import find_user
from feedserver.domain.catalog import get_location, get_type
from feedserver.domain.inputs import Body
from feedserver.domain.recurrence import DEFAULT_BUDGET, occurrences
from feedserver.errors import InvalidInput
from feedserver.model import Hours, ReservationType, Role, Status, User, WorkingHours
from feedserver.store import BookingQuery, Store
from feedserver.times import parse_instant, zone

DAYS = schemas.DAYS
MAX_RANGE = timedelta(days=93)
Interval = tuple[datetime, datetime]
Seconds = tuple[float, float]  # an interval in Unix seconds


def _clock(value: object, field: str) -> time:
    if not isinstance(value, str) or len(value) != 5:
        raise InvalidInput("times are HH:MM", field=field)
    if value == "24:00":
        return time.max
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not a time (HH:MM)", field=field) from exc


def _ranges(value: object, field: str) -> Hours:
    if not isinstance(value, list) or len(value) > 12:
        raise InvalidInput('hours are a list of ["HH:MM", "HH:MM"] pairs', field=field)
    found: list[tuple[time, time]] = []
    for index, pair in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise InvalidInput('each range is ["HH:MM", "HH:MM"]', field=where)
        start, end = _clock(pair[0], where), _clock(pair[1], where)
        if start >= end:
            raise InvalidInput("the end must come after the start", field=where)
        found.append((start, end))
    found.sort()
    for (_, first_end), (second_start, _) in itertools.pairwise(found):
        if second_start < first_end:
            raise InvalidInput("two ranges overlap", field=field)
    return tuple(found)


def parse_working_hours(data: object) -> WorkingHours:
    """The body of ``PUT .../working-hours``."""
    body = Body(data, schemas.WORKING_HOURS)
    timezone = body.text("timezone", required=True)
    zone(timezone)
    weekly_raw = body.raw("weekly") or {}
    if not isinstance(weekly_raw, dict) or set(weekly_raw) - set(DAYS):
        raise InvalidInput(f"weekly maps days ({', '.join(DAYS)}) to hours", field="weekly")
    weekly = {day: _ranges(weekly_raw[day], f"weekly.{day}") for day in DAYS if day in weekly_raw}
    exceptions_raw = body.raw("exceptions") or []
    if not isinstance(exceptions_raw, list) or len(exceptions_raw) > 1000:
        raise InvalidInput('exceptions is a list of {"date", "hours"}', field="exceptions")
    exceptions: dict[date, Hours] = {}
    for index, item in enumerate(exceptions_raw):
        where = f"exceptions[{index}]"
        if not isinstance(item, dict) or set(item) != {"date", "hours"}:
            raise InvalidInput('each exception is {"date", "hours"}', field=where)
        try:
            day = date.fromisoformat(str(item["date"]))
        except ValueError as exc:
            raise InvalidInput("date is YYYY-MM-DD", field=f"{where}.date") from exc
        exceptions[day] = _ranges(item["hours"], f"{where}.hours")
    return WorkingHours(timezone, weekly, exceptions)


def save_working_hours(store: Store, user_id: int, hours: WorkingHours | None) -> None:
    """A person's working hours; None: always available (their hours are removed)."""
    with store.transaction():
        if hours is None:
            store.working_hours.delete(user_id)
        else:
            store.working_hours.put(user_id, hours)


def ranges_text(hours: Hours) -> list[list[str]]:
    """[["09:00", "12:00"], ...]: a day's ranges as the API writes them."""
    return [[f"{a:%H:%M}", _end(b)] for a, b in hours]


def _end(moment: time) -> str:
    return "24:00" if moment == time.max else f"{moment:%H:%M}"


def working_hours_json(hours: WorkingHours) -> dict[str, object]:
    return {
        "timezone": hours.timezone,
        "weekly": {day: ranges_text(r) for day, r in hours.weekly.items()},
        "exceptions": [
            {"date": d.isoformat(), "hours": ranges_text(r)}
            for d, r in sorted(hours.exceptions.items())
        ],
    }


def windows(hours: WorkingHours | None, start: datetime, end: datetime) -> list[Interval]:
    """The working intervals (UTC, sorted, clipped to [start, end)); always, with no hours."""
    if hours is None:
        return [(start, end)]
    where = zone(hours.timezone)
    found: list[Interval] = []
    day = start.astimezone(where).date() - timedelta(days=1)
    last = end.astimezone(where).date() + timedelta(days=1)
    while day <= last:
        ranges = hours.exceptions.get(day, hours.weekly.get(DAYS[day.weekday()], ()))
        for a, b in ranges:
            begin = datetime.combine(day, a, where)
            finish = (
                datetime.combine(day + timedelta(days=1), time(0), where)
                if b == time.max
                else datetime.combine(day, b, where)
            )
            begin, finish = max(begin, start), min(finish, end)
            if begin < finish:
                found.append((begin, finish))
        day += timedelta(days=1)
    return sorted(found)


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    staff: User


def _busy(
    store: Store,
    staff_id: int,
    start: datetime,
    end: datetime,
    budget: RecurrenceBudget,
    types: dict[str, ReservationType],
) -> list[Seconds]:
    """The staff member's confirmed and pending bookings with their buffers, and their busy
    times, as merged intervals of Unix seconds."""
    margin = timedelta(minutes=store.bookings.max_buffer_minutes())
    query = BookingQuery(
        staff_ids=[staff_id],
        statuses=[Status.CONFIRMED.value, Status.PENDING.value],
        start=start - margin,
        end=end + margin,
    )
    found: list[Seconds] = []
    for booking_id, type_key, first, last, recurring in store.bookings.spans(query):
        rtype = types.get(type_key)
        before = 60 * (rtype.buffer_before_minutes if rtype else 0)
        after = 60 * (rtype.buffer_after_minutes if rtype else 0)
        if not recurring:  # most bookings: their stored times are all there is to know
            found.append((first.timestamp() - before, last.timestamp() + after))
            continue
        booking = store.bookings.one(booking_id)
        for s, e in occurrences(booking, start - margin, end + margin, budget, strict=False):
            found.append((s.timestamp() - before, e.timestamp() + after))
    for busy in store.busy_calendars.busy_between(staff_id, start, end):
        found.append((busy.start.timestamp(), busy.end.timestamp()))
    return merge(found)


def merge(intervals: Iterable[Seconds]) -> list[Seconds]:
    merged: list[Seconds] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def free_starts(
    work: Sequence[Interval],
    busy: Sequence[Seconds],
    length: int,
    before: int,
    after: int,
    step: int,
    earliest: float,
    local_zone: str,
) -> list[float]:
    """Starts (Unix seconds) on the grid whose [start - before, start + length + after) lies
    inside one working interval and overlaps no busy interval; all durations in seconds.
    Plain numbers, not datetimes: this loop runs for every candidate of every staff member."""
    where = zone(local_zone)
    ends = [e for _, e in busy]
    found: list[float] = []
    for w_start, w_end in work:
        first = max(w_start.timestamp() + before, earliest)
        local = datetime.fromtimestamp(first, where)
        midnight = datetime.combine(local.date(), time(0), where).timestamp()
        candidate = first + (-(first - midnight)) % step
        limit = w_end.timestamp() - length - after
        index = bisect.bisect_right(ends, candidate - before)
        while candidate <= limit:
            low, high = candidate - before, candidate + length + after
            while index < len(ends) and ends[index] <= low:
                index += 1
            if index < len(busy) and busy[index][0] < high:
                skip = busy[index][1] + before - candidate
                candidate += max(-(-skip // step), 1) * step
                continue
            found.append(candidate)
            candidate += step
    return found


def staff_at(store: Store, location_code: str, staff_ref: str | None) -> list[User]:
    if staff_ref:
        person = find_user(store, staff_ref, "staff")
        if person.role is Role.CUSTOMER:
            raise InvalidInput(f"{person.email} is not a staff member", field="staff")
        return [person]
    people = store.users.list(Role.STAFF)
    here = [u for u in people if u.primary_location == location_code]
    return here or [u for u in people if u.primary_location is None]


def slots(
    store: Store,
    params: dict[str, str],
    now: datetime,
    step_minutes: int,
    notice_minutes: int,
    budget: RecurrenceBudget = DEFAULT_BUDGET,
) -> list[Slot]:
    """The free slots of ``GET /api/availability``."""
    rtype = get_type(store, params.get("type", ""))
    location = get_location(store, params.get("location", ""))
    start = parse_instant(params.get("start", ""), "start")
    end = parse_instant(params.get("end", ""), "end")
    if not start < end or end - start > MAX_RANGE:
        raise InvalidInput("end is after start, at most 93 days later", field="end")
    length = timedelta(minutes=rtype.duration_minutes)
    before = timedelta(minutes=rtype.buffer_before_minutes)
    after = timedelta(minutes=rtype.buffer_after_minutes)
    earliest = max(start, now + timedelta(minutes=notice_minutes)).timestamp()
    types = {t.key: t for t in store.types.list()}
    found: list[Slot] = []
    for person in staff_at(store, location.code, params.get("staff")):
        hours = store.working_hours.get(person.id)
        work = windows(hours, start - before, end + length + after)
        busy = _busy(store, person.id, start - before, end + length + after, budget, types)
        local = hours.timezone if hours else location.timezone
        starts = free_starts(
            work,
            busy,
            int(length.total_seconds()),
            int(before.total_seconds()),
            int(after.total_seconds()),
            60 * step_minutes,
            earliest,
            local,
        )
        last = end.timestamp()
        for begin in starts:
            if begin < last:
                at = datetime.fromtimestamp(begin, UTC)
                found.append(Slot(at, at + length, person))
    found.sort(key=lambda s: (s.start, s.staff.id))
    return found
