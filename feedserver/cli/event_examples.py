"""The webhook events as feedserver really writes them, for the docs: each kind of change made
once on a throwaway store (the same domain code the server runs), its event read back and
shown as the body a webhook delivery and the change feed carry. Times and UIDs, which differ
on every run, are replaced by fixed ones so the generated docs are stable."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from typing import Any

from feedserver import config as config_mod
from feedserver import wiring
from feedserver.domain import accounts, bookings, busy, catalog, events, feed_links
from feedserver.domain.commands import BookingDraft, BookingPatch
from feedserver.model import (
    EVENT_TYPES,
    Attendee,
    InboxFailure,
    InboxStatus,
    OutgoingMessage,
    Status,
)
from feedserver.store import Store

_MOMENTS = {"timestamp", "created_at", "updated_at", "received_at", "revoked_at", "at"}
_SHOWN_AT = "2026-12-05T09:30:00Z"


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _SHOWN_AT
            if key in _MOMENTS and isinstance(item, str)
            else "7f3c1e9a-5b2d-4c8e-9a61-0d4b2f6e8c13@feedserver"
            if key == "uid"
            else _stable(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_stable(item) for item in value]
    return value


def _changes(store: Store, services: wiring.Services) -> None:
    catalog.create_location(store, {"code": "ANHQ", "name": "Annecy", "timezone": "Europe/Paris"})
    catalog.create_type(store, {"key": "haircut", "name": "Haircut", "duration_minutes": 45})
    staff = accounts.create_user(
        store, {"email": "camille@example.org", "name": "Camille", "role": "staff"}
    )
    effects = services.effects
    start = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    draft = BookingDraft(
        "haircut",
        "ANHQ",
        staff.id,
        start,
        attendees=(Attendee("ada@example.com", "Ada Lovelace"),),
        external_id="crm-1001",
    )
    made = bookings.create_booking(store, draft, effects=effects).after
    later = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    bookings.update_booking(store, made.id, BookingPatch(start=later), effects)
    with store.transaction():
        store.bookings.set_partstat(made.id, "ada@example.com", "ACCEPTED")
        effects.by(events.Origin("bridge", inbox_item=1)).replied(
            store, store.bookings.one(made.id), "ada@example.com"
        )
    pending = BookingDraft("haircut", "ANHQ", staff.id, start, status=Status.PENDING)
    other = bookings.create_booking(store, pending, effects=effects.by(events.Origin("import")))
    bookings.set_status(store, other.after.id, Status.CONFIRMED, effects)
    web = effects.by(events.Origin("web", user=staff.id))
    bookings.set_status(store, made.id, Status.CANCELLED, web)
    third = bookings.create_booking(store, pending, effects=effects).after
    bookings.set_status(store, third.id, Status.REJECTED, effects)
    with store.transaction():
        item_id = store.inbox.add("email", b"From: someone@example.net\r\n\r\n...", 40)
        reason = "BOOK-1: no location code (known: ANHQ) in LOCATION, SUMMARY or DESCRIPTION"
        store.inbox.finish(item_id, InboxStatus.REJECTED, reason, [], InboxFailure.NONE)
        events.inbox_rejected(store, store.inbox.one(item_id))
        store.outbox.enqueue(
            OutgoingMessage("example", "booked", made.id, "ada@example.com", "Ada", "S", "B", "")
        )
        message = store.outbox.list()[0]
        store.outbox.mark_failed_attempt(message.id, 1, "550 5.1.1 mailbox unavailable", None)
        events.notification_failed(store, store.outbox.one(message.id))
    link = feed_links.create_link(store, {"user": staff.id, "name": "Phone"})
    feed_links.revoke_link(store, link.id)
    calendar = busy.add_calendar(
        store,
        staff,
        {"name": "Own", "url": "https://calendar.example.net/camille.ics"},
        services.box,
    )
    with store.transaction():
        events.busy_calendar_failed(store, calendar, "HTTP 404 Not Found")


def examples() -> dict[str, dict[str, Any]]:
    """One body of each event type, by type."""
    with tempfile.TemporaryDirectory() as data:
        config = config_mod.load(
            None,
            environ={
                "FEEDSERVER_STORAGE_DATA_DIR": data,
                "FEEDSERVER_SECURITY_SECRET_KEYS": "docs",
            },
        )
        services = wiring.build(config, notify=False)
        store = Store(config.database_url)
        try:
            _changes(store, services)
            found: dict[str, dict[str, Any]] = {}
            for event in store.events.after(0, 1000):
                found.setdefault(event.type, _stable(events.envelope(event)))
        finally:
            store.close()
    missing = set(EVENT_TYPES) - set(found)
    assert not missing, f"no example of {sorted(missing)}"
    return {name: found[name] for name in EVENT_TYPES}


def as_json(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False)
