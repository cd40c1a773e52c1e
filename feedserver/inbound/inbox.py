"""The inbox: every inbound item is stored raw first, then processed; what fails for a passing
reason is retried, and everything stays visible (``GET /api/inbox``) until the retention
period (``bridge.inbox_retention_days``) has passed since it was received and processed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from feedserver.calendar import itip
from feedserver.calendar.itip import InboundEvent
from feedserver.cluster import LOCAL, Lease, Node
from feedserver.domain import events
from feedserver.inbound import mail
from feedserver.inbound.pipeline import Origin, Outcome, Pipeline, combine
from feedserver.model import InboxFailure, InboxItem, InboxStatus
from feedserver.store import Store, StoreRunner
from feedserver.throttle import RateLimits, Refusal
from feedserver.times import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MESSAGES = frozenset({"email", "http-message"})  # the sources whose items are emails
_VEVENT = re.compile(rb"^BEGIN:VEVENT\r?$", re.IGNORECASE | re.MULTILINE)
SLICE_SECONDS = 0.02  # of the store thread an item's events take while others wait for it
_PRUNE_EVERY = 3600.0  # seconds between two deletions of items past retention


class TooLargeItem(Exception):
    def __init__(self, item: InboxItem, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.item = item


def _load(item_id: int, only_waiting: bool, node: Node, store: Store) -> tuple[InboxItem, bool]:
    """The item, and whether to process it: not when ``only_waiting`` and it has been
    processed since it was found waiting (by its request, or a retry), nor when another
    process is applying it (its claim); else claimed by this one for its lease."""
    with store.transaction():
        item = store.inbox.one(item_id)
        if only_waiting and item_id not in store.inbox.waiting(MAX_ATTEMPTS):
            return item, False
        now = utcnow()
        return item, store.inbox.claim(item_id, node.name, node.until(now), now)


def _apply_slice(
    pipeline: Pipeline,
    pairs: list[tuple[InboundEvent, Origin]],
    others_waiting: Callable[[], bool],
    store: Store,
) -> list[Outcome]:
    """Apply events from the start of ``pairs`` until they are done or, after
    ``SLICE_SECONDS`` at least, other store work is waiting (one event at least)."""
    started = time.monotonic()
    outcomes = []
    for event, origin in pairs:
        outcomes.append(pipeline.apply_one(store, event, origin))
        if time.monotonic() - started >= SLICE_SECONDS and others_waiting():
            break
    return outcomes


def _release(item_id: int, holder: str, store: Store) -> None:
    store.inbox.release(item_id, holder)


def _finish(pipeline: Pipeline, item_id: int, outcome: Outcome, store: Store) -> InboxItem:
    pipeline.finish(store, item_id, outcome)
    return store.inbox.one(item_id)


class InboxService:
    def __init__(
        self,
        runner: StoreRunner,
        pipeline: Pipeline,
        max_bytes: int,
        limits: RateLimits,
        retention_days: int = 30,
        retry_seconds: float = 60.0,
        inline_max_events: int = 50,
        inline_max_bytes: int = 262_144,
        node: Node = LOCAL,
    ) -> None:
        """``node``: this process; items are claimed in its name while they are applied, and
        the retention runs where the lease "inbox-retention" is held."""
        self.runner = runner
        self.node = node
        self.retention_lease = Lease(runner, node, "inbox-retention", _PRUNE_EVERY)
        self.pipeline = pipeline
        self.max_bytes = max_bytes
        self.limits = limits
        self.inline_max_events = inline_max_events
        self.inline_max_bytes = inline_max_bytes
        self.retention = timedelta(days=retention_days)
        self.retry_seconds = retry_seconds
        self._pruned_at = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def admit(self, source: str, kind: str, raw: bytes) -> Refusal | None:
        """Charge an item to its source (a client address) and to its senders (the From
        address of an email, the ORGANIZERs of a calendar) before it is stored, or refuse it
        (``bridge.sender_items_per_hour``, ``bridge.source_items_per_hour``). The buckets
        are in the store: every process of a cluster charges the same."""
        senders = [mail.header_sender(raw)] if kind in MESSAGES else itip.organizers(raw)
        keys = [("source", source), *(("sender", s) for s in senders if s)]
        return await self.runner.run(lambda s: self.limits.on(s.limits).take(keys))

    def inline(self, raw: bytes) -> bool:
        """Whether an item is small enough to be applied before its request answers: at most
        ``inline_max_bytes``, and ``inline_max_events`` events by a count of their lines."""
        if len(raw) > self.inline_max_bytes:
            return False
        events = _VEVENT.finditer(raw)
        return sum(1 for _ in itertools.islice(events, self.inline_max_events + 1)) <= (
            self.inline_max_events
        )

    async def receive(self, source: str, raw: bytes) -> InboxItem:
        """Store an item as it came; an oversized one is kept (cut) and marked failed."""
        size = len(raw)
        too_large = size > self.max_bytes

        def keep(store: Store) -> InboxItem:
            with store.transaction():
                if too_large:
                    item_id = store.inbox.add(
                        source,
                        raw[: self.max_bytes],
                        size,
                        failure=InboxFailure.TOO_LARGE,
                        reason=f"too large: {size} bytes, the limit is {self.max_bytes}",
                    )
                    events.inbox_rejected(store, store.inbox.one(item_id))
                else:
                    item_id = store.inbox.add(source, raw, size)
            return store.inbox.one(item_id)

        item = await self.runner.run(keep)
        if too_large:
            raise TooLargeItem(item, self.max_bytes)
        return item

    async def process(self, item_id: int, only_waiting: bool = False) -> InboxItem:
        """Apply an item (again: an admin's retry); ``only_waiting``: unless it has been
        processed since it was found waiting. An error is kept on the item (failed, retried
        later)."""
        async with self._lock:
            item, due = await self.runner.run(partial(_load, item_id, only_waiting, self.node))
            if not due:
                return item
            try:
                outcome = await self._apply(item)
            except asyncio.CancelledError:
                # A stop: the item is handed back to whichever process applies it next.
                release = partial(_release, item_id, self.node.name)
                await asyncio.shield(self.runner.run(release))
                raise
            except Exception as exc:
                log.exception("inbound item failed", extra={"inbox_id": item_id})
                outcome = Outcome(
                    InboxStatus.FAILED,
                    f"error: {type(exc).__name__}: {exc}",
                    failure=InboxFailure.ERROR,
                )
            return await self.runner.run(partial(_finish, self.pipeline, item_id, outcome))

    async def process_soon(self, item_id: int, wait_seconds: float) -> InboxItem | None:
        """Apply a just-received item while its request waits, unless the items before it
        keep the inbox busy for longer than ``wait_seconds`` (one item is applied at a time,
        in order): None then, and it is applied in its turn in the background. None too when
        another process has taken it meanwhile (it is being applied there)."""
        deadline = time.monotonic() + wait_seconds
        while self._lock.locked():
            if time.monotonic() >= deadline:
                self.wake()
                return None
            await asyncio.sleep(0.02)
        item = await self.process(item_id, only_waiting=True)
        return None if item.status is InboxStatus.RECEIVED else item

    async def _apply(self, item: InboxItem) -> Outcome:
        """Parse off the store thread, then apply the events in slices: when other work waits
        for the store thread (the API, CalDAV, feeds), it gets it after ``SLICE_SECONDS``, so a
        2,000-event calendar delays no one's write for long."""
        work = await asyncio.to_thread(self.pipeline.read, item)
        if work.outcome is not None:
            return work.outcome
        if work.deleted:
            return await self.runner.run(lambda store: self.pipeline.deleted(store, item))
        groups = []
        for pairs in work.groups:
            outcomes: list[Outcome] = []
            while len(outcomes) < len(pairs):
                rest = pairs[len(outcomes) :]
                slice_ = partial(_apply_slice, self.pipeline, rest, self.runner.others_waiting)
                outcomes.extend(await self.runner.run(slice_))
            groups.append(outcomes)
        return combine(groups)

    def wake(self) -> None:
        """From any thread: there is something new to process."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox")
        self._wake.set()  # items received before a restart

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.retention_lease.release()

    async def drain(self) -> list[InboxItem]:
        """Process every waiting item now (also what tests await)."""
        waiting = await self.runner.run(lambda s: s.inbox.waiting(MAX_ATTEMPTS))
        return [await self.process(item_id, only_waiting=True) for item_id in waiting]

    async def prune(self) -> int:
        """Delete the finished items older than the retention period."""
        cutoff = utcnow() - self.retention

        def prune(store: Store) -> int:
            with store.transaction():
                return store.inbox.prune(cutoff)

        pruned = await self.runner.run(prune)
        if pruned:
            log.info("inbox items past retention deleted", extra={"count": pruned})
        return pruned

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.retry_seconds)
            self._wake.clear()
            try:
                await self.drain()
                if time.monotonic() - self._pruned_at > _PRUNE_EVERY:
                    self._pruned_at = time.monotonic()
                    if await self.retention_lease.held():
                        await self.prune()
            except Exception:
                log.exception("inbox processing failed")
