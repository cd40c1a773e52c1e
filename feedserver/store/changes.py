"""The change log: every write appends a row; its highest version is the data version."""

from __future__ import annotations

from dataclasses import dataclass

from feedserver.store.db import Database
from feedserver.times import to_db, utcnow


@dataclass(frozen=True)
class Change:
    version: int
    entity: str  # "location", "type", "user", "booking", ...
    entity_id: int
    action: str  # "created", "updated", "deleted", ...


class ChangeLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, entity: str, entity_id: int, action: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO changes (entity, entity_id, action, at) VALUES (?, ?, ?, ?)",
            (entity, entity_id, action, to_db(utcnow())),
        )
        return int(cursor.lastrowid or 0)

    def version(self) -> int:
        return int(self.db.scalar("SELECT COALESCE(MAX(version), 0) FROM changes"))

    def since(self, version: int, limit: int = 10_000) -> list[Change]:
        rows = self.db.rows(
            "SELECT version, entity, entity_id, action FROM changes WHERE version > ? "
            "ORDER BY version LIMIT ?",
            (version, limit),
        )
        return [Change(**row) for row in rows]
