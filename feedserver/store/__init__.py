"""The store: the only package that speaks SQL. Synchronous; ``StoreRunner`` runs it off the
event loop on one thread, which also serialises writes.

Two backends behind one contract (``db.Database``): SQLite, the embedded default, and
PostgreSQL, chosen by ``storage.database_url``."""

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
from feedserver.store.calendar_accounts import CalendarAccountStore, PushStore
from feedserver.store.changes import Change, ChangeLog
from feedserver.store.cluster import ClusterSettings, LeaseStore, LimitStore
from feedserver.store.dav import DavStore
from feedserver.store.db import Database, DatabaseURL, StoreUnavailable, open_database
from feedserver.store.events import EventStore, IdempotencyStore, WebhookStore
from feedserver.store.feed_links import FeedLinkStore, FeedTemplateStore
from feedserver.store.inbox import InboxStore
from feedserver.store.locations import LocationStore
from feedserver.store.meetings import MeetingStore
from feedserver.store.migrations import MIGRATIONS
from feedserver.store.notifications import OutboxStore, SettingsStore, TemplateStore
from feedserver.store.reminders import ReminderStore
from feedserver.store.sessions import SessionStore
from feedserver.store.types import TypeStore
from feedserver.store.users import UserStore

__all__ = [
    "BookingQuery",
    "Change",
    "DatabaseURL",
    "Store",
    "StoreRunner",
    "StoreUnavailable",
]

T = TypeVar("T")


class Store:
    def __init__(
        self, url: Path | str, copy_of: Path | str | None = None, migrate: bool = True
    ) -> None:
        """The store at ``url`` (a SQLite file path or URL, or a PostgreSQL URL), its schema
        brought up to date."""
        self.db: Database = open_database(url, copy_of)
        if migrate:
            try:
                self.db.migrate()
            except BaseException:
                self.db.close()
                raise
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
        self.dav = DavStore(self.db, self.changes)
        self.sessions = SessionStore(self.db)
        self.reminders = ReminderStore(self.db)
        self.working_hours = WorkingHoursStore(self.db, self.changes)
        self.busy_calendars = BusyCalendarStore(self.db)
        self.leases = LeaseStore(self.db)
        self.limits = LimitStore(self.db)
        self.cluster = ClusterSettings(self.db)
        self.events = EventStore(self.db, self.changes)
        self.webhooks = WebhookStore(self.db, self.changes)
        self.idempotency = IdempotencyStore(self.db)
        self.calendar_accounts = CalendarAccountStore(self.db, self.changes)
        self.push = PushStore(self.db, self.changes)

    @classmethod
    def scratch(cls, url: Path | str) -> Store:
        """A store whose writes are all thrown away when it closes: what a dry run writes to.
        SQLite: a private copy of the database in memory (SQLite's online backup);
        PostgreSQL: the database itself, in one transaction never committed."""
        where = DatabaseURL.parse(url)
        if where.backend == "sqlite":
            return cls(":memory:", copy_of=where.target)
        store = cls(url)
        store.db.begin_scratch()
        return store

    def schema_state(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(migrations this release knows and the database lacks, migrations the database
        has and this release does not know): both empty when the schema is current. Reads
        only."""
        known = {m.version for m in MIGRATIONS}
        recorded = set(self.db.recorded_migrations())
        return tuple(sorted(known - recorded)), tuple(sorted(recorded - known))

    def refresh_statistics(self, after_import: bool = False) -> None:
        """Keep PostgreSQL's planner informed: the small tables every query joins
        (autovacuum never analyzes a table of a few rows, and without statistics the planner
        can scan every booking to find one type's), and after an import the tables it filled
        (before autovacuum gets to them). Nothing on SQLite."""
        tables = ["locations", "reservation_types", "users"]
        if after_import:
            tables += ["bookings", "booking_attendees", "changes", "meetings", "meeting_links"]
            tables += ["events", "webhook_deliveries"]
        self.db.analyze(tables)

    @property
    def location(self) -> str:
        """Where the store is, for logs: the SQLite file, or the PostgreSQL URL without its
        password."""
        return self.db.location

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.db.backend

    def integrity(self) -> str:
        """ "ok" or what is wrong (SQLite's ``integrity_check``; PostgreSQL: the schema)."""
        return self.db.integrity()

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
