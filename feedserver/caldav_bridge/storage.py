"""Radicale storage: users' own calendars on the filesystem, with an indexed UID lookup and
the recurrence budget; the ``bookings`` calendars answered from the store (``bookings``).

Every item written (a client's PUT, a whole calendar, feedserver's own publishing) must keep
to the recurrence budget (``feedserver.calendar.rrules``): an item over it is refused with a
``ValueError``, which Radicale answers 400. (The HTTP side refuses such a PUT earlier, with 403
and the CalDAV ``max-instances`` precondition; this is the backstop for every other path.)

Radicale's ``has_uid`` reads every item of a collection on each PUT (about 97 ms per PUT at
2,000 items). This storage keeps, per collection, a UID -> href index in memory: built by one
scan the first time a collection is asked, then kept current by every write that goes through
this storage (upload, delete, move, whole-collection PUT). All writes to the folder go through
it: Radicale runs embedded and nothing else writes there.

``/<user>/bookings`` never touches the filesystem: ``discover`` hands out the store-backed
collection and its items, and adds the collection to a listing of the user's principal.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol

from radicale import pathutils
from radicale.item import Item
from radicale.storage import multifilesystem

from feedserver.caldav_bridge.bookings import BookingsCalendars
from feedserver.caldav_bridge.reports import ReportScope, fresh_copy
from feedserver.caldav_bridge.rights import BOOKINGS
from feedserver.calendar.rrules import RecurrenceBudget, calendar_problem


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


def _for_report(item: Any) -> Any:
    if type(item) is Item:
        item.__class__ = ReportItem  # the same item; only copying it differs
    return item


class IndexedCollection(multifilesystem.Collection):
    _storage: IndexedStorage

    def has_uid(self, uid: str) -> bool:
        return uid in self._storage.uid_index(self)

    # -- what a REPORT reads is charged to its budget before Radicale expands it --------------

    def get_filtered(self, filters: Any) -> Iterator[tuple[Any, bool]]:
        for item, simple in super().get_filtered(filters):
            self._storage.reports.charge(item.href or "", item.serialize())
            yield _for_report(item), simple

    def get_multi(self, hrefs: Any) -> Iterator[tuple[str, Any]]:
        for href, item in super().get_multi(hrefs):
            if item is not None:
                self._storage.reports.charge(href, item.serialize())
            yield href, _for_report(item)

    def upload(self, href: str, item: Any) -> Any:
        refused = calendar_problem(item.serialize(), self._storage.budget)
        if refused is not None:
            raise ValueError(f"{href}: {refused}")
        result = super().upload(href, item)
        self._storage.index_put(self.path, href, item.uid)
        capture = self._storage.capture
        if capture is not None and user_calendar(self.path):
            capture.put(self.path, href, item.serialize(), item.uid, item.etag)
        return result

    def delete(self, href: str | None = None) -> None:
        capture = self._storage.capture
        old = None
        if capture is not None and href is not None and user_calendar(self.path):
            found = next(iter(self.get_multi([href])))[1]
            old = found.serialize() if found is not None else None
        super().delete(href)
        if href is None:
            self._storage.index_drop(self.path)
        else:
            self._storage.index_remove(self.path, href)
            if capture is not None and user_calendar(self.path):
                capture.delete(self.path, href, old)


class IndexedStorage(multifilesystem.Storage):
    _collection_class = IndexedCollection
    capture: Capture | None = None
    budget: RecurrenceBudget = RecurrenceBudget()
    bookings: BookingsCalendars | None = None
    reports: ReportScope = ReportScope()

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Any = None,
        user_groups: Any = frozenset(),
    ) -> Any:
        sane = pathutils.strip_path(path)
        parts = sane.split("/") if sane else []
        calendars = self.bookings
        if calendars is not None and len(parts) in (2, 3) and parts[1] == BOOKINGS:
            collection = calendars.collection(parts[0], self.reports)
            if collection is None:
                return
            if len(parts) == 3:
                item = collection.item(parts[2])
                if item is not None:
                    yield item
                return
            yield collection
            if depth != "0":
                yield from collection.get_all()
            return
        listed = False
        for found in super().discover(path, depth, child_context_manager, set(user_groups)):
            listed = True
            yield found
        if calendars is not None and listed and len(parts) == 1 and depth != "0":
            collection = calendars.collection(parts[0], self.reports)
            if collection is not None:
                yield collection

    def __init__(self, configuration: Any) -> None:
        super().__init__(configuration)
        self._uids: dict[str, dict[str, str]] = {}  # collection path -> uid -> href
        self._index_lock = threading.Lock()

    def uid_index(self, collection: IndexedCollection) -> dict[str, str]:
        with self._index_lock:
            found = self._uids.get(collection.path)
        if found is None:
            found = {item.uid: item.href for item in collection.get_all() if item.href}
            with self._index_lock:
                self._uids.setdefault(collection.path, found)
        return found

    def index_put(self, path: str, href: str, uid: str) -> None:
        with self._index_lock:
            index = self._uids.get(path)
            if index is not None:
                for old_uid in [u for u, h in index.items() if h == href and u != uid]:
                    del index[old_uid]
                index[uid] = href

    def index_remove(self, path: str, href: str) -> None:
        with self._index_lock:
            index = self._uids.get(path)
            if index is not None:
                for uid in [u for u, h in index.items() if h == href]:
                    del index[uid]

    def index_drop(self, path: str) -> None:
        with self._index_lock:
            for known in [p for p in self._uids if p == path or p.startswith(path + "/")]:
                del self._uids[known]

    def move(self, item: Any, to_collection: Any, to_href: str) -> None:
        from_path = item.collection.path
        super().move(item, to_collection, to_href)
        self.index_remove(from_path, item.href)
        self.index_put(to_collection.path, to_href, item.uid)

    def create_collection(self, href: str, items: Any = None, props: Any = None) -> Any:
        result = super().create_collection(href, items, props)
        self.index_drop(href.strip("/"))
        return result


def storage_class(
    capture: Capture | None,
    budget: RecurrenceBudget,
    bookings: BookingsCalendars | None,
    reports: ReportScope,
) -> type[IndexedStorage]:
    """The storage Radicale instantiates, bound to this server's capture of client writes,
    recurrence budget, bookings calendars and REPORT budget."""

    class FeedserverStorage(IndexedStorage):
        pass

    FeedserverStorage.capture = capture
    FeedserverStorage.budget = budget
    FeedserverStorage.bookings = bookings
    FeedserverStorage.reports = reports
    return FeedserverStorage
