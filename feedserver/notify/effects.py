"""What follows a booking change inside its transaction: its online meeting, and the
notifications it causes (written to the outbox, delivered later by the outbox worker)."""

from __future__ import annotations

from feedserver.domain.bookings import BookingChange
from feedserver.notify.meetings import MeetingService
from feedserver.notify.planner import Notifier
from feedserver.store import Store


class BookingEffects:
    def __init__(self, meetings: MeetingService, notifier: Notifier | None) -> None:
        self.meetings = meetings
        self.notifier = notifier

    def after_change(self, store: Store, change: BookingChange, event: str) -> None:
        rtype = store.types.get(change.after.type_key)
        meeting = self.meetings.ensure(store, change.after, bool(rtype and rtype.online))
        if self.notifier is not None:
            self.notifier.enqueue(store, change, event, meeting)
