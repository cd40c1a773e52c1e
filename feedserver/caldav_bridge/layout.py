"""The CalDAV folder of older installations (``<data_dir>/caldav``), moved into the store.

Before the users' own calendars lived in the database, Radicale kept them as files under
``caldav/collection-root/``. At the first start on a release that keeps them in the store,
``migrate_folder`` reads that tree with Radicale's own file storage (so every item is read as
Radicale wrote it), writes each collection with its properties and items into the store,
then checks the copy: the same collections, the same items, and each item's text the same
(SHA-256) read back from the store. Only then is the folder renamed aside
(``caldav.migrated-<time>``), never deleted. A folder whose copy does not check stays where
it is and the server does not start, with the reason.

The ``bookings`` folders of layout 1 (copies of the bookings, now answered from the store)
are left out of the copy.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import radicale.config
from radicale.storage import multifilesystem

from feedserver.caldav_bridge.rights import BOOKINGS
from feedserver.model import DavObject
from feedserver.store import Store
from feedserver.times import utcnow

log = logging.getLogger(__name__)


class FolderMigrationError(Exception):
    """The files were not copied into the store faithfully; the folder is left as it was."""


@dataclass(frozen=True)
class FolderMigration:
    collections: int
    items: int
    moved_to: Path | None


@dataclass(frozen=True)
class _Read:
    path: str
    props: dict[str, str]
    items: list[DavObject]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _read_folder(folder: Path) -> list[_Read]:
    """Every collection of the tree (principals, calendars, address books) and its items."""
    configuration = radicale.config.load()
    configuration.update(
        {"storage": {"type": "multifilesystem", "filesystem_folder": str(folder)}},
        "feedserver-migration",
        privileged=True,
    )
    files = multifilesystem.Storage(configuration)
    found: list[_Read] = []
    pending = [""]
    with files.acquire_lock("r"):
        while pending:
            path = pending.pop()
            for entry in files.discover(f"/{path}/" if path else "/", depth="1"):
                child = getattr(entry, "path", None)
                if not isinstance(child, str) or child == path or not child:
                    continue
                if child.split("/")[-1] == BOOKINGS and child.count("/") == 1:
                    continue  # layout 1's copy of the bookings: answered from the store now
                collection: Any = entry
                items = [
                    DavObject(
                        item.href or "",
                        item.uid,
                        item.etag,
                        item.name,
                        item.component_name,
                        item.time_range[0],
                        item.time_range[1],
                        item.serialize(),
                        utcnow(),
                    )
                    for item in collection.get_all()
                ]
                found.append(_Read(child, dict(collection.get_meta()), items))
                pending.append(child)
    return found


def needs_migration(folder: Path) -> bool:
    return (folder / "collection-root").is_dir()


def migrate_folder(folder: Path, store: Store) -> FolderMigration:
    """Copy the files under ``folder`` into the store, check the copy, move the folder aside.
    Runs on the store's thread (or with a store of its own) before Radicale starts."""
    if not needs_migration(folder):
        return FolderMigration(0, 0, None)
    read = _read_folder(folder)
    items = sum(len(r.items) for r in read)
    log.info(
        "moving the CalDAV folder into the database",
        extra={"folder": str(folder), "collections": len(read), "items": items},
    )
    with store.transaction():
        for collection in sorted(read, key=lambda r: r.path.count("/")):
            if store.dav.collection(collection.path) is not None:
                raise FolderMigrationError(
                    f"the database already holds the collection {collection.path!r}; the "
                    f"folder {folder} was copied before (move it aside by hand)"
                )
            record = store.dav.create_collection(collection.path, collection.props)
            store.dav.put_many(record.id, collection.items)
    _check(read, store)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = folder.with_name(f"{folder.name}.migrated-{stamp}")
    folder.rename(aside)
    log.info(
        "CalDAV folder moved into the database; the files are kept aside",
        extra={"collections": len(read), "items": items, "kept_in": str(aside)},
    )
    return FolderMigration(len(read), items, aside)


def _check(read: list[_Read], store: Store) -> None:
    for collection in read:
        record = store.dav.collection(collection.path)
        if record is None:
            raise FolderMigrationError(f"{collection.path}: not in the database after the copy")
        if record.props != collection.props:
            raise FolderMigrationError(f"{collection.path}: its properties differ after the copy")
        copied = {o.href: _digest(o.text) for o in store.dav.objects(record.id)}
        original = {o.href: _digest(o.text) for o in collection.items}
        if copied != original:
            missing = sorted(set(original) - set(copied))
            raise FolderMigrationError(
                f"{collection.path}: {len(original)} items in the folder, {len(copied)} in "
                "the database" + (f" (missing: {', '.join(missing[:5])})" if missing else "")
            )
