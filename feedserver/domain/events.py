"""Events: what booking systems hear of, by webhook or from the change feed.

An event is logged in the same transaction as the change it tells of (``record``), and every
webhook that wants its type gets a delivery in that transaction too: nothing committed goes
unheard, nothing rolled back is told. Events are numbered in commit order (every write holds
the store's write lock), so the change feed (``feed``) reads them in order without gaps, and
a booking's events reach each endpoint in that order.

The body of an event, as both channels carry it (``envelope``)::

    {"id": "evt_42", "type": "booking.updated", "timestamp": "2026-12-05T10:00:00Z",
     "origin": {"kind": "api"}, "data": {...}}

``origin.kind`` says where the change came from: ``api``, ``import``, ``web`` (the web app),
``bridge`` (an emailed or HTTP invitation, with ``inbox_item``), ``calendar`` (an event
written to a CalDAV calendar, with ``inbox_item``) or ``system`` (feedserver itself: a
delivery that failed, a calendar that could not be read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from feedserver.domain.meetings import MeetingService
from feedserver.domain.views import booking_json
from feedserver.errors import CursorExpired, InvalidInput
from feedserver.model import (
    EVENT_TYPES,
    Booking,
    BusyCalendar,
    Event,
    EventDraft,
    InboxItem,
    Meeting,
    OutboxMessage,
)
from feedserver.numbers import is_whole
from feedserver.store import Store
from feedserver.times import iso_utc, utcnow

ORIGINS = ("api", "import", "web", "bridge", "calendar", "system")

# Sent to one endpoint on request (POST /api/webhooks/{id}/test); never in the change feed.
TEST_EVENT = "webhook.test"

_BOOKING_EVENTS = {
    "created": "booking.created",
    "changed": "booking.updated",
    "confirmed": "booking.confirmed",
    "cancelled": "booking.cancelled",
    "rejected": "booking.rejected",
}
# What ``booking.updated`` says changed, and the fields of the booking's JSON each covers.
CHANGE_KINDS: dict[str, tuple[str, ...]] = {
    "time": ("start", "end", "all_day", "timezone", "rrule", "exdates"),
    "place": ("location",),
    "staff": ("staff",),
    "attendees": ("attendees",),
    "type": ("type",),
    "details": ("title", "notes"),
}
FEED_LIMIT = 1000


@dataclass(frozen=True)
class Origin:
    """Where a change came from: ``kind`` (one of ``ORIGINS``), the inbox item of an
    invitation, the account that made it."""

    kind: str
    inbox_item: int | None = None
    user: int | None = None

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"kind": self.kind}
        if self.inbox_item is not None:
            found["inbox_item"] = self.inbox_item
        if self.user is not None:
            found["user"] = self.user
        return found


SYSTEM = Origin("system")
API = Origin("api")


def record(
    store: Store, event_type: str, subject: str, origin: Origin, data: dict[str, Any]
) -> Event:
    """Log an event and queue it for every webhook that wants it (the caller's transaction)."""
    assert event_type in EVENT_TYPES or event_type == TEST_EVENT, event_type
    event = store.events.append(EventDraft(event_type, subject, origin.as_json(), data))
    if event_type != TEST_EVENT:
        store.webhooks.enqueue(store.webhooks.listening(event_type), event)
    return event


def record_all(store: Store, drafts: Sequence[EventDraft]) -> None:
    """Log many events at once (an import's chunk), with the deliveries of the webhooks that
    want them (the caller's transaction)."""
    if not drafts:
        return
    ids = store.events.append_many(drafts)
    listeners = {t: store.webhooks.listening(t) for t in {d.type for d in drafts}}
    store.webhooks.enqueue_many(
        [
            (webhook, event_id, draft.subject)
            for event_id, draft in zip(ids, drafts, strict=True)
            for webhook in listeners[draft.type]
        ],
        utcnow(),
    )


def created_event(
    booking: Booking, origin: Origin, meeting: Meeting | None, meetings: MeetingService
) -> EventDraft:
    shown = booking_json(booking, meeting, meetings)
    return EventDraft(
        "booking.created", f"booking {booking.id}", origin.as_json(), {"booking": shown}
    )


def booking_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two JSON forms of one booking, by ``CHANGE_KINDS``."""
    return [
        kind
        for kind, names in CHANGE_KINDS.items()
        if any(before.get(name) != after.get(name) for name in names)
    ]


def booking_event(
    store: Store,
    before: Booking | None,
    after: Booking,
    action: str,
    origin: Origin,
    meeting: Meeting | None,
    meetings: MeetingService,
) -> Event | None:
    """The event of a booking write (``action``: created, changed, confirmed, cancelled,
    rejected); none for a change that shows nothing new."""
    shown = booking_json(after, meeting, meetings)
    data: dict[str, Any] = {"booking": shown}
    if action == "changed" and before is not None:
        previous = booking_json(before)
        changed = booking_changes(previous, shown)
        if not changed:
            return None
        data["changes"] = changed
        data["previous"] = {name: previous[name] for kind in changed for name in CHANGE_KINDS[kind]}
    return record(store, _BOOKING_EVENTS[action], f"booking {after.id}", origin, data)


def attendee_replied(
    store: Store, booking: Booking, email: str, origin: Origin, meetings: MeetingService
) -> Event:
    attendee = next(a for a in booking.attendees if a.email == email)
    shown = booking_json(booking, store.meetings.for_booking(booking.id), meetings)
    data = {
        "booking": shown,
        "attendee": {
            "email": attendee.email,
            "name": attendee.name,
            "partstat": attendee.partstat.lower(),
        },
    }
    return record(store, "attendee.replied", f"booking {booking.id}", origin, data)


def inbox_rejected(store: Store, item: InboxItem) -> Event:
    """An inbound item was refused, or failed for good."""
    kind = "calendar" if item.source == "caldav" else "bridge"
    data = {
        "inbox_item": {
            "id": item.id,
            "source": item.source,
            "status": item.status.value,
            "failure": item.failure.value or None,
            "reason": item.reason,
            "received_at": iso_utc(item.received_at),
        }
    }
    return record(store, "inbox.rejected", f"inbox {item.id}", Origin(kind, item.id), data)


def notification_failed(store: Store, message: OutboxMessage) -> Event:
    """An email was given up on."""
    data = {
        "notification": {
            "id": message.id,
            "kind": message.kind,
            "booking": message.booking_id,
            "recipient": message.recipient_email,
            "attempts": message.attempts,
            "error": message.last_error,
        }
    }
    return record(store, "notification.failed", f"notification {message.id}", SYSTEM, data)


def busy_calendar_failed(store: Store, calendar: BusyCalendar, error: str) -> Event:
    """A staff member's own calendar could not be read (told once per new error)."""
    data = {
        "busy_calendar": {
            "id": calendar.id,
            "user": calendar.user_id,
            "name": calendar.name,
            "error": error,
        }
    }
    return record(store, "busy_calendar.failed", f"busy_calendar {calendar.id}", SYSTEM, data)


def envelope(event: Event) -> dict[str, Any]:
    """The body of an event, the same in a webhook delivery and in the change feed."""
    return {
        "id": f"evt_{event.id}",
        "type": event.type,
        "timestamp": iso_utc(event.at),
        "origin": event.origin,
        "data": event.data,
    }


@dataclass(frozen=True)
class Page:
    events: list[Event]
    cursor: int  # where the next page starts: after this event
    more: bool


def cursor_value(raw: str | None) -> int | None:
    """A change feed cursor: an event id ("evt_42" or "42"); None: from the oldest kept."""
    if raw is None or raw == "":
        return None
    text = raw.removeprefix("evt_")
    if not is_whole(text) or len(text) > 18:
        raise InvalidInput("after must be a cursor from an earlier page (evt_N)", field="after")
    return int(text)


def feed(
    store: Store, after: int | None, limit: int = 100, types: Sequence[str] | None = None
) -> Page:
    """The events after the cursor ``after`` (None: from the oldest kept), oldest first. A
    cursor older than the retention (its next events are gone) is refused: the consumer
    must read the state again."""
    if not 1 <= limit <= FEED_LIMIT:
        raise InvalidInput(f"limit must be 1 to {FEED_LIMIT}", field="limit")
    for name in types or ():
        if name not in EVENT_TYPES:
            raise InvalidInput(f"unknown event type {name!r}", field="types")
    purged = store.events.purged_through()
    if after is None:
        after = purged
    elif after < purged:
        raise CursorExpired(
            f"events up to evt_{purged} were removed (webhooks.event_retention_days); read "
            "the current state (GET /api/bookings), then follow from the latest cursor"
        )
    found = store.events.after(after, limit + 1, types, exclude=(TEST_EVENT,))
    page = found[:limit]
    return Page(page, page[-1].id if page else after, len(found) > limit)
