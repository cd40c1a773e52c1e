"""SQL for the users' own CalDAV calendars (what Radicale stored as files before): the
collections, their items and the items deleted (for sync-collection, RFC 6578).

Every change raises its collection's version in the same transaction, and records an item
deleted at that version; a sync since version N returns the items written after N and the
items deleted after N. A collection made again under the same path gets a new id, so tokens
of the old one are refused.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from feedserver.model import DavCollection, DavObject
from feedserver.store.changes import ChangeLog
from feedserver.store.db import Database, Row, iter_chunks
from feedserver.store.values import from_db, to_db
from feedserver.times import utcnow

_ITEM = "href, uid, etag, name, component, range_start, range_end, text, modified_at"


def _collection(row: Row) -> DavCollection:
    return DavCollection(
        row["id"],
        row["path"],
        json.loads(row["props"]),
        row["version"],
        from_db(row["modified_at"]),
    )


def _object(row: Row) -> DavObject:
    return DavObject(
        row["href"],
        row["uid"],
        row["etag"],
        row["name"],
        row["component"],
        row["range_start"],
        row["range_end"],
        row["text"],
        from_db(row["modified_at"]),
    )


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


class DavStore:
    def __init__(self, db: Database, changes: ChangeLog) -> None:
        self.db = db
        self.changes = changes

    # -- collections ----------------------------------------------------------------------

    def collection(self, path: str) -> DavCollection | None:
        row = self.db.row("SELECT * FROM dav_collections WHERE path = ?", (path,))
        return _collection(row) if row else None

    def children(self, path: str) -> builtins.list[DavCollection]:
        rows = self.db.rows("SELECT * FROM dav_collections WHERE parent = ? ORDER BY path", (path,))
        return [_collection(r) for r in rows]

    def create_collection(self, path: str, props: dict[str, str]) -> DavCollection:
        """A new, empty collection at ``path`` (one there before is replaced, its items
        and history gone: its sync-tokens are refused from now on)."""
        self.delete_collection(path)
        now = utcnow()
        collection_id = self.db.insert(
            "dav_collections",
            {
                "path": path,
                "parent": parent_of(path),
                "props": json.dumps(props, sort_keys=True),
                "version": 1,
                "modified_at": to_db(now),
            },
        )
        return DavCollection(collection_id, path, dict(props), 1, now)

    def ensure_collection(self, path: str) -> DavCollection:
        """The collection at ``path``, made (without properties) when missing."""
        return self.collection(path) or self.create_collection(path, {})

    def set_props(self, collection_id: int, props: dict[str, str]) -> None:
        self.db.execute(
            "UPDATE dav_collections SET props = ?, version = version + 1, modified_at = ? "
            "WHERE id = ?",
            (json.dumps(props, sort_keys=True), to_db(utcnow()), collection_id),
        )

    def delete_collection(self, path: str) -> int:
        """Delete the collection and every collection under it; how many were deleted."""
        prefix = path + "/"
        return self.db.execute(
            "DELETE FROM dav_collections WHERE path = ? OR substr(path, 1, CAST(? AS INTEGER)) = ?",
            (path, len(prefix), prefix),
        ).rowcount

    def all_collections(self) -> builtins.list[DavCollection]:
        return [_collection(r) for r in self.db.rows("SELECT * FROM dav_collections ORDER BY path")]

    # -- items ----------------------------------------------------------------------------

    def objects(
        self, collection_id: int, hrefs: Sequence[str] | None = None
    ) -> builtins.list[DavObject]:
        if hrefs is None:
            rows = self.db.rows(
                f"SELECT {_ITEM} FROM dav_items WHERE collection_id = ? ORDER BY href",  # noqa: S608
                (collection_id,),
            )
            return [_object(r) for r in rows]
        found: builtins.list[DavObject] = []
        for chunk in iter_chunks(list(dict.fromkeys(hrefs)), 500):
            marks = ", ".join("?" for _ in chunk)
            rows = self.db.rows(
                f"SELECT {_ITEM} FROM dav_items WHERE collection_id = ? "  # noqa: S608
                f"AND href IN ({marks})",
                (collection_id, *chunk),
            )
            found.extend(_object(r) for r in rows)
        return found

    def objects_between(
        self, collection_id: int, component: str | None, start: int, end: int
    ) -> builtins.list[DavObject]:
        """The items whose time range meets [start, end) (of one component, unless None)."""
        kind = " AND component = ?" if component is not None else ""
        rows = self.db.rows(
            f"SELECT {_ITEM} FROM dav_items WHERE collection_id = ? AND range_start < ? "  # noqa: S608
            f"AND range_end > ?{kind} ORDER BY href",
            (collection_id, end, start, *([component] if component is not None else [])),
        )
        return [_object(r) for r in rows]

    def href_of_uid(self, collection_id: int, uid: str) -> str | None:
        value = self.db.scalar(
            "SELECT href FROM dav_items WHERE collection_id = ? AND uid = ? LIMIT 1",
            (collection_id, uid),
        )
        return str(value) if value is not None else None

    def _bump(self, collection_id: int, now: datetime) -> int:
        """Raise the collection's version (its sync-token); the change log tells the
        processes watching it (WebDAV-Push)."""
        version = int(
            self.db.scalar(
                "UPDATE dav_collections SET version = version + 1, modified_at = ? "
                "WHERE id = ? RETURNING version",
                (to_db(now), collection_id),
            )
        )
        self.changes.record("dav_collection", collection_id, "updated")
        return version

    def put(self, collection_id: int, item: DavObject) -> DavObject | None:
        """Write an item (new or replacing the one at its href); the one replaced, if any."""
        old = self.objects(collection_id, [item.href])
        version = self._bump(collection_id, item.modified_at)
        self.db.execute(
            "INSERT INTO dav_items (collection_id, href, uid, etag, name, component, "
            "range_start, range_end, text, version, modified_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (collection_id, href) DO UPDATE SET uid = excluded.uid, "
            "etag = excluded.etag, name = excluded.name, component = excluded.component, "
            "range_start = excluded.range_start, range_end = excluded.range_end, "
            "text = excluded.text, version = excluded.version, "
            "modified_at = excluded.modified_at",
            (
                collection_id,
                item.href,
                item.uid,
                item.etag,
                item.name,
                item.component,
                item.range_start,
                item.range_end,
                item.text,
                version,
                to_db(item.modified_at),
            ),
        )
        self.db.execute(
            "DELETE FROM dav_tombstones WHERE collection_id = ? AND href = ?",
            (collection_id, item.href),
        )
        return old[0] if old else None

    def put_many(self, collection_id: int, items: Iterable[DavObject]) -> int:
        count = 0
        for item in items:
            self.put(collection_id, item)
            count += 1
        return count

    def remove(self, collection_id: int, href: str) -> bool:
        """Delete an item, remembering it for syncs; False when there was none."""
        gone = self.db.execute(
            "DELETE FROM dav_items WHERE collection_id = ? AND href = ?", (collection_id, href)
        ).rowcount
        if not gone:
            return False
        version = self._bump(collection_id, utcnow())
        self.db.execute(
            "INSERT INTO dav_tombstones (collection_id, href, version) VALUES (?, ?, ?) "
            "ON CONFLICT (collection_id, href) DO UPDATE SET version = excluded.version",
            (collection_id, href, version),
        )
        return True

    def changed_since(
        self, collection_id: int, version: int
    ) -> tuple[builtins.list[str], builtins.list[str]]:
        """(hrefs written after ``version``, hrefs deleted after it)."""
        written = self.db.rows(
            "SELECT href FROM dav_items WHERE collection_id = ? AND version > ? ORDER BY href",
            (collection_id, version),
        )
        deleted = self.db.rows(
            "SELECT href FROM dav_tombstones WHERE collection_id = ? AND version > ? ORDER BY href",
            (collection_id, version),
        )
        return [r["href"] for r in written], [r["href"] for r in deleted]

    def totals(self) -> tuple[int, int]:
        """(collections, items) in every user's tree."""
        return (
            int(self.db.scalar("SELECT COUNT(*) FROM dav_collections")),
            int(self.db.scalar("SELECT COUNT(*) FROM dav_items")),
        )
