"""SQL for app passwords: the per-device passwords of CalDAV clients, stored as digests."""

from __future__ import annotations

from feedserver.model import AppPassword
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, found
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow


def _app_password(row: Row) -> AppPassword:
    return AppPassword(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        created_at=from_db(row["created_at"]),
        last_used_at=from_db(row["last_used_at"]) if row["last_used_at"] else None,
        revoked_at=from_db(row["revoked_at"]) if row["revoked_at"] else None,
    )


class AppPasswordStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def create(self, user_id: int, name: str, secret_hash: str) -> AppPassword:
        row_id = self.db.insert(
            "app_passwords",
            {
                "user_id": user_id,
                "name": name,
                "secret_hash": secret_hash,
                "created_at": to_db(utcnow()),
            },
        )
        self.changes.record("app_password", row_id, "created")
        return found(self.get(row_id), f"app password {row_id}")

    def get(self, row_id: int) -> AppPassword | None:
        row = self.db.row("SELECT * FROM app_passwords WHERE id = ?", (row_id,))
        return _app_password(row) if row else None

    def list(self, user_id: int) -> list[AppPassword]:
        rows = self.db.rows("SELECT * FROM app_passwords WHERE user_id = ? ORDER BY id", (user_id,))
        return [_app_password(r) for r in rows]

    def find_active(self, user_id: int, secret_hash: str) -> AppPassword | None:
        row = self.db.row(
            "SELECT * FROM app_passwords WHERE user_id = ? AND secret_hash = ? "
            "AND revoked_at IS NULL",
            (user_id, secret_hash),
        )
        return _app_password(row) if row else None

    def touch(self, row_id: int) -> None:
        self.db.update("app_passwords", row_id, {"last_used_at": to_db(utcnow())})

    def revoke(self, row_id: int) -> None:
        self.db.update("app_passwords", row_id, {"revoked_at": to_db(utcnow())})
        self.changes.record("app_password", row_id, "revoked")
