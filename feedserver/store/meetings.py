"""SQL for online meetings and attendees' meeting links."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

from feedserver.model import Meeting, MeetingLink
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, iter_chunks
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow


def _link(row: Row) -> MeetingLink:
    return MeetingLink(
        id=row["id"],
        meeting_id=row["meeting_id"],
        attendee_email=row["attendee_email"],
        nonce=row["nonce"],
        clicks=row["clicks"],
        last_click_at=from_db(row["last_click_at"]) if row["last_click_at"] else None,
        revoked_at=from_db(row["revoked_at"]) if row["revoked_at"] else None,
    )


def _meeting(row: Row, links: builtins.list[MeetingLink]) -> Meeting:
    return Meeting(
        id=row["id"],
        booking_id=row["booking_id"],
        provider=row["provider"],
        room_url=row["room_url"],
        created_at=from_db(row["created_at"]),
        links=tuple(links),
    )


class MeetingStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def _meeting(self, row: Row) -> Meeting:
        links = self.db.rows(
            "SELECT * FROM meeting_links WHERE meeting_id = ? ORDER BY id", (row["id"],)
        )
        return _meeting(row, [_link(r) for r in links])

    def for_booking(self, booking_id: int) -> Meeting | None:
        row = self.db.row("SELECT * FROM meetings WHERE booking_id = ?", (booking_id,))
        return self._meeting(row) if row else None

    def for_bookings(self, booking_ids: builtins.list[int]) -> dict[int, Meeting]:
        """The meetings of the bookings, with their links: two queries per 500 bookings."""
        found: dict[int, Meeting] = {}
        for start in range(0, len(booking_ids), 500):
            chunk = booking_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            meetings = self.db.rows(
                f"SELECT * FROM meetings WHERE booking_id IN ({marks})",  # noqa: S608
                chunk,
            )
            if not meetings:
                continue
            links: dict[int, builtins.list[MeetingLink]] = {r["id"]: [] for r in meetings}
            marks = ", ".join("?" for _ in meetings)
            for row in self.db.rows(
                f"SELECT * FROM meeting_links WHERE meeting_id IN ({marks}) ORDER BY id",  # noqa: S608
                list(links),
            ):
                links[row["meeting_id"]].append(_link(row))
            for row in meetings:
                found[row["booking_id"]] = _meeting(row, links[row["id"]])
        return found

    def create(self, booking_id: int, provider: str, room_url: str) -> Meeting:
        """The booking's meeting, as stored (it has no links yet)."""
        now = utcnow()
        meeting_id = self.db.insert(
            "meetings",
            {
                "booking_id": booking_id,
                "provider": provider,
                "room_url": room_url,
                "created_at": to_db(now),
            },
        )
        return Meeting(meeting_id, booking_id, provider, room_url, now)

    def create_many(self, items: Sequence[tuple[int, str, str]]) -> builtins.list[Meeting]:
        """Meetings of new bookings, (booking id, provider, room URL) each: one statement
        per 500 (an import's chunk)."""
        now = utcnow()
        made: builtins.list[Meeting] = []
        for chunk in iter_chunks(list(items), 500):
            marks = ", ".join("(?, ?, ?, ?)" for _ in chunk)
            rows = self.db.rows(
                "INSERT INTO meetings (booking_id, provider, room_url, created_at) "  # noqa: S608
                f"VALUES {marks} RETURNING id, booking_id",
                [v for item in chunk for v in (*item, to_db(now))],
            )
            ids = {r["booking_id"]: r["id"] for r in rows}
            made.extend(Meeting(ids[b], b, provider, url, now) for b, provider, url in chunk)
        return made

    def add_links(self, items: Sequence[tuple[int, str, str]]) -> builtins.list[MeetingLink]:
        """New links (meeting id, attendee email, nonce), for meetings that have none yet."""
        now = to_db(utcnow())
        made: builtins.list[MeetingLink] = []
        for chunk in iter_chunks(list(items), 500):
            marks = ", ".join("(?, ?, ?, ?)" for _ in chunk)
            rows = self.db.rows(
                "INSERT INTO meeting_links (meeting_id, attendee_email, nonce, created_at) "  # noqa: S608
                f"VALUES {marks} RETURNING id, meeting_id, attendee_email",
                [v for item in chunk for v in (*item, now)],
            )
            ids = {(r["meeting_id"], r["attendee_email"]): r["id"] for r in rows}
            made.extend(
                MeetingLink(ids[(m, email)], m, email, nonce, 0, None, None)
                for m, email, nonce in chunk
            )
        return made

    def add_link(self, meeting_id: int, attendee_email: str, nonce: str) -> MeetingLink | None:
        """The attendee's new link; None when they already have one."""
        link_id = self.db.insert_new(
            "INSERT INTO meeting_links (meeting_id, attendee_email, nonce, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (meeting_id, attendee_email, nonce, to_db(utcnow())),
        )
        if link_id is None:
            return None
        return MeetingLink(link_id, meeting_id, attendee_email, nonce, 0, None, None)

    def link(self, link_id: int) -> tuple[MeetingLink, Meeting] | None:
        row = self.db.row("SELECT * FROM meeting_links WHERE id = ?", (link_id,))
        if row is None:
            return None
        meeting = self.db.row("SELECT * FROM meetings WHERE id = ?", (row["meeting_id"],))
        assert meeting is not None
        return _link(row), self._meeting(meeting)

    def click(self, link_id: int) -> None:
        self.db.execute(
            "UPDATE meeting_links SET clicks = clicks + 1, last_click_at = ? WHERE id = ?",
            (to_db(utcnow()), link_id),
        )

    def revoke_link(self, link_id: int, booking_id: int) -> None:
        self.db.update("meeting_links", link_id, {"revoked_at": to_db(utcnow())})
        # The booking's feeds and calendars show the link: they must render again.
        self.changes.record("booking", booking_id, "meeting_link_revoked")

    def in_period(self, start: datetime, end: datetime) -> builtins.list[int]:
        """Ids of bookings with a meeting, starting in [start, end)."""
        rows = self.db.rows(
            "SELECT m.booking_id FROM meetings m JOIN bookings b ON b.id = m.booking_id "
            "WHERE b.start_utc >= ? AND b.start_utc < ? ORDER BY b.start_utc",
            (to_db(start), to_db(end)),
        )
        return [r["booking_id"] for r in rows]
