"""SQL for feed links and feed templates."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from feedserver.model import FeedFilters, FeedLink, FeedTemplate, Scope
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, found
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow


def _maybe(value: str | None) -> datetime | None:
    return from_db(value) if value else None


def filters_from_json(text: str) -> FeedFilters:
    """Filters as stored (JSON): a feed link's, a calendar account's."""
    data: dict[str, Any] = json.loads(text)
    for name in ("types", "locations", "staff", "statuses"):
        data[name] = tuple(data.get(name, ()))
    return FeedFilters(**data)


_SELECT = (
    "SELECT f.*, u.deactivated_at AS owner_deactivated_at FROM feed_links f "
    "JOIN users u ON u.id = f.user_id"
)


def _link(row: Row) -> FeedLink:
    return FeedLink(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        scope=Scope(row["scope"]),
        filters=filters_from_json(row["filters"]),
        nonce=row["nonce"],
        revoked_at=_maybe(row["revoked_at"]),
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
        content_etag=row["content_etag"],
        content_changed_at=_maybe(row["content_changed_at"]),
        last_fetched_at=_maybe(row["last_fetched_at"]),
        fetch_count=row["fetch_count"],
        last_user_agent=row["last_user_agent"],
        owner_active=row["owner_deactivated_at"] is None,
    )


class FeedLinkStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def create(
        self, user_id: int, name: str, scope: Scope, filters: FeedFilters, nonce: str
    ) -> FeedLink:
        now = to_db(utcnow())
        link_id = self.db.insert(
            "feed_links",
            {
                "user_id": user_id,
                "name": name,
                "scope": scope.value,
                "filters": json.dumps(asdict(filters)),
                "nonce": nonce,
                "created_at": now,
                "updated_at": now,
            },
        )
        self.changes.record("feed_link", link_id, "created")
        return found(self.get(link_id), f"feed link {link_id}")

    def get(self, link_id: int) -> FeedLink | None:
        row = self.db.row(f"{_SELECT} WHERE f.id = ?", (link_id,))
        return _link(row) if row else None

    def list(self, user_id: int | None = None) -> list[FeedLink]:
        if user_id is None:
            rows = self.db.rows(f"{_SELECT} ORDER BY f.id")
        else:
            rows = self.db.rows(f"{_SELECT} WHERE f.user_id = ? ORDER BY f.id", (user_id,))
        return [_link(r) for r in rows]

    def owner_changed(self, user_id: int) -> None:
        """The owner was deactivated or reactivated: each link of theirs is logged as
        changed, so every node's feed service reads it again."""
        for row in self.db.rows("SELECT id FROM feed_links WHERE user_id = ?", (user_id,)):
            self.changes.record("feed_link", row["id"], "updated")

    def update(self, link_id: int, name: str, filters: FeedFilters) -> FeedLink:
        """A new name and filters; the nonce, so the URL, stays."""
        self.db.update(
            "feed_links",
            link_id,
            {"name": name, "filters": json.dumps(asdict(filters)), "updated_at": to_db(utcnow())},
        )
        self.changes.record("feed_link", link_id, "updated")
        return found(self.get(link_id), f"feed link {link_id}")

    def rotate(self, link_id: int, nonce: str) -> FeedLink:
        self.db.update("feed_links", link_id, {"nonce": nonce, "updated_at": to_db(utcnow())})
        self.changes.record("feed_link", link_id, "rotated")
        return found(self.get(link_id), f"feed link {link_id}")

    def revoke(self, link_id: int) -> FeedLink:
        now = to_db(utcnow())
        self.db.update("feed_links", link_id, {"revoked_at": now, "updated_at": now})
        self.changes.record("feed_link", link_id, "revoked")
        return found(self.get(link_id), f"feed link {link_id}")

    def rename_in_filters(self, kind: str, old: str, new: str) -> None:
        """A location code or type key changed: links that filter on it follow."""
        for row in self.db.rows("SELECT id, filters FROM feed_links"):
            filters = json.loads(row["filters"])
            if old in filters.get(kind, []):
                filters[kind] = sorted({new if v == old else v for v in filters[kind]})
                self.db.update(
                    "feed_links",
                    row["id"],
                    {"filters": json.dumps(filters), "updated_at": to_db(utcnow())},
                )
                self.changes.record("feed_link", row["id"], "updated")

    def record_content(self, link_id: int, etag: str, changed_at: datetime) -> None:
        """Remember the feed's current ETag and since when (a true Last-Modified across
        restarts). Not a change of the link: nothing is appended to the change log."""
        self.db.update(
            "feed_links", link_id, {"content_etag": etag, "content_changed_at": to_db(changed_at)}
        )

    def record_fetches(self, link_id: int, count: int, last: datetime, user_agent: str) -> None:
        """Add fetches counted by one process; the last fetch is the latest any process saw
        (processes flush in any order)."""
        at = to_db(last)
        self.db.execute(
            "UPDATE feed_links SET fetch_count = fetch_count + ?, "
            "last_user_agent = CASE WHEN last_fetched_at IS NULL OR last_fetched_at <= ? "
            "THEN ? ELSE last_user_agent END, "
            "last_fetched_at = CASE WHEN last_fetched_at IS NULL OR last_fetched_at <= ? "
            "THEN ? ELSE last_fetched_at END WHERE id = ?",
            (count, at, user_agent, at, at, link_id),
        )


def _of_type(type_id: int | None) -> tuple[str, tuple[int, ...]]:
    """The template of a type, or the default one (no type)."""
    return ("type_id IS NULL", ()) if type_id is None else ("type_id = ?", (type_id,))


class FeedTemplateStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    def list(self) -> list[FeedTemplate]:
        rows = self.db.rows(
            "SELECT f.*, t.key AS type_key FROM feed_templates f "
            "LEFT JOIN reservation_types t ON t.id = f.type_id ORDER BY t.key IS NOT NULL, t.key"
        )
        return [
            FeedTemplate(r["type_key"], r["summary"], r["description"], from_db(r["updated_at"]))
            for r in rows
        ]

    def save(self, type_id: int | None, summary: str, description: str) -> None:
        now = to_db(utcnow())
        where, params = _of_type(type_id)
        existing = self.db.scalar(f"SELECT id FROM feed_templates WHERE {where}", params)  # noqa: S608
        if existing is None:
            existing = self.db.insert(
                "feed_templates",
                {
                    "type_id": type_id,
                    "summary": summary,
                    "description": description,
                    "updated_at": now,
                },
            )
        else:
            self.db.update(
                "feed_templates",
                existing,
                {"summary": summary, "description": description, "updated_at": now},
            )
        self.changes.record("feed_template", int(existing), "saved")

    def delete(self, type_id: int | None) -> bool:
        where, params = _of_type(type_id)
        cursor = self.db.execute(f"DELETE FROM feed_templates WHERE {where}", params)  # noqa: S608
        if cursor.rowcount:
            self.changes.record("feed_template", type_id or 0, "deleted")
        return bool(cursor.rowcount)
