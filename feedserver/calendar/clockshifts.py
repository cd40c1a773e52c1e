"""Occurrences of a series that fall where the wall clock skips or repeats.

A weekly series at 02:30 Europe/Paris meets the spring change (02:30 does not exist) and the
autumn change (02:30 happens twice) about once a year each. RFC 5545 §3.3.5 reads a skipped
time with the offset before the gap (02:30 +01:00, which is 03:30 CEST) and a repeated time as
its first pass; Python agrees (``fold=0``), but ical.js (Thunderbird) and khal read the spring
one as +02:00 and the autumn one as the second pass: an hour off. The renderer writes each such
occurrence again as an override (same UID, RECURRENCE-ID in local time, DTSTART and DTEND in
UTC), which every reader places at the one instant RFC 5545 means.

One reader error is beyond what the data can fix: libical 3.0's iterator (Debian's) moves the
skipped 02:30 to 03:30 and carries that hour into the next step, so it reads the occurrence a
week after a skipped one at 03:30 and matches no RECURRENCE-ID to it (an override there would
be shown twice by libical, and by nobody else at another time).

Nothing here reads the clock: the occurrences looked at are the series' own, from its start
for ``HORIZON`` (or to its end), so the same booking always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

HORIZON = timedelta(days=3653)  # ten years of a series
MOST = 4000  # occurrences looked at, at most (a daily series for about ten years)


def shifted(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive wall-clock time ``wall`` is skipped or repeated in ``zone``."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset()


def shifted_occurrences(
    rule: str, local_start: datetime, excluded: Iterable[datetime]
) -> list[datetime]:
    """The occurrences of ``rule`` from ``local_start`` (aware, in the series' zone) whose wall
    time is skipped or repeated, as aware times with ``fold=0`` (RFC 5545's reading), within
    ``HORIZON`` and ``MOST``; occurrences at an ``excluded`` instant (EXDATE) are left out."""
    zone = local_start.tzinfo
    if not isinstance(zone, ZoneInfo):
        return []
    wall_start = local_start.replace(tzinfo=None)
    try:
        occurrences = rrulestr(rule, dtstart=wall_start)
    except (ValueError, TypeError):
        return []
    skip = {x.astimezone(UTC) for x in excluded}
    found = []
    last = wall_start + HORIZON
    for count, wall in enumerate(occurrences):
        if count >= MOST or wall > last:
            break
        if shifted(wall, zone):
            moment = wall.replace(tzinfo=zone, fold=0)
            if moment.astimezone(UTC) not in skip:
                found.append(moment)
    return found
