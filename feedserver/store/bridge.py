"""SQL for the bridge: the inbox of raw inbound items, the calendar-event to booking mapping
(with tombstones), and what the bridge has seen of users' CalDAV calendars."""

from __future__ import annotations

import builtins
import json
from datetime import datetime
from typing import Any

from feedserver.model import BridgedEvent, InboxFailure, InboxItem, InboxStatus
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, found
from feedserver.times import from_db, to_db, utcnow


def _item(row: Row) -> InboxItem:
    return InboxItem(
        id=row["id"],
        source=row["source"],
        received_at=from_db(row["received_at"]),
        raw=bytes(row["raw"]),
        size=row["size"],
        principal=row["principal"],
        path=row["path"],
        deleted=bool(row["deleted"]),
        status=InboxStatus(row["status"]),
        failure=InboxFailure(row["failure"]),
        reason=row["reason"],
        attempts=row["attempts"],
        booking_ids=tuple(json.loads(row["booking_ids"])),
    )


class InboxStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def add(
        self,
        source: str,
        raw: bytes,
        size: int,
        principal: str | None = None,
        path: str | None = None,
        deleted: bool = False,
        failure: InboxFailure = InboxFailure.NONE,
        reason: str = "",
    ) -> int:
        """Store an item as it came; with a ``failure``, one refused on arrival."""
        status = InboxStatus.FAILED if failure is not InboxFailure.NONE else InboxStatus.RECEIVED
        return self.db.insert(
            "inbox",
            {
                "source": source,
                "received_at": to_db(utcnow()),
                "raw": raw,
                "size": size,
                "principal": principal,
                "path": path,
                "deleted": int(deleted),
                "status": status.value,
                "failure": failure.value,
                "reason": reason,
            },
        )

    def get(self, item_id: int) -> InboxItem | None:
        row = self.db.row("SELECT * FROM inbox WHERE id = ?", (item_id,))
        return _item(row) if row else None

    def one(self, item_id: int) -> InboxItem:
        return found(self.get(item_id), f"inbox item {item_id}")

    def count(self, status: InboxStatus) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM inbox WHERE status = ?", (status.value,)))

    def list(
        self, status: str | None = None, limit: int = 200, after: int | None = None
    ) -> builtins.list[InboxItem]:
        """Newest first; ``after``: only those older than that id (the next page)."""
        rows = self.db.rows(
            "SELECT * FROM inbox WHERE (? IS NULL OR status = ?) AND (? IS NULL OR id < ?) "
            "ORDER BY id DESC LIMIT ?",
            (status, status, after, after, limit),
        )
        return [_item(r) for r in rows]

    def bytes_of(self, principal: str) -> int:
        """Inbox space the items of one CalDAV user take."""
        return int(
            self.db.scalar(
                "SELECT COALESCE(SUM(LENGTH(raw)), 0) FROM inbox WHERE principal = ?",
                (principal,),
            )
        )

    def prune(self, received_before: datetime) -> int:
        """Delete finished items received before a moment; returns how many."""
        return self.db.execute(
            "DELETE FROM inbox WHERE status != ? AND received_at < ?",
            (InboxStatus.RECEIVED.value, to_db(received_before)),
        ).rowcount

    def waiting(self, max_attempts: int) -> builtins.list[int]:
        """Items never processed, and failures worth another try."""
        rows = self.db.rows(
            "SELECT id FROM inbox WHERE status = 'received' OR (status = 'failed' AND "
            "attempts < ? AND failure IN (?, ?)) ORDER BY id",
            (max_attempts, InboxFailure.ERROR.value, InboxFailure.CONFIGURATION.value),
        )
        return [r["id"] for r in rows]

    def finish(
        self,
        item_id: int,
        status: InboxStatus,
        reason: str,
        booking_ids: builtins.list[int],
        failure: InboxFailure = InboxFailure.NONE,
    ) -> None:
        self.db.execute(
            "UPDATE inbox SET status = ?, failure = ?, reason = ?, attempts = attempts + 1, "
            "processed_at = ?, booking_ids = ? WHERE id = ?",
            (
                status.value,
                failure.value,
                reason[:2000],
                to_db(utcnow()),
                json.dumps(booking_ids),
                item_id,
            ),
        )


class BridgeEventStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def known(self, uid: str) -> bool:
        """Whether an event (any occurrence) with this UID was bridged or tombstoned."""
        return bool(self.db.scalar("SELECT 1 FROM bridge_events WHERE uid = ? LIMIT 1", (uid,)))

    def get(self, uid: str, recurrence_id: str = "") -> BridgedEvent | None:
        row = self.db.row(
            "SELECT * FROM bridge_events WHERE uid = ? AND recurrence_id = ?", (uid, recurrence_id)
        )
        if row is None:
            return None
        return BridgedEvent(
            row["uid"],
            row["recurrence_id"],
            row["booking_id"],
            row["organizer"],
            row["sequence"],
            from_db(row["dtstamp"]),
            bool(row["cancelled"]),
        )

    def for_booking(self, booking_id: int) -> BridgedEvent | None:
        row = self.db.row(
            "SELECT uid, recurrence_id FROM bridge_events WHERE booking_id = ?", (booking_id,)
        )
        return self.get(row["uid"], row["recurrence_id"]) if row else None

    def put(self, event: BridgedEvent) -> None:
        values: dict[str, Any] = {
            "uid": event.uid,
            "recurrence_id": event.recurrence_id,
            "booking_id": event.booking_id,
            "organizer": event.organizer,
            "sequence": event.sequence,
            "dtstamp": to_db(event.dtstamp),
            "cancelled": int(event.cancelled),
        }
        self.db.execute(
            "INSERT INTO bridge_events (uid, recurrence_id, booking_id, organizer, sequence, "
            "dtstamp, cancelled) VALUES (:uid, :recurrence_id, :booking_id, :organizer, "
            ":sequence, :dtstamp, :cancelled) ON CONFLICT (uid, recurrence_id) DO UPDATE SET "
            "booking_id = excluded.booking_id, organizer = excluded.organizer, "
            "sequence = excluded.sequence, dtstamp = excluded.dtstamp, "
            "cancelled = excluded.cancelled",
            values,
        )


class CaldavItemStore:
    """The CalDAV items the bridge has captured (path, href -> uid, etag) and sync tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def seen(self, path: str, href: str) -> tuple[str, str] | None:
        row = self.db.row(
            "SELECT uid, etag FROM caldav_items WHERE path = ? AND href = ?", (path, href)
        )
        return (row["uid"], row["etag"]) if row else None

    def paths(self) -> builtins.list[str]:
        """Every calendar the bridge has seen an item of, or holds a sync token for."""
        rows = self.db.rows(
            "SELECT DISTINCT path FROM caldav_items UNION SELECT path FROM caldav_sync"
        )
        return [r["path"] for r in rows]

    def for_path(self, path: str) -> dict[str, tuple[str, str]]:
        rows = self.db.rows("SELECT href, uid, etag FROM caldav_items WHERE path = ?", (path,))
        return {r["href"]: (r["uid"], r["etag"]) for r in rows}

    def remember(self, path: str, href: str, uid: str, etag: str) -> None:
        self.db.execute(
            "INSERT INTO caldav_items (path, href, uid, etag) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (path, href) DO UPDATE SET uid = excluded.uid, etag = excluded.etag",
            (path, href, uid, etag),
        )

    def forget(self, path: str, href: str) -> None:
        self.db.execute("DELETE FROM caldav_items WHERE path = ? AND href = ?", (path, href))

    def token(self, path: str) -> str:
        value = self.db.scalar("SELECT token FROM caldav_sync WHERE path = ?", (path,))
        return str(value) if value else ""

    def set_token(self, path: str, token: str) -> None:
        self.db.execute(
            "INSERT INTO caldav_sync (path, token) VALUES (?, ?) ON CONFLICT (path) "
            "DO UPDATE SET token = excluded.token",
            (path, token),
        )
