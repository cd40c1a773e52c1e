"""Store contract: migrations, WAL, transactions, change log, queries."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedserver.model import Attendee, InboxFailure, Role
from feedserver.store import BookingQuery, Store
from feedserver.store.db import Database
from feedserver.store.migrations import MIGRATIONS, Migration
from feedserver.times import to_db


def _booking_values(
    store: Store, uid: str, start: str, end: str, status: str = "confirmed"
) -> dict[str, object]:
    loc = store.locations.get("ANHQ") or store.locations.create("ANHQ", "HQ", "", "Europe/Paris")
    rtype = store.types.get("cut") or store.types.create(
        {
            "key": "cut",
            "name": "Cut",
            "duration_minutes": 30,
            "buffer_before_minutes": 0,
            "buffer_after_minutes": 0,
            "online": 0,
            "color": "",
        }
    )
    staff = store.users.get_by_email("s@example.org") or store.users.create(
        {"email": "s@example.org", "name": "S", "role": "staff", "timezone": "UTC"}
    )
    return {
        "uid": uid,
        "type_id": rtype.id,
        "location_id": loc.id,
        "staff_id": staff.id,
        "start_utc": start,
        "end_utc": end,
        "last_end_utc": end,
        "timezone": "Europe/Paris",
        "all_day": 0,
        "rrule": None,
        "exdates": [],
        "status": status,
        "title": "",
        "notes": "",
        "sequence": 0,
        "source": "api",
        "created_at": start,
        "updated_at": start,
    }


def test_fresh_database_records_every_migration(tmp_path: Path) -> None:
    db = Database(tmp_path / "b.db")
    applied = db.migrate()
    assert applied == [m.version for m in MIGRATIONS]
    assert db.migrate() == []
    assert db.applied_migrations() == applied
    db.close()


def test_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.db")
    broken = Migration(99, "broken", ("CREATE TABLE half (x INTEGER)", "CREATE TABLE oops ("))
    with pytest.raises(sqlite3.OperationalError):
        db.migrate((broken,))
    assert "half" not in db.utils.table_names()
    assert 99 not in db.applied_migrations()
    db.close()


def test_wal_mode_and_foreign_keys(tmp_path: Path) -> None:
    store = Store(tmp_path / "d.db")
    assert store.db.scalar("PRAGMA journal_mode") == "wal"
    assert store.db.scalar("PRAGMA foreign_keys") == 1
    store.close()


def test_every_write_increases_the_data_version(store: Store) -> None:
    start = store.changes.version()
    location = store.locations.create("ANHQ", "HQ", "", "Europe/Paris")
    store.locations.update(location.id, {"name": "Head office"})
    assert store.changes.version() == start + 2
    kinds = [(c.entity, c.action) for c in store.changes.since(start)]
    assert kinds == [("location", "created"), ("location", "updated")]


def test_transaction_rolls_back_writes_and_change_log(store: Store) -> None:
    before = store.changes.version()
    with pytest.raises(RuntimeError), store.transaction():
        store.locations.create("ANHQ", "HQ", "", "Europe/Paris")
        raise RuntimeError("boom")
    assert store.locations.get("ANHQ") is None
    assert store.changes.version() == before


def test_user_email_is_unique_case_insensitively(store: Store) -> None:
    store.users.create({"email": "a@example.org", "name": "A", "role": "staff", "timezone": "UTC"})
    found = store.users.get_by_email("A@EXAMPLE.ORG")
    assert found is not None and found.role is Role.STAFF
    with pytest.raises(sqlite3.IntegrityError):
        store.users.create(
            {"email": "A@example.org", "name": "B", "role": "staff", "timezone": "UTC"}
        )


def test_booking_round_trip_with_attendees_in_order(store: Store) -> None:
    values = _booking_values(store, "u1@x", "2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z")
    attendees = [Attendee("b@x.org", "B"), Attendee("a@x.org", "A")]
    booking = store.bookings.create(values, attendees, "cut", "ANHQ")
    again = store.bookings.get_by_uid("u1@x")
    assert again == booking
    assert [a.email for a in booking.attendees] == ["b@x.org", "a@x.org"]
    assert booking.start == datetime(2026, 3, 1, 9, tzinfo=UTC)


def test_end_must_be_after_start_even_in_sql(store: Store) -> None:
    values = _booking_values(store, "u2@x", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z")
    with pytest.raises(sqlite3.IntegrityError):
        store.bookings.create(values, [], "cut", "ANHQ")


def test_query_filters_window_and_involvement(store: Store) -> None:
    a = store.bookings.create(
        _booking_values(store, "a@x", "2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z"),
        [Attendee("alice@x.org", "Alice")],
        "cut",
        "ANHQ",
    )
    b = store.bookings.create(
        _booking_values(store, "b@x", "2026-04-01T09:00:00Z", "2026-04-01T10:00:00Z", "pending"),
        [],
        "cut",
        "ANHQ",
    )
    staff = store.users.get_by_email("s@example.org")
    assert staff is not None
    window = BookingQuery(start=datetime(2026, 3, 15, tzinfo=UTC))
    assert [x.id for x in store.bookings.list(window)] == [b.id]
    assert [x.id for x in store.bookings.list(BookingQuery(statuses=["pending"]))] == [b.id]
    alice = BookingQuery(involving_user=(999, "ALICE@x.org"))
    assert [x.id for x in store.bookings.list(alice)] == [a.id]
    mine = BookingQuery(involving_user=(staff.id, staff.email))
    assert {x.id for x in store.bookings.list(mine)} == {a.id, b.id}
    assert store.bookings.list(BookingQuery(locations=[])) == []
    assert store.bookings.ids(BookingQuery(ids=[b.id, 999], statuses=["pending"])) == [b.id]
    assert to_db(store.bookings.list(BookingQuery(limit=1, offset=1))[0].start).startswith(
        "2026-04"
    )


def test_migration_6_types_the_inbox_rows_of_the_previous_release(tmp_path: Path) -> None:
    """Rows written before typed outcomes: deletions flagged by a "DELETE " path prefix,
    failures told apart by their text."""
    db = Database(tmp_path / "old.db")
    db.migrate(tuple(m for m in MIGRATIONS if m.version < 6))
    rows = [
        ("caldav", "DELETE A/cal/x.ics", "processed", ""),
        ("caldav", "A/cal/y.ics", "failed", "malformed: no BEGIN:VCALENDAR"),
        ("email", None, "failed", "too large: 9 bytes, the limit is 5"),
        ("email", None, "failed", "error: OperationalError: database is locked"),
        ("email", None, "rejected", "unknown organizer"),
    ]
    for source, path, status, reason in rows:
        db.execute(
            "INSERT INTO inbox (source, received_at, raw, size, path, status, reason) "
            "VALUES (?, '2026-01-01T00:00:00Z', x'00', 1, ?, ?, ?)",
            (source, path, status, reason),
        )
    db.close()

    store = Store(tmp_path / "old.db")
    items = {item.id: item for item in store.inbox.list()}
    assert (items[1].deleted, items[1].path) == (True, "A/cal/x.ics")
    assert (items[2].deleted, items[2].path) == (False, "A/cal/y.ics")
    assert [items[i].failure for i in range(2, 6)] == [
        InboxFailure.MALFORMED,
        InboxFailure.TOO_LARGE,
        InboxFailure.ERROR,
        InboxFailure.NONE,
    ]
    assert store.inbox.waiting(max_attempts=5) == [4]
    store.close()
