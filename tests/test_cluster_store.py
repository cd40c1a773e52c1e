"""What processes sharing one store coordinate through it, each process a connection of its
own here: leases, claims on outbox messages and inbox items, shared sign-in and rate counters,
the signing keys' check, writers taking turns, and (PostgreSQL) the notification of commits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from feedserver.cluster import SecretsMismatch, adopt_secrets, check_secrets
from feedserver.instance_secrets import InstanceSecrets
from feedserver.model import OutgoingMessage
from feedserver.store import Store, StoreUnavailable
from feedserver.store import postgres as pg
from feedserver.throttle import LoginThrottle, RateLimits
from feedserver.times import utcnow
from tests.conftest import BACKEND


@pytest.fixture
def two(database_url: str) -> Iterator[tuple[Store, Store]]:
    """Two processes' connections to one store."""
    first = Store(database_url)
    second = Store(database_url)
    yield first, second
    first.close()
    second.close()


def _message(n: int) -> OutgoingMessage:
    return OutgoingMessage(f"key-{n}", "confirmation", None, f"p{n}@example.org", "P", "S", "B", "")


def test_a_lease_is_held_by_one_process_until_it_runs_out_or_is_given_back(
    two: tuple[Store, Store],
) -> None:
    a, b = two
    now = utcnow()
    assert a.leases.take("reminders", "node-a", now + timedelta(seconds=30), now)
    assert not b.leases.take("reminders", "node-b", now + timedelta(seconds=30), now)
    assert a.leases.take("reminders", "node-a", now + timedelta(seconds=60), now)  # renewed
    assert b.leases.holder("reminders", now) == "node-a"
    later = now + timedelta(seconds=61)  # node-a died: its lease ran out
    assert b.leases.take("reminders", "node-b", later + timedelta(seconds=30), later)
    assert not a.leases.take("reminders", "node-a", later + timedelta(seconds=30), later)
    b.leases.release("reminders", "node-b")
    assert a.leases.take("reminders", "node-a", later + timedelta(seconds=30), later)


def test_each_outbox_message_is_claimed_by_one_process_and_taken_over_after_the_lease(
    two: tuple[Store, Store],
) -> None:
    a, b = two
    for n in range(3):
        with a.transaction():
            assert a.outbox.enqueue(_message(n))
    now = utcnow()
    lease = now + timedelta(seconds=60)
    claimed_a = a.outbox.claim_due(now, 1, "node-a", lease)
    claimed_b = b.outbox.claim_due(now, 5, "node-b", lease)
    assert len(claimed_a) == 1 and len(claimed_b) == 2
    assert {m.id for m in claimed_a}.isdisjoint({m.id for m in claimed_b})
    assert b.outbox.claim_due(now, 5, "node-b", lease) == []  # all claimed
    # node-b restarting under its name takes its own claims back, not node-a's.
    assert b.outbox.release_interrupted("node-b") == 2
    longer = lease + timedelta(seconds=120)
    assert {m.id for m in b.outbox.claim_due(now, 5, "node-b", longer)} == {m.id for m in claimed_b}
    # node-a died with its message: after its lease, another process sends it.
    after = lease + timedelta(seconds=1)
    taken = b.outbox.claim_due(after, 5, "node-b", after + timedelta(seconds=60))
    assert [m.id for m in taken] == [claimed_a[0].id]


def test_an_inbox_item_is_applied_by_one_process_at_a_time(two: tuple[Store, Store]) -> None:
    a, b = two
    with a.transaction():
        item = a.inbox.add("http", b"BEGIN:VCALENDAR", 15)
    now = utcnow()
    assert a.inbox.claim(item, "node-a", now + timedelta(seconds=60), now)
    assert not b.inbox.claim(item, "node-b", now + timedelta(seconds=60), now)
    later = now + timedelta(seconds=61)
    assert b.inbox.claim(item, "node-b", later + timedelta(seconds=60), later)
    b.inbox.release(item, "node-b")
    assert a.inbox.claim(item, "node-a", later, later)


def test_failed_sign_ins_on_two_processes_count_together(two: tuple[Store, Store]) -> None:
    a, b = two
    policy = LoginThrottle(attempts=5, base_seconds=1, max_seconds=60)
    for n in range(6):
        store = a if n % 2 else b
        with store.transaction():
            policy.on(store.limits).sign_in_failed("192.0.2.7", "maya@example.org")
    assert policy.on(a.limits).sign_in_wait("192.0.2.7", "maya@example.org") > 0
    assert policy.on(b.limits).sign_in_wait("192.0.2.7", "MAYA@example.org ") > 0
    # The same person from elsewhere, once verified there, is not locked out by the flood.
    policy.on(a.limits).sign_in_succeeded("198.51.100.1", "maya@example.org")
    assert policy.on(b.limits).sign_in_wait("198.51.100.1", "maya@example.org") == 0


def test_a_senders_items_per_hour_count_across_processes(two: tuple[Store, Store]) -> None:
    a, b = two
    limits = RateLimits({"sender": 3, "source": 0})
    keys = [("sender", "camille@example.org"), ("source", "192.0.2.9")]
    assert limits.on(a.limits).take(keys) is None
    assert limits.on(b.limits).take(keys) is None
    assert limits.on(a.limits).take(keys) is None
    refusal = limits.on(b.limits).take(keys)
    assert refusal is not None and refusal.key == "sender camille@example.org"
    assert 1100 < refusal.retry_after < 1210  # one item comes back in 3600/3 s
    assert limits.on(a.limits).take([("sender", "other@example.org")]) is None


def test_a_node_with_other_signing_keys_refuses_to_start_and_a_rotation_is_accepted(
    two: tuple[Store, Store],
) -> None:
    a, b = two
    first = InstanceSecrets("admin", ("key-one",))
    check_secrets(a, first)
    check_secrets(b, first)
    with pytest.raises(SecretsMismatch, match="share none"):
        check_secrets(b, InstanceSecrets("admin", ("someone-elses-key",)))
    rotated = InstanceSecrets("admin", ("key-two", "key-one"))  # a new key in front
    check_secrets(b, rotated)
    check_secrets(a, InstanceSecrets("admin", ("key-two",)))  # the old one dropped later
    with pytest.raises(SecretsMismatch):
        check_secrets(a, first)
    adopt_secrets(a, first)  # replacing every key, on purpose
    check_secrets(b, first)


def test_writers_take_turns_so_change_versions_commit_in_order(two: tuple[Store, Store]) -> None:
    a, b = two
    versions: dict[str, int] = {}
    waited: list[float] = []

    def second_writer() -> None:
        started = time.monotonic()
        with b.transaction():
            versions["b"] = b.changes.record("booking", 2, "created")
        waited.append(time.monotonic() - started)

    with a.transaction():
        versions["a"] = a.changes.record("booking", 1, "created")
        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.3)
        assert "b" not in versions  # it waits for its turn
    thread.join(10)
    assert versions["b"] > versions["a"] and waited[0] >= 0.25
    seen = [c.version for c in b.changes.since(0)]
    assert seen == sorted(seen) and versions["b"] == seen[-1]


@pytest.mark.skipif(BACKEND != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's")
async def test_every_commit_that_logs_a_change_wakes_the_listeners(database_url: str) -> None:
    heard = asyncio.Event()
    count = 0

    def changed() -> None:
        nonlocal count
        count += 1
        heard.set()

    follower = asyncio.create_task(pg.follow_changes(database_url, changed))
    try:
        await asyncio.wait_for(heard.wait(), 10)  # once on connecting
        heard.clear()
        store = Store(database_url)
        try:
            started = time.monotonic()
            with store.transaction():
                store.changes.record("booking", 1, "created")
                store.changes.record("booking", 2, "created")
            await asyncio.wait_for(heard.wait(), 5)
            assert time.monotonic() - started < 1
            await asyncio.sleep(0.2)
            assert count == 2  # one for the connection, one for the commit (not per row)
            heard.clear()
            with store.transaction():
                store.leases.take("x", "node", utcnow(), utcnow())  # logs no change
            await asyncio.sleep(0.3)
            assert not heard.is_set()
        finally:
            store.close()
    finally:
        follower.cancel()


@pytest.mark.skipif(BACKEND != "postgresql", reason="a server that drops the connection")
def test_a_dropped_connection_fails_one_call_then_the_store_answers_again(
    two: tuple[Store, Store],
) -> None:
    a, b = two
    pid = a.db.scalar("SELECT pg_backend_pid()")
    b.db.scalar("SELECT pg_terminate_backend(CAST(? AS integer))", (pid,))  # a restart, for a
    with pytest.raises(StoreUnavailable, match="does not answer"):
        a.changes.version()
    assert a.changes.version() == b.changes.version()  # connected again
    with a.transaction():
        a.changes.record("booking", 1, "created")
    assert b.changes.version() == a.changes.version()
