"""SQL for reminders: one row per booking occurrence, rule and audience, due at a time."""

from __future__ import annotations

import builtins
from datetime import datetime

from feedserver.model import Reminder
from feedserver.store.db import Database, Row
from feedserver.store.values import from_db, to_db

PENDING, SENT, SKIPPED = "pending", "sent", "skipped"


def _reminder(row: Row) -> Reminder:
    return Reminder(
        id=row["id"],
        booking_id=row["booking_id"],
        occurrence_start=from_db(row["occurrence_start"]),
        before_minutes=row["before_minutes"],
        audience=row["audience"],
        due_at=from_db(row["due_at"]),
        state=row["state"],
    )


class ReminderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def replace_pending(
        self, booking_id: int, planned: builtins.list[tuple[datetime, int, str, datetime]]
    ) -> None:
        """The booking's pending reminders become ``planned`` (occurrence start, minutes,
        audience, due at); those already sent or skipped stay (never twice)."""
        self.db.execute(
            "DELETE FROM reminders WHERE booking_id = ? AND state = ?", (booking_id, PENDING)
        )
        self.add(booking_id, planned)

    def add(
        self, booking_id: int, planned: builtins.list[tuple[datetime, int, str, datetime]]
    ) -> None:
        """Plan reminders not planned yet (a series' later occurrences)."""
        for occurrence, minutes, audience, due in planned:
            self.db.execute(
                "INSERT INTO reminders (booking_id, occurrence_start, before_minutes, "
                "audience, due_at, state) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (booking_id, to_db(occurrence), minutes, audience, to_db(due), PENDING),
            )

    def due(self, now: datetime, limit: int = 200) -> builtins.list[Reminder]:
        rows = self.db.rows(
            "SELECT * FROM reminders WHERE state = ? AND due_at <= ? ORDER BY due_at LIMIT ?",
            (PENDING, to_db(now), limit),
        )
        return [_reminder(r) for r in rows]

    def still_pending(self, reminder_id: int) -> bool:
        """Whether the reminder is still to be sent (read in the transaction that sends it:
        another process may have sent it since it was found due)."""
        state = self.db.scalar("SELECT state FROM reminders WHERE id = ?", (reminder_id,))
        return bool(state == PENDING)

    def mark(self, reminder_id: int, state: str, at: datetime) -> None:
        self.db.execute(
            "UPDATE reminders SET state = ?, done_at = ? WHERE id = ?",
            (state, to_db(at), reminder_id),
        )

    def list(self, booking_id: int) -> builtins.list[Reminder]:
        rows = self.db.rows(
            "SELECT * FROM reminders WHERE booking_id = ? ORDER BY due_at", (booking_id,)
        )
        return [_reminder(r) for r in rows]

    def series_ids(self) -> builtins.list[int]:
        """Confirmed recurring bookings: their later occurrences are planned as time passes."""
        rows = self.db.rows(
            "SELECT id FROM bookings WHERE rrule IS NOT NULL AND rrule != '' AND status = ?",
            ("confirmed",),
        )
        return [r["id"] for r in rows]
