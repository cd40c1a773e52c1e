"""The worker that sends reminders when they fall due.

Every ``[notifications] reminder_poll_seconds`` it takes the due reminders from the store
(``feedserver.domain.reminders`` planned them), and in one transaction per reminder queues its
messages in the outbox and marks it sent; a reminder whose occurrence has already begun (the
server was down past it) is marked skipped instead. Series are topped up once an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime

from feedserver.calendar.rrules import RecurrenceBudget
from feedserver.cluster import Lease, Node
from feedserver.domain import reminders
from feedserver.model import Status
from feedserver.notify.planner import Notifier
from feedserver.store import Store, StoreRunner
from feedserver.store.reminders import SENT, SKIPPED
from feedserver.times import utcnow

log = logging.getLogger(__name__)

TOP_UP_SECONDS = 3600


class ReminderWorker:
    def __init__(
        self,
        runner: StoreRunner,
        notifier: Notifier,
        default: reminders.Rules,
        budget: RecurrenceBudget,
        poll_seconds: float = 30,
        node: Node | None = None,
    ) -> None:
        """``node``: this process, when others share the store: reminders are sent where
        the lease "reminders" is held."""
        self.runner = runner
        self.lease = Lease(runner, node, "reminders", poll_seconds) if node else None
        self.notifier = notifier
        self.default = default
        self.budget = budget
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self.topped_up: float | None = None  # monotonic time of the last top-up (None: never)

    def send_due(self, store: Store, now: datetime) -> tuple[int, int]:
        """(sent, skipped) reminders due at ``now`` (runs on the store thread)."""
        sent = skipped = 0
        for reminder in store.reminders.due(now):
            with store.transaction():
                if not store.reminders.still_pending(reminder.id):
                    continue  # another process sent it meanwhile
                booking = store.bookings.get(reminder.booking_id)
                late = reminder.occurrence_start <= now
                if booking is None or booking.status is not Status.CONFIRMED or late:
                    store.reminders.mark(reminder.id, SKIPPED, now)
                    skipped += 1
                    continue
                self.notifier.remind(store, booking, reminder)
                store.reminders.mark(reminder.id, SENT, now)
                sent += 1
        return sent, skipped

    async def run_once(self, now: datetime | None = None) -> tuple[int, int]:
        if self.lease is not None and not await self.lease.held():
            return (0, 0)  # another process sends them
        moment = now or utcnow()
        done = await self.runner.run(lambda s: self.send_due(s, moment))
        if self.topped_up is None or time.monotonic() - self.topped_up >= TOP_UP_SECONDS:
            self.topped_up = time.monotonic()
            await self.runner.run(lambda s: reminders.top_up(s, self.default, moment, self.budget))
        if done != (0, 0):
            log.info("reminders", extra={"sent": done[0], "skipped": done[1]})
        return done

    async def _forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("reminder run failed")
            await asyncio.sleep(self.poll_seconds)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="reminders")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.lease is not None:
            await self.lease.release()
