"""Publishing bookings into each user's read-only ``bookings`` calendar in Radicale.

The publisher is a durable consumer of the change log: it keeps its own cursor in the database,
so after a restart it picks up every change made while it was down (the first start publishes
everything). A booking change re-renders that booking for the users it concerns (the staff
member and attendees who have an account) with the same renderer as the feeds; a change of a
location, type or template re-renders everything. What is published where is recorded in
``caldav_published``, so a booking that moves to another staff member, or is cancelled, is
removed from the calendars that had it. Radicale is written first and the record second:
replaying a batch after a crash rewrites the same items.

The API call that changed a booking does not wait: the change watcher only wakes the
publisher's task, which publishes within milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from radicale.item import Item

from feedserver.caldav_bridge.rights import BOOKINGS
from feedserver.caldav_bridge.server import RadicaleServer
from feedserver.calendar.render import Viewer, render_item
from feedserver.calendar.values import Catalog
from feedserver.domain.catalog import load_catalog
from feedserver.domain.meetings import MeetingService
from feedserver.model import Booking, FeedFilters, Status, User
from feedserver.store import BookingQuery, Change, Published, Store, StoreRunner

log = logging.getLogger(__name__)

CURSOR = "caldav-bookings"
VISIBLE = (Status.CONFIRMED.value, Status.PENDING.value)
FILTERS = FeedFilters(include_pending=True, show_attendees=True)
_EVERYTHING = {"location", "type", "feed_template"}
_BATCH = 2000  # changes read from the log at a time
_CHUNK = 200  # items written under one acquisition of Radicale's lock


@dataclass(frozen=True)
class Operation:
    """Put ``content`` at ``principal``/bookings/``href``, or remove it (content None)."""

    user_id: int
    booking_id: int
    principal: str
    href: str
    content: bytes | None
    content_hash: str = ""
    moved_from: str | None = None  # the principal (old email) that held it before


def _href(booking_id: int, uid: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in uid)
    return f"{safe or booking_id}.ics"


class BookingsPublisher:
    def __init__(
        self,
        runner: StoreRunner,
        radicale: RadicaleServer,
        calendar_name: str,
        meetings: MeetingService,
    ) -> None:
        self.runner = runner
        self.meetings = meetings
        self.radicale = radicale
        self.calendar_name = calendar_name
        self.published = 0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="caldav-publisher")
        self._wake.set()  # catch up with what changed while the server was down

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def on_changes(self, changes: list[Change]) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception:
                log.exception("CalDAV publishing failed; retrying in 5 s")
                await asyncio.sleep(5)
                self._wake.set()

    async def catch_up(self) -> None:
        """Publish every change not yet published (also what tests await)."""
        async with self._lock:
            while True:
                plan = await self.runner.run(self._plan)
                if plan is None:
                    return
                operations, version = plan
                # In chunks: each holds Radicale's write lock briefly, and a stop waits for
                # one chunk at most. What is written is recorded; the cursor moves at the end.
                for start in range(0, len(operations), _CHUNK):
                    chunk = operations[start : start + _CHUNK]
                    await self.radicale.run(self._apply, chunk)
                    await self.runner.run(partial(self._record, operations=chunk, version=None))
                    self.published += len(chunk)
                await self.runner.run(partial(self._record, operations=[], version=version))

    # -- planning (store thread) --------------------------------------------------------------

    def _plan(self, store: Store) -> tuple[list[Operation], int] | None:
        cursor = store.cursors.get(CURSOR)
        if cursor is None:
            return self._everything(store), store.changes.version()
        changes = store.changes.since(cursor, limit=_BATCH)
        if not changes:
            return None
        version = changes[-1].version
        if any(c.entity in _EVERYTHING for c in changes):
            return self._everything(store), version
        booking_ids = {c.entity_id for c in changes if c.entity == "booking"}
        for user_id in {c.entity_id for c in changes if c.entity == "user"}:
            booking_ids.update(p.booking_id for p in store.published.for_user(user_id))
            user = store.users.get(user_id)
            if user is not None:
                booking_ids.update(
                    store.bookings.ids(BookingQuery(involving_user=(user.id, user.email)))
                )
        bookings = [store.bookings.get(i) for i in sorted(booking_ids)]
        return self._operations(store, booking_ids, [b for b in bookings if b]), version

    def _everything(self, store: Store) -> list[Operation]:
        bookings = store.bookings.list(BookingQuery(statuses=VISIBLE))
        ids = {b.id for b in bookings} | {p.booking_id for p in store.published.all()}
        return self._operations(store, ids, bookings)

    def _operations(
        self, store: Store, booking_ids: Iterable[int], bookings: list[Booking]
    ) -> list[Operation]:
        catalog = load_catalog(store, (b.staff_id for b in bookings))
        by_id = {b.id: b for b in bookings}
        meetings = store.meetings.for_bookings(sorted(by_id))
        operations: list[Operation] = []
        for booking_id in sorted(booking_ids):
            before = {p.user_id: p for p in store.published.for_booking(booking_id)}
            booking = by_id.get(booking_id)
            now = (
                self._readers(store, booking)
                if booking is not None and booking.status.value in VISIBLE
                else {}
            )
            for user in now.values():
                assert booking is not None
                link = self.meetings.link_for_viewer(meetings.get(booking.id), booking, user)
                operations.extend(self._put(booking, user, catalog, before.get(user.id), link))
            for user_id, gone in before.items():
                if user_id not in now:
                    operations.append(
                        Operation(user_id, booking_id, gone.principal, gone.href, None)
                    )
        return operations

    def _readers(self, store: Store, booking: Booking) -> dict[int, User]:
        """The accounts whose calendar shows the booking: its staff member and attendees."""
        readers: dict[int, User] = {}
        staff = store.users.get(booking.staff_id)
        if staff is not None:
            readers[staff.id] = staff
        for attendee in booking.attendees:
            user = store.users.get_by_email(attendee.email)
            if user is not None:
                readers[user.id] = user
        return readers

    def _put(
        self,
        booking: Booking,
        user: User,
        catalog: Catalog,
        before: Published | None,
        meeting_link: str,
    ) -> list[Operation]:
        try:
            content = render_item(booking, catalog, Viewer(user, FILTERS), meeting_link)
        except Exception:
            log.exception("booking not published", extra={"booking_id": booking.id})
            return []
        digest = hashlib.sha256(content).hexdigest()
        principal = user.email.lower()
        if before is not None and before.content_hash == digest and before.principal == principal:
            return []
        moved = before.principal if before is not None and before.principal != principal else None
        href = _href(booking.id, booking.uid)
        return [Operation(user.id, booking.id, principal, href, content, digest, moved)]

    # -- applying (Radicale thread) ---------------------------------------------------------

    def _collection(self, principal: str, create: bool) -> Any:
        storage = self.radicale.storage
        path = f"/{principal}/{BOOKINGS}/"
        found = next(iter(storage.discover(path)), None)
        if found is not None or not create:
            return found
        if next(iter(storage.discover(f"/{principal}/")), None) is None:
            storage.create_collection(f"/{principal}/")
        created, _, _ = storage.create_collection(
            path,
            props={
                "tag": "VCALENDAR",
                "D:displayname": self.calendar_name,
                "C:supported-calendar-component-set": "VEVENT",
            },
        )
        return created

    def _remove(self, principal: str, href: str) -> None:
        collection = self._collection(principal, create=False)
        if collection is not None and next(collection.get_multi([href]))[1] is not None:
            collection.delete(href)

    def _apply(self, operations: list[Operation]) -> None:
        with self.radicale.storage.acquire_lock("w", "feedserver"):
            for op in operations:
                if op.moved_from:
                    self._remove(op.moved_from, op.href)
                if op.content is None:
                    self._remove(op.principal, op.href)
                    continue
                collection = self._collection(op.principal, create=True)
                item = Item(collection_path=collection.path, text=op.content.decode("utf-8"))
                item.prepare()
                collection.upload(op.href, item)

    # -- recording (store thread) -------------------------------------------------------------

    def _record(self, store: Store, *, operations: list[Operation], version: int | None) -> None:
        with store.transaction():
            for op in operations:
                if op.content is None:
                    store.published.remove(op.user_id, op.booking_id)
                else:
                    store.published.put(
                        Published(op.user_id, op.booking_id, op.principal, op.href, op.content_hash)
                    )
            if version is not None:
                store.cursors.set(CURSOR, version)
