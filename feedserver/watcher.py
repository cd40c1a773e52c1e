"""Follows the change log and tells subscribers what changed, in order, once.

Writes made through this process's API poke the watcher right away (so a revoked link is dead
when the DELETE returns). Writes from other processes (workers, other nodes, the CLI) are
picked up by polling every ``storage.change_poll_ms`` and, on PostgreSQL, at once: each commit
that logs a change notifies every listening node, which ``nudge``s its watcher. A feed asked
for while a nudge is being followed waits for it (``behind``): a link revoked on one node
is refused by the others as soon as they have heard of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from feedserver.store import Change, Store, StoreRunner

log = logging.getLogger(__name__)

Subscriber = Callable[[list[Change]], Awaitable[None]]


def _since(version: int, store: Store) -> tuple[list[Change], int]:
    """The changes after ``version`` (a batch) and the latest version now."""
    return store.changes.since(version), store.changes.version()


class ChangeWatcher:
    def __init__(self, runner: StoreRunner, interval_seconds: float, version: int) -> None:
        """``version``: the data version already known to every subscriber (the version when
        the store was opened: they load their state after it)."""
        self.runner = runner
        self.interval = interval_seconds
        self.version = version
        self._subscribers: list[Subscriber] = []
        self._lock = asyncio.Lock()
        self._nudged = asyncio.Event()
        self._following = False  # delivering what a nudge announced
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._poll(), name="change-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def poke(self) -> None:
        """Deliver every change made before the call. Changes made meanwhile wait for the next
        poke: a steady stream of writes (a 2,000-event calendar being applied) never keeps a
        write's request from answering."""
        async with self._lock:
            target = None
            while target is None or self.version < target:
                changes, latest = await self.runner.run(partial(_since, self.version))
                target = latest if target is None else target
                if not changes:
                    return
                for subscriber in self._subscribers:
                    await subscriber(changes)
                self.version = changes[-1].version

    def nudge(self) -> None:
        """Another process committed a change: follow it now rather than at the next poll."""
        self._nudged.set()

    @property
    def behind(self) -> bool:
        """Whether a change committed elsewhere is known of and not delivered yet."""
        return self._nudged.is_set() or self._following

    async def settle(self) -> None:
        """Before trusting what was learnt from earlier changes (a cached feed, a remembered
        login): deliver what another process is known to have committed."""
        if self.behind:
            await self.poke()

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudged.wait(), self.interval)
            self._following = self._nudged.is_set()
            self._nudged.clear()  # a nudge from now on is followed by the next round
            try:
                await self.poke()
            except Exception:
                log.exception("change delivery failed; retrying at the next poll")
            finally:
                self._following = False
