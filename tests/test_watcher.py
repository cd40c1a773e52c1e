"""The change watcher delivers each change once, in order, and a write's poke returns once
that write's changes are delivered, however many other writes keep coming."""

from __future__ import annotations

import asyncio
from pathlib import Path

from feedserver.store import Change, Store, StoreRunner
from feedserver.watcher import ChangeWatcher


def _write(store: Store) -> int:
    with store.transaction():
        return store.changes.record("booking", 1, "updated")


async def test_a_poke_delivers_what_was_written_before_it_while_writes_go_on(
    tmp_path: Path,
) -> None:
    runner = StoreRunner(Store(tmp_path / "w.db"))
    watcher = ChangeWatcher(runner, 3600, await runner.run(lambda s: s.changes.version()))
    delivered: list[int] = []

    async def subscriber(changes: list[Change]) -> None:
        delivered.extend(c.version for c in changes)
        await asyncio.sleep(0.002)  # a subscriber takes a little time (feeds, CalDAV)

    watcher.subscribe(subscriber)
    stop = asyncio.Event()

    async def stream() -> None:  # writes that never pause (the inbox applying a calendar)
        while not stop.is_set():
            await runner.run(_write)

    writers = [asyncio.create_task(stream()) for _ in range(4)]
    try:
        await asyncio.sleep(0.2)
        mine = await runner.run(_write)
        # Before: the poke looped until no change was left, which a steady stream never
        # allows; now it returns once everything up to its own write is delivered.
        await asyncio.wait_for(watcher.poke(), 2)
        assert mine in delivered
    finally:
        stop.set()
        await asyncio.gather(*writers)
    await watcher.poke()
    assert delivered == sorted(set(delivered))  # each once, in order
    assert delivered[-1] == await runner.run(lambda s: s.changes.version())
    runner.close()
