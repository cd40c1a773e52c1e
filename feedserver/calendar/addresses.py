"""Calendar user addresses, and the one rule that says whether an object invites an address.

An attendee is named by its value (``mailto:`` in any case, RFC 5545 §3.3.3) and, when clients
write another URI there (iCloud's ``urn:uuid:``), by its ``EMAIL`` parameter (RFC 7986 §6.1).
Addresses compare case-insensitively. Real clients fold long ``ATTENDEE`` lines (Apple Calendar,
Thunderbird, DAVx5 and Evolution always add CN, CUTYPE, ROLE, PARTSTAT and RSVP), quote
parameter values holding ``:``, ``;`` or ``,``, and end lines with CRLF or LF alone: the rule
reads content lines unfolded and their parameters unquoted, never the raw text.

``invites`` reads content lines without building a calendar: the rate limits ask it of a
request body before anything is stored, and the CalDAV capture and reconciliation of every
stored item. The pipeline reads the same addresses from parsed events (``itip.Person``), made
by the same ``address`` function, so all of them agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_UNFOLD = re.compile(r"(?:\r\n|\n|\r)[ \t]")
_LINE = re.compile(r"\r\n|\n|\r")


def address(value: object) -> str:
    """The address a calendar user value names: ``mailto:`` (any case) and spaces removed,
    lower-cased; other URIs (``urn:uuid:``...) lower-cased as they are."""
    text = str(value or "").strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    return text.strip().lower()


def _split_line(line: str) -> tuple[str, dict[str, str], str] | None:
    """(NAME, parameters, value) of one unfolded content line, or None when it has no value.
    Parameter values may be quoted (and then hold ``;``, ``:`` and ``,``)."""
    colon = -1
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            colon = index
            break
    if colon < 0:
        return None
    head, value = line[:colon], line[colon + 1 :]
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in head:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    name = parts[0].strip().upper().rpartition(".")[2]  # a vCard-style group prefix
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, _, raw = part.partition("=")
        params[key.strip().upper()] = raw.strip().strip('"')
    return name, params, value


def _lines(text: str) -> Iterator[str]:
    yield from _LINE.split(_UNFOLD.sub("", text))


def event_uid(text: str) -> str | None:
    """The UID of the first VEVENT of an iCalendar text (not an alarm's UID, as Apple writes
    in VALARMs), or of a bare ``UID:`` line; None without one."""
    inside: list[str] = []
    for line in _lines(text):
        upper = line.upper()
        if upper.startswith("BEGIN:"):
            inside.append(upper[6:].strip())
        elif upper.startswith("END:") and inside:
            inside.pop()
        elif upper.startswith("UID") and (not inside or inside[-1] == "VEVENT"):
            split = _split_line(line)
            if split is not None and split[0] == "UID" and split[2].strip():
                return split[2].strip()
    return None


def properties(text: str, name: str) -> Iterator[tuple[dict[str, str], str]]:
    """(parameters, value) of every ``name`` property of an iCalendar text, read from its
    unfolded content lines (a folded UID or ATTENDEE is one value)."""
    for line in _lines(text):
        if name not in line.partition(":")[0].upper():
            continue
        split = _split_line(line)
        if split is not None and split[0] == name:
            yield split[1], split[2]


def user_addresses(text: str, name: str, most: int = 0) -> dict[str, None]:
    """Every address the ``name`` properties (ATTENDEE, ORGANIZER) of the iCalendar text
    name, value and EMAIL parameter, in order, each once (``most`` > 0: at most that many)."""
    found: dict[str, None] = {}
    for params, value in properties(text, name):
        for named in (value, params.get("EMAIL", "")):
            normal = address(named)
            if normal:
                found[normal] = None
        if most and len(found) >= most:
            break
    return found


def attendee_addresses(text: str) -> set[str]:
    """Every address an ``ATTENDEE`` of the iCalendar text names (its value and its EMAIL)."""
    return set(user_addresses(text, "ATTENDEE"))


def invites(text: str, invite_address: str) -> bool:
    """Whether an attendee of the iCalendar text is ``invite_address``: the one rule that says
    whether a write concerns the bridge."""
    wanted = address(invite_address)
    return bool(wanted) and wanted in attendee_addresses(text)
