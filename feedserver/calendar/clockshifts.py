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
for ``HORIZON`` (or to its end), so the same booking always gives the same bytes. Most series
never meet a change (a 10:00 appointment in Paris): the wall-clock hours a zone skips or repeats
are found once per zone and start year (``changed_hours``, cached), and a series whose time of
day is not among them is not walked at all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

HORIZON = timedelta(days=3653)  # ten years of a series
MOST = 4000  # occurrences looked at, at most (a daily series for about ten years)


def shifted(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive wall-clock time ``wall`` is skipped or repeated in ``zone``."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset()


@functools.lru_cache(maxsize=512)
def changed_hours(zone: ZoneInfo, year: int) -> tuple[tuple[time, time], ...]:
    """The wall-clock times of day ``zone`` skips or repeats in the ``HORIZON`` from the start
    of ``year``, as [first, last) ranges (a range across midnight is two)."""
    day = timedelta(days=1)
    moment = datetime(year, 1, 1, tzinfo=UTC)
    last = moment + HORIZON + timedelta(days=367)  # a series starts any day of its year
    ranges: set[tuple[time, time]] = set()
    offset = moment.astimezone(zone).utcoffset()
    while moment < last:
        following = moment + day
        after = following.astimezone(zone).utcoffset()
        if after != offset and offset is not None and after is not None:
            # The change is a whole second in (moment, following]: find it by halves.
            low, high = int(moment.timestamp()), int(following.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            changed = datetime.fromtimestamp(high, UTC)
            walls = sorted(
                ((changed + offset).replace(tzinfo=None), (changed + after).replace(tzinfo=None))
            )
            first, end = walls
            if first.date() == end.date() or end.time() == time(0):
                ranges.add((first.time(), end.time() if end.time() != time(0) else time.max))
            else:
                ranges.update({(first.time(), time.max), (time(0), end.time())})
        offset = after
        moment = following
    return tuple(sorted(ranges))


def _fixed_time_of_day(rule: str) -> bool:
    """Whether every occurrence of the rule has the time of day of its DTSTART."""
    parts = {p.partition("=")[0].strip().upper() for p in rule.split(";")}
    frequency = rule.upper().partition("FREQ=")[2].split(";")[0]
    return frequency in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY") and not parts & {
        "BYHOUR",
        "BYMINUTE",
        "BYSECOND",
    }


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
    if _fixed_time_of_day(rule):
        clock = wall_start.time()
        if not any(low <= clock < high for low, high in changed_hours(zone, wall_start.year)):
            return []
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
