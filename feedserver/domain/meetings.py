"""Online meetings: one room per booking of an online type, one link per attendee.

The staff member gets the provider's link to the room. Each attendee gets a link of their own,
``{public_url}/meet/{token}``, signed like feed links, that redirects to the same room: it can
be revoked for one attendee without touching the others, and its clicks are counted. A booking
keeps its meeting when its type stops being online.

Providers are pluggable: ``meetings.provider`` is ``jitsi`` or the dotted path of a class with
the ``Provider`` shape (built with the configuration, ``create_room(booking) -> url``).
"""

from __future__ import annotations

import dataclasses
import importlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from feedserver.config import Config
from feedserver.errors import LinkRevoked, NotFound
from feedserver.model import Booking, BookingKey, Meeting, MeetingLink, Role, User
from feedserver.store import BookingQuery, Store
from feedserver.tokens import InvalidToken, LinkSigner, new_nonce, same_nonce


class Provider(Protocol):
    name: str

    def create_room(self, booking: Booking) -> str: ...


class JitsiProvider:
    """Jitsi Meet rooms: any unguessable name under the server's base URL is a room."""

    name = "jitsi"

    def __init__(self, config: Config) -> None:
        self.base = config.meetings.jitsi_base_url.rstrip("/") + "/"

    def create_room(self, booking: Booking) -> str:
        return f"{self.base}feedserver-{secrets.token_urlsafe(18)}"


def load_provider(config: Config) -> Provider:
    name = config.meetings.provider
    if name == "jitsi":
        return JitsiProvider(config)
    module_name, _, class_name = name.rpartition(".")
    if not module_name:
        raise ValueError(f"[meetings] provider: unknown provider {name!r}")
    provider: Provider = getattr(importlib.import_module(module_name), class_name)(config)
    return provider


@dataclass(frozen=True)
class MeetingUrls:
    public_url: str
    signer: LinkSigner

    def attendee(self, link_id: int, nonce: str) -> str:
        return f"{self.public_url}/meet/{self.signer.sign(link_id, nonce)}"


def revoke_link(store: Store, link_id: int) -> None:
    """Revoke one attendee's meeting link; the others keep working."""
    with store.transaction():
        found = store.meetings.link(link_id)
        if found is None:
            raise NotFound(f"no meeting link {link_id}")
        if found[0].revoked_at is None:
            store.meetings.revoke_link(link_id, found[1].booking_id)


def in_period(store: Store, start: datetime, end: datetime) -> list[tuple[Booking, Meeting]]:
    """Bookings with an online meeting that start in [start, end), with their meetings."""
    ids = store.meetings.in_period(start, end)
    meetings = store.meetings.for_bookings(ids)
    return [(store.bookings.one(i), meetings[i]) for i in ids]


class MeetingService:
    def __init__(self, provider: Provider, urls: MeetingUrls) -> None:
        self.provider = provider
        self.urls = urls

    def ensure(
        self, store: Store, booking: Booking, online: bool, new: bool = False
    ) -> Meeting | None:
        """Give an online booking its room and every attendee a link (inside the caller's
        transaction). Existing meetings are kept, whatever the type says now. ``new``: the
        booking was just created (it has no meeting yet)."""
        meeting = None if new else store.meetings.for_booking(booking.id)
        if meeting is None:
            if not online:
                return None
            meeting = store.meetings.create(
                booking.id, self.provider.name, self.provider.create_room(booking)
            )
        known = {link.attendee_email for link in meeting.links}
        added = []
        for email in dict.fromkeys(a.email for a in booking.attendees if a.email not in known):
            link = store.meetings.add_link(meeting.id, email, new_nonce())
            if link is not None:
                added.append(link)
        return dataclasses.replace(meeting, links=(*meeting.links, *added)) if added else meeting

    def create_for_new(self, store: Store, bookings: Sequence[Booking]) -> dict[int, Meeting]:
        """``ensure`` for bookings just created whose type is online, all at once (an
        import's chunk): each gets its room and each attendee a link."""
        meetings = store.meetings.create_many(
            [(b.id, self.provider.name, self.provider.create_room(b)) for b in bookings]
        )
        wanted = [
            (meeting.id, email, new_nonce())
            for meeting, booking in zip(meetings, bookings, strict=True)
            for email in dict.fromkeys(a.email for a in booking.attendees)
        ]
        links: dict[int, list[MeetingLink]] = {}
        for link in store.meetings.add_links(wanted):
            links.setdefault(link.meeting_id, []).append(link)
        return {
            m.booking_id: dataclasses.replace(m, links=tuple(links.get(m.id, ()))) for m in meetings
        }

    def attendee_url(self, meeting: Meeting, email: str) -> str:
        for link in meeting.links:
            if link.attendee_email == email.lower() and link.revoked_at is None:
                return self.urls.attendee(link.id, link.nonce)
        return ""

    def link_for_viewer(
        self, meeting: Meeting | None, booking: Booking | BookingKey, viewer: User
    ) -> str:
        """What a person sees of the meeting: staff and admins the room, an attendee their
        own link."""
        if meeting is None:
            return ""
        if viewer.role is not Role.CUSTOMER or viewer.id == booking.staff_id:
            return meeting.room_url
        return self.attendee_url(meeting, viewer.email)

    def links_for(
        self, store: Store, bookings: Iterable[Booking | BookingKey], viewer: User
    ) -> dict[int, str]:
        listed = list(bookings)
        meetings = store.meetings.for_bookings([b.id for b in listed])
        links = {b.id: self.link_for_viewer(meetings.get(b.id), b, viewer) for b in listed}
        return {k: v for k, v in links.items() if v}

    def loader(
        self, store: Store, viewer: User
    ) -> Callable[[list[int]], tuple[dict[int, Booking], dict[int, str]]]:
        """What renderings load for the bookings they have no fragment of: the bookings,
        and the meeting link ``viewer`` sees for each (``calendar.render.Loader``)."""

        def load(ids: list[int]) -> tuple[dict[int, Booking], dict[int, str]]:
            found = store.bookings.list(BookingQuery(ids=ids))
            return {b.id: b for b in found}, self.links_for(store, found, viewer)

        return load

    def follow(self, store: Store, token: str) -> str:
        """The room an attendee's token leads to (the click is counted)."""
        try:
            link_id, nonce = self.urls.signer.unsign(token)
        except InvalidToken:
            raise NotFound("no such meeting link") from None
        with store.transaction():
            found = store.meetings.link(link_id)
            if found is None or not same_nonce(nonce, found[0].nonce):
                raise NotFound("no such meeting link")
            link, meeting = found
            if link.revoked_at is not None:
                raise LinkRevoked("this meeting link was revoked")
            store.meetings.click(link.id)
            return meeting.room_url
