"""SQL for availability: staff members' working hours, their busy calendars and the busy
times read from them."""

from __future__ import annotations

import builtins
import json
from datetime import date, datetime, time

from feedserver.model import BusyCalendar, BusyTime, Hours, WorkingHours
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow


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


def _calendar(row: Row) -> BusyCalendar:
    return BusyCalendar(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        url=row["url"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_synced_at=from_db(row["last_synced_at"]) if row["last_synced_at"] else None,
        last_status=row["last_status"],
        last_error=row["last_error"],
        busy_count=row["busy_count"],
        kind=row["kind"],
        username=row["username"],
        secret=row["secret"],
        account_id=row["account_id"],
    )


class BusyCalendarStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        user_id: int,
        name: str,
        url: str,
        kind: str = "ics",
        username: str = "",
        secret: str = "",
        account_id: int | None = None,
    ) -> BusyCalendar:
        calendar_id = self.db.insert(
            "busy_calendars",
            {
                "user_id": user_id,
                "name": name,
                "url": url,
                "kind": kind,
                "username": username,
                "secret": secret,
                "account_id": account_id,
                "created_at": to_db(utcnow()),
            },
        )
        found = self.get(calendar_id)
        assert found is not None
        return found

    def get(self, calendar_id: int) -> BusyCalendar | None:
        row = self.db.row("SELECT * FROM busy_calendars WHERE id = ?", (calendar_id,))
        return _calendar(row) if row else None

    def list(self, user_id: int | None = None) -> builtins.list[BusyCalendar]:
        if user_id is None:
            rows = self.db.rows("SELECT * FROM busy_calendars ORDER BY id")
        else:
            rows = self.db.rows(
                "SELECT * FROM busy_calendars WHERE user_id = ? ORDER BY id", (user_id,)
            )
        return [_calendar(r) for r in rows]

    def of_account(self, account_id: int) -> BusyCalendar | None:
        row = self.db.row("SELECT * FROM busy_calendars WHERE account_id = ?", (account_id,))
        return _calendar(row) if row else None

    def delete(self, calendar_id: int) -> None:
        self.db.execute("DELETE FROM busy_times WHERE calendar_id = ?", (calendar_id,))
        self.db.execute("DELETE FROM busy_calendars WHERE id = ?", (calendar_id,))

    def replace_busy(
        self,
        calendar: BusyCalendar,
        busy: builtins.list[tuple[datetime, datetime, str]],
        etag: str,
        last_modified: str,
        at: datetime,
    ) -> None:
        """A successful read: its busy times replace the calendar's previous ones."""
        self.db.execute("DELETE FROM busy_times WHERE calendar_id = ?", (calendar.id,))
        for start, end, uid in busy:
            self.db.execute(
                "INSERT INTO busy_times (calendar_id, user_id, start_utc, end_utc, uid) "
                "VALUES (?, ?, ?, ?, ?)",
                (calendar.id, calendar.user_id, to_db(start), to_db(end), uid),
            )
        self.db.execute(
            "UPDATE busy_calendars SET etag = ?, last_modified = ?, last_synced_at = ?, "
            "last_status = 'ok', last_error = '', busy_count = ? WHERE id = ?",
            (etag, last_modified, to_db(at), len(busy), calendar.id),
        )

    def mark(self, calendar_id: int, status: str, error: str, at: datetime) -> None:
        """An unchanged (304) or failed read: the busy times already known stay."""
        self.db.execute(
            "UPDATE busy_calendars SET last_status = ?, last_error = ?, last_synced_at = ? "
            "WHERE id = ?",
            (status, error, to_db(at), calendar_id),
        )

    def users_with_busy_times(self) -> set[int]:
        return {r["user_id"] for r in self.db.rows("SELECT DISTINCT user_id FROM busy_times")}

    def busy_between(
        self, user_id: int, start: datetime, end: datetime
    ) -> builtins.list[BusyTime]:
        """The user's busy times overlapping [start, end)."""
        rows = self.db.rows(
            "SELECT t.start_utc, t.end_utc, c.name, t.uid FROM busy_times t "
            "JOIN busy_calendars c ON c.id = t.calendar_id "
            "WHERE t.user_id = ? AND t.start_utc < ? AND t.end_utc > ?",
            (user_id, to_db(end), to_db(start)),
        )
        return [
            BusyTime(from_db(r["start_utc"]), from_db(r["end_utc"]), r["name"], r["uid"])
            for r in rows
        ]
