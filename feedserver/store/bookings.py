"""SQL for bookings and their attendees."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedserver.model import Attendee, Booking, BookingKey, BookingRecord, Span, Status
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, found, iter_chunks
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow

_SELECT = (
    "SELECT b.*, t.key AS type_key, l.code AS location_code FROM bookings b "
    "JOIN reservation_types t ON t.id = b.type_id "
    "JOIN locations l ON l.id = b.location_id"
)
_CHUNK = 500
VISIBLE = (Status.CONFIRMED.value, Status.PENDING.value)  # shown in bookings calendars


def _escape_like(text: str) -> str:
    """``text`` matched literally by LIKE (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class BookingQuery:
    """Filters for listing bookings; every given filter must match (None: no filter)."""

    types: Sequence[str] | None = None
    locations: Sequence[str] | None = None
    staff_ids: Sequence[int] | None = None
    statuses: Sequence[str] | None = None
    start: datetime | None = None  # bookings (or a recurrence) ending after this
    end: datetime | None = None  # ... and starting before this
    involving_user: tuple[int, str] | None = None  # (user id, email): staff member or attendee
    ids: Sequence[int] | None = None
    attendee: str | None = None  # part of an attendee's name or email, any case
    latest_first: bool = False
    limit: int | None = None
    offset: int = 0


def _common(row: Row) -> dict[str, Any]:
    """The fields a ``Booking`` and a ``BookingRecord`` read alike from a bookings row."""
    return {
        "uid": row["uid"],
        "staff_id": row["staff_id"],
        "start": from_db(row["start_utc"]),
        "end": from_db(row["end_utc"]),
        "timezone": row["timezone"],
        "all_day": bool(row["all_day"]),
        "rrule": row["rrule"],
        "exdates": tuple(from_db(x) for x in json.loads(row["exdates"])),
        "status": Status(row["status"]),
        "title": row["title"],
        "notes": row["notes"],
        "sequence": row["sequence"],
        "source": row["source"],
        "created_at": from_db(row["created_at"]),
        "updated_at": from_db(row["updated_at"]),
        "external_id": row["external_id"],
    }


def _booking(row: Row, attendees: tuple[Attendee, ...]) -> Booking:
    return Booking(
        id=row["id"],
        type_key=row["type_key"],
        location_code=row["location_code"],
        attendees=attendees,
        **_common(row),
    )


def _record(row: Row) -> BookingRecord:
    return BookingRecord(
        type_id=row["type_id"],
        location_id=row["location_id"],
        last_end=from_db(row["last_end_utc"]) if row["last_end_utc"] else None,
        **_common(row),
    )


def _columns(record: BookingRecord) -> dict[str, Any]:
    """The columns of a booking row (all but its id and version)."""
    return {
        "uid": record.uid,
        "type_id": record.type_id,
        "location_id": record.location_id,
        "staff_id": record.staff_id,
        "start_utc": to_db(record.start),
        "end_utc": to_db(record.end),
        "last_end_utc": to_db(record.last_end) if record.last_end is not None else None,
        "timezone": record.timezone,
        "all_day": int(record.all_day),
        "rrule": record.rrule,
        "exdates": json.dumps([to_db(x) for x in record.exdates]),
        "status": record.status.value,
        "title": record.title,
        "notes": record.notes,
        "sequence": record.sequence,
        "source": record.source,
        "created_at": to_db(record.created_at),
        "updated_at": to_db(record.updated_at),
        "external_id": record.external_id,
    }


def _in(column: str, values: Sequence[Any], params: list[Any]) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join('?' for _ in values)})" if values else "1 = 0"


class BookingStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    # -- reading --------------------------------------------------------------------------

    def id_of_external(self, external_id: str) -> int | None:
        """The id of the row the caller knows as ``external_id`` (None: none)."""
        value = self.db.scalar("SELECT id FROM bookings WHERE external_id = ?", (external_id,))
        return None if value is None else int(value)

    def _attendees(self, booking_ids: list[int]) -> dict[int, tuple[Attendee, ...]]:
        found: dict[int, list[Attendee]] = {i: [] for i in booking_ids}
        for start in range(0, len(booking_ids), _CHUNK):
            chunk = booking_ids[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            for row in self.db.rows(
                "SELECT booking_id, email, name, language, timezone, partstat "  # noqa: S608
                "FROM booking_attendees "
                f"WHERE booking_id IN ({marks}) ORDER BY booking_id, position",
                chunk,
            ):
                found[row["booking_id"]].append(
                    Attendee(
                        row["email"], row["name"], row["language"], row["timezone"], row["partstat"]
                    )
                )
        return {k: tuple(v) for k, v in found.items()}

    def _load(self, rows: list[Row]) -> list[Booking]:
        attendees = self._attendees([r["id"] for r in rows])
        return [_booking(r, attendees[r["id"]]) for r in rows]

    def get(self, booking_id: int) -> Booking | None:
        rows = self.db.rows(f"{_SELECT} WHERE b.id = ?", (booking_id,))
        return self._load(rows)[0] if rows else None

    def record(self, booking_id: int) -> BookingRecord:
        """The booking as stored (its type and location by id, the end of its series): what
        a change starts from."""
        row = self.db.row("SELECT * FROM bookings WHERE id = ?", (booking_id,))
        return _record(found(row, f"booking {booking_id}"))

    def one(self, booking_id: int) -> Booking:
        return found(self.get(booking_id), f"booking {booking_id}")

    def existing_uids(self, uids: Sequence[str]) -> set[str]:
        """Those of ``uids`` that a booking has."""
        found: set[str] = set()
        for start in range(0, len(uids), 500):
            chunk = uids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.db.rows(f"SELECT uid FROM bookings WHERE uid IN ({marks})", chunk)  # noqa: S608
            found.update(r["uid"] for r in rows)
        return found

    def get_by_uid(self, uid: str) -> Booking | None:
        rows = self.db.rows(f"{_SELECT} WHERE b.uid = ?", (uid,))
        return self._load(rows)[0] if rows else None

    def _where(self, query: BookingQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.ids is not None:
            clauses.append(_in("b.id", list(query.ids), params))
        if query.types is not None:
            clauses.append(_in("t.key", list(query.types), params))
        if query.locations is not None:
            clauses.append(_in("l.code", list(query.locations), params))
        if query.staff_ids is not None:
            clauses.append(_in("b.staff_id", list(query.staff_ids), params))
        if query.statuses is not None:
            clauses.append(_in("b.status", list(query.statuses), params))
        if query.start is not None:
            clauses.append("(b.last_end_utc IS NULL OR b.last_end_utc > ?)")
            params.append(to_db(query.start))
        if query.end is not None:
            clauses.append("b.start_utc < ?")
            params.append(to_db(query.end))
        if query.involving_user is not None:
            user_id, email = query.involving_user
            # A union of two indexed lookups (an OR would scan every booking).
            clauses.append(
                "b.id IN (SELECT id FROM bookings WHERE staff_id = ? "
                "UNION SELECT booking_id FROM booking_attendees WHERE email = ?)"
            )
            params.extend([user_id, email])
        if query.attendee:
            needle = "%" + _escape_like(query.attendee.lower()) + "%"
            clauses.append(
                "b.id IN (SELECT booking_id FROM booking_attendees "
                "WHERE lower(email) LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\')"
            )
            params.extend([needle, needle])
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list(self, query: BookingQuery) -> list[Booking]:
        where, params = self._where(query)
        order = " DESC" if query.latest_first else ""
        sql = f"{_SELECT}{where} ORDER BY b.start_utc{order}, b.id{order}"
        if query.limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params.extend([query.limit, query.offset])
        return self._load(self.db.rows(sql, params))

    def ids(self, query: BookingQuery) -> builtins.list[int]:
        """Only the ids of the bookings the query matches (no attendees loaded)."""
        where, params = self._where(query)
        rows = self.db.rows(
            "SELECT b.id FROM bookings b "  # noqa: S608
            "JOIN reservation_types t ON t.id = b.type_id "
            f"JOIN locations l ON l.id = b.location_id{where} ORDER BY b.id",
            params,
        )
        return [r["id"] for r in rows]

    def keys(self, query: BookingQuery) -> builtins.list[BookingKey]:
        """The keys of the bookings the query matches, in calendar order (start, id): a
        rendering loads in full only those it has no fragment of."""
        where, params = self._where(query)
        places = " JOIN locations l ON l.id = b.location_id" if query.locations is not None else ""
        cursor = self.db.execute(
            "SELECT b.id, b.version, t.key, b.staff_id, b.all_day, b.timezone, b.start_utc, "  # noqa: S608
            "s.render_version, b.uid, COALESCE(b.last_end_utc, ''), "
            "b.rrule IS NOT NULL AND b.rrule != '', b.updated_at "
            "FROM bookings b JOIN reservation_types t ON t.id = b.type_id "
            f"JOIN users s ON s.id = b.staff_id{places}{where} "
            "ORDER BY b.start_utc, b.id",
            params,
        )
        return [
            BookingKey(
                row[0],
                row[1],
                row[2],
                row[3],
                bool(row[4]),
                row[5],
                row[6],
                row[7],
                row[8],
                row[9],
                bool(row[10]),
                row[11],
            )
            for row in cursor.fetchall()
        ]

    def departures(self, user_id: int, since: int) -> dict[int, str]:
        """The bookings that left the user's bookings calendar after version ``since``:
        booking id -> its UID."""
        rows = self.db.execute(
            "SELECT DISTINCT d.booking_id, b.uid FROM calendar_departures d "
            "JOIN bookings b ON b.id = d.booking_id WHERE d.user_id = ? AND d.version > ?",
            (user_id, since),
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def last_departure(self, user_id: int) -> int:
        """The version at which a booking last left the user's bookings calendar (0: never)."""
        return int(
            self.db.scalar(
                "SELECT COALESCE(MAX(version), 0) FROM calendar_departures WHERE user_id = ?",
                (user_id,),
            )
        )

    def catalog_version(self) -> int:
        """The change-log version of the last change of a location, type or feed template."""
        return int(self.db.scalar("SELECT version FROM catalog_version WHERE id = 1") or 0)

    def _readers(self, booking_id: int) -> set[int]:
        """The accounts whose bookings calendar shows the booking now: its staff member and
        the attendees who have an account, while it is confirmed or pending."""
        rows = self.db.execute(
            "SELECT b.staff_id FROM bookings b WHERE b.id = ? AND b.status IN (?, ?) "
            "UNION SELECT u.id FROM booking_attendees a JOIN users u ON u.email = a.email "
            "JOIN bookings b ON b.id = a.booking_id "
            "WHERE a.booking_id = ? AND b.status IN (?, ?)",
            (booking_id, *VISIBLE, booking_id, *VISIBLE),
        ).fetchall()
        return {r[0] for r in rows}

    def spans(self, query: BookingQuery) -> builtins.list[Span]:
        """The first occurrences of the bookings the query matches: what a busy-time search
        needs, without loading whole bookings."""
        where, params = self._where(query)
        places = " JOIN locations l ON l.id = b.location_id" if query.locations is not None else ""
        cursor = self.db.execute(
            "SELECT b.id, t.key, b.start_utc, b.end_utc, "  # noqa: S608
            "b.rrule IS NOT NULL AND b.rrule != '' "
            f"FROM bookings b JOIN reservation_types t ON t.id = b.type_id{places}{where}",
            params,
        )
        rows = cursor.fetchall()
        return [Span(r[0], r[1], from_db(r[2]), from_db(r[3]), bool(r[4])) for r in rows]

    def confirmed_spans(self, staff_id: int, start: datetime, end: datetime) -> builtins.list[Span]:
        """``spans`` of the staff member's confirmed bookings in [start, end): what the
        overlap check of a new booking reads (from the ``bookings_staff_spans`` index)."""
        until = to_db(end)
        rows = self.db.execute(
            "SELECT b.id, t.key, b.start_utc, b.end_utc, "
            "CASE WHEN b.rrule IS NOT NULL AND b.rrule != '' THEN 1 ELSE 0 END "
            "FROM bookings b JOIN reservation_types t ON t.id = b.type_id "
            "WHERE b.staff_id = ? AND b.last_end_utc > ? AND b.start_utc < ? AND b.status = ? "
            "UNION ALL "
            "SELECT b.id, t.key, b.start_utc, b.end_utc, 1 "
            "FROM bookings b JOIN reservation_types t ON t.id = b.type_id "
            "WHERE b.staff_id = ? AND b.last_end_utc IS NULL AND b.start_utc < ? AND b.status = ?",
            (staff_id, to_db(start), until, "confirmed", staff_id, until, "confirmed"),
        ).fetchall()
        return [Span(r[0], r[1], from_db(r[2]), from_db(r[3]), bool(r[4])) for r in rows]

    def confirmed_spans_of(
        self, staff_ids: Sequence[int], start: datetime, end: datetime
    ) -> builtins.list[tuple[int, Span]]:
        """(staff id, span) of the confirmed bookings of several staff members that may meet
        [start, end) (a series: any that starts before ``end``): an import chunk's reads."""
        found: builtins.list[tuple[int, Span]] = []
        for chunk in iter_chunks(list(staff_ids), _CHUNK):
            marks = ", ".join("?" for _ in chunk)
            rows = self.db.execute(
                "SELECT b.staff_id, b.id, t.key, b.start_utc, b.end_utc, "  # noqa: S608
                "CASE WHEN b.rrule IS NOT NULL AND b.rrule != '' THEN 1 ELSE 0 END "
                "FROM bookings b JOIN reservation_types t ON t.id = b.type_id "
                f"WHERE b.staff_id IN ({marks}) AND b.status = ? AND b.start_utc < ? "
                "AND (b.last_end_utc IS NULL OR b.last_end_utc > ?)",
                (*chunk, "confirmed", to_db(end), to_db(start)),
            ).fetchall()
            found.extend(
                (r[0], Span(r[1], r[2], from_db(r[3]), from_db(r[4]), bool(r[5]))) for r in rows
            )
        return found

    def next_id(self) -> int:
        """The id the next booking gets."""
        return int(self.db.scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM bookings"))

    def max_buffer_minutes(self) -> int:
        return int(
            self.db.scalar(
                "SELECT COALESCE(MAX(CASE WHEN buffer_before_minutes > buffer_after_minutes "
                "THEN buffer_before_minutes ELSE buffer_after_minutes END), 0) "
                "FROM reservation_types"
            )
        )

    # -- writing --------------------------------------------------------------------------

    def _set_attendees(
        self, booking_id: int, attendees: Iterable[Attendee], new: bool = False
    ) -> None:
        """The booking's attendees; one who stays keeps the answer (PARTSTAT) they gave."""
        answers: dict[str, str] = {}
        if not new:
            answers = {
                r["email"]: r["partstat"]
                for r in self.db.rows(
                    "SELECT email, partstat FROM booking_attendees WHERE booking_id = ?",
                    (booking_id,),
                )
            }
            self.db.execute("DELETE FROM booking_attendees WHERE booking_id = ?", (booking_id,))
        for position, attendee in enumerate(attendees):
            partstat = answers.get(attendee.email, attendee.partstat)
            self.db.execute(
                "INSERT INTO booking_attendees (booking_id, position, email, name, language, "
                "timezone, partstat) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    booking_id,
                    position,
                    attendee.email,
                    attendee.name,
                    attendee.language,
                    attendee.timezone,
                    partstat,
                ),
            )

    def set_partstat(self, booking_id: int, email: str, partstat: str) -> bool:
        """Record an attendee's answer; False when they are not an attendee."""
        cursor = self.db.execute(
            "UPDATE booking_attendees SET partstat = ? WHERE booking_id = ? AND email = ?",
            (partstat, booking_id, email),
        )
        if cursor.rowcount:
            self.changes.record("booking", booking_id, "updated")
        return bool(cursor.rowcount)

    def create(
        self, record: BookingRecord, attendees: Iterable[Attendee], type_key: str, code: str
    ) -> Booking:
        """Insert a booking (``type_key`` and ``code`` name its type and location) and return
        it as stored, without reading it back."""
        fields = _columns(record)
        # The change is logged first, so the row is written once with its version (the
        # trigger that stamps a changed booking finds no row yet); the new id and the change
        # are one statement (one round trip to a database server).
        booking_id, version = self.changes.record_new("booking", "bookings", "created")
        self.db.insert("bookings", {"id": booking_id, "version": version, **fields})
        listed = tuple(attendees)
        self._set_attendees(booking_id, listed, new=True)
        row = {**fields, "id": booking_id, "type_key": type_key, "location_code": code}
        return _booking(row, listed)

    def create_many(
        self, items: Sequence[tuple[int, BookingRecord, tuple[Attendee, ...], str, str]]
    ) -> builtins.list[Booking]:
        """Insert bookings under the ids given (id, record, attendees, type key, location
        code), each with its change logged, statements sent together (an import's chunk);
        they are returned as stored, without reading them back."""
        if not items:
            return []
        now = to_db(utcnow())
        before = self.changes.version()
        self.db.copy_rows(
            "changes",
            ("entity", "entity_id", "action", "at"),
            [("booking", item[0], "created", now) for item in items],
        )
        ids = [item[0] for item in items]
        versions = {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT entity_id, version FROM changes WHERE version > ? AND entity = ? "
                "AND entity_id BETWEEN ? AND ?",
                (before, "booking", min(ids), max(ids)),
            ).fetchall()
        }
        columns = [_columns(item[1]) for item in items]
        self.db.copy_rows(
            "bookings",
            ("id", "version", *columns[0]),
            [
                (item[0], versions[item[0]], *fields.values())
                for item, fields in zip(items, columns, strict=True)
            ],
        )
        self.db.copy_rows(
            "booking_attendees",
            ("booking_id", "position", "email", "name", "language", "timezone", "partstat"),
            [
                (item[0], position, a.email, a.name, a.language, a.timezone, a.partstat)
                for item in items
                for position, a in enumerate(item[2])
            ],
        )
        return [
            _booking(
                {**fields, "id": item[0], "type_key": item[3], "location_code": item[4]}, item[2]
            )
            for item, fields in zip(items, columns, strict=True)
        ]

    def update(
        self,
        booking_id: int,
        record: BookingRecord,
        attendees: Iterable[Attendee] | None = None,
        action: str = "updated",
    ) -> Booking:
        """Write the booking's fields as ``record`` has them (and its attendees, unless
        None); the change is logged as ``action``."""
        readers = self._readers(booking_id)
        self.db.update("bookings", booking_id, _columns(record))
        if attendees is not None:
            self._set_attendees(booking_id, attendees)
        version = self.changes.record("booking", booking_id, action)
        for user_id in sorted(readers - self._readers(booking_id)):
            self.db.execute(
                "INSERT INTO calendar_departures (version, user_id, booking_id) VALUES (?, ?, ?)",
                (version, user_id, booking_id),
            )
        return self.one(booking_id)
