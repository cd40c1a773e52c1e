"""SQL for locations."""

from __future__ import annotations

from typing import Any

from feedserver.model import Location, LocationSettings
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, found
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow


def _columns(settings: LocationSettings) -> dict[str, Any]:
    return {
        "code": settings.code,
        "name": settings.name,
        "address": settings.address,
        "timezone": settings.timezone,
        "external_id": settings.external_id,
    }


def _location(row: Row) -> Location:
    return Location(
        id=row["id"],
        code=row["code"],
        name=row["name"],
        address=row["address"],
        timezone=row["timezone"],
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
        external_id=row["external_id"],
    )


class LocationStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def id_of_external(self, external_id: str) -> int | None:
        """The id of the row the caller knows as ``external_id`` (None: none)."""
        value = self.db.scalar("SELECT id FROM locations WHERE external_id = ?", (external_id,))
        return None if value is None else int(value)

    def create(self, settings: LocationSettings) -> Location:
        now = to_db(utcnow())
        location_id = self.db.insert(
            "locations", {**_columns(settings), "created_at": now, "updated_at": now}
        )
        self.changes.record("location", location_id, "created")
        return found(self.get_by_id(location_id), f"location {location_id}")

    def get(self, code: str) -> Location | None:
        row = self.db.row("SELECT * FROM locations WHERE code = ?", (code,))
        return _location(row) if row else None

    def get_by_id(self, location_id: int) -> Location | None:
        row = self.db.row("SELECT * FROM locations WHERE id = ?", (location_id,))
        return _location(row) if row else None

    def list(self) -> list[Location]:
        return [_location(r) for r in self.db.rows("SELECT * FROM locations ORDER BY code")]

    def codes(self) -> dict[str, str]:
        """Every code with its location name, in code order."""
        return {
            r["code"]: r["name"]
            for r in self.db.rows("SELECT code, name FROM locations ORDER BY code")
        }

    def update(self, location_id: int, settings: LocationSettings) -> Location:
        """Write the location's settings (nothing, when they are as stored)."""
        current = self.get_by_id(location_id)
        if current is not None and current.settings != settings:
            self.db.update(
                "locations", location_id, {**_columns(settings), "updated_at": to_db(utcnow())}
            )
            self.changes.record("location", location_id, "updated")
        return found(self.get_by_id(location_id), f"location {location_id}")

    def delete(self, location_id: int) -> None:
        self.db.execute("DELETE FROM locations WHERE id = ?", (location_id,))
        self.changes.record("location", location_id, "deleted")

    def usage(self, location_id: int) -> tuple[int, int]:
        """How many bookings, and how many people (their primary location), refer to it."""
        bookings = self.db.scalar(
            "SELECT COUNT(*) FROM bookings WHERE location_id = ?", (location_id,)
        )
        people = self.db.scalar(
            "SELECT COUNT(*) FROM users WHERE primary_location_id = ?", (location_id,)
        )
        return int(bookings or 0), int(people or 0)
