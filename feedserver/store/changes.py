"""The change log: every write appends a row; its highest version is the data version."""

from __future__ import annotations

from dataclasses import dataclass

from feedserver.store.db import Database
from feedserver.store.values import to_db
from feedserver.times import utcnow


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
        return int(
            self.db.scalar(
                "INSERT INTO changes (entity, entity_id, action, at) VALUES (?, ?, ?, ?) "
                "RETURNING version",
                (entity, entity_id, action, to_db(utcnow())),
            )
        )

    def record_new(self, entity: str, table: str, action: str) -> tuple[int, int]:
        """Log the creation of the next row of ``table`` (its id: one more than the highest)
        before it is written; (that id, the change's version)."""
        row = self.db.execute(
            "INSERT INTO changes (entity, entity_id, action, at) "  # noqa: S608
            f"SELECT ?, COALESCE(MAX(id), 0) + 1, ?, ? FROM {table} "
            "RETURNING entity_id, version",
            (entity, action, to_db(utcnow())),
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def version(self) -> int:
        return int(self.db.scalar("SELECT COALESCE(MAX(version), 0) FROM changes"))

    def since(self, version: int, limit: int = 10_000) -> list[Change]:
        rows = self.db.rows(
            "SELECT version, entity, entity_id, action FROM changes WHERE version > ? "
            "ORDER BY version LIMIT ?",
            (version, limit),
        )
        return [Change(**row) for row in rows]
