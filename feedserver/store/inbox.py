"""SQL for the inbox: every inbound item (CalDAV write, email, HTTP post) stored raw before it
is processed, with its status, failure and the bookings it made."""

from __future__ import annotations

import builtins
import json
from datetime import datetime

from feedserver.model import InboxFailure, InboxItem, InboxStatus
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, found
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow


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
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if after is not None:
            clauses.append("id < ?")
            params.append(after)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.rows(
            f"SELECT * FROM inbox{where} ORDER BY id DESC LIMIT ?",  # noqa: S608
            (*params, limit),
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

    def claim(self, item_id: int, holder: str, until: datetime, now: datetime) -> bool:
        """Hold the item for ``holder`` until ``until`` while it is applied: False when
        another process holds it (and its claim has not run out)."""
        return (
            self.db.execute(
                "UPDATE inbox SET claimed_by = ?, claimed_until = ? WHERE id = ? AND "
                "(claimed_by IS NULL OR claimed_by = ? OR claimed_until < ?)",
                (holder, to_db(until), item_id, holder, to_db(now)),
            ).rowcount
            == 1
        )

    def release(self, item_id: int, holder: str) -> None:
        self.db.execute(
            "UPDATE inbox SET claimed_by = NULL, claimed_until = NULL "
            "WHERE id = ? AND claimed_by = ?",
            (item_id, holder),
        )

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
            "processed_at = ?, booking_ids = ?, claimed_by = NULL, claimed_until = NULL "
            "WHERE id = ?",
            (
                status.value,
                failure.value,
                reason[:2000],
                to_db(utcnow()),
                json.dumps(booking_ids),
                item_id,
            ),
        )
