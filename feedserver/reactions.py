"""Every consumer of a booking change, in one place.

Inside the change's transaction (``BookingEffects``, the domain's ``Effects`` hook), so that
they happen exactly when the change does:

1. the booking's online meeting: a room for an online type, a link for each attendee
   (``feedserver.domain.meetings``);
2. the notifications the change causes, rendered into the outbox
   (``feedserver.notify.planner``);
3. its reminders, planned again (``feedserver.domain.reminders``; sent when due by
   ``feedserver.notify.reminders``);
4. its event for booking systems, queued for each webhook that wants it
   (``feedserver.domain.events``; delivered by ``feedserver.webhooks``);
5. a write into the calendar accounts of the people it concerns
   (``feedserver.domain.calendar_accounts``; written by ``feedserver.calendar_accounts``).

After the commit, through the change log (``feedserver.watcher.ChangeWatcher``), in order and
once each (``subscribe``):

6. the feed cache drops the feeds that showed the booking or would show it now
   (``feedserver.feeds.service``);
7. the CalDAV login cache forgets every login when an account or app password changes
   (``feedserver.caldav_bridge.auth``);
8. the outbox worker wakes up to deliver what was queued (``feedserver.notify.outbox``), the
   webhook worker what it has to send (``feedserver.webhooks.delivery``), and the calendar
   writer what it has to write (``feedserver.calendar_accounts.writer``);
9. WebDAV-Push tells the subscribers of each calendar that changed
   (``feedserver.caldav_bridge.notifier``).

The CalDAV ``bookings`` calendars need no consumer: they are read from the store
(``feedserver.caldav_bridge.bookings``), so they show a change when it commits.
"""

from __future__ import annotations

from collections.abc import Sequence

from feedserver.caldav_bridge.auth import AccountLogins
from feedserver.caldav_bridge.notifier import PushNotifier
from feedserver.calendar.rrules import RecurrenceBudget
from feedserver.calendar_accounts.writer import AccountWriter
from feedserver.domain import calendar_accounts, events, reminders
from feedserver.domain.bookings import BookingChange
from feedserver.domain.meetings import MeetingService
from feedserver.domain.recurrence import DEFAULT_BUDGET
from feedserver.feeds.service import FeedService
from feedserver.model import Booking, ReservationType
from feedserver.notify.outbox import OutboxWorker
from feedserver.notify.planner import Notifier
from feedserver.store import Store
from feedserver.times import utcnow
from feedserver.watcher import ChangeWatcher
from feedserver.webhooks.delivery import WebhookWorker


class BookingEffects:
    """The in-transaction consumers (1 to 5), for changes from ``origin``."""

    def __init__(
        self,
        meetings: MeetingService,
        notifier: Notifier | None,
        reminder_rules: reminders.Rules = (),
        budget: RecurrenceBudget = DEFAULT_BUDGET,
        origin: events.Origin = events.API,
    ) -> None:
        self.meetings = meetings
        self.notifier = notifier
        self.reminder_rules = reminder_rules
        self.budget = budget
        self.origin = origin

    def by(self, origin: events.Origin) -> BookingEffects:
        """The same consumers, for changes from ``origin`` (what the events say)."""
        return BookingEffects(
            self.meetings, self.notifier, self.reminder_rules, self.budget, origin
        )

    def after_change(
        self,
        store: Store,
        change: BookingChange,
        event: str,
        rtype: ReservationType | None = None,
    ) -> None:
        if rtype is None or rtype.key != change.after.type_key:
            rtype = store.types.get(change.after.type_key)
        online = bool(rtype and rtype.online)
        meeting = self.meetings.ensure(store, change.after, online, new=change.before is None)
        if self.notifier is not None:
            self.notifier.enqueue(store, change, event, meeting)
            reminders.reschedule(store, change.after, self.reminder_rules, utcnow(), self.budget)
        events.booking_event(
            store, change.before, change.after, event, self.origin, meeting, self.meetings
        )
        calendar_accounts.queue_change(store, change.before, change.after)

    def replied(self, store: Store, booking: Booking, email: str) -> None:
        events.attendee_replied(store, booking, email, self.origin, self.meetings)

    def after_created(
        self, store: Store, created: Sequence[tuple[Booking, ReservationType]]
    ) -> None:
        if self.notifier is not None:  # messages and reminders are made one booking at a time
            for booking, rtype in created:
                self.after_change(store, BookingChange(None, booking), "created", rtype)
            return
        online = [b for b, rtype in created if rtype.online]
        self.meetings.create_for_new(store, online)
        made = store.meetings.for_bookings([b.id for b in online]) if online else {}
        events.record_all(
            store,
            [
                events.created_event(booking, self.origin, made.get(booking.id), self.meetings)
                for booking, _rtype in created
            ],
        )
        calendar_accounts.queue_created(store, [booking for booking, _rtype in created])


def subscribe(
    watcher: ChangeWatcher,
    feeds: FeedService,
    outbox: OutboxWorker,
    webhooks: WebhookWorker,
    writer: AccountWriter,
    logins: AccountLogins | None = None,
    push: PushNotifier | None = None,
) -> None:
    """The after-commit consumers (6 to 9); CalDAV's when CalDAV is on."""
    watcher.subscribe(feeds.on_changes)
    if logins is not None:
        watcher.subscribe(logins.on_changes)
    watcher.subscribe(outbox.on_changes)
    watcher.subscribe(webhooks.on_changes)
    watcher.subscribe(writer.on_changes)
    if push is not None:
        watcher.subscribe(push.on_changes)
