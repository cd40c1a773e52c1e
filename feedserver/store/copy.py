"""Copying a whole store into another, on either backend: ``feedserver migrate-store`` (a
SQLite installation into PostgreSQL) and the restore of a backup made on the other backend.

Every table is copied row for row (ids, tokens' nonces, password hashes, raw inbox bytes,
versions and the change log as they are), in an order that satisfies the foreign keys, in
batches; then each table is verified: the same number of rows, and the same SHA-256 over its
rows read back in key order from both sides. The target must be empty of data (a fresh
schema); nothing is deleted from the source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from feedserver.store.db import Database

# Parents before children. ``changes`` comes first: its trigger stamps booking versions, and
# the bookings copied after it bring their own.
TABLES: tuple[str, ...] = (
    "changes",
    "locations",
    "reservation_types",
    "users",
    "bookings",
    "booking_attendees",
    "calendar_departures",
    "catalog_version",
    "feed_links",
    "feed_templates",
    "app_passwords",
    "consumer_cursors",
    "outbox",
    "notification_settings",
    "email_templates",
    "meetings",
    "meeting_links",
    "inbox",
    "bridge_events",
    "caldav_items",
    "caldav_sync",
    "web_sessions",
    "reminders",
    "working_hours",
    "busy_calendars",
    "busy_times",
    "dav_collections",
    "dav_items",
    "dav_tombstones",
    "job_leases",
    "shared_limits",
    "cluster_settings",
    "events",
    "webhooks",
    "webhook_deliveries",
    "webhook_attempts",
    "idempotency_keys",
    "calendar_accounts",
    "calendar_account_items",
    "calendar_account_jobs",
    "calendar_account_log",
    "oauth_states",
    "push_subscriptions",
)
# Rows a fresh schema already holds, replaced by the source's.
_SEEDED = ("catalog_version",)
_BATCH = 2000


class CopyError(Exception):
    """The copy cannot start (the target holds data) or did not verify."""


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    checksum: str


def _columns(db: Database, table: str) -> list[str]:
    return list(db.columns(table))


def _ordered(db: Database, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    order = ", ".join(columns)
    yield from db.stream(f"SELECT {order} FROM {table} ORDER BY {order}")  # noqa: S608


def checksum(db: Database, table: str, columns: list[str]) -> tuple[int, str]:
    """(rows, SHA-256) of a table's rows in key order, values written the same way whatever
    the backend returned them as."""
    digest = hashlib.sha256()
    count = 0
    for row in _ordered(db, table, columns):
        count += 1
        for value in row:
            if isinstance(value, bytes | bytearray | memoryview):
                digest.update(b"b" + bytes(value).hex().encode())
            elif value is None:
                digest.update(b"n")
            else:
                digest.update(b"v" + str(value).encode("utf-8", "surrogatepass"))
            digest.update(b"\x1f")
        digest.update(b"\x1e")
    return count, digest.hexdigest()


def data_rows(db: Database) -> int:
    """How many rows the tables the copy writes hold (0: a fresh schema)."""
    present = set(db.table_names())
    return sum(
        int(db.scalar(f"SELECT COUNT(*) FROM {t}"))  # noqa: S608
        for t in TABLES
        if t in present and t not in _SEEDED
    )


def copy_store(
    source: Database,
    target: Database,
    progress: Callable[[str, int], None] = lambda table, rows: None,
) -> list[TableCopy]:
    """Copy every table of ``source`` into ``target`` (both migrated to the same version),
    then verify; returns what each table holds. Raises ``CopyError``."""
    if source.applied_migrations() != target.applied_migrations():
        raise CopyError("the two databases are at different schema versions")
    missing = set(source.table_names()) - set(TABLES) - {"schema_migrations", "sqlite_sequence"}
    if missing:
        raise CopyError(f"tables this copy does not know: {', '.join(sorted(missing))}")
    if data_rows(target):
        raise CopyError("the target database already holds data; copy into an empty one")
    with target.transaction():
        for table in _SEEDED:
            target.execute(f"DELETE FROM {table}")  # noqa: S608
        for table in TABLES:
            columns = _columns(source, table)
            marks = ", ".join("?" for _ in columns)
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            batch: list[tuple[Any, ...]] = []
            copied = 0
            for row in source.stream(f"SELECT {', '.join(columns)} FROM {table}"):  # noqa: S608
                batch.append(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                if len(batch) >= _BATCH:
                    target.insert_many(insert, batch)
                    copied += len(batch)
                    progress(table, copied)
                    batch = []
            if batch:
                target.insert_many(insert, batch)
                copied += len(batch)
            progress(table, copied)
        target.after_copy(TABLES)
    return verify(source, target)


def verify(source: Database, target: Database) -> list[TableCopy]:
    """Every table: the same rows on both sides (count and checksum), or ``CopyError``."""
    results = []
    for table in TABLES:
        columns = _columns(source, table)
        rows, digest = checksum(source, table, columns)
        copied, copied_digest = checksum(target, table, columns)
        if (rows, digest) != (copied, copied_digest):
            raise CopyError(
                f"{table}: {rows} rows in the source, {copied} in the copy"
                + ("" if rows != copied else " (same count, different content)")
            )
        results.append(TableCopy(table, rows, digest))
    return results
