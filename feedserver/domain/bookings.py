"""Bookings: creation, changes and status transitions, with the rules that protect them.

Writes take typed commands (``feedserver.domain.commands``): the callers parse JSON or calendar
events at their edge; here references are resolved and the rules applied.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from feedserver.calendar.rrules import RecurrenceBudget
from feedserver.domain import schemas
from feedserver.domain.accounts import find_user
from feedserver.domain.catalog import normalise_code
from feedserver.domain.commands import BookingDraft, BookingPatch, Moment, StaffRef
from feedserver.domain.events import Origin
from feedserver.domain.inputs import Body, check_external_id
from feedserver.domain.recurrence import (
    DEFAULT_BUDGET,
    last_end,
    occurrences,
    padded,
    parse_rrule,
)
from feedserver.errors import (
    Conflict,
    InvalidInput,
    ManagedByCalendar,
    NotFound,
    StaffBusy,
    StaffDoubleBooked,
    UnknownReference,
)
from feedserver.model import (
    Attendee,
    Booking,
    BookingRecord,
    ReservationType,
    Role,
    Span,
    Status,
    User,
)
from feedserver.numbers import is_whole
from feedserver.store import BookingQuery, Store
from feedserver.times import parse_instant, utcnow, zone

CALENDAR_SOURCES = ("caldav", "email", "http")  # bookings the bridge made from events
CHECK_HORIZON = timedelta(days=2 * 365)  # how far an endless series is checked for overlaps
# Stored fields whose change moves a booking in time or to another person (busy check again).
_MOVE_FIELDS = {"start", "end", "staff_id", "rrule", "exdates", "all_day", "timezone"}


@dataclass(frozen=True)
class BookingChange:
    """What a write did: the booking before (None when created) and after."""

    before: Booking | None
    after: Booking


class Effects(Protocol):
    """Work that must happen in the same transaction as a booking change (meetings, the
    notification outbox). ``event``: created, changed, confirmed, cancelled, rejected."""

    def after_change(
        self,
        store: Store,
        change: BookingChange,
        event: str,
        rtype: ReservationType | None = None,
    ) -> None:
        """``rtype``: the booking's type, when the caller has read it already."""

    def after_created(
        self, store: Store, created: Sequence[tuple[Booking, ReservationType]]
    ) -> None:
        """``after_change`` of many new bookings at once (an import's chunk), each with
        its type."""

    def by(self, origin: Origin) -> Effects:
        """The same work, for changes from ``origin`` (what their events say)."""

    def replied(self, store: Store, booking: Booking, email: str) -> None:
        """An attendee's answer (their PARTSTAT) was recorded on ``booking``."""


def get_booking(store: Store, booking_id: int) -> Booking:
    booking = store.bookings.get(booking_id)
    if booking is None:
        raise NotFound(f"no booking {booking_id}")
    return booking


def own_booking(store: Store, user: User, booking_id: int) -> Booking:
    """A booking ``user`` is in (its staff member or an attendee); NotFound otherwise, as
    for one that does not exist."""
    booking = store.bookings.get(booking_id)
    involved = booking is not None and (
        booking.staff_id == user.id or any(a.email == user.email for a in booking.attendees)
    )
    if booking is None or not involved:
        raise NotFound(f"no booking {booking_id}")
    return booking


def bookings_of(
    store: Store, user: User, now: datetime, upcoming: bool, limit: int = 50
) -> list[Booking]:
    """``user``'s bookings (as staff member or attendee): those not over yet, soonest first,
    or those over, latest first."""
    query = BookingQuery(
        involving_user=(user.id, user.email),
        start=now if upcoming else None,
        end=None if upcoming else now,
        latest_first=not upcoming,
        limit=limit,
    )
    found = store.bookings.list(query)
    if upcoming:
        return found
    return [b for b in found if b.end <= now and (not b.rrule or next_occurrence(b, now) is None)]


def next_occurrence(booking: Booking, now: datetime) -> tuple[datetime, datetime] | None:
    """The first occurrence of ``booking`` not over at ``now`` (the booking itself when it is
    not recurring), or None."""
    if not booking.rrule:
        return (booking.start, booking.end) if booking.end > now else None
    window_end = now + timedelta(days=3660)
    return next(iter(occurrences(booking, now, window_end, strict=False)), None)


class _SpanIndex:
    """One staff member's confirmed bookings in an import chunk's window: single ones by
    start (a lookup is two bisections, whatever their number), series apart (each is
    expanded by the caller)."""

    def __init__(self) -> None:
        self.starts: list[datetime] = []
        self.spans: list[Span] = []
        self.series: list[Span] = []
        self.longest = timedelta(0)

    def add(self, span: Span) -> None:
        if span.recurring:
            self.series.append(span)
            return
        at = bisect.bisect_right(self.starts, span.start)
        self.starts.insert(at, span.start)
        self.spans.insert(at, span)
        self.longest = max(self.longest, span.end - span.start)

    def meeting(self, start: datetime, end: datetime) -> list[Span]:
        """Those that may meet [start, end): single ones that do, and every series that
        starts before ``end``."""
        low = bisect.bisect_left(self.starts, start - self.longest)
        high = bisect.bisect_left(self.starts, end)
        found = [s for s in self.spans[low:high] if s.end > start]
        found.extend(s for s in self.series if s.start < end)
        return found


class Lookups:
    """Reservation types, locations and staff members by reference. A single booking reads
    them once; an import keeps one ``Lookups`` for the whole file, so each is read once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._types: dict[str, ReservationType] = {}
        self._locations: dict[str, tuple[int, str]] = {}
        self._staff: dict[StaffRef, int] = {}
        self._max_buffer: int | None = None
        self._busy_users: set[int] | None = None  # None: not known, check everyone
        # An import's chunk: the confirmed bookings of its staff members in a window, read
        # once; the bookings it accepted and has not written yet (by their coming ids).
        self._spans: dict[int, _SpanIndex] = {}
        self._window: tuple[datetime, datetime] | None = None
        self._pending: dict[int, Booking] = {}
        self.before_reading: Callable[[], None] | None = None  # writes what is pending

    def type(self, key: str) -> ReservationType:
        found = self._types.get(key) or self.store.types.get(key)
        if found is None:
            known = ", ".join(t.key for t in self.store.types.list()) or "none yet"
            raise UnknownReference(
                f"unknown reservation type {key!r} (known: {known})", field="type"
            )
        self._types[key] = found
        return found

    def location(self, code: str) -> tuple[int, str]:
        """The location's id and time zone."""
        cached = self._locations.get(code)
        if cached is not None:
            return cached
        found = self.store.locations.get(code)
        if found is None:
            known = ", ".join(self.store.locations.codes()) or "none yet"
            raise UnknownReference(
                f"unknown location code {code!r} (known: {known})", field="location"
            )
        self._locations[code] = (found.id, found.timezone)
        return found.id, found.timezone

    def staff(self, ref: StaffRef) -> int:
        cached = self._staff.get(ref)
        if cached is not None:
            return cached
        try:
            user = find_user(self.store, ref, field="staff")
        except NotFound as exc:
            raise UnknownReference(f"unknown staff member {ref!r}", field="staff") from exc
        if user.role is Role.CUSTOMER:
            raise InvalidInput(f"{user.email} is a customer, not a staff member", field="staff")
        self._staff[ref] = user.id
        return user.id

    def known_type(self, key: str) -> ReservationType | None:
        """The type, or None when there is no such type (any more)."""
        found = self._types.get(key) or self.store.types.get(key)
        if found is not None:
            self._types[key] = found
        return found

    def remember_busy(self) -> None:
        """Note which staff members have busy times (an import does so for each chunk): the
        others need no busy-time check until the next call."""
        self._busy_users = self.store.busy_calendars.users_with_busy_times()

    def may_be_busy(self, staff_id: int) -> bool:
        return self._busy_users is None or staff_id in self._busy_users

    def max_buffer_minutes(self) -> int:
        if self._max_buffer is None:
            self._max_buffer = self.store.bookings.max_buffer_minutes()
        return self._max_buffer

    # -- the overlap check's reads, kept for a chunk of an import ---------------------------

    def keep_spans(self, staff_ids: Iterable[int], start: datetime, end: datetime) -> None:
        """Read the confirmed bookings of ``staff_ids`` in [start, end) once; overlap checks
        inside that window then read them from here (and the ones ``note`` adds)."""
        staff = sorted(set(staff_ids))
        self._spans = {s: _SpanIndex() for s in staff}
        for staff_id, span in self.store.bookings.confirmed_spans_of(staff, start, end):
            self._spans[staff_id].add(span)
        self._window = (start, end)

    def forget_spans(self) -> None:
        self._spans, self._window, self._pending = {}, None, {}

    def confirmed_spans(self, staff_id: int, start: datetime, end: datetime) -> list[Span]:
        """The staff member's confirmed bookings that may meet [start, end) (a series: any
        that starts before ``end``; its occurrences are checked by the caller)."""
        window = self._window
        covered = window is not None and window[0] <= start and end <= window[1]
        if covered and staff_id in self._spans:
            return self._spans[staff_id].meeting(start, end)
        if self.before_reading is not None:
            self.before_reading()  # what the chunk accepted must be in the store first
        return self.store.bookings.confirmed_spans(staff_id, start, end)

    def note(self, booking: Booking, pending: bool) -> None:
        """A booking the chunk accepted (``pending``: not written yet), for the overlap
        checks of the rows after it."""
        if pending:
            self._pending[booking.id] = booking
        if booking.status is Status.CONFIRMED and booking.staff_id in self._spans:
            span = Span(
                booking.id, booking.type_key, booking.start, booking.end, bool(booking.rrule)
            )
            self._spans[booking.staff_id].add(span)

    def written(self) -> None:
        """What was pending is in the store now."""
        self._pending = {}

    def booking(self, booking_id: int) -> Booking:
        """A booking by id: one the chunk accepted, or from the store."""
        found = self._pending.get(booking_id)
        return found if found is not None else get_booking(self.store, booking_id)


def _day(value: Moment, field: str) -> date:
    if isinstance(value, datetime):
        raise InvalidInput(
            f"{field} of an all-day booking is a date (YYYY-MM-DD), not a date-time", field=field
        )
    return value


def _instant(value: Moment, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"{value.isoformat()!r} has no time or UTC offset; send an ISO 8601 date-time "
            "such as 2027-01-20T09:00:00+01:00 (or all_day: true)",
            field=field,
        )
    return value


def _times(
    start: Moment | None,
    end: Moment | None,
    all_day: bool,
    current: Booking | None,
    timezone: str,
    duration: timedelta,
) -> tuple[datetime, datetime]:
    """The start and end (what is not given is completed from ``current``)."""
    tz = zone(timezone)
    if all_day:
        if start is not None:
            start_day = _day(start, "start")
        elif current is not None:
            start_day = current.start_date
        else:
            raise InvalidInput("start is required", field="start")
        if end is not None:
            end_day = _day(end, "end")
        elif current is not None and start is None:
            end_day = current.end_date
        else:
            end_day = start_day + timedelta(days=1)
        begins = datetime.combine(start_day, time(0), tz)
        ends = datetime.combine(end_day, time(0), tz)
    else:
        if start is not None:
            begins = _instant(start, "start")
        elif current is not None and not current.all_day:
            begins = current.start
        else:
            raise InvalidInput(
                "start is required (an ISO 8601 date-time with offset)", field="start"
            )
        if end is not None:
            ends = _instant(end, "end")
        elif current is not None and start is None and not current.all_day:
            ends = current.end
        else:
            ends = begins + (current.duration if current is not None else duration)
    if ends <= begins:
        raise InvalidInput("end must be after start", field="end")
    return begins.astimezone(UTC), ends.astimezone(UTC)


def _exdates(values: tuple[Moment, ...], all_day: bool, tz_name: str) -> tuple[datetime, ...]:
    tz = zone(tz_name)
    out = []
    for index, item in enumerate(values):
        where = f"exdates[{index}]"
        if all_day:
            out.append(datetime.combine(_day(item, where), time(0), tz))
        else:
            out.append(_instant(item, where))
    return tuple(sorted({x.astimezone(UTC) for x in out}))


def _next_stamp(previous: datetime | None) -> datetime:
    """A modification time strictly after the previous one (clients compare LAST-MODIFIED)."""
    now = utcnow()
    if previous is not None and now <= previous:
        now = previous + timedelta(seconds=1)
    return now


def _busy(
    store: Store,
    booking: Booking,
    start: datetime,
    end: datetime,
    budget: RecurrenceBudget,
    strict: bool,
    refs: Lookups | None = None,
) -> list[tuple[datetime, datetime]]:
    found = (refs or Lookups(store)).known_type(booking.type_key)
    before = found.buffer_before_minutes if found else 0
    after = found.buffer_after_minutes if found else 0
    return [
        padded(s, e, before, after) for s, e in occurrences(booking, start, end, budget, strict)
    ]


def _clash(store: Store, other: Booking, busy: tuple[datetime, datetime]) -> str:
    """The clashing occurrence (not a series' first one), in its location's time zone."""
    found = store.locations.get(other.location_code)
    where = zone(found.timezone if found else other.timezone)
    rtype = store.types.get(other.type_key)
    before = timedelta(minutes=rtype.buffer_before_minutes if rtype else 0)
    after = timedelta(minutes=rtype.buffer_after_minutes if rtype else 0)
    start, end = (busy[0] + before).astimezone(where), (busy[1] - after).astimezone(where)
    when = (
        f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
        if start.date() == end.date()
        else (f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}")
    )
    series = " (an occurrence of a recurring booking)" if other.rrule else ""
    return (
        f"the staff member already has booking {other.id}{series} at {when} ({where.key}), "
        "which overlaps this time, buffer times included"
    )


def check_busy(
    store: Store, booking: Booking, budget: RecurrenceBudget, calendar_uid: str = ""
) -> None:
    """A booking must not overlap a busy time of the staff member's own calendars (unless
    the caller allows the conflict); the refusal names the calendar, not the event. The
    booking's own event (its UID, or the bridged event's) is not busy with itself: a staff
    member may subscribe to their feed, and an organizer's invitation is in their calendar."""
    if booking.status not in (Status.CONFIRMED, Status.PENDING):
        return
    spans = list(occurrences(booking, booking.start, booking.start + CHECK_HORIZON, budget))
    if not spans:
        return
    found = store.busy_calendars.busy_between(booking.staff_id, spans[0][0], spans[-1][1])
    where = zone(booking.timezone)
    own = {booking.uid, calendar_uid} - {""}
    for busy in found:
        if busy.uid in own:
            continue
        for start, end in spans:
            if start < busy.end and busy.start < end:
                local = busy.start.astimezone(where)
                raise StaffBusy(
                    f"the staff member's calendar \u201c{busy.calendar}\u201d is busy at "
                    f"{local:%Y-%m-%d %H:%M} ({where.key}); pass allow_conflict to book anyway"
                )


def check_overlaps(
    store: Store,
    booking: Booking,
    budget: RecurrenceBudget = DEFAULT_BUDGET,
    lookups: Lookups | None = None,
) -> None:
    """A confirmed booking must not overlap another confirmed one of its staff member,
    buffer times included (for series: every occurrence within two years)."""
    if booking.status is not Status.CONFIRMED:
        return
    horizon_end = booking.start + CHECK_HORIZON
    mine = _busy(store, booking, booking.start, horizon_end, budget, strict=True, refs=lookups)
    if not mine:
        return
    refs = lookups or Lookups(store)
    margin = timedelta(minutes=refs.max_buffer_minutes())
    first, last = mine[0][0] - margin, mine[-1][1] + margin
    # Single bookings are checked from their stored times; only a series is loaded whole.
    series = []
    for span in refs.confirmed_spans(booking.staff_id, first, last):
        if span.id == booking.id:
            continue
        if span.recurring:
            series.append(span.id)
            continue
        rtype = refs.known_type(span.type_key)
        theirs = padded(
            span.start,
            span.end,
            rtype.buffer_before_minutes if rtype else 0,
            rtype.buffer_after_minutes if rtype else 0,
        )
        _refuse_overlap(store, refs, mine, theirs, span.id)
    for other in store.bookings.list(BookingQuery(ids=series)) if series else []:
        for theirs in _busy(store, other, first, last, budget, strict=False, refs=refs):
            _refuse_overlap(store, refs, mine, theirs, other)


def _refuse_overlap(
    store: Store,
    refs: Lookups,
    mine: list[tuple[datetime, datetime]],
    theirs: tuple[datetime, datetime],
    other: Booking | int,
) -> None:
    for own in mine:
        if own[0] < theirs[1] and theirs[0] < own[1]:
            found = refs.booking(other) if isinstance(other, int) else other
            raise StaffDoubleBooked(_clash(store, found, theirs))


@dataclass(frozen=True)
class Plan:
    """A new booking as it will be written, checked against everything but the other
    bookings and busy times (``check_new``)."""

    record: BookingRecord
    rtype: ReservationType
    code: str  # its location's code

    def booking(self, booking_id: int, attendees: tuple[Attendee, ...]) -> Booking:
        """The booking this plan writes, under the id it gets."""
        r = self.record
        return Booking(
            id=booking_id,
            uid=r.uid,
            type_key=self.rtype.key,
            location_code=self.code,
            staff_id=r.staff_id,
            attendees=attendees,
            start=r.start,
            end=r.end,
            timezone=r.timezone,
            all_day=r.all_day,
            rrule=r.rrule,
            exdates=r.exdates,
            status=r.status,
            title=r.title,
            notes=r.notes,
            sequence=r.sequence,
            source=r.source,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


def plan_booking(
    draft: BookingDraft, source: str, budget: RecurrenceBudget, refs: Lookups
) -> Plan:
    """Check a draft against the catalog, accounts, times and recurrence rules; the record
    to write (nothing is written)."""
    rtype = refs.type(draft.type_key)
    location_id, location_tz = refs.location(draft.location_code)
    staff_id = refs.staff(draft.staff)
    timezone = draft.timezone or location_tz
    zone(timezone)
    duration = timedelta(minutes=rtype.duration_minutes)
    start, end = _times(draft.start, draft.end, draft.all_day, None, timezone, duration)
    rrule = draft.rrule or None
    now = _next_stamp(None)
    record = BookingRecord(
        uid=draft.uid or f"{uuid.uuid4()}@feedserver",
        type_id=rtype.id,
        location_id=location_id,
        staff_id=staff_id,
        start=start,
        end=end,
        last_end=_series_end(start, end, rrule, timezone, budget),
        timezone=timezone,
        all_day=draft.all_day,
        rrule=rrule,
        exdates=_exdates(draft.exdates, draft.all_day, timezone),
        status=draft.status,
        title=draft.title,
        notes=draft.notes,
        sequence=0,
        source=source,
        created_at=now,
        updated_at=now,
        external_id=draft.external_id,
    )
    return Plan(record, rtype, normalise_code(draft.location_code))


def check_new(
    store: Store, booking: Booking, draft: BookingDraft, budget: RecurrenceBudget, refs: Lookups
) -> None:
    """A new booking against the staff member's other bookings and, unless the draft allows
    the conflict, their busy times."""
    check_overlaps(store, booking, budget, refs)
    if not draft.allow_conflict and refs.may_be_busy(booking.staff_id):
        check_busy(store, booking, budget, draft.calendar_uid)


def create_booking(
    store: Store,
    draft: BookingDraft,
    source: str = "api",
    effects: Effects | None = None,
    budget: RecurrenceBudget = DEFAULT_BUDGET,
    lookups: Lookups | None = None,
) -> BookingChange:
    refs = lookups or Lookups(store)
    with store.transaction():
        plan = plan_booking(draft, source, budget, refs)
        check_external_id(draft.external_id, store.bookings.id_of_external, None, "booking")
        booking = store.bookings.create(plan.record, draft.attendees, plan.rtype.key, plan.code)
        check_new(store, booking, draft, budget, refs)
        rtype = plan.rtype
        change = BookingChange(None, booking)
        if effects is not None:
            effects.after_change(store, change, "created", rtype)
        return change


def _unanswered(attendees: Sequence[Attendee]) -> tuple[Attendee, ...]:
    return tuple(replace(a, partstat="") for a in attendees)


def _series_end(
    start: datetime, end: datetime, rrule: str | None, timezone: str, budget: RecurrenceBudget
) -> datetime | None:
    """The end of the last occurrence (None: a series without end); the rule is checked
    against the budget first."""
    if rrule:
        parse_rrule(rrule, start.astimezone(zone(timezone)), budget)
    return last_end(start, end, rrule, timezone, budget)


def _managed_here(booking: Booking, by_calendar: bool) -> None:
    if booking.source in CALENDAR_SOURCES and not by_calendar:
        raise ManagedByCalendar(
            f"booking {booking.id} comes from a calendar event ({booking.source}); change or "
            "cancel the event in the organizer's calendar and the booking follows"
        )


def update_booking(
    store: Store,
    booking_id: int,
    patch: BookingPatch,
    effects: Effects | None = None,
    by_calendar: bool = False,
    budget: RecurrenceBudget = DEFAULT_BUDGET,
) -> BookingChange:
    with store.transaction():
        current = get_booking(store, booking_id)
        _managed_here(current, by_calendar)
        before = store.bookings.record(booking_id)
        refs = Lookups(store)
        timezone = patch.timezone or current.timezone
        zone(timezone)
        all_day = current.all_day if patch.all_day is None else patch.all_day
        start, end = _times(patch.start, patch.end, all_day, current, timezone, current.duration)
        rrule = current.rrule if patch.rrule is None else (patch.rrule or None)
        exdates = (
            before.exdates if patch.exdates is None else _exdates(patch.exdates, all_day, timezone)
        )
        after = replace(
            before,
            type_id=before.type_id if patch.type_key is None else refs.type(patch.type_key).id,
            location_id=(
                before.location_id
                if patch.location_code is None
                else refs.location(patch.location_code)[0]
            ),
            staff_id=before.staff_id if patch.staff is None else refs.staff(patch.staff),
            timezone=timezone,
            start=start,
            end=end,
            all_day=all_day,
            rrule=rrule,
            exdates=exdates,
            last_end=_series_end(start, end, rrule, timezone, budget),
            title=before.title if patch.title is None else patch.title,
            notes=before.notes if patch.notes is None else patch.notes,
            external_id=(
                before.external_id if patch.external_id is None else patch.external_id or None
            ),
        )
        if after.external_id != before.external_id:
            owner_of = store.bookings.id_of_external
            check_external_id(after.external_id, owner_of, booking_id, "booking")
        attendees = list(patch.attendees) if patch.attendees is not None else None
        changed = {
            f.name
            for f in fields(BookingRecord)
            if getattr(before, f.name) != getattr(after, f.name)
        }
        changed.discard("last_end")
        if attendees is not None and _unanswered(attendees) == _unanswered(current.attendees):
            attendees = None  # the same people: their answers (PARTSTAT) are theirs to change
        if not changed and attendees is None:
            return BookingChange(current, current)
        after = replace(
            after, sequence=current.sequence + 1, updated_at=_next_stamp(current.updated_at)
        )
        booking = store.bookings.update(booking_id, after, attendees)
        check_overlaps(store, booking, budget)
        moved = bool(changed & _MOVE_FIELDS)
        if moved and not patch.allow_conflict:
            check_busy(store, booking, budget, patch.calendar_uid)
        change = BookingChange(current, booking)
        if effects is not None:
            effects.after_change(store, change, "changed")
        return change


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
    budget: RecurrenceBudget = DEFAULT_BUDGET,
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
        record = replace(
            store.bookings.record(booking_id),
            status=status,
            sequence=current.sequence + 1,
            updated_at=_next_stamp(current.updated_at),
        )
        booking = store.bookings.update(booking_id, record, action=action)
        check_overlaps(store, booking, budget)
        change = BookingChange(current, booking)
        if effects is not None:
            effects.after_change(store, change, action)
        return change


@dataclass(frozen=True)
class Replaced:
    booking: Booking
    created: bool


def external_key(value: str) -> str:
    """An external id from a path: 1 to 200 printable characters."""
    value = value.strip()
    if not value or len(value) > 200 or not value.isprintable():
        raise InvalidInput("an external id is 1 to 200 printable characters", field="external_id")
    return value


def replace_by_external(
    store: Store,
    external_id: str,
    data: object,
    effects: Effects | None = None,
    budget: RecurrenceBudget = DEFAULT_BUDGET,
) -> Replaced:
    """Make the booking the caller knows as ``external_id`` what ``data`` says: made when
    there is none, else replaced (a field left out takes its default). The same body again
    changes nothing, so no event and no notification follows. ``status`` moves it along
    the allowed transitions (a cancelled booking stays cancelled)."""
    external_id = external_key(external_id)
    body = Body(data, schemas.BOOKING_REPLACE)
    status = Status(body.text("status", default=Status.CONFIRMED.value))
    fields_given = {k: v for k, v in body.data.items() if k != "status"}
    with store.transaction():
        found = store.bookings.id_of_external(external_id)
        if found is None:
            if status is Status.CANCELLED:
                raise InvalidInput(
                    f"there is no booking {external_id!r} to cancel", field="status"
                )
            draft = BookingDraft.from_json(
                {**fields_given, "status": status.value, "external_id": external_id}
            )
            made = create_booking(store, draft, effects=effects, budget=budget)
            return Replaced(made.after, True)
        draft = BookingDraft.from_json({**fields_given, "external_id": external_id})
        patch = replace(
            draft.patch(),
            staff=draft.staff,
            notes=draft.notes,
            allow_conflict=draft.allow_conflict,
            calendar_uid="",
        )
        current = update_booking(store, found, patch, effects, budget=budget).after
        if status is not current.status:
            if status is Status.PENDING:
                raise Conflict(
                    f"booking {current.id} is {current.status.value}; it cannot be pending again"
                )
            current = set_status(store, current.id, status, effects, budget=budget).after
        return Replaced(current, False)


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
    external = params.get("external_id")
    if external is not None:
        found = store.bookings.id_of_external(external_key(external))
        return [get_booking(store, found)] if found is not None else []
    limit = params.get("limit", "500")
    offset = params.get("offset", "0")
    if not is_whole(limit) or not is_whole(offset) or not 1 <= int(limit) <= 5000:
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
