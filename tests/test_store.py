"""Store contract: migrations, WAL, transactions, change log, queries."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from feedserver.model import (
    AccountSettings,
    Attendee,
    BookingRecord,
    InboxFailure,
    LocationSettings,
    Role,
    Status,
    TypeSettings,
)
from feedserver.store import BookingQuery, Store
from feedserver.store.db import ConstraintViolation, open_database
from feedserver.store.migrations import MIGRATIONS, Migration
from feedserver.times import iso_utc
from tests.conftest import BACKEND

HQ = LocationSettings("ANHQ", "HQ", "", "Europe/Paris")


def _booking_values(
    store: Store, uid: str, start: str, end: str, status: str = "confirmed"
) -> BookingRecord:
    loc = store.locations.get("ANHQ") or store.locations.create(HQ)
    rtype = store.types.get("cut") or store.types.create(TypeSettings("cut", "Cut", 30))
    staff = store.users.get_by_email("s@example.org") or store.users.create(
        AccountSettings("s@example.org", "S", Role.STAFF)
    )
    return BookingRecord(
        uid=uid,
        type_id=rtype.id,
        location_id=loc.id,
        staff_id=staff.id,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
        last_end=datetime.fromisoformat(end),
        timezone="Europe/Paris",
        all_day=False,
        rrule=None,
        exdates=(),
        status=Status(status),
        title="",
        notes="",
        sequence=0,
        source="api",
        created_at=datetime.fromisoformat(start),
        updated_at=datetime.fromisoformat(start),
    )


def test_fresh_database_records_every_migration(empty_database_url: str) -> None:
    db = open_database(empty_database_url)
    applied = db.migrate()
    assert applied == [m.version for m in MIGRATIONS]
    assert db.migrate() == []
    assert db.applied_migrations() == applied
    db.close()


def test_failing_migration_leaves_nothing_behind(empty_database_url: str) -> None:
    db = open_database(empty_database_url)
    broken = Migration(99, "broken", ("CREATE TABLE half (x INTEGER)", "CREATE TABLE oops ("))
    with pytest.raises((sqlite3.OperationalError, psycopg.errors.SyntaxError)):
        db.migrate((broken,))
    assert "half" not in db.table_names()
    assert 99 not in db.applied_migrations()
    db.close()


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's own settings")
def test_wal_mode_and_foreign_keys(tmp_path: Path) -> None:
    store = Store(tmp_path / "d.db")
    assert store.db.scalar("PRAGMA journal_mode") == "wal"
    assert store.db.scalar("PRAGMA foreign_keys") == 1
    store.close()


def test_every_write_increases_the_data_version(store: Store) -> None:
    start = store.changes.version()
    location = store.locations.create(HQ)
    store.locations.update(location.id, replace(location.settings, name="Head office"))
    assert store.changes.version() == start + 2
    kinds = [(c.entity, c.action) for c in store.changes.since(start)]
    assert kinds == [("location", "created"), ("location", "updated")]


def test_transaction_rolls_back_writes_and_change_log(store: Store) -> None:
    before = store.changes.version()
    with pytest.raises(RuntimeError), store.transaction():
        store.locations.create(HQ)
        raise RuntimeError("boom")
    assert store.locations.get("ANHQ") is None
    assert store.changes.version() == before


def test_user_email_is_unique_case_insensitively(store: Store) -> None:
    store.users.create(AccountSettings("a@example.org", "A", Role.STAFF))
    found = store.users.get_by_email("A@EXAMPLE.ORG")
    assert found is not None and found.role is Role.STAFF
    with pytest.raises(ConstraintViolation):
        store.users.create(AccountSettings("A@example.org", "B", Role.STAFF))


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
    with pytest.raises(ConstraintViolation):
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
    assert iso_utc(store.bookings.list(BookingQuery(limit=1, offset=1))[0].start).startswith(
        "2026-04"
    )


def test_migration_6_types_the_inbox_rows_of_the_previous_release(
    empty_database_url: str,
) -> None:
    """Rows written before typed outcomes: deletions flagged by a "DELETE " path prefix,
    failures told apart by their text."""
    db = open_database(empty_database_url)
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
            "VALUES (?, '2026-01-01T00:00:00Z', ?, 1, ?, ?, ?)",
            (source, b"\x00", path, status, reason),
        )
    db.close()

    store = Store(empty_database_url)
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


def test_text_case_order_and_huge_numbers_compare_the_same_on_both_backends(
    store: Store,
) -> None:
    """Emails ignore ASCII case and only ASCII case (SQLite's NOCASE, citext under "C"); text
    sorts byte-wise; an id beyond 64 bits matches nothing; instants compare as time."""
    store.users.create(AccountSettings("Zoe@Example.org", "Zoe", Role.STAFF))
    assert store.users.get_by_email("zoe@example.ORG") is not None
    with pytest.raises(ConstraintViolation):
        store.users.create(AccountSettings("ZOE@example.org", "Zoe again", Role.STAFF))
    store.users.create(AccountSettings("émile@example.org", "Émile", Role.STAFF))
    assert store.users.get_by_email("Émile@example.org") is None  # É is not ASCII
    codes = ["b", "B", "a", "É", "e", "Z", "_x", "10", "9"]
    for code in codes:
        store.locations.create(LocationSettings(code, code, "", "UTC"))
    assert [loc.code for loc in store.locations.list()] == sorted(codes, key=str.encode)
    assert store.bookings.get(2**70) is None and store.users.get(-(2**70)) is None
    early = _booking_values(store, "t1@x", "2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z")
    late = _booking_values(store, "t2@x", "2026-03-01T10:30:00Z", "2026-03-01T11:00:00Z")
    store.bookings.create(late, [], "cut", "ANHQ")
    store.bookings.create(early, [], "cut", "ANHQ")
    window = BookingQuery(start=datetime(2026, 3, 1, 10, 15, tzinfo=UTC))
    assert [b.uid for b in store.bookings.list(window)] == ["t2@x"]
    assert [b.uid for b in store.bookings.list(BookingQuery())] == ["t1@x", "t2@x"]
