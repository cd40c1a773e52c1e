"""Which messages a booking change causes, rendered into the outbox in the change's transaction.

Attendees (customers): *booked* when a booking is confirmed (made confirmed, or confirmed
later; also when they are added to one), *changed* when its time, place or staff member
changes, *cancelled* (also when they are removed from it), *rejected* when a request is
declined, each with the iCalendar REQUEST or CANCEL; the organisation can turn kinds off
(``notifications.attendee_kinds``). Staff member of the booking and admins: *booked* for a new
booking (pending or confirmed), or *short_notice* instead when it starts within
``notifications.short_notice_minutes``, *cancelled*, *rejected*, each as their settings say.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from feedserver.calendar import itip
from feedserver.calendar.render import Viewer
from feedserver.calendar.values import Catalog, booking_values
from feedserver.config import Config
from feedserver.domain import notification_settings
from feedserver.domain.bookings import BookingChange
from feedserver.domain.catalog import load_catalog
from feedserver.domain.feed_links import FeedUrls
from feedserver.domain.meetings import MeetingService
from feedserver.model import (
    Attendee,
    Booking,
    FeedFilters,
    Meeting,
    OutgoingMessage,
    Reminder,
    ReservationType,
    Role,
    Status,
    User,
)
from feedserver.notify import messages
from feedserver.store import BookingQuery, Store
from feedserver.times import iso_utc, utcnow, zone

_MOVES = ("start", "end", "location_code", "staff_id", "all_day", "timezone", "rrule")


@dataclass(frozen=True)
class Reader:
    """Who reads a message: in which language, and in which time zone ('' = the booking's)."""

    language: str
    timezone: str


@dataclass(frozen=True)
class _Context:
    booking: Booking
    rtype: ReservationType | None
    catalog: Catalog
    meeting: Meeting | None
    saved_templates: dict[tuple[str, str, str], tuple[str, str]]
    key: str = ""  # set: messages are keyed "<key>:<recipient>" (reminders), else by version

    @classmethod
    def read(
        cls, store: Store, booking: Booking, meeting: Meeting | None, key: str = ""
    ) -> _Context:
        """What the messages about ``booking`` are written from: the catalog (with its
        staff member), its type and the saved email templates."""
        catalog = load_catalog(store, [booking.staff_id])
        rtype = catalog.types.get(booking.type_key)
        return cls(booking, rtype, catalog, meeting, store.email_templates.all(), key)


class Notifier:
    def __init__(self, config: Config, meetings: MeetingService, feed_urls: FeedUrls) -> None:
        self.config = config
        self.meetings = meetings
        self.feed_urls = feed_urls
        self.organizer = (config.smtp.sender_name, config.smtp.sender)

    # -- who gets what -------------------------------------------------------------------------

    def _attendee_kinds(self, change: BookingChange, event: str) -> list[tuple[str, Attendee]]:
        after, before = change.after, change.before
        everyone = list(after.attendees)
        planned: list[tuple[str, Attendee]] = []
        if event == "created" and after.status is Status.CONFIRMED:
            planned = [("booked", a) for a in everyone]
        elif event == "created" and after.status is Status.PENDING:
            planned = [("requested", a) for a in everyone]
        elif event == "confirmed" and after.status is Status.CONFIRMED:
            planned = [("confirmed", a) for a in everyone]
        elif event == "cancelled":
            planned = [("cancelled", a) for a in everyone]
        elif event == "rejected":
            planned = [("rejected", a) for a in everyone]
        elif event == "changed" and before is not None and after.status is Status.CONFIRMED:
            old = {a.email for a in before.attendees}
            new = {a.email for a in everyone}
            moved = any(getattr(before, f) != getattr(after, f) for f in _MOVES)
            planned = [("booked", a) for a in everyone if a.email not in old]
            planned += [("cancelled", a) for a in before.attendees if a.email not in new]
            if moved:
                planned += [("changed", a) for a in everyone if a.email in old]
        allowed = set(self.config.notifications.attendee_kinds)
        return [(kind, a) for kind, a in planned if kind in allowed]

    def _staff_kinds(
        self, store: Store, change: BookingChange, event: str
    ) -> list[tuple[str, User]]:
        booking, before = change.after, change.before
        moved = before is not None and any(
            getattr(before, f) != getattr(booking, f) for f in _MOVES
        )
        people = {u.id: u for u in store.users.list(Role.ADMIN)}
        staff = store.users.get(booking.staff_id)
        if staff is not None:
            people[staff.id] = staff
        soon = timedelta(minutes=self.config.notifications.short_notice_minutes)
        short = event == "created" and utcnow() <= booking.start < utcnow() + soon
        planned = []
        for user in people.values():
            settings = notification_settings.get(store, user)
            if event == "created" and short and settings.short_notice:
                planned.append(("short_notice", user))
            elif event == "created" and settings.booked:
                planned.append(("booked", user))
            elif event == "cancelled" and settings.cancelled:
                planned.append(("cancelled", user))
            elif event == "rejected" and settings.rejected:
                planned.append(("rejected", user))
            elif event == "changed" and moved and settings.changed:
                planned.append(("changed", user))
        return planned

    # -- rendering into the outbox ---------------------------------------------------------------

    def enqueue(
        self, store: Store, change: BookingChange, event: str, meeting: Meeting | None
    ) -> int:
        """Write the messages ``event`` causes into the outbox; returns how many were new."""
        context = _Context.read(store, change.after, meeting)
        queued = 0
        for kind, attendee in self._attendee_kinds(change, event):
            queued += store.outbox.enqueue(self._for_attendee(store, context, kind, attendee))
        for kind, user in self._staff_kinds(store, change, event):
            queued += store.outbox.enqueue(self._for_staff(store, context, kind, user))
        return queued

    def reader(self, store: Store, email: str, language: str = "", timezone: str = "") -> Reader:
        """A recipient's language and time zone: what the booking says for this guest, else
        their account's settings, else the organisation's language and the booking's zone."""
        account = store.users.get_by_email(email)
        chosen_language = language or (account.language if account else "")
        chosen_zone = timezone or (
            account.timezone if account and account.timezone != "UTC" else ""
        )
        return Reader(chosen_language or self.config.notifications.language, chosen_zone)

    def _values(
        self, context: _Context, people: list[Attendee], for_attendee: bool, reader: Reader
    ) -> dict[str, str]:
        booking = context.booking
        timezone = reader.timezone or booking.timezone
        where = zone(timezone)
        start, end = booking.start.astimezone(where), booking.end.astimezone(where)
        if booking.all_day:  # whole days are the booking's own dates, wherever one reads
            start, end = booking.local_start, booking.local_end
        language = reader.language
        first = people[0] if people else None
        return {
            **booking_values(booking, context.catalog, people, for_attendee),
            "customer_name": (first.name or first.email) if first else "",
            "customer_email": first.email if first else "",
            "booking_start_date": messages.long_date(start, language),
            "booking_start_time": "" if booking.all_day else messages.clock(start, language),
            "booking_end_time": "" if booking.all_day else messages.clock(end, language),
            "booking_timezone": timezone,
            "booking_start": messages.start_words(start, booking.all_day, language),
            "booking_when": messages.when_words(start, end, booking.all_day, timezone, language),
            "attendees_text": ", ".join(p.name or p.email for p in people)
            or messages.word("nobody", language),
            "organisation_name": self.organizer[0],
        }

    def _message(
        self,
        context: _Context,
        audience: str,
        kind: str,
        email: str,
        name: str,
        values: dict[str, str],
        language: str,
    ) -> OutgoingMessage:
        subject, body = messages.choose(context.saved_templates, audience, kind, language)
        text = messages.render(body, values)
        booking = context.booking
        return OutgoingMessage(
            idempotency_key=(
                f"{context.key}:{email}"
                if context.key
                else f"{booking.uid}:{audience}:{kind}:{booking.sequence}:{email}"
            ),
            kind=kind,
            booking_id=booking.id,
            recipient_email=email,
            recipient_name=name,
            subject=messages.render(subject, values).replace("\n", " "),
            body_text=text,
            body_html=messages.to_html(text),
        )

    def remind(self, store: Store, booking: Booking, reminder: Reminder) -> int:
        """Queue the messages of one reminder (of one occurrence, to attendees or staff); the
        outbox key names the occurrence and the rule, so it is never sent twice."""
        occurrence = dataclasses.replace(
            booking,
            start=reminder.occurrence_start,
            end=reminder.occurrence_start + booking.duration,
            rrule=None,
            exdates=(),
        )
        key = (
            f"{booking.uid}:reminder:{iso_utc(reminder.occurrence_start)}:"
            f"{reminder.before_minutes}:{reminder.audience}"
        )
        context = _Context.read(store, occurrence, store.meetings.for_booking(booking.id), key)
        queued = 0
        if reminder.audience == "attendees":
            if "reminder" not in self.config.notifications.attendee_kinds:
                return 0
            for attendee in booking.attendees:
                account = store.users.get_by_email(attendee.email)
                if account is not None and not notification_settings.get(store, account).reminder:
                    continue
                message = self._for_attendee(store, context, "reminder", attendee, invitation=False)
                queued += store.outbox.enqueue(message)
            return queued
        staff = store.users.get(booking.staff_id)
        if staff is not None and notification_settings.get(store, staff).reminder:
            queued += store.outbox.enqueue(self._for_staff(store, context, "reminder", staff))
        return queued

    def declined(self, store: Store, booking: Booking, attendee: Attendee) -> int:
        """Tell the staff member that an attendee declined (if their switch says so)."""
        staff = store.users.get(booking.staff_id)
        if staff is None or not notification_settings.get(store, staff).changed:
            return 0
        key = f"{booking.uid}:declined:{attendee.email}"
        context = _Context.read(store, booking, store.meetings.for_booking(booking.id), key)
        message = self._for_staff(store, context, "declined", staff)
        return int(store.outbox.enqueue(message))

    def _for_attendee(
        self,
        store: Store,
        context: _Context,
        kind: str,
        attendee: Attendee,
        invitation: bool = True,
    ) -> OutgoingMessage:
        booking = context.booking
        reader = self.reader(store, attendee.email, attendee.language, attendee.timezone)
        visible = bool(context.rtype and context.rtype.attendees_visible)
        people = list(booking.attendees) if visible else [attendee]
        link = (
            self.meetings.attendee_url(context.meeting, attendee.email) if context.meeting else ""
        )
        values = {
            **self._values(context, people, for_attendee=True, reader=reader),
            "customer_name": attendee.name or attendee.email,
            "customer_email": attendee.email,
            "online_meeting_link": link,
        }
        message = self._message(
            context, "attendee", kind, attendee.email, attendee.name, values, reader.language
        )
        if not invitation:
            return message
        viewer = Viewer(_guest(attendee), FeedFilters(show_attendees=True))
        method = "CANCEL" if kind in ("cancelled", "rejected") else "REQUEST"
        ics = itip.invitation(
            method, booking, context.catalog, viewer, self.organizer, people, link
        )
        return dataclasses.replace(message, ics=ics, ics_method=method)

    def _for_staff(
        self, store: Store, context: _Context, kind: str, user: User
    ) -> OutgoingMessage:
        feeds = [f for f in store.feed_links.list(user.id) if f.revoked_at is None]
        reader = self.reader(store, user.email)
        values = {
            **self._values(context, list(context.booking.attendees), False, reader),
            "online_meeting_provider_link": context.meeting.room_url if context.meeting else "",
            "feed_link": self.feed_urls.https(feeds[0]) if feeds else "",
            "declined_by": ", ".join(
                a.name or a.email for a in context.booking.attendees if a.partstat == "DECLINED"
            ),
        }
        return self._message(context, "staff", kind, user.email, user.name, values, reader.language)


    def preview(
        self, store: Store, audience: str, kind: str, language: str, subject: str, body: str
    ) -> tuple[Booking, str, str] | None:
        """``subject`` and ``body`` as the next booking (else the latest) would word them in
        ``language``, for its first attendee or its staff member; the bridge's and the
        account messages with that booking's event, organizer and attendee."""
        now = utcnow()
        found = store.bookings.list(BookingQuery(start=now, limit=1)) or store.bookings.list(
            BookingQuery(latest_first=True, limit=1)
        )
        if not found:
            return None
        booking = found[0]
        context = _Context.read(store, booking, store.meetings.for_booking(booking.id))
        reader = Reader(language, "")
        people = list(booking.attendees)
        first = people[0] if people else None
        values = self._values(context, people, audience == "attendee", reader)
        if audience == "attendee" and first is not None:
            meeting = context.meeting
            link = self.meetings.attendee_url(meeting, first.email) if meeting else ""
            values |= {"customer_name": first.name or first.email, "online_meeting_link": link}
        elif audience == "staff":
            room = context.meeting.room_url if context.meeting else ""
            values |= {"online_meeting_provider_link": room, "declined_by": values["customer_name"]}
        elif audience == "organizer":
            codes = store.locations.codes()
            values |= {
                "event_summary": booking.title or values.get("service_name", ""),
                "unknown_code": "XYZ1",
                "valid_codes": "\n".join(f"{code}  {name}" for code, name in codes.items()),
                "busy_reason": values["booking_when"],
            }
        else:
            values |= {
                "person_name": values["customer_name"],
                "account_link": self.feed_urls.public_url + "/set-password/…",
                "link_valid_for": messages.validity_words(7 * 1440, language),
            }
        return booking, messages.render(subject, values), messages.render(body, values)


def _guest(attendee: Attendee) -> User:
    """An attendee as the reader of their own invitation (they may have no account)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return User(
        id=0,
        email=attendee.email,
        name=attendee.name,
        role=Role.CUSTOMER,
        timezone="UTC",
        primary_location=None,
        created_at=epoch,
        updated_at=epoch,
    )


def _queue_plain(
    store: Store,
    audience: str,
    kind: str,
    language: str,
    key: str,
    to: User,
    values: dict[str, str],
) -> None:
    """Render the (audience, kind) template for ``to`` and queue it, without invitation."""
    subject, body = messages.choose(store.email_templates.all(), audience, kind, language)
    text = messages.render(body, values)
    store.outbox.enqueue(
        OutgoingMessage(
            idempotency_key=key,
            kind=kind,
            booking_id=None,
            recipient_email=to.email,
            recipient_name=to.name,
            subject=messages.render(subject, values).replace("\n", " "),
            body_text=text,
            body_html=messages.to_html(text),
        )
    )


def _tell_organizer(
    notifier: Notifier,
    store: Store,
    organizer: User,
    key: str,
    kind: str,
    summary: str,
    start: datetime,
    timezone: str,
    extra: dict[str, str],
) -> None:
    """A bridge message about the organizer's event (``organizer/<kind>``), in their
    language."""
    language = notifier.reader(store, organizer.email).language
    local = start.astimezone(zone(timezone))
    values = {
        "event_summary": summary or "(no title)",
        "booking_start_date": messages.long_date(local, language),
        "booking_start_time": f"{local:%H:%M}",
        "booking_start": messages.start_words(local, False, language),
        "organisation_name": notifier.organizer[0],
        **extra,
    }
    idempotency = f"{key}:{kind}:{organizer.email}"
    _queue_plain(store, "organizer", kind, language, idempotency, organizer, values)


def unknown_code_message(
    notifier: Notifier,
    store: Store,
    organizer: User,
    key: str,
    summary: str,
    start: datetime,
    timezone: str,
    word: str | None,
) -> None:
    """Tell an organizer that their event names no known location, listing every code."""
    codes = store.locations.codes()
    extra = {
        "unknown_code": word or "",
        "valid_codes": "\n".join(f"{code}  {name}" for code, name in codes.items()),
    }
    _tell_organizer(
        notifier, store, organizer, key, "unknown_code", summary, start, timezone, extra
    )


def busy_message(
    notifier: Notifier,
    store: Store,
    organizer: User,
    key: str,
    summary: str,
    start: datetime,
    timezone: str,
    reason: str,
) -> None:
    """Tell an organizer that their event was not booked: their own calendar is busy then."""
    extra = {"busy_reason": reason}
    _tell_organizer(notifier, store, organizer, key, "busy", summary, start, timezone, extra)


def account_link_message(
    store: Store,
    user: User,
    kind: str,
    url: str,
    valid_for: str,
    language: str,
    organisation_name: str,
) -> None:
    """Send a person the link that sets their password: ``kind`` is ``invitation`` or
    ``password_reset``. Queued in the outbox like every message (retried, listed)."""
    values = {
        "person_name": user.name,
        "account_link": url,
        "link_valid_for": valid_for,
        "organisation_name": organisation_name,
    }
    key = f"account:{kind}:{user.id}:{secrets.token_hex(8)}"
    _queue_plain(store, "account", kind, language, key, user, values)
