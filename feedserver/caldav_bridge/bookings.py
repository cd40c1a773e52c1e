"""Each user's read-only ``bookings`` calendar, answered from the store: no copy on disk.

Radicale asks its storage for collections and items; for ``/<user>/bookings`` this module
answers instead of the users' own calendars (``storage.DatabaseStorage.discover``). The
calendar shows the user's confirmed and pending bookings (as staff member or attendee),
rendered by the same renderer and fragment cache as the feeds, so a change is visible the
moment its transaction commits:

- an item's ETag is derived from versions, not content: the booking's version (the
  change-log version of its last change), the catalog's (locations, types, feed templates),
  its staff member's and the reader's ``render_version`` (name, email, role). Listing a
  calendar renders nothing; items are rendered on first use, all those of one request at once;
- a calendar-query with a time range asks the store for that range only;
- the sync-token (RFC 6578) is the calendar's version: the highest of those versions and of
  the last departure (a booking that left the calendar: moved to another staff member,
  cancelled, an attendee removed; see ``calendar_departures``). A sync since a token returns
  what changed after it, and what left it as deleted (404).

Radicale calls this on its own threads; every read runs on the store thread
(``StoreRunner.call``), which owns the fragment cache.
"""

from __future__ import annotations

import math
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from radicale.item import Item
from radicale.item import filter as radicale_filter
from radicale.storage import BaseCollection

from feedserver.caldav_bridge.reports import ReportScope, fresh_copy
from feedserver.caldav_bridge.rights import BOOKINGS
from feedserver.calendar.render import FragmentCache, Viewer, render_items
from feedserver.domain.catalog import load_catalog
from feedserver.domain.meetings import MeetingService
from feedserver.model import BookingKey, FeedFilters, User
from feedserver.numbers import is_whole
from feedserver.store import BookingQuery, Store, StoreRunner
from feedserver.store.bookings import VISIBLE

FILTERS = FeedFilters(include_pending=True, show_attendees=True)
SYNC_PREFIX = "urn:x-feedserver:sync:"
_EPOCH = format_datetime(datetime(1970, 1, 1, tzinfo=UTC), usegmt=True)


def item_href(key: BookingKey) -> str:
    """A booking's name in the calendar: its UID, with the booking id in front when the UID
    has characters that are not safe in a path segment."""
    safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in key.uid)
    return f"{safe}.ics" if safe and safe == key.uid else f"{key.id}-{safe}.ics"


def _timestamp(text: str) -> int:
    return math.floor(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _http_date(text: str) -> str:
    if not text:
        return _EPOCH
    return format_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")), usegmt=True)


@dataclass(frozen=True)
class Listing:
    """A user's bookings calendar (or the part of it in a time range), as keys."""

    user: User
    keys: tuple[BookingKey, ...]
    catalog_version: int
    user_version: int
    last_departure: int

    def etag(self, key: BookingKey) -> str:
        return f'"{key.version}-{self.catalog_version}-{key.staff_version}-{self.user_version}"'

    @property
    def version(self) -> int:
        """The calendar's version: what its sync-token and ctag are made of."""
        return max(
            (
                self.catalog_version,
                self.user_version,
                self.last_departure,
                *(k.version for k in self.keys),
                *(k.staff_version for k in self.keys),
            )
        )


def read_listing(
    store: Store, principal: str, start: datetime | None = None, end: datetime | None = None
) -> Listing | None:
    """The ``bookings`` calendar of the account ``principal`` names (None: no such account)."""
    user = store.users.get_by_email(principal)
    if user is None:
        return None
    query = BookingQuery(
        involving_user=(user.id, user.email), statuses=VISIBLE, start=start, end=end
    )
    return Listing(
        user,
        tuple(store.bookings.keys(query)),
        store.bookings.catalog_version(),
        store.users.render_version(user.id),
        store.bookings.last_departure(user.id),
    )


def sync_token(listing: Listing) -> str:
    return f"{SYNC_PREFIX}{listing.version}"


class BookingsCalendars:
    """Reads and renders the ``bookings`` calendars (on the store thread)."""

    def __init__(
        self,
        runner: StoreRunner,
        fragments: FragmentCache,
        meetings: MeetingService,
        display_name: str,
    ) -> None:
        self.runner = runner
        self.fragments = fragments
        self.meetings = meetings
        self.display_name = display_name

    def listing(
        self, principal: str, start: datetime | None = None, end: datetime | None = None
    ) -> Listing | None:
        """The calendar of the account ``principal`` names (None: no such account)."""

        return self.runner.call(lambda store: read_listing(store, principal, start, end))

    def changed_since(self, listing: Listing, version: int) -> tuple[list[str], list[str]]:
        """(hrefs changed or added, hrefs gone) in the calendar since ``version``. Raises
        ``ValueError`` for a version this store never had."""

        def read(store: Store) -> tuple[int, dict[int, str]]:
            return store.changes.version(), store.bookings.departures(listing.user.id, version)

        current, departed = self.runner.call(read)
        if version < 0 or version > current:
            raise ValueError(f"unknown sync token version {version}")
        everything = version < max(listing.catalog_version, listing.user_version)
        present = {k.id for k in listing.keys}
        changed = [
            item_href(k)
            for k in listing.keys
            if everything or k.version > version or k.staff_version > version
        ]
        gone = [
            item_href(BookingKey(i, 0, "", 0, False, "", "", uid=uid))
            for i, uid in sorted(departed.items())
            if i not in present
        ]
        return changed, gone

    def render(self, user: User, keys: Sequence[BookingKey]) -> dict[int, str]:
        """The calendar object resources of ``keys`` for ``user``, by booking id."""

        def run(store: Store) -> dict[int, bytes]:
            catalog = load_catalog(store, (k.staff_id for k in keys))
            loader = self.meetings.loader(store, user)
            return render_items(keys, loader, catalog, Viewer(user, FILTERS), self.fragments)

        return {i: body.decode("utf-8") for i, body in self.runner.call(run).items()}

    def collection(self, principal: str, reports: ReportScope) -> BookingsCollection | None:
        """The calendar of ``principal``; what REPORTs read of it is charged to ``reports``."""
        listing = self.listing(principal)
        return None if listing is None else BookingsCollection(self, principal, listing, reports)


class _Batch:
    """The items handed out together (one REPORT, one listing): rendered together, once the
    first of them is asked for its text."""

    def __init__(self, calendars: BookingsCalendars, user: User, keys: list[BookingKey]):
        self.calendars = calendars
        self.user = user
        self.keys = keys
        self._texts: dict[int, str] | None = None
        self._lock = threading.Lock()

    def text(self, key: BookingKey) -> str:
        with self._lock:
            if self._texts is None:
                self._texts = self.calendars.render(self.user, self.keys)
            texts = self._texts
        found = texts.get(key.id)
        if found is None:  # the renderer logged why
            raise RuntimeError(f"booking {key.id} could not be rendered")
        return found


class BookingItem(Item):
    """A booking in a bookings calendar; its text is rendered on first use."""

    def __init__(self, collection: BookingsCollection, key: BookingKey, batch: _Batch):
        timed = not key.all_day and not key.recurring and key.end_utc
        super().__init__(
            collection=collection,
            href=item_href(key),
            last_modified=_http_date(key.updated_at),
            text="",
            etag=collection.listing.etag(key),
            uid=key.uid,
            name="VCALENDAR",
            component_name="VEVENT",
            time_range=(_timestamp(key.start_utc), _timestamp(key.end_utc)) if timed else None,
        )
        self._text = None
        self._key = key
        self._batch = batch

    def serialize(self) -> str:
        if self._text is None:
            self._text = self._batch.text(self._key)
        return self._text

    @property
    def vobject_item(self) -> Any:
        self.serialize()
        return super().vobject_item

    def __copy__(self) -> BookingItem:
        """A copy with its own parsed component (see ``storage.ReportItem``)."""
        return fresh_copy(self)


class BookingsCollection(BaseCollection):
    """``/<principal>/bookings``: read-only; the guard refuses every write before Radicale."""

    def __init__(
        self,
        calendars: BookingsCalendars,
        principal: str,
        listing: Listing,
        reports: ReportScope,
    ):
        self.calendars = calendars
        self.principal = principal
        self.listing = listing
        self.reports = reports  # what a REPORT reads is charged before Radicale expands it

    @property
    def path(self) -> str:
        return f"{self.principal}/{BOOKINGS}"

    def _items(self, keys: Iterable[BookingKey]) -> list[BookingItem]:
        chosen = list(keys)
        batch = _Batch(self.calendars, self.listing.user, chosen)
        return [BookingItem(self, key, batch) for key in chosen]

    def item(self, href: str) -> BookingItem | None:
        """One item, rendered alone when asked for (a GET renders one booking, not all)."""
        key = next((k for k in self.listing.keys if item_href(k) == href), None)
        return self._items([key])[0] if key is not None else None

    # -- reading ------------------------------------------------------------------------------

    def get_all(self) -> Iterator[Item]:
        yield from self._items(self.listing.keys)

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, Item | None]]:
        wanted = list(dict.fromkeys(hrefs))
        by_href = {item_href(k): k for k in self.listing.keys}
        found = {i.href: i for i in self._items(by_href[h] for h in wanted if h in by_href)}
        for href in wanted:
            item = found.get(href)
            if item is not None and item._key.recurring:
                self.reports.charge(href, item.serialize())
            yield href, item

    def get_filtered(self, filters: Iterable[ET.Element]) -> Iterator[tuple[Item, bool]]:
        tag, start, end, simple = radicale_filter.simplify_prefilters(filters, "VCALENDAR")
        if tag not in (None, "VEVENT"):
            return
        # The collection holds the whole listing already: narrow it here, a day wider on
        # both sides (all-day bookings are floating dates, which the filter places in UTC).
        keys = [
            k
            for k in self.listing.keys
            if _timestamp(k.start_utc) < end + 86400
            and (not k.end_utc or _timestamp(k.end_utc) > start - 86400)
        ]
        for item in self._items(keys):
            exact = item._time_range  # single timed bookings only
            if exact is not None:
                if exact[0] >= end or exact[1] <= start:
                    continue
                yield item, simple
            else:
                if item._key.recurring:
                    self.reports.charge(item.href or "", item.serialize())
                yield item, False  # Radicale tests the filter on the rendered item

    def has_uid(self, uid: str) -> bool:
        return any(k.uid == uid for k in self.listing.keys)

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        token = sync_token(self.listing)
        if not old_token:
            return token, [item_href(k) for k in self.listing.keys]
        number = old_token.removeprefix(SYNC_PREFIX)
        if number == old_token or not is_whole(number):
            raise ValueError(f"not a sync token of this calendar: {old_token!r}")
        changed, gone = self.calendars.changed_since(self.listing, int(number))
        return token, changed + gone

    # -- properties ---------------------------------------------------------------------------

    def get_meta(self, key: str | None = None) -> Any:
        meta: Mapping[str, str] = {
            "tag": "VCALENDAR",
            "D:displayname": self.calendars.display_name,
            "C:supported-calendar-component-set": "VEVENT",
            "C:calendar-description": "Your bookings, kept by feedserver (read-only)",
        }
        return dict(meta) if key is None else meta.get(key)

    @property
    def etag(self) -> str:
        return f'"{self.listing.version}"'

    @property
    def last_modified(self) -> str:
        latest = max((k.updated_at for k in self.listing.keys), default="")
        return _http_date(latest)

    # -- writing: refused (``guard`` answers 403 before a request gets here) -------------------

    def upload(self, href: str, item: Item) -> Any:
        raise ValueError(f"the {BOOKINGS} calendar is read-only")

    def delete(self, href: str | None = None) -> None:
        raise ValueError(f"the {BOOKINGS} calendar is read-only")

    def set_meta(self, props: Mapping[str, str]) -> None:
        raise ValueError(f"the {BOOKINGS} calendar is read-only")
