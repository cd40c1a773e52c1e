"""SQL for reservation types (services)."""

from __future__ import annotations

import json
from typing import Any

from feedserver.model import Reminders, ReservationType, TypeSettings
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, found
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow


def _columns(settings: TypeSettings) -> dict[str, Any]:
    return {
        "key": settings.key,
        "name": settings.name,
        "duration_minutes": settings.duration_minutes,
        "buffer_before_minutes": settings.buffer_before_minutes,
        "buffer_after_minutes": settings.buffer_after_minutes,
        "online": int(settings.online),
        "color": settings.color,
        "attendees_visible": int(settings.attendees_visible),
        "title_visible": int(settings.title_visible),
        "on_site": int(settings.on_site),
        "reminders": _encode_reminders(settings.reminders),
        "external_id": settings.external_id,
    }


def _reminders(text: str | None) -> Reminders | None:
    if text is None:
        return None
    return tuple((int(r["before_minutes"]), tuple(r["to"])) for r in json.loads(text))


def _encode_reminders(rules: Reminders | None) -> str | None:
    if rules is None:
        return None
    return json.dumps([{"before_minutes": m, "to": list(to)} for m, to in rules])


def _type(row: Row) -> ReservationType:
    return ReservationType(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        duration_minutes=row["duration_minutes"],
        buffer_before_minutes=row["buffer_before_minutes"],
        buffer_after_minutes=row["buffer_after_minutes"],
        online=bool(row["online"]),
        color=row["color"],
        attendees_visible=bool(row["attendees_visible"]),
        title_visible=bool(row["title_visible"]),
        on_site=bool(row["on_site"]),
        reminders=_reminders(row["reminders"]),
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
        external_id=row["external_id"],
    )


class TypeStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def id_of_external(self, external_id: str) -> int | None:
        """The id of the row the caller knows as ``external_id`` (None: none)."""
        value = self.db.scalar(
            "SELECT id FROM reservation_types WHERE external_id = ?", (external_id,)
        )
        return None if value is None else int(value)

    def create(self, settings: TypeSettings) -> ReservationType:
        now = to_db(utcnow())
        type_id = self.db.insert(
            "reservation_types", {**_columns(settings), "created_at": now, "updated_at": now}
        )
        self.changes.record("type", type_id, "created")
        return found(self.get_by_id(type_id), f"reservation type {type_id}")

    def get(self, key: str) -> ReservationType | None:
        row = self.db.row("SELECT * FROM reservation_types WHERE key = ?", (key,))
        return _type(row) if row else None

    def get_by_id(self, type_id: int) -> ReservationType | None:
        row = self.db.row("SELECT * FROM reservation_types WHERE id = ?", (type_id,))
        return _type(row) if row else None

    def list(self) -> list[ReservationType]:
        return [_type(r) for r in self.db.rows("SELECT * FROM reservation_types ORDER BY key")]

    def update(self, type_id: int, settings: TypeSettings) -> ReservationType:
        """Write the type's settings (nothing, when they are as stored)."""
        current = self.get_by_id(type_id)
        if current is not None and current.settings != settings:
            self.db.update(
                "reservation_types", type_id, {**_columns(settings), "updated_at": to_db(utcnow())}
            )
            self.changes.record("type", type_id, "updated")
        return found(self.get_by_id(type_id), f"reservation type {type_id}")

    def delete(self, type_id: int) -> None:
        self.db.execute("DELETE FROM reservation_types WHERE id = ?", (type_id,))
        self.changes.record("type", type_id, "deleted")

    def usage(self, type_id: int) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM bookings WHERE type_id = ?", (type_id,)))
