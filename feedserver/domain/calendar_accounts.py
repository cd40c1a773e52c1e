"""Connected calendar accounts: the rules that need no network.

Which bookings an account shows (``query``: the person's own bookings, chosen by the same
filters as a feed link, cancelled ones never), how its events are named (a UID and an href
in the account's own namespace, so that nothing feedserver did not write is ever touched),
and the queue: a booking's change queues a write for every account of the people it concerns
(before and after the change), in the change's transaction (``queue_change``).

The network side (finding calendars, writing, Google's authorization) is
``feedserver.calendar_accounts``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from feedserver.domain import schemas
from feedserver.domain.accounts import find_user
from feedserver.domain.feed_links import parse_filters
from feedserver.domain.inputs import Body
from feedserver.errors import InvalidInput, NotFound, UnknownReference
from feedserver.model import Booking, CalendarAccount, FeedFilters, Status, User
from feedserver.store import BookingQuery, Store
from feedserver.times import utcnow

MAX_ACCOUNTS = 5  # a person's connected accounts
PROVIDERS = ("caldav", "google")
_FILTER_FIELDS = ("types", "locations", "include_pending", "include_buffers", "show_attendees")
RESYNC = 0  # the booking id of a job that compares the whole calendar


@dataclass(frozen=True)
class ConnectRequest:
    """What a person asked to connect, checked."""

    owner: User
    provider: str
    name: str
    url: str
    username: str
    password: str
    calendar: str  # a calendar's URL, or "new"
    filters: FeedFilters
    busy: bool


def owner_of(store: Store, body: Body, me: User | None) -> User:
    """``me``, or for an admin (``me`` None) the body's ``user``."""
    if me is not None:
        return me
    if body.raw("user") is None:
        raise InvalidInput("user is required: whose calendar account this is", field="user")
    try:
        return find_user(store, body.raw("user"))
    except NotFound as exc:
        raise UnknownReference(str(exc), field="user") from exc


def _filters(store: Store, body: Body) -> FeedFilters:
    found = parse_filters(store, body)
    # Cancelled bookings are removed from the calendar, never shown there.
    return dataclasses.replace(found, statuses=("confirmed",), show_cancelled=False)


def parse_connect(store: Store, data: object, me: User | None) -> ConnectRequest:
    body = Body(data, schemas.CALENDAR_ACCOUNT)
    owner = owner_of(store, body, me)
    provider = body.text("provider", default="caldav")
    if provider not in PROVIDERS:
        raise InvalidInput("provider is caldav or google", field="provider")
    caldav = provider == "caldav"
    url = body.text("url", required=caldav)
    if caldav:
        url = checked_url(url)
    if len(store.calendar_accounts.list(owner.id)) >= MAX_ACCOUNTS:
        raise InvalidInput(f"at most {MAX_ACCOUNTS} calendar accounts a person", field="url")
    return ConnectRequest(
        owner=owner,
        provider=provider,
        name=body.text("name", default="Google" if not caldav else "") or _host(url),
        url=url,
        username=body.text("username", required=caldav) if caldav else "",
        password=body.text("password", required=caldav) if caldav else "",
        calendar=body.text("calendar", default="new") or "new",
        filters=_filters(store, body),
        busy=body.flag("busy", default=True),
    )


def checked_url(value: str) -> str:
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
    except ValueError:  # "http://[::1", say
        host = None
    if host is None or parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(
            "url is the http(s) address of a CalDAV server, such as https://caldav.icloud.com",
            field="url",
        )
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


def _host(url: str) -> str:
    return urlsplit(url).hostname or "Calendar"


@dataclass(frozen=True)
class Patch:
    name: str | None
    username: str | None
    password: str | None
    filters: FeedFilters | None
    busy: bool | None


def parse_patch(store: Store, account: CalendarAccount, data: object) -> Patch:
    body = Body(data, schemas.CALENDAR_ACCOUNT_PATCH)
    for refused in ("url", "calendar"):
        if refused in body:
            raise InvalidInput(
                f"{refused} cannot change: disconnect the account and connect the other "
                "calendar (the events written are removed or kept, as you choose)",
                field=refused,
            )
    filters = None
    if any(name in body for name in (*_FILTER_FIELDS, "kind")):
        current = account.filters
        merged = {
            "types": list(current.types),
            "locations": list(current.locations),
            "include_pending": current.include_pending,
            "include_buffers": current.include_buffers,
            "show_attendees": current.show_attendees,
            "kind": "busy" if current.busy_only else "events",
            **{k: v for k, v in body.data.items() if k in (*_FILTER_FIELDS, "kind")},
        }
        filters = _filters(store, Body(merged, schemas.CALENDAR_ACCOUNT_PATCH))
    return Patch(
        name=body.text("name") if "name" in body else None,
        username=body.text("username") if "username" in body else None,
        password=body.text("password") if "password" in body else None,
        filters=filters,
        busy=body.flag("busy") if "busy" in body else None,
    )


def get_account(store: Store, account_id: int, me: User | None) -> CalendarAccount:
    """An account (NotFound when it is not ``me``'s; ``me`` None: an admin's, any)."""
    found = store.calendar_accounts.get(account_id)
    if found is None or (me is not None and found.user_id != me.id):
        raise NotFound(f"no calendar account {account_id}")
    return found


def list_accounts(store: Store, me: User | None, user_ref: str | None) -> list[CalendarAccount]:
    if me is not None:
        return store.calendar_accounts.list(me.id)
    if user_ref:
        return store.calendar_accounts.list(find_user(store, user_ref).id)
    return store.calendar_accounts.list()


# -- naming -------------------------------------------------------------------------------------


def new_uid_key() -> str:
    return secrets.token_hex(6)


def event_name(account: CalendarAccount, booking: Booking) -> tuple[str, str]:
    """(UID, file name) of a booking's event in the account: both in the account's
    namespace, so a resync knows its own events from the person's."""
    stem = hashlib.sha256(f"{account.uid_key}:{booking.uid}".encode()).hexdigest()[:20]
    return (
        f"feedserver-{account.uid_key}-{booking.id}-{stem}",
        f"feedserver-{account.uid_key}-{stem}.ics",
    )


def ours(account: CalendarAccount, href_or_uid: str) -> bool:
    """Whether an href or UID is in the namespace of the account's events."""
    name = href_or_uid.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith(f"feedserver-{account.uid_key}-")


def digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


# -- which bookings -----------------------------------------------------------------------------


def query(
    account: CalendarAccount,
    owner: User,
    now: datetime,
    past_days: int,
    ids: Sequence[int] | None = None,
) -> BookingQuery:
    """The bookings the account's calendar shows: the owner's (staff member or attendee),
    through the account's filters, ending at most ``past_days`` ago."""
    f = account.filters
    statuses = [Status.CONFIRMED.value] + ([Status.PENDING.value] if f.include_pending else [])
    return BookingQuery(
        types=f.types or None,
        locations=f.locations or None,
        statuses=statuses,
        start=now - timedelta(days=past_days),
        involving_user=(owner.id, owner.email),
        ids=ids,
    )


def wanted(
    store: Store, account: CalendarAccount, owner: User, booking_id: int, past_days: int
) -> bool:
    return bool(store.bookings.ids(query(account, owner, utcnow(), past_days, [booking_id])))


def _people(booking: Booking) -> tuple[set[int], set[str]]:
    return {booking.staff_id}, {a.email for a in booking.attendees}


def queue_change(store: Store, before: Booking | None, after: Booking) -> int:
    """Queue the booking for every account of the people it concerned or concerns."""
    if not store.calendar_accounts.any():
        return 0
    ids, emails = _people(after)
    if before is not None:
        more_ids, more_emails = _people(before)
        ids |= more_ids
        emails |= more_emails
    accounts = store.calendar_accounts.of_people(ids, emails)
    return store.calendar_accounts.enqueue(((a, after.id) for a in accounts), utcnow())


def queue_created(store: Store, bookings: Iterable[Booking]) -> int:
    """Queue new bookings (an import) for the accounts of their people."""
    if not store.calendar_accounts.any():
        return 0
    by_person: dict[tuple[int, str], list[int]] = {}
    for booking in bookings:
        by_person.setdefault((booking.staff_id, ""), []).append(booking.id)
        for attendee in booking.attendees:
            by_person.setdefault((0, attendee.email), []).append(booking.id)
    pairs: list[tuple[int, int]] = []
    for (user_id, email), booking_ids in by_person.items():
        accounts = store.calendar_accounts.of_people([user_id] if user_id else [], [email])
        pairs.extend((a, b) for a in accounts for b in booking_ids)
    return store.calendar_accounts.enqueue(pairs, utcnow())


def resync(store: Store, account: CalendarAccount) -> None:
    """Compare the whole calendar with the bookings, and write what differs."""
    with store.transaction():
        store.calendar_accounts.reset(account.id)
        store.calendar_accounts.enqueue([(account.id, RESYNC)], utcnow())
