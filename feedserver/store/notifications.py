"""SQL for the notification outbox, per-user notification settings and email templates."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from feedserver.model import NotificationSettings, OutboxMessage, OutgoingMessage
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, found
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow


def _message(row: Row) -> OutboxMessage:
    values = dict(row)
    del values["claimed_by"], values["claimed_until"]  # the claim is the workers' business
    for name in ("next_attempt_at", "created_at", "sent_at", "retry_since"):
        values[name] = from_db(values[name]) if values[name] else None
    return OutboxMessage(**values)


class OutboxStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def enqueue(self, message: OutgoingMessage) -> bool:
        """Insert a message unless one with its idempotency key exists; True if inserted."""
        now = to_db(utcnow())
        message_id = self.db.insert_new(
            "INSERT INTO outbox (idempotency_key, kind, booking_id, recipient_email, "
            "recipient_name, subject, body_text, body_html, ics, ics_method, next_attempt_at, "
            "created_at, retry_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING id",
            (
                message.idempotency_key,
                message.kind,
                message.booking_id,
                message.recipient_email,
                message.recipient_name,
                message.subject,
                message.body_text,
                message.body_html,
                message.ics,
                message.ics_method,
                now,
                now,
                now,
            ),
        )
        if message_id is not None:
            self.changes.record("notification", message_id, "queued")
        return message_id is not None

    def get(self, message_id: int) -> OutboxMessage | None:
        row = self.db.row("SELECT * FROM outbox WHERE id = ?", (message_id,))
        return _message(row) if row else None

    def one(self, message_id: int) -> OutboxMessage:
        return found(self.get(message_id), f"notification {message_id}")

    def list(
        self,
        status: str | None = None,
        booking_id: int | None = None,
        limit: int = 500,
        after: int | None = None,
    ) -> builtins.list[OutboxMessage]:
        """Newest first; ``after``: only those older than that id (the next page)."""
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if after is not None:
            clauses.append("id < ?")
            params.append(after)
        if status:
            clauses.append("status = ?")
            params.append(status)
        if booking_id is not None:
            clauses.append("booking_id = ?")
            params.append(booking_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.db.rows(
            f"SELECT * FROM outbox{where} ORDER BY id DESC LIMIT ?",  # noqa: S608
            [*params, limit],
        )
        return [_message(r) for r in rows]

    def claim_due(
        self, now: datetime, limit: int, holder: str, until: datetime
    ) -> builtins.list[OutboxMessage]:
        """Pending messages whose time has come, and messages whose claim ran out (their
        node stopped mid-delivery), marked 'sending' by ``holder`` until ``until`` (the
        caller sends them). Claimed in one transaction: no two processes claim one message."""
        with self.db.transaction():
            rows = self.db.rows(
                "SELECT * FROM outbox WHERE (status = 'pending' AND next_attempt_at <= ?) "
                "OR (status = 'sending' AND claimed_until < ?) ORDER BY id LIMIT ?",
                (to_db(now), to_db(now), limit),
            )
            for row in rows:
                self.db.update(
                    "outbox",
                    row["id"],
                    {"status": "sending", "claimed_by": holder, "claimed_until": to_db(until)},
                )
        return [_message(r) for r in rows]

    def release_interrupted(self, holder: str) -> int:
        """At start-up: messages ``holder`` (this node, under the same name before a crash)
        left 'sending' go back to pending. Other nodes' claims wait for their lease."""
        return self.db.execute(
            "UPDATE outbox SET status = 'pending', claimed_by = NULL, claimed_until = NULL "
            "WHERE status = 'sending' AND (claimed_by = ? OR claimed_by IS NULL)",
            (holder,),
        ).rowcount

    def release(self, message_ids: builtins.list[int]) -> None:
        """Hand claimed messages back unsent (a stop before their turn)."""
        for message_id in message_ids:
            self.db.execute(
                "UPDATE outbox SET status = 'pending', claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ? AND status = 'sending'",
                (message_id,),
            )

    def mark_sent(self, message_id: int) -> None:
        self.db.update(
            "outbox",
            message_id,
            {
                "status": "sent",
                "sent_at": to_db(utcnow()),
                "last_error": None,
                "claimed_by": None,
                "claimed_until": None,
            },
        )

    def mark_failed_attempt(
        self, message_id: int, attempts: int, error: str, next_attempt: datetime | None
    ) -> None:
        """Record a failed attempt: retry at ``next_attempt``, or give up (None)."""
        self.db.update(
            "outbox",
            message_id,
            {
                "status": "pending" if next_attempt else "failed",
                "attempts": attempts,
                "last_error": error[:1000],
                "next_attempt_at": to_db(next_attempt or utcnow()),
                "claimed_by": None,
                "claimed_until": None,
            },
        )

    def counts(self) -> dict[str, int]:
        """How many messages there are in each status."""
        rows = self.db.rows("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    def failed_ids(self) -> builtins.list[int]:
        return [r["id"] for r in self.db.rows("SELECT id FROM outbox WHERE status = 'failed'")]

    def retry(self, message_id: int) -> None:
        self.db.update(
            "outbox",
            message_id,
            {
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": to_db(utcnow()),
                "retry_since": to_db(utcnow()),
            },
        )
        self.changes.record("notification", message_id, "retry")


class SettingsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, user_id: int) -> NotificationSettings | None:
        row = self.db.row("SELECT * FROM notification_settings WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        return NotificationSettings(
            bool(row["booked"]),
            bool(row["cancelled"]),
            bool(row["rejected"]),
            bool(row["short_notice"]),
            bool(row["changed"]),
            bool(row["reminder"]),
        )

    def put(self, user_id: int, settings: NotificationSettings) -> None:
        self.db.execute(
            "INSERT INTO notification_settings (user_id, booked, cancelled, rejected, "
            "short_notice, changed, reminder) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET "
            "booked = excluded.booked, cancelled = excluded.cancelled, "
            "rejected = excluded.rejected, short_notice = excluded.short_notice, "
            "changed = excluded.changed, reminder = excluded.reminder",
            (
                user_id,
                settings.booked,
                settings.cancelled,
                settings.rejected,
                settings.short_notice,
                settings.changed,
                settings.reminder,
            ),
        )


class TemplateStore:
    """Email templates saved by admins (the built-in defaults live in feedserver.notify)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> dict[tuple[str, str, str], tuple[str, str]]:
        rows = self.db.rows("SELECT * FROM email_templates")
        return {(r["audience"], r["kind"], r["language"]): (r["subject"], r["body"]) for r in rows}

    def save(self, audience: str, kind: str, language: str, subject: str, body: str) -> None:
        self.db.execute(
            "INSERT INTO email_templates (audience, kind, language, subject, body, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (audience, kind, language) DO UPDATE SET "
            "subject = excluded.subject, body = excluded.body, updated_at = excluded.updated_at",
            (audience, kind, language, subject, body, to_db(utcnow())),
        )

    def delete(self, audience: str, kind: str, language: str) -> bool:
        return bool(
            self.db.execute(
                "DELETE FROM email_templates WHERE audience = ? AND kind = ? AND language = ?",
                (audience, kind, language),
            ).rowcount
        )
