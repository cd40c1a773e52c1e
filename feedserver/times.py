"""Time values: UTC instants as ``YYYY-MM-DDTHH:MM:SSZ`` text (the API's and the store's form),
zones, and the window of dates feedserver accepts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedserver.errors import InvalidInput

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# The dates a booking, an exception or an availability query may name: far enough either way
# for any real calendar, near enough that every offset, duration and recurrence stays within
# what Python, SQLite and calendar clients represent (year 1 or 9999 overflows on conversion).
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2200, 12, 31)
WINDOW = f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2201, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso_utc(moment: datetime) -> str:
    """``2027-01-20T08:00:00Z``: an instant as the API writes it."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat is C code: several times faster than strftime(UTC_FORMAT), same text
    # once its "+00:00" is written "Z".
    return moment.isoformat(timespec="seconds")[:-6] + "Z"


def find_zone(name: object) -> ZoneInfo | None:
    """The IANA zone called ``name``, or None: also for names that are folders (``Europe``),
    paths, too long or otherwise unreadable, on which ZoneInfo raises OSError."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone called ``name``; InvalidInput when there is none."""
    found = find_zone(name)
    if found is None:
        raise InvalidInput(f"{name!r} is not an IANA timezone", field=field)
    return found


def parse_instant(value: object, field: str) -> datetime:
    """An ISO 8601 date-time with an offset (``2026-03-01T09:00:00+01:00`` or ``...Z``)."""
    if not isinstance(value, str):
        raise InvalidInput("expected an ISO 8601 date-time string", field=field)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not an ISO 8601 date-time", field=field) from exc
    if moment.tzinfo is None:
        raise InvalidInput(f"{value!r} has no UTC offset; add one such as +01:00 or Z", field=field)
    if not in_window(moment):
        raise InvalidInput(f"{value!r} is outside the dates accepted ({WINDOW})", field=field)
    return moment.replace(microsecond=0)


def in_window(moment: date) -> bool:
    """Whether a date or an aware date-time lies in the accepted window (``WINDOW``)."""
    if not isinstance(moment, datetime):
        return FIRST_DAY <= moment <= LAST_DAY
    try:
        instant = moment.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 at +14:00, year 9999 at -14:00
        return False
    return _EARLIEST <= instant < _LATEST


def parse_date(value: object, field: str) -> date:
    if not isinstance(value, str):
        raise InvalidInput("expected an ISO 8601 date (YYYY-MM-DD)", field=field)
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{value!r} is not an ISO 8601 date", field=field) from exc
    if not in_window(day):
        raise InvalidInput(f"{value!r} is outside the dates accepted ({WINDOW})", field=field)
    return day


def retry_after(
    value: str | None, now: datetime, longest: timedelta = timedelta(hours=24)
) -> timedelta | None:
    """An HTTP Retry-After header (seconds or an HTTP date) as a wait between a second and
    ``longest``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit() and len(value) < 10:
        wait = timedelta(seconds=int(value))
    else:
        try:
            wait = parsedate_to_datetime(value) - now
        except (TypeError, ValueError, OverflowError):
            return None
    return max(timedelta(seconds=1), min(wait, longest))
