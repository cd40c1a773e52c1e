"""The feed gate: feeds start at most ``burst`` a turn of the event loop, in order, and only
one a millisecond while the store or CalDAV is busy; nothing is dropped."""

from __future__ import annotations

import asyncio

from feedserver.feeds.service import FeedGate


async def _request(gate: FeedGate, number: int, started: list[int]) -> None:
    if not gate.admit():
        await gate.wait()
    started.append(number)


async def test_at_most_a_burst_of_feeds_starts_in_one_turn_and_all_start_in_order() -> None:
    gate = FeedGate(burst=4)
    started: list[int] = []
    tasks = [asyncio.create_task(_request(gate, n, started)) for n in range(10)]
    await asyncio.sleep(0)  # one turn: every task ran up to the gate
    assert started == [0, 1, 2, 3]
    await asyncio.gather(*tasks)
    assert started == list(range(10))


async def test_feeds_yield_to_a_busy_store_and_trickle_meanwhile() -> None:
    busy = True
    gate = FeedGate(burst=32)
    gate.yield_to(lambda: busy)
    started: list[int] = []
    tasks = [asyncio.create_task(_request(gate, n, started)) for n in range(20)]
    await asyncio.sleep(0.0105)
    assert 1 <= len(started) <= 12  # about one a millisecond, not 20 at once
    busy = False
    await asyncio.gather(*tasks)
    assert started == list(range(20))


async def test_a_burst_of_zero_is_no_gate() -> None:
    gate = FeedGate(burst=0)
    gate.yield_to(lambda: True)
    assert all(gate.admit() for _ in range(1000))
