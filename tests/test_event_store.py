"""The event log and webhook deliveries in the store, on both backends: claims that keep a
subject's deliveries in order and never give one to two processes, and a retention that
leaves no gap a cursor could fall into."""

from __future__ import annotations

from datetime import timedelta

from feedserver.domain import events
from feedserver.model import WebhookAttempt
from feedserver.store import Store
from feedserver.times import utcnow


def _log(store: Store, subject: str) -> int:
    with store.transaction():
        found = events.record(
            store, "booking.updated", subject, events.API, {"booking": {"id": subject}}
        )
    return found.id


def _done(store: Store, delivery_id: int, status: str = "delivered") -> None:
    attempt = WebhookAttempt(utcnow(), 200, "", 5, "")
    with store.transaction():
        store.webhooks.attempted(delivery_id, attempt, status, None)


def test_claims_follow_each_subject_in_order_and_are_never_shared(
    store: Store, database_url: str
) -> None:
    store.webhooks.create("https://example.org/hook", "", (), "sealed")
    for subject in ("booking 1", "booking 1", "booking 2", "booking 1", "booking 2"):
        _log(store, subject)
    other = Store(database_url)  # a second process
    try:
        now, until = utcnow(), utcnow() + timedelta(minutes=1)
        first = store.webhooks.claim_due(now, 10, "node-a", until)
        assert [(d.subject, d.event_id) for d in first] == [("booking 1", 1), ("booking 2", 3)]
        assert other.webhooks.claim_due(now, 10, "node-b", until) == []
        _done(store, first[0].id)
        second = other.webhooks.claim_due(utcnow(), 10, "node-b", until)
        assert [(d.subject, d.event_id) for d in second] == [("booking 1", 2)]
        # A failed-for-good delivery does not hold its subject's next ones back.
        _done(other, second[0].id, "failed")
        third = store.webhooks.claim_due(utcnow(), 10, "node-a", until)
        assert [d.event_id for d in third] == [4]
        # A node's claims run out: another takes them over.
        later = utcnow() + timedelta(minutes=2)
        taken = other.webhooks.claim_due(later, 10, "node-b", later + timedelta(minutes=1))
        assert sorted(d.event_id for d in taken) == [3, 4]
    finally:
        other.close()


def test_retention_keeps_what_waits_and_leaves_no_gap(store: Store) -> None:
    ids = [_log(store, f"booking {n}") for n in range(3)]  # no webhook: nothing waits
    store.webhooks.create("https://example.org/hook", "", (), "sealed")
    waiting = _log(store, "booking 9")
    after = _log(store, "booking 10")
    tomorrow = utcnow() + timedelta(days=1)
    assert store.events.purge(tomorrow) == 3
    assert store.events.purged_through() == ids[-1]
    assert [e.id for e in store.events.after(0, 10)] == [waiting, after]
    (first, second) = store.webhooks.claim_due(utcnow(), 10, "n", tomorrow)
    _done(store, first.id)
    store.events.purge(tomorrow)
    assert store.events.purged_through() == after - 1  # the one still waiting stays
    _done(store, second.id)
    store.events.purge(tomorrow)
    assert store.events.purged_through() == after and store.events.after(0, 10) == []


def test_events_logged_together_get_their_own_ids(store: Store) -> None:
    from feedserver.model import EventDraft

    _log(store, "booking 0")
    drafts = [EventDraft("booking.created", f"booking {n}", {"kind": "import"}, {}) for n in (7, 8)]
    with store.transaction():
        ids = store.events.append_many(drafts)
    found = {e.id: e.subject for e in store.events.after(0, 10)}
    assert [found[i] for i in ids] == ["booking 7", "booking 8"]
