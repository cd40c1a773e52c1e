"""The inbox: every inbound item is stored raw first, then processed; what fails is retried
and stays visible (``GET /api/inbox``), never silently dropped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial

from feedserver.inbound.pipeline import Pipeline
from feedserver.model import InboxFailure, InboxItem, InboxStatus
from feedserver.store import Store, StoreRunner

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class TooLargeItem(Exception):
    def __init__(self, item: InboxItem, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.item = item


def _process(pipeline: Pipeline, item_id: int, store: Store) -> InboxItem:
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
        self, runner: StoreRunner, pipeline: Pipeline, max_bytes: int, retry_seconds: float = 60.0
    ) -> None:
        self.runner = runner
        self.pipeline = pipeline
        self.max_bytes = max_bytes
        self.retry_seconds = retry_seconds
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

    async def process(self, item_id: int) -> InboxItem:
        async with self._lock:
            return await self.runner.run(partial(_process, self.pipeline, item_id))

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
        return [await self.process(item_id) for item_id in waiting]

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.retry_seconds)
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("inbox processing failed")
