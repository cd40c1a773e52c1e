"""SQL for user accounts. Password hashes never leave this module except for verification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feedserver.model import AccountSettings, Role, User
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, found
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow

_SELECT = (
    "SELECT u.*, l.code AS primary_location FROM users u "
    "LEFT JOIN locations l ON l.id = u.primary_location_id"
)
def _user(row: Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=Role(row["role"]),
        timezone=row["timezone"],
        primary_location=row["primary_location"],
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
        language=row["language"],
        external_id=row["external_id"],
        deactivated_at=from_db(row["deactivated_at"]) if row["deactivated_at"] else None,
    )


class UserStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def id_of_external(self, external_id: str) -> int | None:
        """The id of the row the caller knows as ``external_id`` (None: none)."""
        value = self.db.scalar("SELECT id FROM users WHERE external_id = ?", (external_id,))
        return None if value is None else int(value)

    def create(self, settings: AccountSettings, password_hash: str | None = None) -> User:
        now = to_db(utcnow())
        user_id = self.db.insert(
            "users",
            {
                **self._columns(settings),
                "password_hash": password_hash,
                "created_at": now,
                "updated_at": now,
            },
        )
        version = self.changes.record("user", user_id, "created")
        self.db.update("users", user_id, {"render_version": version})
        return found(self.get(user_id), f"user {user_id}")

    def _columns(self, settings: AccountSettings) -> dict[str, Any]:
        location_id = None
        if settings.primary_location is not None:
            location_id = found(
                self.db.scalar(
                    "SELECT id FROM locations WHERE code = ?", (settings.primary_location,)
                ),
                f"location {settings.primary_location}",
            )
        return {
            "email": settings.email,
            "name": settings.name,
            "role": settings.role.value,
            "timezone": settings.timezone,
            "primary_location_id": location_id,
            "language": settings.language,
            "external_id": settings.external_id,
        }

    def get(self, user_id: int) -> User | None:
        row = self.db.row(f"{_SELECT} WHERE u.id = ?", (user_id,))
        return _user(row) if row else None

    def get_by_email(self, email: str) -> User | None:
        row = self.db.row(f"{_SELECT} WHERE u.email = ?", (email,))
        return _user(row) if row else None

    def render_version(self, user_id: int) -> int:
        """The change-log version of the last change of the user's name, email or role."""
        return int(self.db.scalar("SELECT render_version FROM users WHERE id = ?", (user_id,)) or 0)

    def get_many(self, user_ids: list[int]) -> dict[int, User]:
        if not user_ids:
            return {}
        marks = ", ".join("?" for _ in user_ids)
        rows = self.db.rows(f"{_SELECT} WHERE u.id IN ({marks})", user_ids)
        return {row["id"]: _user(row) for row in rows}

    def list(self, role: Role | None = None) -> list[User]:
        if role is None:
            rows = self.db.rows(f"{_SELECT} ORDER BY u.id")
        else:
            rows = self.db.rows(f"{_SELECT} WHERE u.role = ? ORDER BY u.id", (role.value,))
        return [_user(r) for r in rows]

    def password_hash(self, email: str) -> tuple[int, str | None] | None:
        """The id and password hash of the active account ``email`` (a deactivated one
        signs in no more: None, as for no account)."""
        row = self.db.row(
            "SELECT id, password_hash FROM users WHERE email = ? AND deactivated_at IS NULL",
            (email,),
        )
        return (row["id"], row["password_hash"]) if row else None

    def set_deactivated(self, user_id: int, at: datetime | None) -> User:
        """Deactivate (``at``) or reactivate (None) an account; logged, so that every node
        forgets its remembered logins and feeds at once."""
        self.db.update(
            "users",
            user_id,
            {"deactivated_at": to_db(at) if at else None, "updated_at": to_db(utcnow())},
        )
        self.changes.record("user", user_id, "updated")
        return found(self.get(user_id), f"user {user_id}")

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.db.update(
            "users", user_id, {"password_hash": password_hash, "updated_at": to_db(utcnow())}
        )
        self.changes.record("user", user_id, "updated")

    def password_hash_of(self, user_id: int) -> str | None:
        """The stored hash of a user ('' or None: no password set yet)."""
        row = self.db.row("SELECT password_hash FROM users WHERE id = ?", (user_id,))
        return row["password_hash"] if row else None

    def update(self, user_id: int, settings: AccountSettings) -> User:
        """Write the account's settings (nothing, when they are as stored); a change of what
        renderings show of it (name, email, role) raises its ``render_version``."""
        current = self.get(user_id)
        if current is not None and current.settings != settings:
            self.db.update(
                "users", user_id, {**self._columns(settings), "updated_at": to_db(utcnow())}
            )
            version = self.changes.record("user", user_id, "updated")
            before, after = current.settings, settings
            if (before.name, before.email, before.role) != (after.name, after.email, after.role):
                self.db.update("users", user_id, {"render_version": version})
        return found(self.get(user_id), f"user {user_id}")
