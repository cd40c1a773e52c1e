"""Bulk import of bookings from CSV or iCalendar files.

Every row becomes the JSON body ``POST /api/bookings`` takes and goes through the same
``BookingDraft.from_json`` and ``create_booking``: an import refuses what the API refuses
(unknown codes, overlaps, busy staff, bad times...), row by row, with the line and the reason,
and goes on with the others.

Rows are written in chunks, each one transaction: a crash loses at most the chunk being
written, never half of one. Each row has a UID (the event's, the ``uid`` column, or one made
from a hash of the row), so running the same file again skips what is already in. Imports
send no notifications (the bookings exist already; their people know of them); online
meetings and reminders are planned as for any booking (``effects``).

CSV: a header with ``type,location,staff,start,end`` and any of ``timezone, attendee_email,
attendee_name, status, title, notes, rrule, uid``; times in ISO 8601 with their offset
(a date alone is an all-day booking); several attendees separated by ``;``.
iCalendar: every VEVENT; ``defaults`` give the type, location and staff member an event does
not name (CATEGORIES naming a type, a location code in LOCATION/SUMMARY, an ORGANIZER who is
a staff member).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from feedserver.calendar import itip
from feedserver.calendar.itip import InboundEvent, MalformedCalendar
from feedserver.calendar.rrules import RecurrenceBudget
from feedserver.domain.bookings import (
    Effects,
    Lookups,
    Plan,
    check_new,
    create_booking,
    plan_booking,
)
from feedserver.domain.commands import BookingDraft
from feedserver.domain.recurrence import DEFAULT_BUDGET
from feedserver.errors import FeedserverError, InvalidInput
from feedserver.model import Booking
from feedserver.store import Store

CSV_REQUIRED = ("type", "location", "staff", "start", "end")
CSV_OPTIONAL = (
    "timezone",
    "attendee_email",
    "attendee_name",
    "status",
    "title",
    "notes",
    "rrule",
    "uid",
)
CHUNK = 1000  # rows per transaction
SOURCE = "import"


@dataclass(frozen=True)
class Defaults:
    """What an iCalendar event that does not say gets (``--type``, ``--location``,
    ``--staff``)."""

    type_key: str = ""
    location_code: str = ""
    staff: str = ""


@dataclass(frozen=True)
class Row:
    """One booking to import: a CSV row (``data``, the API's JSON body) or an event."""

    line: int
    uid: str
    data: dict[str, Any] | None = None
    event: InboundEvent | None = None
    problem: str = ""  # why the row could not be read at all
    field: str | None = None


@dataclass(frozen=True)
class Refusal:
    line: int
    reason: str
    field: str | None = None


@dataclass
class Report:
    rows: int = 0
    imported: int = 0
    skipped: int = 0  # already in (same UID)
    refused: list[Refusal] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "skipped": self.skipped,
            "refused": [dataclasses.asdict(r) for r in self.refused],
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.rows / self.seconds) if self.seconds else None,
        }


# -- reading files ------------------------------------------------------------------------------


def _row_uid(values: dict[str, str]) -> str:
    """A stable UID for a row without one: the same row imported again is the same booking."""
    canonical = json.dumps({k: v.strip() for k, v in sorted(values.items())}, sort_keys=True)
    return f"import-{hashlib.sha256(canonical.encode()).hexdigest()[:32]}@feedserver"


def _csv_data(values: dict[str, str]) -> dict[str, Any]:
    """A CSV row as the JSON body of ``POST /api/bookings``."""
    data: dict[str, Any] = {k: values[k].strip() for k in ("type", "location", "staff", "start")}
    end = values["end"].strip()
    if end:
        data["end"] = end
    start = data["start"]
    if len(start) == 10 and start[4:5] == "-":  # a date: an all-day booking
        data["all_day"] = True
    for name in ("timezone", "status", "title", "notes", "rrule"):
        text = (values.get(name) or "").strip()
        if text:
            data[name] = text
    emails = [e.strip() for e in (values.get("attendee_email") or "").split(";")]
    names = [n.strip() for n in (values.get("attendee_name") or "").split(";")]
    attendees = [
        {"email": email, "name": names[i] if i < len(names) else ""}
        for i, email in enumerate(emails)
        if email
    ]
    if attendees:
        data["attendees"] = attendees
    return data


def read_csv(data: bytes) -> Iterator[Row]:
    """The rows of a CSV file; ``InvalidInput`` for a file that is not one we can read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the CSV file is not UTF-8 text", field="file") from exc
    if "\x00" in text:
        raise InvalidInput("the CSV file contains NUL bytes", field="file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in CSV_REQUIRED if c not in header]
        if missing:
            raise InvalidInput(
                f"the CSV header lacks {', '.join(missing)}; it needs {','.join(CSV_REQUIRED)} "
                f"and may have {','.join(CSV_OPTIONAL)}",
                field="file",
            )
        unknown = [c for c in header if c not in CSV_REQUIRED + CSV_OPTIONAL]
        if unknown:
            raise InvalidInput(
                f"unknown CSV column {unknown[0]!r}; known: "
                f"{','.join(CSV_REQUIRED + CSV_OPTIONAL)}",
                field="file",
            )
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue  # a blank line
            if len(fields) != len(header):
                yield Row(line, "", problem=f"{len(fields)} fields, not {len(header)}")
                continue
            values = dict(zip(header, fields, strict=True))
            uid = values.get("uid", "").strip() or _row_uid(values)
            yield Row(line, uid, data=_csv_data(values))
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: {exc}", field="file") from exc


def _event_lines(data: bytes) -> list[int]:
    """The line number of each ``BEGIN:VEVENT`` (never folded), in order."""
    return [
        number
        for number, line in enumerate(data.decode("utf-8-sig", "replace").splitlines(), 1)
        if line.strip().upper() == "BEGIN:VEVENT"
    ]


def read_ics(data: bytes) -> Iterator[Row]:
    """The events of an iCalendar file; ``InvalidInput`` for a file that is not one."""
    try:
        events = itip.parse_each(data)
    except MalformedCalendar as exc:
        raise InvalidInput(str(exc), field="file") from exc
    lines = _event_lines(data)
    for index, event in enumerate(events):
        line = lines[index] if index < len(lines) else 0
        if isinstance(event, MalformedCalendar):
            yield Row(line, "", problem=str(event))
        else:
            yield Row(line, event.uid, event=event)


def read_file(data: bytes, name: str) -> Iterator[Row]:
    """CSV or iCalendar, by the file's name (``.ics``) or its first line."""
    head = data[:200].lstrip(b"\xef\xbb\xbf \r\n\t").upper()
    if name.lower().endswith((".ics", ".ical", ".ifb")) or head.startswith(b"BEGIN:VCALENDAR"):
        return read_ics(data)
    return read_csv(data)


# -- turning events into bookings ------------------------------------------------------------


def _event_data(
    event: InboundEvent, defaults: Defaults, refs: Lookups, codes: set[str]
) -> dict[str, Any]:
    """An event as the JSON body of ``POST /api/bookings``."""
    if event.recurrence_id:
        raise InvalidInput(
            "a changed occurrence of a series (RECURRENCE-ID) cannot be imported on its own",
            field="RECURRENCE-ID",
        )
    if event.unknown_tzid:
        raise InvalidInput(
            f"DTSTART names the time zone {event.unknown_tzid[:80]!r}, which is not an IANA or "
            "Windows zone and has no VTIMEZONE: its times cannot be known",
            field="DTSTART",
        )
    if event.cancelled:
        raise InvalidInput("a cancelled event (STATUS:CANCELLED) is not a booking", field="STATUS")
    type_key = defaults.type_key or next(
        (c.lower() for c in event.categories if refs.store.types.get(c.lower())), ""
    )
    if not type_key:
        raise InvalidInput(
            "no reservation type: give --type, or a CATEGORIES naming one", field="type"
        )
    code = defaults.location_code or itip.find_code(event, codes)[0] or ""
    if not code:
        raise InvalidInput(
            "no location: give --location, or name its code in LOCATION", field="location"
        )
    staff = defaults.staff or event.organizer or ""
    if not staff:
        raise InvalidInput("no staff member: give --staff, or an ORGANIZER", field="staff")
    _, location_zone = refs.location(code.upper())
    zone = ZoneInfo(event.timezone or location_zone)
    if event.floating:
        event = itip.refloat(event, zone)
    data: dict[str, Any] = {"type": type_key, "location": code, "staff": staff}
    if event.all_day:
        data.update(
            all_day=True,
            start=event.start.astimezone(UTC).date().isoformat(),
            end=event.end.astimezone(UTC).date().isoformat(),
        )
    else:
        data.update(
            start=event.start.astimezone(zone).isoformat(),
            end=event.end.astimezone(zone).isoformat(),
        )
        if event.timezone:
            data["timezone"] = event.timezone
    if event.rrule:
        data["rrule"] = event.rrule
    if event.exdates:
        data["exdates"] = [
            x.astimezone(UTC).date().isoformat() if event.all_day else x.isoformat()
            for x in event.exdates
        ]
    if event.summary:
        data["title"] = event.summary[:500]
    if event.description:
        data["notes"] = event.description[:20_000]
    people = [p for p in event.attendees if p.email not in (event.organizer, staff.lower())]
    if people:
        data["attendees"] = [{"email": p.email, "name": p.name} for p in people]
    return data


# -- writing ------------------------------------------------------------------------------------


@dataclass
class Importer:
    """Imports rows into a store, chunk by chunk (``chunk``); keeps the references it has
    looked up and the running report."""

    store: Store
    effects: Effects | None = None
    budget: RecurrenceBudget = DEFAULT_BUDGET
    defaults: Defaults = Defaults()
    report: Report = field(default_factory=Report)
    # A chunk's rows accepted and not written yet, and the id the next one gets.
    pending: list[tuple[Booking, Plan, BookingDraft]] = field(default_factory=list, init=False)
    next_id: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.refs = Lookups(self.store)
        self.codes = set(self.store.locations.codes())

    def chunk(self, rows: Sequence[Row]) -> None:
        """Import ``rows`` in one transaction.

        Every row is checked as ``create_booking`` checks a new booking (``plan_booking``,
        then ``check_new``), in order, each against the ones before it. A row that is not a
        series is checked against the chunk's staff members' bookings read once for the
        chunk's window, and the rows accepted are written together at the end; a series (or
        a check outside that window) writes what was accepted first and is created alone."""
        with self.store.transaction():
            refs = self.refs
            refs.remember_busy()
            present = self.store.bookings.existing_uids([row.uid for row in rows])
            drafts = [(row, self._draft(row, present)) for row in rows]
            plans: list[tuple[Row, BookingDraft, Plan]] = []
            for row, draft in drafts:
                if draft is None:
                    continue
                try:
                    plans.append((row, draft, plan_booking(draft, SOURCE, self.budget, refs)))
                except FeedserverError as exc:
                    self._refuse(row, exc)
            self.pending = []
            self.next_id = self.store.bookings.next_id()
            single = [p.record for _, _, p in plans if not p.record.rrule]
            if single:
                margin = timedelta(minutes=2 * refs.max_buffer_minutes() + 1)
                refs.keep_spans(
                    {r.staff_id for r in single},
                    min(r.start for r in single) - margin,
                    max(r.end for r in single) + margin,
                )
            refs.before_reading = self._write_pending
            try:
                for row, draft, plan in plans:
                    self._row(row, draft, plan, present)
                self._write_pending()
            finally:
                refs.before_reading = None
                refs.forget_spans()

    def _draft(self, row: Row, present: set[str]) -> BookingDraft | None:
        """The row as a draft; None when it is refused or already in (the report says)."""
        self.report.rows += 1
        if row.problem:
            self.report.refused.append(Refusal(row.line, row.problem, row.field))
            return None
        if row.uid in present:
            self.report.skipped += 1
            return None
        try:
            data = row.data
            if data is None:
                assert row.event is not None
                data = _event_data(row.event, self.defaults, self.refs, self.codes)
            return dataclasses.replace(BookingDraft.from_json(data), uid=row.uid)
        except FeedserverError as exc:
            self._refuse(row, exc)
            return None

    def _refuse(self, row: Row, exc: FeedserverError) -> None:
        self.report.refused.append(Refusal(row.line, exc.message, exc.field))

    def _row(self, row: Row, draft: BookingDraft, plan: Plan, present: set[str]) -> None:
        if draft.uid in present:  # the same UID twice in one chunk
            self.report.skipped += 1
            return
        try:
            if plan.record.rrule:
                self._write_pending()
                created = create_booking(
                    self.store, draft, SOURCE, self.effects, self.budget, self.refs
                ).after
                self.refs.note(created, pending=False)
                self.next_id = max(self.next_id, created.id + 1)
            else:
                booking = plan.booking(self.next_id, draft.attendees)
                check_new(self.store, booking, draft, self.budget, self.refs)
                self.pending.append((booking, plan, draft))
                self.refs.note(booking, pending=True)
                self.next_id += 1
        except FeedserverError as exc:
            self._refuse(row, exc)
            return
        present.add(draft.uid)
        self.report.imported += 1

    def _write_pending(self) -> None:
        """Write the rows accepted so far, with their effects (meetings)."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        created = self.store.bookings.create_many(
            [(b.id, p.record, b.attendees, p.rtype.key, p.code) for b, p, _ in pending]
        )
        self.refs.written()
        if self.effects is not None:
            self.effects.after_created(
                self.store,
                [
                    (booking, plan.rtype)
                    for booking, (_, plan, _) in zip(created, pending, strict=True)
                ],
            )


def batches(rows: Iterable[Row], size: int = CHUNK) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_rows(
    importer: Importer,
    rows: Iterable[Row],
    progress: Callable[[int], object] | None = None,
    size: int = CHUNK,
) -> Report:
    """Import every row in chunks of ``size``; ``progress`` is told how many rows each
    chunk had."""
    started = time.perf_counter()
    for batch in batches(rows, size):
        importer.chunk(batch)
        if progress is not None:
            progress(len(batch))
    importer.report.seconds = time.perf_counter() - started
    if importer.report.imported:
        importer.store.refresh_statistics(after_import=True)
    return importer.report
