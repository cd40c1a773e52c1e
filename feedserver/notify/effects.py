"""What follows a booking change inside its transaction: its online meeting, and the
notifications it causes (written to the outbox, delivered later by the outbox worker)."""

from __future__ import annotations

from feedserver.config import Config
from feedserver.domain.bookings import BookingChange
from feedserver.feeds.links import FeedUrls
from feedserver.notify.meetings import MeetingService, MeetingUrls, load_provider
from feedserver.notify.planner import Notifier
from feedserver.store import Store
from feedserver.tokens import LinkSigner


class BookingEffects:
    def __init__(self, meetings: MeetingService, notifier: Notifier | None) -> None:
        self.meetings = meetings
        self.notifier = notifier

    def after_change(self, store: Store, change: BookingChange, event: str) -> None:
        rtype = store.types.get(change.after.type_key)
        meeting = self.meetings.ensure(store, change.after, bool(rtype and rtype.online))
        if self.notifier is not None:
            self.notifier.enqueue(store, change, event, meeting)


def build(config: Config, secret_keys: tuple[str, ...], notify: bool = True) -> BookingEffects:
    """The effects of a server (meetings and notifications) or, with ``notify`` False, of the
    demo loader (meetings only)."""
    meetings = MeetingService(
        load_provider(config),
        MeetingUrls(config.public_url, LinkSigner(secret_keys, "meeting-link")),
    )
    feed_urls = FeedUrls(config.public_url, LinkSigner(secret_keys, "feed-link"))
    return BookingEffects(meetings, Notifier(config, meetings, feed_urls) if notify else None)
