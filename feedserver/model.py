"""The booking system's entities as immutable values. Only ``feedserver.store`` builds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from feedserver.numbers import is_whole

# -- the vocabulary of messages and reminders (the configuration and the domain both speak it) --

MESSAGE_LANGUAGES = ("en", "fr", "de", "es")  # the languages the email catalogs ship in
ATTENDEE_KINDS = (
    "booked",
    "requested",
    "confirmed",
    "changed",
    "cancelled",
    "rejected",
    "reminder",
)
REMINDER_AUDIENCES = ("attendees", "staff")  # who a reminder rule may name


def parse_reminder(rule: str) -> tuple[int, tuple[str, ...]]:
    """``'60 attendees staff'``: minutes before the start, then who is reminded."""
    minutes, *audience = rule.split()
    if not is_whole(minutes) or not 1 <= int(minutes) <= 60 * 24 * 31:
        raise ValueError(f"{rule!r}: the minutes first, 1 to 44640")
    if not audience or set(audience) - set(REMINDER_AUDIENCES):
        raise ValueError(f"{rule!r}: then one or more of {', '.join(REMINDER_AUDIENCES)}")
    return int(minutes), tuple(sorted(set(audience)))


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    CUSTOMER = "customer"


class Status(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


@dataclass(frozen=True)
class LocationSettings:
    """A location as the domain writes it: all but its id and times."""

    code: str
    name: str
    address: str
    timezone: str
    external_id: str | None = None  # the caller's own id (unique among locations)


@dataclass(frozen=True)
class Location:
    id: int
    code: str
    name: str
    address: str
    timezone: str
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None

    @property
    def settings(self) -> LocationSettings:
        return LocationSettings(
            self.code, self.name, self.address, self.timezone, self.external_id
        )


Reminders = tuple[tuple[int, tuple[str, ...]], ...]  # (minutes before, audiences) per reminder


@dataclass(frozen=True)
class TypeSettings:
    """A reservation type as the domain writes it: all but its id and times."""

    key: str
    name: str
    duration_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    online: bool = False
    color: str = ""
    attendees_visible: bool = False
    title_visible: bool = False
    on_site: bool = False
    reminders: Reminders | None = None  # None: the organisation's default reminders
    external_id: str | None = None  # the caller's own id (unique among types)


@dataclass(frozen=True)
class ReservationType:
    id: int
    key: str
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    online: bool
    color: str
    created_at: datetime
    updated_at: datetime
    attendees_visible: bool = False  # attendees of a booking may see one another (group class)
    title_visible: bool = False  # attendees may see a booking's own title (staff-only otherwise)
    on_site: bool = False  # an online type that also meets at the location (LOCATION says both)
    # (minutes before, audiences) per reminder; None: the organisation's default reminders.
    reminders: Reminders | None = None
    external_id: str | None = None

    @property
    def settings(self) -> TypeSettings:
        return TypeSettings(
            self.key,
            self.name,
            self.duration_minutes,
            self.buffer_before_minutes,
            self.buffer_after_minutes,
            self.online,
            self.color,
            self.attendees_visible,
            self.title_visible,
            self.on_site,
            self.reminders,
            self.external_id,
        )


@dataclass(frozen=True)
class AccountSettings:
    """An account as the domain writes it: all but its id, password and times."""

    email: str
    name: str
    role: Role
    timezone: str = "UTC"
    primary_location: str | None = None  # location code
    language: str = ""
    external_id: str | None = None  # the caller's own id (unique among people)


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: Role
    timezone: str
    primary_location: str | None  # location code
    created_at: datetime
    updated_at: datetime
    language: str = ""  # "en", "fr", "de", "es", or "" for the browser's choice
    external_id: str | None = None
    deactivated_at: datetime | None = None  # None: active

    @property
    def active(self) -> bool:
        return self.deactivated_at is None

    @property
    def settings(self) -> AccountSettings:
        return AccountSettings(
            self.email,
            self.name,
            self.role,
            self.timezone,
            self.primary_location,
            self.language,
            self.external_id,
        )

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


Hours = tuple[tuple[time, time], ...]  # [start, end) local time ranges of one day


@dataclass(frozen=True)
class WorkingHours:
    """When a staff member works: per weekday (``mon``..``sun``), and dated exceptions (an
    empty tuple: not working that day). A weekday absent from ``weekly`` is not worked."""

    timezone: str
    weekly: dict[str, Hours]
    exceptions: dict[date, Hours]


@dataclass(frozen=True)
class BusyCalendar:
    """One of a staff member's own calendars, read for busy times only."""

    id: int
    user_id: int
    name: str
    url: str
    etag: str
    last_modified: str
    last_synced_at: datetime | None
    last_status: str  # new, ok, unchanged, error
    last_error: str
    busy_count: int
    kind: str = "ics"  # ics (one URL), caldav (every calendar of an account), account
    username: str = ""
    secret: str = ""  # the sealed password of a CalDAV account (never shown)
    account_id: int | None = None  # kind account: the connected calendar account read


@dataclass(frozen=True)
class Reminder:
    """One reminder due: of one occurrence of a booking, to one audience."""

    id: int
    booking_id: int
    occurrence_start: datetime  # UTC
    before_minutes: int
    audience: str  # attendees or staff
    due_at: datetime
    state: str  # pending, sent, skipped (its occurrence had begun: the server was down)


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser (the cookie's id itself is never stored)."""

    id_digest: str
    user_id: int
    csrf: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str = ""
    language: str = ""  # for guests without an account: their messages' language
    timezone: str = ""  # ... and the zone their messages show times in ('' = the booking's)
    partstat: str = "NEEDS-ACTION"  # their iTIP answer: ACCEPTED, DECLINED, TENTATIVE


@dataclass(frozen=True)
class Booking:
    id: int
    uid: str
    type_key: str
    location_code: str
    staff_id: int
    attendees: tuple[Attendee, ...]
    start: datetime  # UTC; for all-day bookings, local midnight of the first day
    end: datetime  # UTC; exclusive
    timezone: str
    all_day: bool
    rrule: str | None
    exdates: tuple[datetime, ...]  # UTC starts of removed occurrences
    status: Status
    title: str
    notes: str
    sequence: int
    source: str
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None  # the booking system's own id (unique among bookings)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.zone)

    @property
    def start_date(self) -> date:
        return self.local_start.date()

    @property
    def end_date(self) -> date:
        """Exclusive end date of an all-day booking."""
        return self.local_end.date()


@dataclass(frozen=True)
class BookingRecord:
    """A booking as the domain hands it to the store to write: every stored field, in the
    model's types (the store alone knows columns and formats). Its type, location and staff
    member by id; the attendees go beside it."""

    uid: str
    type_id: int
    location_id: int
    staff_id: int
    start: datetime
    end: datetime
    last_end: datetime | None  # the end of the last occurrence; None: an endless series
    timezone: str
    all_day: bool
    rrule: str | None
    exdates: tuple[datetime, ...]
    status: Status
    title: str
    notes: str
    sequence: int
    source: str
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """An email to queue in the outbox (sent once per idempotency key)."""

    idempotency_key: str
    kind: str
    booking_id: int | None
    recipient_email: str
    recipient_name: str
    subject: str
    body_text: str
    body_html: str
    ics: str | None = None  # an iCalendar invitation (iMIP) attached, with its METHOD
    ics_method: str | None = None


class Span(NamedTuple):
    """One booking's first occurrence as a busy-time search reads it, without loading it."""

    id: int
    type_key: str
    start: datetime
    end: datetime
    recurring: bool


class BusyTime(NamedTuple):
    """A busy time read from a staff member's own calendar."""

    start: datetime
    end: datetime
    calendar: str  # the calendar's name
    uid: str  # the event's UID


class DavCollection(NamedTuple):
    """A collection of a user's own CalDAV tree (a principal or a calendar)."""

    id: int  # not shared by a collection made again under the same path
    path: str  # "alice@example.org/work", without slashes around
    props: dict[str, str]  # Radicale's metadata: tag, D:displayname, C:calendar-description…
    version: int  # raised by every change of the collection or an item: its sync-token
    modified_at: datetime


class DavObject(NamedTuple):
    """An item of a user's calendar: what the client wrote, and what Radicale indexes."""

    href: str
    uid: str
    etag: str
    name: str  # the object: VCALENDAR (or VCARD)
    component: str  # its main component: VEVENT, VTODO, VJOURNAL…
    range_start: int  # the time range it covers, in Unix seconds
    range_end: int
    text: str
    modified_at: datetime


class BookingKey(NamedTuple):
    """What a rendering must know of a booking before deciding whether to load it: which
    version it is (for the fragment cache and CalDAV ETags), and what places it in a
    calendar. A named tuple: a feed makes thousands, straight from result rows."""

    id: int
    version: int  # the change-log version of the booking's last change
    type_key: str
    staff_id: int
    all_day: bool
    timezone: str
    start_utc: str
    staff_version: int = 0  # the staff member's ``render_version`` (their name is shown)
    uid: str = ""
    end_utc: str = ""  # the end of the last occurrence; "" for an endless series
    recurring: bool = False
    updated_at: str = ""


class Scope(StrEnum):
    OWN = "own"  # bookings where the user is the staff member or an attendee
    ALL = "all"  # the whole organisation (admins only)


@dataclass(frozen=True)
class FeedFilters:
    """Which bookings a feed link shows, and how."""

    types: tuple[str, ...] = ()  # empty: every type
    locations: tuple[str, ...] = ()
    staff: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ("confirmed",)
    include_pending: bool = False
    show_cancelled: bool = False
    include_buffers: bool = False
    show_attendees: bool = False
    busy_only: bool = False  # kind "busy": opaque "Busy" events, no title, place or people

    @property
    def effective_statuses(self) -> tuple[str, ...]:
        wanted = list(self.statuses)
        if self.include_pending:
            wanted.append(Status.PENDING.value)
        if self.show_cancelled:
            wanted.append(Status.CANCELLED.value)
        return tuple(sorted(set(wanted)))


@dataclass(frozen=True)
class FeedLink:
    id: int
    user_id: int
    name: str
    scope: Scope
    filters: FeedFilters
    nonce: str
    revoked_at: datetime | None
    created_at: datetime
    updated_at: datetime
    content_etag: str | None = None
    content_changed_at: datetime | None = None
    last_fetched_at: datetime | None = None
    fetch_count: int = 0
    last_user_agent: str | None = None
    owner_active: bool = True  # False: its owner is deactivated, the feed answers 403


@dataclass(frozen=True)
class FeedTemplate:
    """SUMMARY and DESCRIPTION templates; ``type_key`` None is the organisation default."""

    type_key: str | None
    summary: str
    description: str
    updated_at: datetime | None = None


@dataclass(frozen=True)
class AppPassword:
    """A per-device password for CalDAV clients; only its hash is stored."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class MeetingLink:
    """One attendee's own link to a booking's meeting (revocable, counted)."""

    id: int
    meeting_id: int
    attendee_email: str
    nonce: str
    clicks: int
    last_click_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Meeting:
    id: int
    booking_id: int
    provider: str
    room_url: str  # the provider link, for the staff member
    created_at: datetime
    links: tuple[MeetingLink, ...] = ()


@dataclass(frozen=True)
class NotificationSettings:
    booked: bool
    cancelled: bool
    rejected: bool
    short_notice: bool
    changed: bool = False  # a booking moved (staff; attendees always hear of their own)
    reminder: bool = True  # reminders before a booking (staff, and customers with an account)


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    idempotency_key: str
    kind: str
    booking_id: int | None
    recipient_email: str
    recipient_name: str
    subject: str
    body_text: str
    body_html: str
    ics: str | None
    ics_method: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    retry_since: datetime | None = None  # the start of its retry window (smtp.retry_hours)


class InboxStatus(StrEnum):
    RECEIVED = "received"  # stored, not processed yet
    PROCESSED = "processed"  # a booking was made, changed or cancelled
    IGNORED = "ignored"  # nothing to do (not an invitation of ours, an older version...)
    REJECTED = "rejected"  # refused for a reason the organizer can fix (told by email)
    FAILED = "failed"  # could not be processed; ``failure`` says why


class InboxFailure(StrEnum):
    NONE = ""
    MALFORMED = "malformed"  # not iCalendar or email we can read: final
    TOO_LARGE = "too_large"  # over bridge.max_message_bytes: final
    OVER_QUOTA = "over_quota"  # over bridge.inbox_quota_mb_per_user, kept without content: final
    CONFIGURATION = "configuration"  # the server's settings are missing something: retried
    ERROR = "error"  # an unexpected error: retried

    @property
    def retryable(self) -> bool:
        return self in (InboxFailure.CONFIGURATION, InboxFailure.ERROR)


@dataclass(frozen=True)
class InboxItem:
    """An inbound item, stored raw before it is processed."""

    id: int
    source: str  # caldav, email, stdin, http-calendar, http-message
    received_at: datetime
    raw: bytes
    size: int
    principal: str | None  # CalDAV: the calendar's owner
    path: str | None  # CalDAV: collection/href
    deleted: bool  # CalDAV: the item was deleted (raw is its last text, or its UID)
    status: InboxStatus
    failure: InboxFailure
    reason: str
    attempts: int
    booking_ids: tuple[int, ...]


@dataclass(frozen=True)
class BridgedEvent:
    """Which booking a calendar event (or one occurrence of it) became, at which version;
    a cancelled one stays as a tombstone so that an older invitation cannot revive it."""

    uid: str
    recurrence_id: str  # "" for the series / single event
    booking_id: int | None
    organizer: str
    sequence: int
    dtstamp: datetime
    cancelled: bool


@dataclass(frozen=True)
class EventDraft:
    """An event to log: all but its id and time."""

    type: str
    subject: str  # what it is about: "booking 12" (one subject's events arrive in order)
    origin: dict[str, Any]
    data: dict[str, Any]


@dataclass(frozen=True)
class Event:
    """Something a booking system may want to hear of (``feedserver.domain.events``): its
    type (``booking.created``...), what it is about (``booking 12``), who or what caused it,
    and its data, as the change feed and webhooks carry it."""

    id: int
    type: str
    subject: str
    origin: dict[str, Any]
    data: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class Webhook:
    """An endpoint that hears events: ``event_types`` (empty: every type), its secret sealed
    (``feedserver.tokens.credentials``), and the secret before it while a rotation lasts."""

    id: int
    url: str
    description: str
    event_types: tuple[str, ...]
    secret: str
    previous_secret: str | None
    previous_until: datetime | None
    enabled: bool
    disabled_reason: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class WebhookAttempt:
    at: datetime
    status: int | None  # the HTTP status; None: no answer (refused, timed out)
    error: str
    duration_ms: int
    response: str  # the start of the answer's body


@dataclass(frozen=True)
class WebhookDelivery:
    """One event for one endpoint: pending, sending (claimed), delivered or failed."""

    id: int
    webhook_id: int
    event_id: int
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    history: tuple[WebhookAttempt, ...] = ()


@dataclass(frozen=True)
class CalendarAccount:
    """A person's own calendar account that feedserver writes their bookings into (and reads
    busy times from): a CalDAV server, or Google through OAuth 2.0.

    ``secret`` is sealed (``feedserver.tokens.credentials``): the password of a CalDAV
    account, the JSON of Google's tokens. ``status`` is ``ok``, ``retrying`` (the last
    attempts failed; ``retry_at`` says when the next is) or ``failing`` (refused, or failing
    for ``calendar_accounts.failing_after_hours``; ``last_error`` says why)."""

    id: int
    user_id: int
    provider: str  # caldav | google
    name: str
    server_url: str
    username: str
    secret: str
    calendar_url: str
    calendar_name: str
    filters: FeedFilters
    busy: bool  # its calendars are read for busy times too
    uid_key: str  # the namespace of the events written (their UIDs and hrefs)
    status: str
    last_error: str
    failures: int  # attempts failed in a row
    failing_since: datetime | None
    retry_at: datetime | None
    last_written_at: datetime | None
    written: int  # events in place
    waiting: int  # bookings still to write
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class WrittenEvent:
    """An event feedserver wrote into a calendar account: one booking's, at ``href``."""

    account_id: int
    booking_id: int
    href: str
    etag: str
    digest: str  # the SHA-256 of what was written: an unchanged booking is not written again
    written_at: datetime


@dataclass(frozen=True)
class AccountJob:
    """A booking to bring up to date in an account (``booking_id`` 0: the whole calendar,
    a resync). Each (account, booking) is one row: changes that come while it waits are one
    write; ``generation`` tells whether another came while it was written."""

    id: int
    account_id: int
    booking_id: int
    generation: int
    attempts: int
    due_at: datetime
    queued_at: datetime


@dataclass(frozen=True)
class AccountLogEntry:
    at: datetime
    booking_id: int | None
    kind: str  # edit_replaced, removed, error
    detail: str


@dataclass(frozen=True)
class PendingAuthorization:
    """A Google authorization under way: who began it, its PKCE verifier, and what they asked
    for the account (its name, calendar, busy reading and filters)."""

    user_id: int
    verifier: str
    name: str
    calendar: str
    busy: bool
    filters: FeedFilters


@dataclass(frozen=True)
class PushSubscription:
    """A WebDAV-Push subscription (Web Push, RFC 8030) to one collection of ``/dav/``."""

    id: int
    user_id: int
    path: str  # the collection, as Radicale names it: "<principal>/<calendar>"
    registration: str  # the random part of its registration URL
    push_resource: str
    public_key: str  # the subscription's P-256 key (p256dh), base64url
    auth_secret: str  # base64url
    expires_at: datetime
    pushed_token: str  # the sync-token the last message sent carried
    created_at: datetime
    failures: int = 0
    last_error: str = ""


# The events booking systems hear of (``feedserver.domain.events``), with what each tells:
# the webhook schema, the README's list and the OpenAPI webhooks are made from this.
EVENT_TYPES: dict[str, str] = {
    "booking.created": "A booking was made.",
    "booking.updated": (
        "A booking changed: `changes` names what (time, place, staff, attendees, type, "
        "details) and `previous` holds those fields as they were."
    ),
    "booking.confirmed": "A pending booking was confirmed.",
    "booking.cancelled": "A booking was cancelled.",
    "booking.rejected": "A pending booking was rejected.",
    "attendee.replied": (
        "An attendee accepted, declined or tentatively accepted a booking's invitation "
        "(`attendee.partstat`)."
    ),
    "inbox.rejected": (
        "An inbound invitation was refused or could not be processed (`reason`); nothing "
        "was booked."
    ),
    "notification.failed": "An email could not be delivered, for good (`error`).",
    "feed_link.revoked": "A calendar subscription link was revoked.",
    "busy_calendar.failed": (
        "A staff member's own calendar could not be read (`error`); their last busy times are kept."
    ),
}
