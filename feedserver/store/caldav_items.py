"""SQL for CalDAV items: what the bridge has captured of users' own CalDAV calendars (path,
href -> UID and ETag) and each calendar's last sync token, for the reconciliation."""

from __future__ import annotations

import builtins

from feedserver.store.db import Database


class CaldavItemStore:
    """The CalDAV items the bridge has captured (path, href -> uid, etag) and sync tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def seen(self, path: str, href: str) -> tuple[str, str] | None:
        row = self.db.row(
            "SELECT uid, etag FROM caldav_items WHERE path = ? AND href = ?", (path, href)
        )
        return (row["uid"], row["etag"]) if row else None

    def paths(self) -> builtins.list[str]:
        """Every calendar the bridge has seen an item of, or holds a sync token for."""
        rows = self.db.rows(
            "SELECT DISTINCT path FROM caldav_items UNION SELECT path FROM caldav_sync"
        )
        return [r["path"] for r in rows]

    def for_path(self, path: str) -> dict[str, tuple[str, str]]:
        rows = self.db.rows("SELECT href, uid, etag FROM caldav_items WHERE path = ?", (path,))
        return {r["href"]: (r["uid"], r["etag"]) for r in rows}

    def remember(self, path: str, href: str, uid: str, etag: str) -> None:
        self.db.execute(
            "INSERT INTO caldav_items (path, href, uid, etag) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (path, href) DO UPDATE SET uid = excluded.uid, etag = excluded.etag",
            (path, href, uid, etag),
        )

    def forget(self, path: str, href: str) -> None:
        self.db.execute("DELETE FROM caldav_items WHERE path = ? AND href = ?", (path, href))

    def token(self, path: str) -> str:
        value = self.db.scalar("SELECT token FROM caldav_sync WHERE path = ?", (path,))
        return str(value) if value else ""

    def set_token(self, path: str, token: str) -> None:
        self.db.execute(
            "INSERT INTO caldav_sync (path, token) VALUES (?, ?) ON CONFLICT (path) "
            "DO UPDATE SET token = excluded.token",
            (path, token),
        )
