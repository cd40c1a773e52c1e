"""The store: the only package that speaks SQL. Synchronous; ``StoreRunner`` runs it off the
event loop on one thread, which also serialises writes."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

from feedserver.store.app_passwords import AppPasswordStore
from feedserver.store.availability import BusyCalendarStore, WorkingHoursStore
from feedserver.store.bookings import BookingQuery, BookingStore
from feedserver.store.bridged_events import BridgedEventStore
from feedserver.store.caldav_items import CaldavItemStore
from feedserver.store.changes import Change, ChangeLog
from feedserver.store.db import Database
from feedserver.store.feed_links import FeedLinkStore, FeedTemplateStore
from feedserver.store.inbox import InboxStore
from feedserver.store.locations import LocationStore
from feedserver.store.meetings import MeetingStore
from feedserver.store.notifications import OutboxStore, SettingsStore, TemplateStore
from feedserver.store.reminders import ReminderStore
from feedserver.store.sessions import SessionStore
from feedserver.store.types import TypeStore
from feedserver.store.users import UserStore

__all__ = ["BookingQuery", "Change", "Store", "StoreRunner"]

T = TypeVar("T")


class Store:
    def __init__(self, path: Path | str, copy_of: Path | str | None = None) -> None:
        self.db = Database(path, copy_of)
        self.db.migrate()
        self.changes = ChangeLog(self.db)
        self.locations = LocationStore(self.db, self.changes)
        self.types = TypeStore(self.db, self.changes)
        self.users = UserStore(self.db, self.changes)
        self.bookings = BookingStore(self.db, self.changes)
        self.feed_links = FeedLinkStore(self.db, self.changes)
        self.feed_templates = FeedTemplateStore(self.db, self.changes)
        self.app_passwords = AppPasswordStore(self.db, self.changes)
        self.outbox = OutboxStore(self.db, self.changes)
        self.notification_settings = SettingsStore(self.db)
        self.email_templates = TemplateStore(self.db)
        self.meetings = MeetingStore(self.db, self.changes)
        self.inbox = InboxStore(self.db, self.changes)
        self.bridge_events = BridgedEventStore(self.db)
        self.caldav_items = CaldavItemStore(self.db)
        self.sessions = SessionStore(self.db)
        self.reminders = ReminderStore(self.db)
        self.working_hours = WorkingHoursStore(self.db, self.changes)
        self.busy_calendars = BusyCalendarStore(self.db)

    @classmethod
    def copy_in_memory(cls, path: Path | str) -> Store:
        """A private in-memory copy of the database at ``path`` (SQLite's online backup):
        what a dry run writes to and throws away."""
        return cls(":memory:", copy_of=path)

    def snapshot(self, path: Path) -> None:
        """A consistent copy of the database into the new file ``path`` (SQLite's online
        backup: writers go on meanwhile; the copy is the database at one moment)."""
        self.db.snapshot(path)

    def integrity(self) -> str:
        """SQLite's ``integrity_check``: "ok" or what is wrong."""
        return str(self.db.scalar("PRAGMA integrity_check"))

    def transaction(self) -> AbstractContextManager[None]:
        return self.db.transaction()

    def close(self) -> None:
        self.db.close()


class StoreRunner:
    """Runs store work on a single dedicated thread, keeping the caller's context (request id)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._submitted = 0  # jobs handed to the store thread (under the lock)
        self._finished = 0  # jobs it finished (written by the store thread only)
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """Whether the store thread has work: the feed gate then holds feeds back."""
        return self._submitted != self._finished

    def others_waiting(self) -> bool:
        """From a job on the store thread: whether other jobs wait behind it (a long job then
        stops at its next step and queues the rest: ``InboxService``)."""
        return self._submitted - self._finished > 1

    def _job(self, fn: Callable[[Store], T]) -> Callable[[], T]:
        context = contextvars.copy_context()
        with self._lock:
            self._submitted += 1

        def job() -> T:
            try:
                return context.run(fn, self.store)
            finally:
                self._finished += 1

        return job

    async def run(self, fn: Callable[[Store], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._job(fn))

    def call(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn`` on the store thread and wait for it: for threads that are not the event
        loop's (Radicale's). Never from the store thread itself."""
        return self._executor.submit(self._job(fn)).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.store.close()
