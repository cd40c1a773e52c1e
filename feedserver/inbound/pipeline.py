"""One pipeline for every inbound item (CalDAV, email, HTTP, standard input): the rules that
turn an event inviting the invite address into a booking, and keep the booking following it.

Runs on the store thread. Each event is applied in its own savepoint, so one bad event of a
message does not undo the others; the item's outcome is the worst of its events'.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from feedserver.calendar import itip
from feedserver.calendar.addresses import event_uid
from feedserver.calendar.itip import InboundEvent, MalformedCalendar
from feedserver.calendar.rrules import RecurrenceBudget
from feedserver.domain import bookings, commands, events
from feedserver.domain.bookings import Effects
from feedserver.domain.commands import BookingDraft, BookingPatch, Moment
from feedserver.domain.recurrence import DEFAULT_BUDGET
from feedserver.errors import FeedserverError, StaffBusy
from feedserver.inbound import mail
from feedserver.model import (
    Booking,
    BridgedEvent,
    InboxFailure,
    InboxItem,
    InboxStatus,
    Role,
    Status,
    User,
)
from feedserver.notify.planner import Notifier, busy_message, unknown_code_message
from feedserver.store import Store

_RANK = {
    InboxStatus.FAILED: 4,
    InboxStatus.REJECTED: 3,
    InboxStatus.PROCESSED: 2,
    InboxStatus.IGNORED: 1,
}
_NOT_APPLIED = {"COUNTER", "REFRESH", "DECLINECOUNTER", "ADD", "PUBLISH"}
ANSWERS = {"ACCEPTED", "DECLINED", "TENTATIVE"}


@dataclass
class Outcome:
    status: InboxStatus
    reason: str = ""
    booking_ids: list[int] = field(default_factory=list)
    failure: InboxFailure = InboxFailure.NONE


@dataclass(frozen=True)
class Origin:
    """Where an event came from and who may have sent it."""

    source: str  # the booking's source: caldav, email, http
    owner: str | None = None  # CalDAV: the calendar's owner, who is the organizer
    sender: str | None = None  # email: the From address, which must be the ORGANIZER
    item: int | None = None  # the inbox item it came in

    @property
    def cause(self) -> events.Origin:
        """What the events of the changes it makes name as their origin."""
        kind = "calendar" if self.source == "caldav" else "bridge"
        return events.Origin(kind, inbox_item=self.item)


@dataclass
class Work:
    """An item read: its events to apply with where each came from, one group per calendar
    (an email may carry several), or its outcome when it is known before any is applied."""

    groups: list[list[tuple[InboundEvent, Origin]]]
    outcome: Outcome | None = None
    deleted: bool = False  # a CalDAV deletion: applied from the store's record of it


class Pipeline:
    def __init__(
        self,
        invite_address: str,
        default_type: str,
        effects: Effects,
        notifier: Notifier | None,
        dkim_check: Callable[[bytes, str], bool] | None = None,
        trusted_senders: Sequence[str] = (),
        budget: RecurrenceBudget = DEFAULT_BUDGET,
    ) -> None:
        self.invite = invite_address.strip().lower()
        self.default_type = default_type
        self.effects = effects
        self.notifier = notifier
        self.dkim_check = dkim_check
        self.trusted = frozenset(t.strip().lower() for t in trusted_senders)
        self.budget = budget

    def trusted_sender(self, sender: str) -> bool:
        """A sender listed in bridge.trusted_senders, by address or by @domain."""
        return sender in self.trusted or "@" + sender.rpartition("@")[2] in self.trusted

    # -- an inbox item -------------------------------------------------------------------------

    def process(self, store: Store, item: InboxItem) -> Outcome:
        """Apply an item at once and record its outcome (the CLI; the server applies items
        in slices: ``InboxService``)."""
        work = self.read(item)
        if work.outcome is not None:
            outcome = work.outcome
        elif work.deleted:
            outcome = self.deleted(store, item)
        else:
            outcome = combine([[self.apply_one(store, *pair) for pair in g] for g in work.groups])
        self.finish(store, item.id, outcome)
        return outcome

    def read(self, item: InboxItem) -> Work:
        """An item parsed into the events to apply, or its outcome when that is known without
        the store (malformed, a sender refused). Needs no store: run it off the store thread."""
        try:
            if item.deleted:
                return Work([], deleted=True)
            if item.source == "caldav":
                origin = Origin("caldav", owner=item.principal, item=item.id)
                return Work([self._pairs(item.raw, origin)])
            if item.source == "http-calendar":
                return Work([self._pairs(item.raw, Origin("http", item=item.id))])
            return self._message(item.raw, item.id)
        except (MalformedCalendar, mail.MalformedMessage) as exc:
            malformed = Outcome(
                InboxStatus.FAILED, f"malformed: {exc}", failure=InboxFailure.MALFORMED
            )
            return Work([], outcome=malformed)

    def finish(self, store: Store, item_id: int, outcome: Outcome) -> None:
        with store.transaction():
            store.inbox.finish(
                item_id, outcome.status, outcome.reason, outcome.booking_ids, outcome.failure
            )
            refused = outcome.status is InboxStatus.REJECTED
            if refused or (outcome.status is InboxStatus.FAILED and not outcome.failure.retryable):
                events.inbox_rejected(store, store.inbox.one(item_id))

    def _bound(self, origin: Origin) -> Pipeline:
        """This pipeline, its booking changes said to come from ``origin``'s item."""
        bound = copy.copy(self)
        bound.effects = self.effects.by(origin.cause)
        return bound

    def _message(self, raw: bytes, item_id: int | None = None) -> Work:
        message = mail.parse_message(raw)
        sender = mail.sender(message)
        if sender is None:
            return Work([], Outcome(InboxStatus.REJECTED, "the message has no single From address"))
        if (
            self.dkim_check is not None
            and not self.trusted_sender(sender)
            and not self.dkim_check(raw, sender)
        ):
            refused = Outcome(
                InboxStatus.REJECTED,
                f"no valid DKIM signature of {sender.partition('@')[2]} (the From domain), and "
                f"{sender} is not in bridge.trusted_senders",
            )
            return Work([], refused)
        parts = mail.calendar_parts(message)
        if not parts:
            return Work([], Outcome(InboxStatus.IGNORED, "the message carries no calendar"))
        origin = Origin("email", sender=sender, item=item_id)
        return Work([self._pairs(part, origin) for part in parts])

    @staticmethod
    def _pairs(data: bytes, origin: Origin) -> list[tuple[InboundEvent, Origin]]:
        """A calendar's events in the order they are applied (a series before its
        exceptions), each version once."""
        parsed = itip.parse(data)
        unique = {(e.uid, e.recurrence_id, e.sequence): e for e in parsed}
        return [(e, origin) for e in sorted(unique.values(), key=lambda e: e.recurrence_id)]

    def apply_one(self, store: Store, event: InboundEvent, origin: Origin) -> Outcome:
        """Apply one event in its own transaction: a refused event undoes only itself."""
        try:
            with store.transaction():
                return self._bound(origin).apply(store, event, origin)
        except FeedserverError as exc:
            if isinstance(exc, StaffBusy):
                self._tell_busy(store, event, origin, exc.message)
            return Outcome(InboxStatus.REJECTED, f"{event.uid}: {exc.message}")

    def deleted(self, store: Store, item: InboxItem) -> Outcome:
        """A CalDAV DELETE: the event's UID is all there is to know."""
        uid = event_uid(item.raw.decode("utf-8", "replace"))
        if uid is None:
            return Outcome(InboxStatus.IGNORED, "deleted item without UID")
        with store.transaction():
            mapping = store.bridge_events.get(uid)
            if mapping is None or mapping.cancelled:
                return Outcome(InboxStatus.IGNORED, "deleted event was no booking")
            if item.principal and mapping.organizer != item.principal.lower():
                return Outcome(
                    InboxStatus.IGNORED, "deleted from a calendar that is not the organizer's"
                )
            bound = self._bound(Origin("caldav", item=item.id))
            return bound._cancel_booking(
                store, mapping, mapping.sequence, mapping.dtstamp, "the event was deleted"
            )

    # -- the rules ----------------------------------------------------------------------------

    def apply(self, store: Store, event: InboundEvent, origin: Origin) -> Outcome:
        if event.method == "REPLY":
            return self._reply(store, event, origin)
        if event.method in _NOT_APPLIED:
            return Outcome(
                InboxStatus.IGNORED, f"{event.uid}: METHOD:{event.method} is not applied"
            )
        organizer_email = origin.owner or event.organizer
        if origin.sender is not None and event.organizer != origin.sender:
            return Outcome(
                InboxStatus.REJECTED,
                f"{event.uid}: From {origin.sender} is not the ORGANIZER "
                f"{event.organizer or '(none)'}",
            )
        mapping = store.bridge_events.get(event.uid, event.recurrence_id)
        invited = any(p.is_(self.invite) for p in event.attendees)
        if not invited and (mapping is None or mapping.cancelled):
            return Outcome(InboxStatus.IGNORED, f"{event.uid}: {self.invite} is not an attendee")
        organizer = store.users.get_by_email(organizer_email) if organizer_email else None
        if organizer is None or organizer.role is Role.CUSTOMER:
            return Outcome(
                InboxStatus.REJECTED,
                f"{event.uid}: unknown organizer "
                f"{organizer_email or '(none)'}: not a staff member or admin",
            )
        if event.unknown_tzid and event.method != "CANCEL" and not event.cancelled:
            # Never guessed: Windows names and IANA aliases are mapped when parsing, and a
            # VTIMEZONE defines any other name; what is left has no knowable times.
            return Outcome(
                InboxStatus.REJECTED,
                f"{event.uid}: DTSTART names the time zone {event.unknown_tzid[:80]!r}, which is "
                "not an IANA or Windows zone name and has no VTIMEZONE in the calendar: its "
                "times cannot be known",
            )
        event = itip.refloat(event, ZoneInfo(organizer.timezone))
        if mapping is not None and mapping.organizer != organizer.email:
            return Outcome(
                InboxStatus.REJECTED,
                f"{event.uid}: only its organizer {mapping.organizer} can change this event",
            )
        if mapping is not None and event.version() <= (mapping.sequence, mapping.dtstamp):
            # A repeat names the booking it made: an item applied again after a crash in its
            # middle still lists every booking it made.
            repeat = event.version() == (mapping.sequence, mapping.dtstamp)
            made = [mapping.booking_id] if repeat and mapping.booking_id is not None else []
            return Outcome(InboxStatus.IGNORED, f"{event.uid}: an older or repeated version", made)
        if event.method == "CANCEL" or event.cancelled or not invited:
            return self._cancel(store, event, mapping, organizer)
        if event.recurrence_id:
            return self._occurrence(store, event, organizer)
        return self._upsert(store, event, mapping, organizer, origin)

    def configuration_problem(self, store: Store) -> str | None:
        """What is wrong with ``bridge.default_type`` (checked at start-up and by /healthz),
        or None."""
        known = sorted(t.key for t in store.types.list())
        choices = ", ".join(known) or "none yet: create one first"
        if not self.default_type:
            return (
                "bridge.default_type is empty: an invitation whose CATEGORIES name no "
                f"reservation type cannot become a booking; set it to one of: {choices}"
            )
        if self.default_type not in known:
            return (
                f"bridge.default_type {self.default_type!r} is not a reservation type; "
                f"set it to one of: {choices}"
            )
        return None

    def _reply(self, store: Store, event: InboundEvent, origin: Origin) -> Outcome:
        """An attendee answers a booking's invitation (RFC 5546 REPLY): their PARTSTAT is
        recorded on the booking; staff hear of a decline."""
        booking = store.bookings.get_by_uid(event.uid)
        if booking is None:
            return Outcome(InboxStatus.IGNORED, f"{event.uid}: a reply to no booking of ours")
        answers = [p for p in event.attendees if p.partstat in ANSWERS]
        if origin.sender is not None:
            answers = [p for p in answers if p.is_(origin.sender)]
        if not answers:
            return Outcome(
                InboxStatus.REJECTED,
                f"{event.uid}: the reply carries no answer"
                + (f" from its sender {origin.sender}" if origin.sender else ""),
            )
        known = {a.email: a for a in booking.attendees}
        recorded = []
        for answer in answers:
            before = known.get(answer.email)
            if before is None:
                continue
            store.bookings.set_partstat(booking.id, answer.email, answer.partstat)
            self.effects.replied(store, store.bookings.one(booking.id), answer.email)
            recorded.append(f"{answer.email} {answer.partstat.lower()}")
            newly_declined = answer.partstat == "DECLINED" and before.partstat != "DECLINED"
            if newly_declined and self.notifier is not None:
                self.notifier.declined(store, store.bookings.one(booking.id), before)
        if not recorded:
            return Outcome(
                InboxStatus.REJECTED,
                f"{event.uid}: the reply is from no attendee of booking {booking.id}",
            )
        return Outcome(InboxStatus.PROCESSED, f"{event.uid}: " + ", ".join(recorded), [booking.id])

    def _draft(self, store: Store, event: InboundEvent, organizer: User) -> BookingDraft | Outcome:
        """The booking the event asks for (its staff member is the organizer)."""
        known = set(store.locations.codes())
        code, unknown = itip.find_code(event, known)
        if code is None and unknown is None and organizer.primary_location:
            code = organizer.primary_location
        if code is None:
            self._tell_unknown_code(store, event, organizer, unknown)
            if unknown and organizer.primary_location:
                what = (
                    f"the event names location code {unknown}, which does not exist (the "
                    f"organizer's primary location {organizer.primary_location} is used only "
                    "when the event names no code)"
                )
            elif unknown:
                what = f"the event names location code {unknown}, which does not exist"
            else:
                what = "the event names no location code and the organizer has no primary location"
            return Outcome(
                InboxStatus.REJECTED,
                f"{event.uid}: {what}; the organizer was sent the list of valid codes",
            )
        type_key = next(
            (c.lower() for c in event.categories if store.types.get(c.lower())), self.default_type
        )
        if not type_key or store.types.get(type_key) is None:
            return Outcome(
                InboxStatus.FAILED,
                f"{event.uid}: no reservation type: name one in CATEGORIES "
                f"or set bridge.default_type (now {self.default_type!r})",
                failure=InboxFailure.CONFIGURATION,
            )
        location = store.locations.get(code)
        assert location is not None
        timezone = (
            event.timezone or (organizer.timezone if event.floating else None) or location.timezone
        )
        guests = commands.attendees(
            [
                {"email": p.email, "name": p.name}
                for p in event.attendees
                if not p.is_(self.invite)
                and not p.is_(organizer.email)
                and p.cutype not in ("ROOM", "RESOURCE")
            ]
        )
        start: Moment = event.start
        end: Moment = event.end
        exdates: tuple[Moment, ...] = event.exdates
        if event.all_day:  # dates were read as UTC midnights
            start, end = _utc_day(event.start), _utc_day(event.end)
            exdates = tuple(_utc_day(x) for x in event.exdates)
        return BookingDraft(
            type_key=type_key,
            location_code=code,
            staff=organizer.id,
            start=start,
            end=end,
            all_day=event.all_day,
            timezone=timezone,
            attendees=guests,
            title=event.summary[:500],
            notes=event.description[:20_000],
            rrule=event.rrule or None,
            exdates=exdates,
            calendar_uid=event.uid,
        )

    def _upsert(
        self,
        store: Store,
        event: InboundEvent,
        mapping: BridgedEvent | None,
        organizer: User,
        origin: Origin,
    ) -> Outcome:
        draft = self._draft(store, event, organizer)
        if isinstance(draft, Outcome):
            return draft
        current = store.bookings.get(mapping.booking_id) if mapping and mapping.booking_id else None
        if current is not None and current.status in (Status.CONFIRMED, Status.PENDING):
            change = bookings.update_booking(
                store, current.id, draft.patch(), self.effects, True, self.budget
            )
            verb = "updated"
        else:
            change = bookings.create_booking(store, draft, origin.source, self.effects, self.budget)
            verb = "booked"
        booking = change.after
        store.bridge_events.put(
            BridgedEvent(
                event.uid,
                event.recurrence_id,
                booking.id,
                organizer.email,
                event.sequence,
                event.dtstamp,
                cancelled=False,
            )
        )
        return Outcome(
            InboxStatus.PROCESSED,
            f"{event.uid}: {verb} as booking {booking.id} at {booking.location_code}",
            [booking.id],
        )

    def _occurrence(self, store: Store, event: InboundEvent, organizer: User) -> Outcome:
        """One occurrence of a series moved or changed: the series skips it (EXDATE) and the
        occurrence becomes a booking of its own."""
        series = store.bridge_events.get(event.uid)
        if series is None or series.cancelled or series.booking_id is None:
            return Outcome(
                InboxStatus.IGNORED, f"{event.uid}: an occurrence of a series that is no booking"
            )
        self._skip_occurrence(store, series.booking_id, event.recurrence_id)
        child = store.bridge_events.get(event.uid, event.recurrence_id)
        parent = store.bookings.get(series.booking_id)
        return self._upsert(
            store, event, child, organizer, Origin(parent.source if parent else "caldav")
        )

    def _skip_occurrence(self, store: Store, booking_id: int, recurrence_id: str) -> None:
        series = store.bookings.get(booking_id)
        if series is None or not series.rrule:
            return
        moment = datetime.strptime(recurrence_id, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if moment in series.exdates:
            return
        zone = series.zone
        exdates: tuple[Moment, ...] = tuple(
            x.astimezone(zone).date() if series.all_day else x for x in (*series.exdates, moment)
        )
        bookings.update_booking(
            store,
            booking_id,
            # One occurrence less cannot meet a busy time.
            BookingPatch(exdates=exdates, allow_conflict=True),
            self.effects,
            True,
            self.budget,
        )

    def _cancel(
        self, store: Store, event: InboundEvent, mapping: BridgedEvent | None, organizer: User
    ) -> Outcome:
        if event.recurrence_id and mapping is None:
            series = store.bridge_events.get(event.uid)
            if series is not None and series.booking_id and not series.cancelled:
                self._skip_occurrence(store, series.booking_id, event.recurrence_id)
                _tombstone(store, event, organizer)
                return Outcome(
                    InboxStatus.PROCESSED,
                    f"{event.uid}: one occurrence cancelled",
                    [series.booking_id],
                )
        if mapping is None or mapping.booking_id is None:
            _tombstone(store, event, organizer)
            return Outcome(InboxStatus.IGNORED, f"{event.uid}: cancelled before it was a booking")
        reason = (
            "cancelled"
            if event.method == "CANCEL" or event.cancelled
            else f"{self.invite} was removed from the attendees"
        )
        return self._cancel_booking(store, mapping, event.sequence, event.dtstamp, reason)

    def _cancel_booking(
        self, store: Store, mapping: BridgedEvent, sequence: int, dtstamp: datetime, reason: str
    ) -> Outcome:
        booking: Booking | None = store.bookings.get(mapping.booking_id or 0)
        if booking is not None and booking.status in (Status.CONFIRMED, Status.PENDING):
            bookings.set_status(
                store, booking.id, Status.CANCELLED, self.effects, True, self.budget
            )
        store.bridge_events.put(
            BridgedEvent(
                mapping.uid,
                mapping.recurrence_id,
                mapping.booking_id,
                mapping.organizer,
                sequence,
                dtstamp,
                cancelled=True,
            )
        )
        ids = [booking.id] if booking else []
        return Outcome(InboxStatus.PROCESSED, f"{mapping.uid}: booking cancelled ({reason})", ids)

    def _tell_busy(self, store: Store, event: InboundEvent, origin: Origin, reason: str) -> None:
        """Tell the organizer their event was not booked: their own calendar is busy then."""
        if self.notifier is None:
            return
        organizer = store.users.get_by_email(origin.owner or event.organizer or "")
        if organizer is None:
            return
        with store.transaction():
            busy_message(
                self.notifier,
                store,
                organizer,
                _message_key(event),
                event.summary,
                event.start,
                event.timezone or organizer.timezone,
                reason,
            )

    def _tell_unknown_code(
        self, store: Store, event: InboundEvent, organizer: User, word: str | None
    ) -> None:
        if self.notifier is None:
            return
        unknown_code_message(
            self.notifier,
            store,
            organizer,
            _message_key(event),
            event.summary,
            event.start,
            event.timezone or organizer.timezone,
            word,
        )


def _message_key(event: InboundEvent) -> str:
    """One message to the organizer per version of an event, however often it comes in."""
    return f"bridge:{event.uid}:{event.recurrence_id}:{event.sequence}:{event.dtstamp:%s}"


def _tombstone(store: Store, event: InboundEvent, organizer: User) -> None:
    """Remember a cancelled event without booking, so that a late, older invitation cannot
    create it."""
    store.bridge_events.put(
        BridgedEvent(
            event.uid,
            event.recurrence_id,
            None,
            organizer.email,
            event.sequence,
            event.dtstamp,
            cancelled=True,
        )
    )


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def combine(groups: list[list[Outcome]]) -> Outcome:
    """An item's outcome: the worst of its calendars', each the worst of its events'."""
    return _combine([_combine(outcomes) for outcomes in groups])


def _combine(outcomes: list[Outcome]) -> Outcome:
    if not outcomes:
        return Outcome(InboxStatus.IGNORED, "nothing to do")
    worst = max(outcomes, key=lambda o: _RANK[o.status])
    ids = sorted({i for o in outcomes for i in o.booking_ids})
    reason = "; ".join(o.reason for o in outcomes if o.reason)
    return Outcome(worst.status, reason, ids, worst.failure)
