"""SQL for bridged events: which booking each calendar event (or one occurrence of it) became,
at which version, with tombstones of cancelled ones."""

from __future__ import annotations

from typing import Any

from feedserver.model import BridgedEvent
from feedserver.store.db import Database
from feedserver.store.values import from_db, to_db


class BridgedEventStore:
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
