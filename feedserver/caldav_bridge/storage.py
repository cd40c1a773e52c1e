"""Radicale storage on the store: users' own calendars live in the database (SQLite or
PostgreSQL), so every node behind a load balancer sees the same calendars; the ``bookings``
calendars are answered from the bookings themselves (``bookings``).

What Radicale kept as files and caches is kept in ``dav_collections``, ``dav_items`` and
``dav_tombstones`` (``feedserver.store.dav``):

- an item is stored as the client wrote it, with its UID, ETag, component and time range, so
  a PUT's UID check is one indexed lookup and a time-range REPORT reads only the items in
  range (no item is parsed to be listed or filtered);
- a collection's version rises with every change of it; its sync-token (RFC 6578) is
  ``urn:x-feedserver:dav:<collection id>:<version>``; a sync since a token returns the items
  written after it and, as deleted, the items removed after it;
- a collection's ETag and ctag are its id and version; no listing is read to make them.

Every item written (a client's PUT, a whole calendar, a MOVE) must keep to the recurrence
budget (``feedserver.calendar.rrules``): an item over it is refused with a ``ValueError``,
which Radicale answers 400. (The HTTP side refuses such a PUT earlier, with 403 and the
CalDAV ``max-instances`` precondition; this is the backstop for every other path.) A write to
a user's calendar is told to the bridge's capture (``Capture``).

Radicale calls this on its own threads; every read and write runs on the store thread
(``StoreRunner.call``). Writes of one server are serialised by the storage lock; the store's
transactions keep each write whole on every backend.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from email.utils import format_datetime
from typing import Any, Protocol

from radicale import pathutils
from radicale.item import Item
from radicale.item import filter as radicale_filter
from radicale.storage import BaseCollection, BaseStorage

from feedserver.caldav_bridge.bookings import BookingsCalendars
from feedserver.caldav_bridge.reports import ReportScope, fresh_copy
from feedserver.caldav_bridge.rights import BOOKINGS
from feedserver.calendar.rrules import RecurrenceBudget, calendar_problem
from feedserver.model import DavCollection, DavObject
from feedserver.store import Store, StoreRunner
from feedserver.times import utcnow

TOKEN_PREFIX = "urn:x-feedserver:dav:"  # noqa: S105 - a sync-token's prefix, no secret


class Capture(Protocol):
    """Told of every client write to a user's own calendars, inside the storage lock."""

    def put(self, path: str, href: str, text: str, uid: str, etag: str) -> None: ...

    def delete(self, path: str, href: str, text: str | None) -> None: ...

    def concerns_bridge(self, text: str) -> bool:
        """Whether a written item is one the bridge reads (it names the invite address)."""
        ...


def user_calendar(path: str) -> bool:
    """A calendar a user writes to: ``<user>/<calendar>``, not the ``bookings`` calendar."""
    parts = path.strip("/").split("/")
    return len(parts) == 2 and parts[1] != BOOKINGS


class ReportItem(Item):
    """A stored item handed to a REPORT, whose copies parse their own component.

    Radicale's expansion (``C:expand``) copies an item and then changes the copy's parsed
    component in place (it strips the VTIMEZONEs and replaces the series by its instances),
    once for each property asked. A shallow copy shares the component a filter parsed first,
    so the next property found a calendar without its series ("does not have a vevent
    without a recurrence_id": 400). The bookings calendars' items do the same."""

    def __copy__(self) -> ReportItem:
        return fresh_copy(self)


def _http_date(collection: DavCollection | DavObject) -> str:
    return format_datetime(collection.modified_at, usegmt=True)


class StoreCollection(BaseCollection):
    """A principal or a user's calendar, read from and written to the store."""

    def __init__(self, storage: DatabaseStorage, record: DavCollection) -> None:
        self._storage = storage
        self._record = record

    @property
    def path(self) -> str:
        return self._record.path

    def _call(self, fn: Any) -> Any:
        return self._storage.runner.call(fn)

    def _item(self, found: DavObject) -> ReportItem:
        return ReportItem(
            collection=self,
            href=found.href,
            last_modified=_http_date(found),
            text=found.text,
            etag=found.etag,
            uid=found.uid,
            name=found.name,
            component_name=found.component,
            time_range=(found.range_start, found.range_end),
        )

    def _charged(self, items: Iterable[DavObject]) -> Iterator[ReportItem]:
        for found in items:
            self._storage.reports.charge(found.href, found.text)
            yield self._item(found)

    # -- reading ---------------------------------------------------------------------------

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, Item | None]]:
        wanted = list(dict.fromkeys(hrefs))
        record_id = self._record.id
        found = {o.href: o for o in self._call(lambda s: s.dav.objects(record_id, wanted))}
        for href in wanted:
            item = found.get(href)
            if item is not None:
                self._storage.reports.charge(href, item.text)
            yield href, self._item(item) if item is not None else None

    def get_all(self) -> Iterator[Item]:
        record_id = self._record.id
        yield from self._charged(self._call(lambda s: s.dav.objects(record_id)))

    def get_filtered(self, filters: Iterable[Any]) -> Iterator[tuple[Item, bool]]:
        """Items a calendar-query may match: with a time range, only those the index puts
        in range are read."""
        if not self.tag:
            return
        tag, start, end, simple = radicale_filter.simplify_prefilters(filters, self.tag)
        record_id = self._record.id
        found = self._call(lambda s: s.dav.objects_between(record_id, tag, start, end))
        for item in self._charged(found):
            istart, iend = item.time_range
            yield item, simple and (start <= istart or iend <= end)

    def has_uid(self, uid: str) -> bool:
        record_id = self._record.id
        return self._call(lambda s: s.dav.href_of_uid(record_id, uid)) is not None

    def get_meta(self, key: str | None = None) -> Any:
        if key is None:
            return dict(self._record.props)
        return self._record.props.get(key)

    @property
    def etag(self) -> str:
        return f'"{self._record.id}-{self._record.version}"'

    @property
    def last_modified(self) -> str:
        return _http_date(self._record)

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        record = self._record
        token = f"{TOKEN_PREFIX}{record.id}:{record.version}"
        if not old_token:
            return token, [o.href for o in self._call(lambda s: s.dav.objects(record.id))]
        since = _token_version(old_token, record.id)
        if since > record.version:
            raise ValueError(f"sync token from the future: {old_token!r}")
        written, deleted = self._call(lambda s: s.dav.changed_since(record.id, since))
        return token, [*written, *deleted]

    # -- writing ---------------------------------------------------------------------------

    def upload(self, href: str, item: Item) -> tuple[Item, Item | None]:
        if not pathutils.is_safe_path_component(href):
            raise pathutils.UnsafePathError(href)
        text = item.serialize()
        refused = calendar_problem(text, self._storage.budget)
        if refused is not None:
            raise ValueError(f"{href}: {refused}")
        start, end = item.time_range
        written = DavObject(
            href, item.uid, item.etag, item.name, item.component_name, start, end, text, utcnow()
        )
        record_id = self._record.id
        old = self._call(lambda s: _in_transaction(s, lambda: s.dav.put(record_id, written)))
        capture = self._storage.capture
        if capture is not None and user_calendar(self.path):
            capture.put(self.path, href, text, written.uid, written.etag)
        return self._item(written), self._item(old) if old is not None else None

    def delete(self, href: str | None = None) -> None:
        path = self.path
        if href is None:
            self._call(lambda s: _in_transaction(s, lambda: s.dav.delete_collection(path)))
            return
        record_id = self._record.id
        capture = self._storage.capture

        def remove(store: Store) -> str | None:
            with store.transaction():
                old = store.dav.objects(record_id, [href])
                store.dav.remove(record_id, href)
            return old[0].text if old else None

        old_text = self._call(remove)
        if capture is not None and user_calendar(path):
            capture.delete(path, href, old_text)

    def set_meta(self, props: Mapping[str, str]) -> None:
        record_id = self._record.id
        values = dict(props)
        self._call(lambda s: s.dav.set_props(record_id, values))
        self._record = self._record._replace(props=values)


def _in_transaction(store: Store, fn: Any) -> Any:
    with store.transaction():
        return fn()


def _token_version(token: str, collection_id: int) -> int:
    """The version a sync-token of this collection names; ``ValueError`` for any other."""
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError(f"not a sync token of this server: {token!r}")
    owner, _, version = token[len(TOKEN_PREFIX) :].partition(":")
    if owner != str(collection_id) or not version.isdigit() or len(version) > 18:
        raise ValueError(f"not a sync token of this collection: {token!r}")
    return int(version)


class DatabaseStorage(BaseStorage):
    """Radicale's storage, on the store; set up by ``storage_class``."""

    # Names are rows, not files: any name a client writes is kept as written, as Radicale's
    # file storage did on Linux (control characters stay refused by Radicale itself).
    _is_collision_free = True
    _supports_unicode = True
    _supports_trailing_whitespace = True
    _supports_problematic_chars = True

    runner: StoreRunner
    capture: Capture | None = None
    budget: RecurrenceBudget = RecurrenceBudget()
    bookings: BookingsCalendars | None = None
    reports: ReportScope = ReportScope()

    def __init__(self, configuration: Any) -> None:
        super().__init__(configuration)
        self._write_lock = threading.RLock()

    def _collection(self, path: str) -> StoreCollection | None:
        record = self.runner.call(lambda s: s.dav.collection(path))
        return StoreCollection(self, record) if record is not None else None

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Any = None,
        user_groups: Any = frozenset(),
    ) -> Iterator[Any]:
        sane = pathutils.strip_path(path)
        parts = sane.split("/") if sane else []
        calendars = self.bookings
        if calendars is not None and len(parts) in (2, 3) and parts[1] == BOOKINGS:
            bookings = calendars.collection(parts[0], self.reports)
            if bookings is None:
                return
            if len(parts) == 3:
                item = bookings.item(parts[2])
                if item is not None:
                    yield item
                return
            yield bookings
            if depth != "0":
                yield from bookings.get_all()
            return
        collection = self._collection(sane)
        if collection is None and parts:
            # Not a collection: perhaps an item of one.
            parent = self._collection("/".join(parts[:-1])) if len(parts) > 1 else None
            if parent is not None:
                for _, stored in parent.get_multi([parts[-1]]):
                    if stored is not None:
                        yield stored
            return
        if collection is None:  # the root, which always exists
            collection = StoreCollection(self, DavCollection(0, "", {}, 0, utcnow()))
        yield collection
        if depth == "0":
            return
        if collection.tag:
            yield from collection.get_all()
        children = self.runner.call(lambda s: s.dav.children(sane))
        for child in children:
            if child_context_manager is not None:
                with child_context_manager(child.path, None):
                    yield StoreCollection(self, child)
            else:
                yield StoreCollection(self, child)
        if calendars is not None and len(parts) == 1:
            bookings = calendars.collection(parts[0], self.reports)
            if bookings is not None:
                yield bookings

    def move(self, item: Any, to_collection: Any, to_href: str) -> None:
        if not isinstance(to_collection, StoreCollection):
            raise ValueError("items move only between a user's own calendars")
        source = item.collection
        moved = Item(collection_path=to_collection.path, text=item.serialize(), href=to_href)
        to_collection.upload(to_href, moved)
        if isinstance(source, StoreCollection) and (
            source.path != to_collection.path or item.href != to_href
        ):
            source.delete(item.href)

    def create_collection(
        self, href: str, items: Any = None, props: Any = None
    ) -> tuple[BaseCollection, dict[str, Item], list[str]]:
        sane = pathutils.strip_path(href)
        if not props:
            record = self.runner.call(lambda s: s.dav.ensure_collection(sane))
            return StoreCollection(self, record), {}, []
        values = dict(props)
        listed = list(items or ()) if values.get("tag") else []
        for item in listed:
            refused = calendar_problem(item.serialize(), self.budget)
            if refused is not None:
                raise ValueError(f"{item.href or item.uid}: {refused}")

        def replace(store: Store) -> tuple[DavCollection, dict[str, DavObject], list[str]]:
            with store.transaction():
                before = store.dav.collection(sane)
                old = {o.href: o for o in store.dav.objects(before.id)} if before else {}
                record = store.dav.create_collection(sane, values)
                hrefs = []
                for item in listed:
                    href = item.href or _free_href(item, values.get("tag", ""))
                    start, end = item.time_range
                    store.dav.put(
                        record.id,
                        DavObject(
                            href,
                            item.uid,
                            item.etag,
                            item.name,
                            item.component_name,
                            start,
                            end,
                            item.serialize(),
                            utcnow(),
                        ),
                    )
                    hrefs.append(href)
                fresh = store.dav.collection(sane)
                return fresh or record, old, hrefs

        record, old, hrefs = self.runner.call(replace)
        collection = StoreCollection(self, record)
        replaced: dict[str, Item] = {
            href: collection._item(o) for href, o in old.items() if href in hrefs
        }
        new = [href for href in hrefs if href not in old]
        capture = self.capture
        if capture is not None and user_calendar(sane):
            for found in collection.get_multi(hrefs):
                if found[1] is not None:
                    capture.put(sane, found[0], found[1].serialize(), found[1].uid, found[1].etag)
            for href, gone in old.items():
                if href not in hrefs:
                    capture.delete(sane, href, gone.text)
        return collection, replaced, new

    @contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        if mode == "w":
            with self._write_lock:
                yield
        else:
            yield

    def verify(self) -> bool:
        return True


def _free_href(item: Item, tag: str) -> str:
    """A name for an item of a whole-calendar PUT: its UID when safe, else a random one."""
    suffix = ".vcf" if tag == "VADDRESSBOOK" else ".ics"
    name = f"{item.uid}{suffix}" if item.uid else ""
    if name and pathutils.is_safe_path_component(name) and len(name) < 200:
        return name
    return f"{uuid.uuid4()}{suffix}"


def storage_class(
    runner: StoreRunner,
    capture: Capture | None,
    budget: RecurrenceBudget,
    bookings: BookingsCalendars | None,
    reports: ReportScope,
) -> type[DatabaseStorage]:
    """The storage Radicale instantiates, bound to this server's store, capture of client
    writes, recurrence budget, bookings calendars and REPORT budget."""

    class FeedserverStorage(DatabaseStorage):
        pass

    FeedserverStorage.runner = runner
    FeedserverStorage.capture = capture
    FeedserverStorage.budget = budget
    FeedserverStorage.bookings = bookings
    FeedserverStorage.reports = reports
    return FeedserverStorage
