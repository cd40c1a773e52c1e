"""Writing one iCalendar component's content lines (RFC 5545 §3.1) straight to bytes.

The VEVENTs of feeds and CalDAV are written here rather than through icalendar's component
model: building an ``Event`` and serialising it costs about 300 µs a booking (most of it in
parameter objects and character-by-character folding), writing the same lines about 30 µs.
Recurrence rules are still written by icalendar's ``vRecur``, and ``icalendar.Event.from_ical``
reads the result back where a component is needed (email invitations).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from icalendar import vRecur

_LIMIT = 75  # octets of a line, without its CRLF (RFC 5545 §3.1)
_BACKSLASH = 0x5C
# Control characters other than HTAB may not appear in a value (RFC 5545 §3.1): dropped.
_CONTROLS: dict[int, None] = dict.fromkeys([*range(0x09), *range(0x0B, 0x20), 0x7F])


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 §3.3.11): backslash, semicolon and comma escaped, each line
    break (CRLF, LF or a lone CR) written as ``\\n``, other control characters dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return escaped.translate(_CONTROLS).replace("\n", "\\n")


def fold(line: str) -> bytes:
    """``line`` as UTF-8, folded into lines of at most 75 octets. A fold never splits a
    UTF-8 sequence, nor a backslash escape (``\\n``, ``\\,``: some readers do not join those)."""
    data = line.encode()
    if len(data) <= _LIMIT:
        return data
    pieces = []
    start, limit = 0, _LIMIT
    while len(data) - start > limit:
        cut = start + limit
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: back to the character's start
            cut -= 1
        slashes = 0
        while cut - 1 - slashes > start and data[cut - 1 - slashes] == _BACKSLASH:
            slashes += 1
        if slashes % 2:  # the last backslash starts an escape: keep the pair together
            cut -= 1
        pieces.append(data[start:cut])
        start, limit = cut, _LIMIT - 1  # continuation lines begin with a space
    pieces.append(data[start:])
    return b"\r\n ".join(pieces)


def _date(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _time(value: datetime) -> str:
    return f"{_date(value)}T{value.hour:02d}{value.minute:02d}{value.second:02d}"


def _is_utc(value: datetime) -> bool:
    zone = value.tzinfo
    return zone is UTC or (isinstance(zone, ZoneInfo) and zone.key in ("UTC", "Etc/UTC"))


def moment(value: date | datetime) -> tuple[str, str]:
    """(parameters, value) of a DATE or DATE-TIME: ``;VALUE=DATE`` for a date, ``Z`` for UTC,
    ``;TZID=`` for a time in a named zone, nothing for a floating time."""
    if not isinstance(value, datetime):
        return ";VALUE=DATE", _date(value)
    if value.tzinfo is None:
        return "", _time(value)
    if _is_utc(value):
        return "", _time(value.astimezone(UTC)) + "Z"
    if isinstance(value.tzinfo, ZoneInfo):
        return f";TZID={value.tzinfo.key}", _time(value)
    return "", _time(value.astimezone(UTC)) + "Z"  # a fixed offset: written as the instant


class ContentLines:
    """The lines of one component, in the order they are added."""

    def __init__(self, component: str) -> None:
        self.component = component
        self._lines = [f"BEGIN:{component}".encode()]

    def add(self, name: str, value: str, parameters: str = "") -> None:
        """A property whose value is already in iCalendar form."""
        self._lines.append(fold(f"{name}{parameters}:{value}"))

    def text(self, name: str, value: str) -> None:
        self.add(name, escape_text(value))

    def texts(self, name: str, values: Sequence[str]) -> None:
        self.add(name, ",".join(escape_text(v) for v in values))

    def when(self, name: str, value: date | datetime) -> None:
        parameters, written = moment(value)
        self.add(name, written, parameters)

    def whens(self, name: str, values: Sequence[date | datetime]) -> None:
        """A list of dates or times that share one kind and zone (EXDATE)."""
        parameters, _ = moment(values[0])
        self.add(name, ",".join(moment(v)[1] for v in values), parameters)

    def recur(self, name: str, rule: str) -> None:
        self.add(name, vRecur.from_ical(rule).to_ical().decode())

    def to_bytes(self) -> bytes:
        return b"\r\n".join([*self._lines, f"END:{self.component}".encode(), b""])
