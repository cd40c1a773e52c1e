"""SQL for web sessions: signed-in browsers, by the SHA-256 of their cookie's id."""

from __future__ import annotations

from datetime import datetime

from feedserver.model import WebSession
from feedserver.store.db import Database, Row
from feedserver.store.values import from_db, to_db


def _session(row: Row) -> WebSession:
    return WebSession(
        id_digest=row["id_digest"],
        user_id=row["user_id"],
        csrf=row["csrf"],
        created_at=from_db(row["created_at"]),
        expires_at=from_db(row["expires_at"]),
    )


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, session: WebSession) -> None:
        self.db.execute(
            "INSERT INTO web_sessions (id_digest, user_id, csrf, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                session.id_digest,
                session.user_id,
                session.csrf,
                to_db(session.created_at),
                to_db(session.expires_at),
            ),
        )

    def get(self, id_digest: str, now: datetime) -> WebSession | None:
        row = self.db.row(
            "SELECT * FROM web_sessions WHERE id_digest = ? AND expires_at > ?",
            (id_digest, to_db(now)),
        )
        return _session(row) if row else None

    def delete(self, id_digest: str) -> None:
        self.db.execute("DELETE FROM web_sessions WHERE id_digest = ?", (id_digest,))

    def delete_for_user(self, user_id: int, keep: str | None = None) -> int:
        """End a user's sessions (all, or all but ``keep``); returns how many ended."""
        cursor = self.db.execute(
            "DELETE FROM web_sessions WHERE user_id = ? AND id_digest != ?",
            (user_id, keep or ""),
        )
        return cursor.rowcount

    def prune(self, now: datetime) -> int:
        cursor = self.db.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (to_db(now),))
        return cursor.rowcount
