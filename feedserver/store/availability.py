"""SQL for availability: staff members' working hours."""

from __future__ import annotations

import json
from datetime import date, time

from feedserver.model import Hours, WorkingHours
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database
from feedserver.times import to_db, utcnow


def _hours(ranges: list[list[str]]) -> Hours:
    return tuple(
        (time.fromisoformat(a), time.max if b == "24:00" else time.fromisoformat(b))
        for a, b in ranges
    )


def _text(hours: Hours) -> list[list[str]]:
    return [[f"{a:%H:%M}", "24:00" if b == time.max else f"{b:%H:%M}"] for a, b in hours]


class WorkingHoursStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def get(self, user_id: int) -> WorkingHours | None:
        row = self.db.row("SELECT * FROM working_hours WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        return WorkingHours(
            timezone=row["timezone"],
            weekly={day: _hours(r) for day, r in json.loads(row["weekly"]).items()},
            exceptions={
                date.fromisoformat(x["date"]): _hours(x["hours"])
                for x in json.loads(row["exceptions"])
            },
        )

    def put(self, user_id: int, hours: WorkingHours) -> None:
        weekly = json.dumps({day: _text(r) for day, r in hours.weekly.items()})
        exceptions = json.dumps(
            [
                {"date": d.isoformat(), "hours": _text(r)}
                for d, r in sorted(hours.exceptions.items())
            ]
        )
        self.db.execute(
            "INSERT INTO working_hours (user_id, timezone, weekly, exceptions, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            "timezone = excluded.timezone, weekly = excluded.weekly, "
            "exceptions = excluded.exceptions, updated_at = excluded.updated_at",
            (user_id, hours.timezone, weekly, exceptions, to_db(utcnow())),
        )
        self.changes.record("user", user_id, "updated")

    def delete(self, user_id: int) -> None:
        self.db.execute("DELETE FROM working_hours WHERE user_id = ?", (user_id,))
        self.changes.record("user", user_id, "updated")
