"""The inbox: every inbound item is stored raw first, then processed; what fails for a passing
reason is retried, and everything stays visible (``GET /api/inbox``) until the retention
period (``bridge.inbox_retention_days``) has passed since it was received and processed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from functools import partial

from feedserver.inbound.pipeline import Pipeline
from feedserver.model import InboxFailure, InboxItem, InboxStatus
from feedserver.store import Store, StoreRunner
from feedserver.times import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
_PRUNE_EVERY = 3600.0  # seconds between two deletions of items past retention


class TooLargeItem(Exception):
    def __init__(self, item: InboxItem, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.item = item


def _process(pipeline: Pipeline, item_id: int, only_waiting: bool, store: Store) -> InboxItem:
    if only_waiting and item_id not in store.inbox.waiting(MAX_ATTEMPTS):
        return store.inbox.one(item_id)  # processed meanwhile (by its request, or a retry)
    try:
        pipeline.process(store, store.inbox.one(item_id))
    except Exception as exc:  # kept, marked failed, retried later
        log.exception("inbound item failed", extra={"inbox_id": item_id})
        with store.transaction():
            store.inbox.finish(
                item_id,
                InboxStatus.FAILED,
                f"error: {type(exc).__name__}: {exc}",
                [],
                InboxFailure.ERROR,
            )
    return store.inbox.one(item_id)


class InboxService:
    def __init__(
        self,
        runner: StoreRunner,
        pipeline: Pipeline,
        max_bytes: int,
        retention_days: int = 30,
        retry_seconds: float = 60.0,
    ) -> None:
        self.runner = runner
        self.pipeline = pipeline
        self.max_bytes = max_bytes
        self.retention = timedelta(days=retention_days)
        self.retry_seconds = retry_seconds
        self._pruned_at = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

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
                else:
                    item_id = store.inbox.add(source, raw, size)
            return store.inbox.one(item_id)

        item = await self.runner.run(keep)
        if too_large:
            raise TooLargeItem(item, self.max_bytes)
        return item

    async def process(self, item_id: int, only_waiting: bool = False) -> InboxItem:
        """Apply an item (again: an admin's retry); ``only_waiting``: unless it has been
        processed since it was found waiting."""
        async with self._lock:
            return await self.runner.run(partial(_process, self.pipeline, item_id, only_waiting))

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
                    await self.prune()
            except Exception:
                log.exception("inbox processing failed")
