"""SQL for the event log (what the change feed reads) and the webhooks that hear it: their
endpoints, deliveries and attempts; and the remembered answers of Idempotency-Keys."""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feedserver.model import Event, EventDraft, Webhook, WebhookAttempt, WebhookDelivery
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow


def _event(row: Row) -> Event:
    return Event(
        id=int(row["id"]),
        type=row["type"],
        subject=row["subject"],
        origin=json.loads(row["origin"]),
        data=json.loads(row["data"]),
        at=from_db(row["at"]),
    )


class EventStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def append(self, draft: EventDraft) -> Event:
        """Log an event; the webhooks that want its type get a delivery in the same
        transaction (the caller's)."""
        now = utcnow()
        event_id = self.db.insert(
            "events",
            {
                "type": draft.type,
                "subject": draft.subject,
                "origin": json.dumps(draft.origin, separators=(",", ":")),
                "data": json.dumps(draft.data, separators=(",", ":"), ensure_ascii=False),
                "at": to_db(now),
            },
        )
        return Event(event_id, draft.type, draft.subject, draft.origin, draft.data, now)

    def append_many(self, drafts: Sequence[EventDraft]) -> builtins.list[int]:
        """Log many events at once, the fastest way the backend has; their ids, in order
        (each draft's subject is its own: a new booking's)."""
        before = self.latest()
        at = to_db(utcnow())
        self.db.copy_rows(
            "events",
            ("type", "subject", "origin", "data", "at"),
            [
                (
                    d.type,
                    d.subject,
                    json.dumps(d.origin, separators=(",", ":")),
                    json.dumps(d.data, separators=(",", ":"), ensure_ascii=False),
                    at,
                )
                for d in drafts
            ],
        )
        # Theirs among what came after ``before``: by subject, since a dry run's transaction
        # (which holds no write lock) can see what other writers committed meanwhile.
        subjects = {d.subject for d in drafts}
        rows = self.db.rows("SELECT id, subject FROM events WHERE id > ? ORDER BY id", (before,))
        ids = [int(r["id"]) for r in rows if r["subject"] in subjects]
        assert len(ids) == len(drafts), (len(ids), len(drafts))
        return ids

    def get(self, event_id: int) -> Event | None:
        row = self.db.row("SELECT * FROM events WHERE id = ?", (event_id,))
        return _event(row) if row else None

    def after(
        self,
        cursor: int,
        limit: int,
        types: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ) -> builtins.list[Event]:
        """Events after ``cursor`` (an event id), oldest first; ``types``: only those;
        ``exclude``: not those."""
        params: builtins.list[Any] = [cursor]
        where = "id > ?"
        if types:
            where += f" AND type IN ({', '.join('?' for _ in types)})"
            params.extend(types)
        if exclude:
            where += f" AND type NOT IN ({', '.join('?' for _ in exclude)})"
            params.extend(exclude)
        rows = self.db.rows(
            f"SELECT * FROM events WHERE {where} ORDER BY id LIMIT ?",  # noqa: S608
            [*params, limit],
        )
        return [_event(r) for r in rows]

    def latest(self) -> int:
        return int(self.db.scalar("SELECT COALESCE(MAX(id), 0) FROM events"))

    def purge(self, before: datetime) -> int:
        """Forget events logged before ``before`` (and their finished deliveries; an event
        still waiting for a delivery stays, with those after it). The highest id up to which
        all are gone is kept (``purged_through``): a cursor before it has a gap."""
        with self.db.transaction():
            last = self.db.scalar("SELECT MAX(id) FROM events WHERE at < ?", (to_db(before),))
            if last is None:
                return 0
            finished = (
                "SELECT id FROM webhook_deliveries WHERE event_id <= ? "
                "AND status IN ('delivered', 'failed')"
            )
            self.db.execute(
                f"DELETE FROM webhook_attempts WHERE delivery_id IN ({finished})",  # noqa: S608
                (last,),
            )
            self.db.execute(f"DELETE FROM webhook_deliveries WHERE id IN ({finished})", (last,))  # noqa: S608
            count = self.db.execute(
                "DELETE FROM events WHERE id <= ? AND id NOT IN "
                "(SELECT event_id FROM webhook_deliveries)",
                (last,),
            ).rowcount
            kept = self.db.scalar("SELECT MIN(id) FROM events WHERE id <= ?", (last,))
            through = last if kept is None else int(kept) - 1  # no gap before it
            self.db.execute(
                "INSERT INTO cluster_settings (name, value) VALUES ('events_purged_through', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (str(max(through, self.purged_through())),),
            )
        return count

    def purged_through(self) -> int:
        value = self.db.scalar(
            "SELECT value FROM cluster_settings WHERE name = 'events_purged_through'"
        )
        return int(value) if value else 0


def _webhook(row: Row) -> Webhook:
    return Webhook(
        id=int(row["id"]),
        url=row["url"],
        description=row["description"],
        event_types=tuple(json.loads(row["event_types"])),
        secret=row["secret"],
        previous_secret=row["previous_secret"],
        previous_until=from_db(row["previous_until"]) if row["previous_until"] else None,
        enabled=bool(row["enabled"]),
        disabled_reason=row["disabled_reason"],
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
    )


def _delivery(row: Row, history: tuple[WebhookAttempt, ...] = ()) -> WebhookDelivery:
    return WebhookDelivery(
        id=int(row["id"]),
        webhook_id=int(row["webhook_id"]),
        event_id=int(row["event_id"]),
        subject=row["subject"],
        status=row["status"],
        attempts=int(row["attempts"]),
        next_attempt_at=from_db(row["next_attempt_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_at=from_db(row["created_at"]),
        delivered_at=from_db(row["delivered_at"]) if row["delivered_at"] else None,
        history=history,
    )


# A delivery may be sent when it is due (or its claim ran out) and it is the first waiting
# one of its subject for its endpoint: one booking's events in order. The first of each is
# found by one grouping (not a subquery per row, which a planner without statistics on a
# freshly filled table turns into a scan per row).
_DUE = (
    "SELECT d.* FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
    "WHERE w.enabled = 1 AND ((d.status = 'pending' AND d.next_attempt_at <= ?) "
    "OR (d.status = 'sending' AND d.claimed_until < ?)) "
    "AND d.id IN (SELECT MIN(id) FROM webhook_deliveries "
    "WHERE status IN ('pending', 'sending') GROUP BY webhook_id, subject) "
    "ORDER BY d.id LIMIT ?"
)


class WebhookStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    # -- endpoints ----------------------------------------------------------------------------

    def create(
        self, url: str, description: str, event_types: Sequence[str], secret: str
    ) -> Webhook:
        now = to_db(utcnow())
        webhook_id = self.db.insert(
            "webhooks",
            {
                "url": url,
                "description": description,
                "event_types": json.dumps(list(event_types)),
                "secret": secret,
                "created_at": now,
                "updated_at": now,
            },
        )
        self.changes.record("webhook", webhook_id, "created")
        return self.one(webhook_id)

    def get(self, webhook_id: int) -> Webhook | None:
        row = self.db.row("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        return _webhook(row) if row else None

    def one(self, webhook_id: int) -> Webhook:
        found = self.get(webhook_id)
        assert found is not None, webhook_id
        return found

    def list(self) -> builtins.list[Webhook]:
        return [_webhook(r) for r in self.db.rows("SELECT * FROM webhooks ORDER BY id")]

    def listening(self, event_type: str) -> builtins.list[int]:
        """The endpoints (enabled or not: a disabled one keeps its queue) that want
        ``event_type``."""
        rows = self.db.rows("SELECT id, event_types FROM webhooks ORDER BY id")
        return [
            int(r["id"])
            for r in rows
            if not json.loads(r["event_types"]) or event_type in json.loads(r["event_types"])
        ]

    def update(self, webhook: Webhook) -> Webhook:
        self.db.update(
            "webhooks",
            webhook.id,
            {
                "url": webhook.url,
                "description": webhook.description,
                "event_types": json.dumps(list(webhook.event_types)),
                "secret": webhook.secret,
                "previous_secret": webhook.previous_secret,
                "previous_until": to_db(webhook.previous_until) if webhook.previous_until else None,
                "enabled": int(webhook.enabled),
                "disabled_reason": webhook.disabled_reason,
                "updated_at": to_db(utcnow()),
            },
        )
        self.changes.record("webhook", webhook.id, "updated")
        return self.one(webhook.id)

    def delete(self, webhook_id: int) -> None:
        self.db.execute(
            "DELETE FROM webhook_attempts WHERE delivery_id IN "
            "(SELECT id FROM webhook_deliveries WHERE webhook_id = ?)",
            (webhook_id,),
        )
        self.db.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", (webhook_id,))
        self.db.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
        self.changes.record("webhook", webhook_id, "deleted")

    # -- deliveries ---------------------------------------------------------------------------

    def enqueue(self, webhook_ids: Sequence[int], event: Event) -> None:
        if not webhook_ids:
            return
        now = to_db(event.at)
        self.db.insert_many(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, subject, next_attempt_at, "
            "created_at) VALUES (?, ?, ?, ?, ?)",
            [(w, event.id, event.subject, now, now) for w in webhook_ids],
        )
        self.changes.record("webhook_delivery", event.id, "queued")

    def enqueue_many(self, deliveries: Sequence[tuple[int, int, str]], at: datetime) -> None:
        """Deliveries (webhook id, event id, subject) of events logged together."""
        if not deliveries:
            return
        now = to_db(at)
        self.db.insert_many(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, subject, next_attempt_at, "
            "created_at) VALUES (?, ?, ?, ?, ?)",
            [(w, e, subject, now, now) for w, e, subject in deliveries],
        )
        self.changes.record("webhook_delivery", deliveries[0][1], "queued")

    def delivery(self, delivery_id: int) -> WebhookDelivery | None:
        row = self.db.row("SELECT * FROM webhook_deliveries WHERE id = ?", (delivery_id,))
        if row is None:
            return None
        return _delivery(row, self._attempts([delivery_id]).get(delivery_id, ()))

    def _attempts(self, ids: Sequence[int]) -> dict[int, tuple[WebhookAttempt, ...]]:
        if not ids:
            return {}
        rows = self.db.rows(
            "SELECT * FROM webhook_attempts WHERE delivery_id IN "  # noqa: S608
            f"({', '.join('?' for _ in ids)}) ORDER BY id",
            list(ids),
        )
        found: dict[int, builtins.list[WebhookAttempt]] = {}
        for r in rows:
            found.setdefault(int(r["delivery_id"]), []).append(
                WebhookAttempt(
                    from_db(r["at"]), r["status"], r["error"], int(r["duration_ms"]), r["response"]
                )
            )
        return {k: tuple(v) for k, v in found.items()}

    def deliveries(
        self, webhook_id: int, status: str | None, limit: int, before: int | None
    ) -> builtins.list[WebhookDelivery]:
        """Newest first, with their attempts; ``before``: older than that delivery id."""
        where, params = "webhook_id = ?", builtins.list[Any]([webhook_id])
        if status:
            where += " AND status = ?"
            params.append(status)
        if before is not None:
            where += " AND id < ?"
            params.append(before)
        rows = self.db.rows(
            f"SELECT * FROM webhook_deliveries WHERE {where} "  # noqa: S608
            "ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        attempts = self._attempts([int(r["id"]) for r in rows])
        return [_delivery(r, attempts.get(int(r["id"]), ())) for r in rows]

    def claim_due(
        self, now: datetime, limit: int, holder: str, until: datetime
    ) -> builtins.list[WebhookDelivery]:
        """Due deliveries (the first waiting one of each endpoint and subject), marked
        'sending' by ``holder`` until ``until``, in one transaction."""
        with self.db.transaction():
            rows = self.db.rows(_DUE, (to_db(now), to_db(now), limit))
            self._claim([int(r["id"]) for r in rows], holder, until)
        return [_delivery(r) for r in rows]

    def claim(self, delivery_id: int, holder: str, until: datetime) -> WebhookDelivery | None:
        """One delivery, claimed now whatever its turn (a test, a redelivery being shown)."""
        with self.db.transaction():
            row = self.db.row(
                "SELECT * FROM webhook_deliveries WHERE id = ? AND status = 'pending'",
                (delivery_id,),
            )
            if row is None:
                return None
            self._claim([delivery_id], holder, until)
        return _delivery(row)

    def _claim(self, ids: Sequence[int], holder: str, until: datetime) -> None:
        for delivery_id in ids:
            self.db.execute(
                "UPDATE webhook_deliveries SET status = 'sending', claimed_by = ?, "
                "claimed_until = ? WHERE id = ?",
                (holder, to_db(until), delivery_id),
            )

    def release(self, ids: Sequence[int]) -> None:
        for delivery_id in ids:
            self.db.execute(
                "UPDATE webhook_deliveries SET status = 'pending', claimed_by = NULL, "
                "claimed_until = NULL WHERE id = ? AND status = 'sending'",
                (delivery_id,),
            )

    def release_interrupted(self, holder: str) -> int:
        return self.db.execute(
            "UPDATE webhook_deliveries SET status = 'pending', claimed_by = NULL, "
            "claimed_until = NULL WHERE status = 'sending' AND claimed_by = ?",
            (holder,),
        ).rowcount

    def attempted(
        self,
        delivery_id: int,
        attempt: WebhookAttempt,
        status: str,
        next_attempt: datetime | None,
    ) -> None:
        """Record an attempt and what follows: 'delivered', 'pending' again at
        ``next_attempt``, or 'failed'."""
        self.db.execute(
            "INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms, "
            "response) VALUES (?, ?, ?, ?, ?, ?)",
            (
                delivery_id,
                to_db(attempt.at),
                attempt.status,
                attempt.error[:1000],
                attempt.duration_ms,
                attempt.response[:1000],
            ),
        )
        fields: dict[str, Any] = {
            "status": status,
            "last_status": attempt.status,
            "last_error": attempt.error[:1000],
            "claimed_by": None,
            "claimed_until": None,
        }
        if next_attempt is not None:
            fields["next_attempt_at"] = to_db(next_attempt)
        if status == "delivered":
            fields["delivered_at"] = to_db(attempt.at)
        self.db.update("webhook_deliveries", delivery_id, fields)
        self.db.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1 WHERE id = ?", (delivery_id,)
        )

    def redeliver(self, delivery_id: int) -> None:
        """Queue a delivery again, now (it keeps its attempts)."""
        self.db.execute(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
            (to_db(utcnow()), delivery_id),
        )
        self.changes.record("webhook_delivery", delivery_id, "queued")

    def counts(self) -> dict[str, int]:
        rows = self.db.rows("SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    def next_due(self) -> datetime | None:
        value = self.db.scalar(
            "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'"
        )
        return from_db(value) if value else None


class IdempotencyStore:
    """The first answer to a request with an Idempotency-Key, by caller (``scope``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(self, scope: str, key: str, fingerprint: str) -> bool:
        """Reserve the key for a request (status 0 until answered); False when it is known."""
        with self.db.transaction():
            done = self.db.scalar(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, status, created_at) "
                "VALUES (?, ?, ?, 0, ?) ON CONFLICT DO NOTHING RETURNING status",
                (scope, key, fingerprint, to_db(utcnow())),
            )
        return done is not None

    def get(self, scope: str, key: str) -> tuple[str, int, str, bytes | None] | None:
        """(fingerprint, status, content type, body) of the key (status 0: in progress)."""
        row = self.db.row(
            "SELECT fingerprint, status, content_type, body FROM idempotency_keys "
            "WHERE scope = ? AND key = ?",
            (scope, key),
        )
        if row is None:
            return None
        body = row["body"]
        kept = bytes(body) if body is not None else None
        return row["fingerprint"], int(row["status"]), row["content_type"], kept

    def finish(self, scope: str, key: str, status: int, content_type: str, body: bytes) -> None:
        self.db.execute(
            "UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? "
            "WHERE scope = ? AND key = ?",
            (status, content_type, body, scope, key),
        )

    def forget(self, scope: str, key: str) -> None:
        self.db.execute("DELETE FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, key))

    def purge(self, before: datetime) -> int:
        return self.db.execute(
            "DELETE FROM idempotency_keys WHERE created_at < ?", (to_db(before),)
        ).rowcount
