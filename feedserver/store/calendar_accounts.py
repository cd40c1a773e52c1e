"""SQL for people's connected calendar accounts: the accounts, the events written into them,
the queue of bookings to write (one row per account and booking, so that a burst of changes
to one booking is one write), what happened there worth telling the person, Google
authorizations under way; and the WebDAV-Push subscriptions of ``/dav/``."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from feedserver.model import (
    AccountJob,
    AccountLogEntry,
    CalendarAccount,
    FeedFilters,
    PendingAuthorization,
    PushSubscription,
    WrittenEvent,
)
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, iter_chunks
from feedserver.store.feed_links import filters_from_json as _filters
from feedserver.store.values import from_db, maybe_from_db, to_db
from feedserver.times import utcnow

_UPDATABLE = {
    "name",
    "secret",
    "calendar_url",
    "calendar_name",
    "filters",
    "busy",
    "username",
    "server_url",
}


def _account(row: Row) -> CalendarAccount:
    return CalendarAccount(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        provider=row["provider"],
        name=row["name"],
        server_url=row["server_url"],
        username=row["username"],
        secret=row["secret"],
        calendar_url=row["calendar_url"],
        calendar_name=row["calendar_name"],
        filters=_filters(row["filters"]),
        busy=bool(row["busy"]),
        uid_key=row["uid_key"],
        status=row["status"],
        last_error=row["last_error"],
        failures=int(row["failures"]),
        failing_since=maybe_from_db(row["failing_since"]),
        retry_at=maybe_from_db(row["retry_at"]),
        last_written_at=maybe_from_db(row["last_written_at"]),
        written=int(row["written"]),
        waiting=int(row["waiting"]),
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
    )


_SELECT = (
    "SELECT a.*, "
    "(SELECT COUNT(*) FROM calendar_account_items i WHERE i.account_id = a.id) AS written, "
    "(SELECT COUNT(*) FROM calendar_account_jobs j WHERE j.account_id = a.id) AS waiting "
    "FROM calendar_accounts a"
)


def _item(row: Row) -> WrittenEvent:
    return WrittenEvent(
        int(row["account_id"]),
        int(row["booking_id"]),
        row["href"],
        row["etag"],
        row["digest"],
        from_db(row["written_at"]),
    )


def _job(row: Row) -> AccountJob:
    return AccountJob(
        int(row["id"]),
        int(row["account_id"]),
        int(row["booking_id"]),
        int(row["generation"]),
        int(row["attempts"]),
        from_db(row["due_at"]),
        from_db(row["queued_at"]),
    )


# The accounts with due jobs, oldest first, not waiting after a failure and not being written
# now (by this process or another: a live claim on any of their jobs).
_DUE_ACCOUNTS = """
SELECT j.account_id, MIN(j.id) AS first FROM calendar_account_jobs j
JOIN calendar_accounts a ON a.id = j.account_id
WHERE j.due_at <= ? AND j.claimed_by IS NULL AND (a.retry_at IS NULL OR a.retry_at <= ?)
  AND NOT EXISTS (
      SELECT 1 FROM calendar_account_jobs k
      WHERE k.account_id = j.account_id AND k.claimed_by IS NOT NULL AND k.claimed_until > ?)
GROUP BY j.account_id ORDER BY first LIMIT ?
"""


class CalendarAccountStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    # -- accounts -----------------------------------------------------------------------------

    def create(
        self,
        user_id: int,
        provider: str,
        name: str,
        server_url: str,
        username: str,
        secret: str,
        calendar_url: str,
        calendar_name: str,
        filters: FeedFilters,
        busy: bool,
        uid_key: str,
    ) -> CalendarAccount:
        now = to_db(utcnow())
        account_id = self.db.insert(
            "calendar_accounts",
            {
                "user_id": user_id,
                "provider": provider,
                "name": name,
                "server_url": server_url,
                "username": username,
                "secret": secret,
                "calendar_url": calendar_url,
                "calendar_name": calendar_name,
                "filters": json.dumps(asdict(filters)),
                "busy": int(busy),
                "uid_key": uid_key,
                "created_at": now,
                "updated_at": now,
            },
        )
        self.changes.record("calendar_account", account_id, "created")
        found = self.get(account_id)
        assert found is not None
        return found

    def get(self, account_id: int) -> CalendarAccount | None:
        row = self.db.row(f"{_SELECT} WHERE a.id = ?", (account_id,))
        return _account(row) if row else None

    def list(self, user_id: int | None = None) -> builtins.list[CalendarAccount]:
        if user_id is None:
            rows = self.db.rows(f"{_SELECT} ORDER BY a.id")
        else:
            rows = self.db.rows(
                f"{_SELECT} WHERE a.user_id = ? ORDER BY a.id",
                (user_id,),
            )
        return [_account(r) for r in rows]

    def exists(self, account_id: int) -> bool:
        return (
            self.db.scalar("SELECT 1 FROM calendar_accounts WHERE id = ?", (account_id,))
            is not None
        )

    def health(self) -> tuple[int, int, int]:
        """(accounts, failing ones, bookings waiting to be written)."""
        row = self.db.row(
            "SELECT COUNT(*) AS accounts, "
            "COALESCE(SUM(CASE WHEN status = 'failing' THEN 1 ELSE 0 END), 0) AS failing, "
            "(SELECT COUNT(*) FROM calendar_account_jobs) AS waiting FROM calendar_accounts"
        )
        assert row is not None
        return int(row["accounts"]), int(row["failing"]), int(row["waiting"])

    def of_people(self, user_ids: Iterable[int], emails: Iterable[str]) -> builtins.list[int]:
        """The accounts of these people (by id, or by the email of their account)."""
        ids = sorted(set(user_ids))
        addresses = sorted({e.lower() for e in emails if e})
        found: set[int] = set()
        for chunk in iter_chunks(ids, 500):
            marks = ", ".join("?" for _ in chunk)
            found.update(
                int(r["id"])
                for r in self.db.rows(
                    f"SELECT id FROM calendar_accounts WHERE user_id IN ({marks})",  # noqa: S608
                    tuple(chunk),
                )
            )
        for batch in iter_chunks(addresses, 500):
            marks = ", ".join("?" for _ in batch)
            found.update(
                int(r["id"])
                for r in self.db.rows(
                    "SELECT a.id FROM calendar_accounts a "  # noqa: S608
                    f"JOIN users u ON u.id = a.user_id WHERE u.email IN ({marks})",
                    tuple(batch),
                )
            )
        return sorted(found)

    def any(self) -> bool:
        return self.db.scalar("SELECT 1 FROM calendar_accounts LIMIT 1") is not None

    def update(self, account_id: int, **fields: Any) -> None:
        unknown = set(fields) - _UPDATABLE
        assert not unknown, unknown
        values = dict(fields)
        if "filters" in values:
            values["filters"] = json.dumps(asdict(values["filters"]))
        if "busy" in values:
            values["busy"] = int(values["busy"])
        values["updated_at"] = to_db(utcnow())
        assignments = ", ".join(f"{name} = ?" for name in values)
        self.db.execute(
            f"UPDATE calendar_accounts SET {assignments} WHERE id = ?",  # noqa: S608
            (*values.values(), account_id),
        )
        self.changes.record("calendar_account", account_id, "updated")

    def delete(self, account_id: int) -> None:
        self.db.execute(
            "DELETE FROM busy_times WHERE calendar_id IN (SELECT id FROM "
            "busy_calendars WHERE account_id = ?)",
            (account_id,),
        )
        self.db.execute("DELETE FROM busy_calendars WHERE account_id = ?", (account_id,))
        for table in ("calendar_account_items", "calendar_account_jobs", "calendar_account_log"):
            self.db.execute(
                f"DELETE FROM {table} WHERE account_id = ?",  # noqa: S608
                (account_id,),
            )
        self.db.execute("DELETE FROM calendar_accounts WHERE id = ?", (account_id,))
        self.changes.record("calendar_account", account_id, "deleted")

    def succeeded(self, account_id: int, at: datetime) -> None:
        self.db.execute(
            "UPDATE calendar_accounts SET status = 'ok', last_error = '', failures = 0, "
            "failing_since = NULL, retry_at = NULL, last_written_at = ? WHERE id = ?",
            (to_db(at), account_id),
        )

    def failed(
        self,
        account_id: int,
        error: str,
        retry_at: datetime,
        at: datetime,
        failing_after: float,
        refused: bool,
    ) -> CalendarAccount | None:
        """A failed attempt: the account waits until ``retry_at``; it is ``failing`` when it
        was ``refused`` (credentials) or has failed for ``failing_after`` seconds. The account
        as it was before."""
        before = self.get(account_id)
        if before is None:
            return None
        since = before.failing_since or at
        failing = refused or (at - since).total_seconds() >= failing_after
        self.db.execute(
            "UPDATE calendar_accounts SET status = ?, last_error = ?, failures = failures + 1, "
            "failing_since = ?, retry_at = ? WHERE id = ?",
            (
                "failing" if failing else "retrying",
                error[:500],
                to_db(since),
                to_db(retry_at),
                account_id,
            ),
        )
        return before

    def reset(self, account_id: int) -> None:
        """Try again now (new credentials, a resync asked for)."""
        self.db.execute(
            "UPDATE calendar_accounts SET status = 'ok', last_error = '', failures = 0, "
            "failing_since = NULL, retry_at = NULL WHERE id = ?",
            (account_id,),
        )
        self.changes.record("calendar_account", account_id, "updated")

    # -- events written -----------------------------------------------------------------------

    def item(self, account_id: int, booking_id: int) -> WrittenEvent | None:
        row = self.db.row(
            "SELECT * FROM calendar_account_items WHERE account_id = ? AND booking_id = ?",
            (account_id, booking_id),
        )
        return _item(row) if row else None

    def items(self, account_id: int) -> builtins.list[WrittenEvent]:
        rows = self.db.rows(
            "SELECT * FROM calendar_account_items WHERE account_id = ? ORDER BY booking_id",
            (account_id,),
        )
        return [_item(r) for r in rows]

    def keep_item(self, item: WrittenEvent) -> None:
        self.db.execute(
            "INSERT INTO calendar_account_items (account_id, booking_id, href, etag, digest, "
            "written_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, booking_id) DO "
            "UPDATE SET href = excluded.href, etag = excluded.etag, digest = excluded.digest, "
            "written_at = excluded.written_at",
            (
                item.account_id,
                item.booking_id,
                item.href,
                item.etag,
                item.digest,
                to_db(item.written_at),
            ),
        )

    def forget_item(self, account_id: int, booking_id: int) -> None:
        self.db.execute(
            "DELETE FROM calendar_account_items WHERE account_id = ? AND booking_id = ?",
            (account_id, booking_id),
        )

    def stale(self, account_id: int, booking_ids: Sequence[int]) -> None:
        """These events must be written again (they changed or went missing there)."""
        for booking_id in booking_ids:
            self.db.execute(
                "UPDATE calendar_account_items SET digest = '' "
                "WHERE account_id = ? AND booking_id = ?",
                (account_id, booking_id),
            )

    # -- the queue ----------------------------------------------------------------------------

    def enqueue(self, pairs: Iterable[tuple[int, int]], due: datetime) -> int:
        """Queue (account, booking) pairs (booking 0: a resync); a pair already waiting is
        marked changed again instead. How many pairs."""
        rows = sorted(set(pairs))
        if not rows:
            return 0
        now = to_db(utcnow())
        self.db.insert_many(
            "INSERT INTO calendar_account_jobs (account_id, booking_id, due_at, queued_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (account_id, booking_id) DO UPDATE SET "
            "generation = calendar_account_jobs.generation + 1, due_at = excluded.due_at",
            [(account_id, booking_id, to_db(due), now) for account_id, booking_id in rows],
        )
        self.changes.record("calendar_account_job", rows[0][0], "queued")
        return len(rows)

    def claim(
        self, now: datetime, holder: str, until: datetime, per_account: int, accounts: int
    ) -> builtins.list[AccountJob]:
        """The due jobs of up to ``accounts`` accounts (at most ``per_account`` each, oldest
        first), claimed by ``holder`` until ``until``, in one transaction."""
        at = to_db(now)
        rows: builtins.list[Row] = []
        with self.db.transaction():
            for due in self.db.rows(_DUE_ACCOUNTS, (at, at, at, accounts)):
                rows.extend(
                    self.db.rows(
                        "SELECT * FROM calendar_account_jobs WHERE account_id = ? "
                        "AND due_at <= ? AND claimed_by IS NULL ORDER BY id LIMIT ?",
                        (due["account_id"], at, per_account),
                    )
                )
            for chunk in iter_chunks([int(r["id"]) for r in rows], 500):
                marks = ", ".join("?" for _ in chunk)
                self.db.execute(
                    "UPDATE calendar_account_jobs SET claimed_by = ?, claimed_until = ? "  # noqa: S608
                    f"WHERE id IN ({marks})",
                    (holder, to_db(until), *chunk),
                )
        return [_job(r) for r in rows]

    def done(self, job: AccountJob) -> bool:
        """The job's work is done: gone, unless its booking changed again meanwhile (then it
        waits for its next turn). Whether it is gone."""
        gone = self.db.execute(
            "DELETE FROM calendar_account_jobs WHERE id = ? AND generation = ?",
            (job.id, job.generation),
        ).rowcount
        if not gone:
            self.release([job.id])
        return bool(gone)

    def release(self, job_ids: Sequence[int]) -> None:
        """Hand jobs back, as they were (another turn takes them)."""
        for job_id in job_ids:
            self.db.execute(
                "UPDATE calendar_account_jobs SET claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ?",
                (job_id,),
            )

    def attempted(self, job_ids: Sequence[int]) -> None:
        for job_id in job_ids:
            self.db.execute(
                "UPDATE calendar_account_jobs SET attempts = attempts + 1, claimed_by = NULL, "
                "claimed_until = NULL WHERE id = ?",
                (job_id,),
            )

    def release_interrupted(self, holder: str) -> int:
        return self.db.execute(
            "UPDATE calendar_account_jobs SET claimed_by = NULL, claimed_until = NULL "
            "WHERE claimed_by = ?",
            (holder,),
        ).rowcount

    def release_expired(self, now: datetime) -> int:
        """Jobs of processes gone without handing them back (their claim ran out)."""
        return self.db.execute(
            "UPDATE calendar_account_jobs SET claimed_by = NULL, claimed_until = NULL "
            "WHERE claimed_by IS NOT NULL AND claimed_until < ?",
            (to_db(now),),
        ).rowcount

    # -- the log ------------------------------------------------------------------------------

    def log(self, account_id: int, booking_id: int | None, kind: str, detail: str) -> None:
        self.db.execute(
            "INSERT INTO calendar_account_log (account_id, at, booking_id, kind, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (account_id, to_db(utcnow()), booking_id, kind, detail[:20_000]),
        )
        # The last 200 entries of an account are kept.
        self.db.execute(
            "DELETE FROM calendar_account_log WHERE account_id = ? AND id <= "
            "(SELECT id FROM calendar_account_log WHERE account_id = ? "
            "ORDER BY id DESC LIMIT 1 OFFSET 200)",
            (account_id, account_id),
        )

    def log_entries(self, account_id: int, limit: int = 20) -> builtins.list[AccountLogEntry]:
        rows = self.db.rows(
            "SELECT at, booking_id, kind, detail FROM calendar_account_log "
            "WHERE account_id = ? ORDER BY id DESC LIMIT ?",
            (account_id, limit),
        )
        return [
            AccountLogEntry(from_db(r["at"]), r["booking_id"], r["kind"], r["detail"]) for r in rows
        ]

    # -- Google authorizations under way --------------------------------------------------------

    def save_state(self, state: str, pending: PendingAuthorization) -> None:
        asked = {
            "name": pending.name,
            "calendar": pending.calendar,
            "busy": pending.busy,
            "filters": asdict(pending.filters),
        }
        self.db.execute(
            "INSERT INTO oauth_states (state, user_id, verifier, request, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (state, pending.user_id, pending.verifier, json.dumps(asked), to_db(utcnow())),
        )

    def take_state(self, state: str, not_before: datetime) -> PendingAuthorization | None:
        """The authorization ``state`` names, if it began after ``not_before``; each is taken
        once (and older ones are forgotten)."""
        row = self.db.row("SELECT * FROM oauth_states WHERE state = ?", (state,))
        self.db.execute(
            "DELETE FROM oauth_states WHERE state = ? OR created_at < ?",
            (state, to_db(not_before)),
        )
        if row is None or from_db(row["created_at"]) < not_before:
            return None
        asked = json.loads(row["request"])
        return PendingAuthorization(
            int(row["user_id"]),
            row["verifier"],
            asked["name"],
            asked["calendar"],
            bool(asked["busy"]),
            _filters(json.dumps(asked["filters"])),
        )


def _subscription(row: Row) -> PushSubscription:
    return PushSubscription(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        path=row["path"],
        registration=row["registration"],
        push_resource=row["push_resource"],
        public_key=row["public_key"],
        auth_secret=row["auth_secret"],
        expires_at=from_db(row["expires_at"]),
        pushed_token=row["pushed_token"],
        created_at=from_db(row["created_at"]),
        failures=int(row["failures"]),
        last_error=row["last_error"],
    )


class PushStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def register(
        self,
        user_id: int,
        path: str,
        registration: str,
        push_resource: str,
        public_key: str,
        auth_secret: str,
        expires_at: datetime,
        token: str,
    ) -> tuple[PushSubscription, bool]:
        """A subscription, new or renewed (the same collection and push resource); whether
        it is new."""
        existing = self.db.row(
            "SELECT * FROM push_subscriptions WHERE path = ? AND push_resource = ?",
            (path, push_resource),
        )
        if existing is not None:
            self.db.execute(
                "UPDATE push_subscriptions SET public_key = ?, auth_secret = ?, expires_at = ?, "
                "failures = 0, last_error = '' WHERE id = ?",
                (public_key, auth_secret, to_db(expires_at), existing["id"]),
            )
            found = self.get(registration=existing["registration"])
            assert found is not None
            return found, False
        self.db.insert(
            "push_subscriptions",
            {
                "user_id": user_id,
                "path": path,
                "registration": registration,
                "push_resource": push_resource,
                "public_key": public_key,
                "auth_secret": auth_secret,
                "expires_at": to_db(expires_at),
                "pushed_token": token,
                "created_at": to_db(utcnow()),
            },
        )
        self.changes.record("push_subscription", 0, "created")
        found = self.get(registration=registration)
        assert found is not None
        return found, True

    def get(self, registration: str) -> PushSubscription | None:
        row = self.db.row(
            "SELECT * FROM push_subscriptions WHERE registration = ?", (registration,)
        )
        return _subscription(row) if row else None

    def active(self, now: datetime) -> builtins.list[PushSubscription]:
        rows = self.db.rows(
            "SELECT * FROM push_subscriptions WHERE expires_at > ? ORDER BY id", (to_db(now),)
        )
        return [_subscription(r) for r in rows]

    def delete(self, subscription_id: int) -> None:
        self.db.execute("DELETE FROM push_subscriptions WHERE id = ?", (subscription_id,))

    def delete_expired(self, now: datetime) -> int:
        return self.db.execute(
            "DELETE FROM push_subscriptions WHERE expires_at <= ?", (to_db(now),)
        ).rowcount

    def take_turn(self, subscription_id: int, before: str, token: str) -> bool:
        """Mark ``token`` pushed if the last one pushed is still ``before``: of several
        processes seeing the same change, one sends it."""
        return bool(
            self.db.execute(
                "UPDATE push_subscriptions SET pushed_token = ? WHERE id = ? AND pushed_token = ?",
                (token, subscription_id, before),
            ).rowcount
        )

    def failed(self, subscription_id: int, before: str, error: str) -> None:
        """A message not sent: the token goes back, so the next pass sends it again."""
        self.db.execute(
            "UPDATE push_subscriptions SET pushed_token = ?, failures = failures + 1, "
            "last_error = ? WHERE id = ?",
            (before, error[:500], subscription_id),
        )

    def sent(self, subscription_id: int) -> None:
        self.db.execute(
            "UPDATE push_subscriptions SET failures = 0, last_error = '' WHERE id = ?",
            (subscription_id,),
        )
