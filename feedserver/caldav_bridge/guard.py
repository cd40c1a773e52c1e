"""What no CalDAV method may do: delete, move or overwrite a principal collection or a
user's read-only ``bookings`` calendar (feedserver publishes it), or write into that calendar.

Rights (``rights``) already keep each user to their own tree; this guard covers what Radicale's
rights cannot say (a principal with write access to create calendars could otherwise be
deleted with everything in it), for every method and for the Destination of MOVE and COPY.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from feedserver.caldav_bridge.rights import BOOKINGS

_WRITES = {"PUT", "DELETE", "MOVE", "PROPPATCH", "MKCOL", "MKCALENDAR", "POST", "ACL"}
_REMOVES = {"DELETE", "MOVE"}


def _parts(path: str) -> list[str]:
    return [p for p in unquote(path).split("/") if p]


def _target_problem(parts: list[str], method: str) -> str | None:
    if not parts and method in _WRITES:
        return "the root collection cannot be changed"
    if len(parts) == 1 and (method in _REMOVES or method in ("PUT", "COPY-TO")):
        return (
            "a user's principal collection cannot be deleted, moved or overwritten; "
            "delete the calendars in it instead"
        )
    if len(parts) >= 2 and parts[1] == BOOKINGS and (method in _WRITES or method == "COPY-TO"):
        return (
            f"the {BOOKINGS} calendar is read-only: feedserver publishes it from the bookings "
            "(change a booking in the booking system, or in the organizer's own calendar)"
        )
    return None


def protected(method: str, path: str, destination: str | None, prefix: str) -> str | None:
    """Why this request is refused (403), or None. ``path`` is below ``prefix``."""
    method = method.upper()
    found = _target_problem(_parts(path), method)
    if found is not None or method not in ("MOVE", "COPY") or not destination:
        return found
    target = urlsplit(destination).path
    if target.startswith(prefix):
        target = target[len(prefix) :]
    return _target_problem(_parts(target), "COPY-TO")
