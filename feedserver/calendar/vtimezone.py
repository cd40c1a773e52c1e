"""VTIMEZONE components that every reader expands to the same instants.

A zone is written as readers expect (the form tzurl.org and Thunderbird use): where the zone
follows a stable yearly rule (the POSIX TZ string at the end of its tzdata file, such as
``CET-1CEST,M3.5.0,M10.5.0/3``), one STANDARD and one DAYLIGHT sub-component with an RRULE,
from the year the rule took effect, so every occurrence of an open-ended series is covered;
transitions before that year (and zones whose rule cannot be written as an RRULE) are
written one sub-component per transition, one DTSTART each: ical.js reads only the first
value of a multi-valued RDATE, so none is written.

Transitions are found by asking ``zoneinfo`` for the offset (the same source every other part
of feedserver uses), so the VTIMEZONE and the instants in UTC always agree.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

_NAME = r"(?:<[^>]+>|[A-Za-z]{3,})"
_OFFSET = r"[+-]?\d{1,2}(?::\d{2}){0,2}"
_RULE = r"M\d{1,2}\.\d\.\d(?:/[+-]?\d{1,3}(?::\d{2}){0,2})?"
_FOOTER = re.compile(
    rf"^(?P<std>{_NAME})(?P<stdoff>{_OFFSET})"
    rf"(?:(?P<dst>{_NAME})(?P<dstoff>{_OFFSET})?,(?P<start>{_RULE}),(?P<end>{_RULE}))?$"
)
_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")
_PROBE = timedelta(hours=12)  # no zone has two transitions within 12 hours
FIRST_YEAR = 1970  # the onset written for a zone that has not changed since before this
FALLBACK_YEARS = 50  # explicit transitions written ahead when a zone has no usable rule


@dataclass(frozen=True)
class Transition:
    at: datetime  # the UTC instant
    offset_from: timedelta
    offset_to: timedelta
    name: str
    dst: bool


@dataclass(frozen=True)
class _Rule:
    month: int
    week: int  # 1-4, or 5 for the last
    weekday: int  # 0 = Sunday
    seconds: int  # local time of the change, in the offset before it

    def onset(self, year: int) -> datetime:
        """The local (naive) time of the change in ``year``."""
        first = date(year, self.month, 1)
        shift = (self.weekday - (first.weekday() + 1) % 7) % 7
        day = first + timedelta(days=shift + 7 * (self.week - 1))
        if self.week == 5:
            while day.month != self.month:
                day -= timedelta(days=7)
            following = day + timedelta(days=7)
            if following.month == self.month:
                day = following
        return datetime(day.year, day.month, day.day) + timedelta(seconds=self.seconds)

    def rrule(self) -> vRecur:
        nth = -1 if self.week == 5 else self.week
        return vRecur(
            {"FREQ": "YEARLY", "BYMONTH": self.month, "BYDAY": f"{nth}{_DAYS[self.weekday]}"}
        )


@dataclass(frozen=True)
class _Footer:
    std_name: str
    std_offset: timedelta
    dst_name: str = ""
    dst_offset: timedelta | None = None
    start: _Rule | None = None  # into daylight time
    end: _Rule | None = None  # back to standard time


def _seconds(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")]
    parts += [0] * (3 - len(parts))
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def _rule(text: str) -> _Rule | None:
    spec, _, at = text[1:].partition("/")
    month, week, weekday = (int(x) for x in spec.split("."))
    seconds = _seconds(at) if at else 7200
    if not (1 <= month <= 12 and 1 <= week <= 5 and 0 <= weekday <= 6 and 0 <= seconds < 86400):
        return None  # e.g. a change at 25:00 or -01:00: not expressible as an RRULE
    return _Rule(month, week, weekday, seconds)


def _footer_text(tzid: str) -> str | None:
    """The POSIX TZ string of a zone's tzdata file (TZif version 2 and later)."""
    raw: bytes | None = None
    try:
        resource = importlib.resources.files("tzdata.zoneinfo").joinpath(*tzid.split("/"))
        raw = resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, IsADirectoryError, NotADirectoryError):
        for root in zoneinfo.TZPATH:
            path = Path(root) / tzid
            if path.is_file():
                raw = path.read_bytes()
                break
    if not raw or not raw.startswith(b"TZif") or raw[4:5] < b"2":
        return None
    lines = raw.rstrip(b"\n").rsplit(b"\n", 1)
    return lines[-1].decode("ascii", "replace") if len(lines) == 2 else None


def _footer(tzid: str) -> _Footer | None:
    text = _footer_text(tzid)
    match = _FOOTER.match(text or "")
    if match is None:
        return None
    std_offset = timedelta(seconds=-_seconds(match["stdoff"]))
    if not match["dst"]:
        return _Footer(match["std"].strip("<>"), std_offset)
    start, end = _rule(match["start"]), _rule(match["end"])
    if start is None or end is None:
        return None
    dst_offset = (
        timedelta(seconds=-_seconds(match["dstoff"]))
        if match["dstoff"]
        else std_offset + timedelta(hours=1)
    )
    return _Footer(
        match["std"].strip("<>"), std_offset, match["dst"].strip("<>"), dst_offset, start, end
    )


def transitions(zone: zoneinfo.ZoneInfo, start: datetime, end: datetime) -> list[Transition]:
    """Every change of UTC offset (or of DST flag) in [start, end), to the second."""
    found: list[Transition] = []
    moment = start
    before = moment.astimezone(zone)
    while moment < end:
        following = min(moment + _PROBE, end)
        after = following.astimezone(zone)
        if (after.utcoffset(), after.dst(), after.tzname()) != (
            before.utcoffset(),
            before.dst(),
            before.tzname(),
        ):
            low, high = moment, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                probe = middle.astimezone(zone)
                if (probe.utcoffset(), probe.dst(), probe.tzname()) == (
                    before.utcoffset(),
                    before.dst(),
                    before.tzname(),
                ):
                    low = middle
                else:
                    high = middle
            at = high.replace(microsecond=0)
            changed = at.astimezone(zone)
            found.append(
                Transition(
                    at,
                    before.utcoffset() or timedelta(0),
                    changed.utcoffset() or timedelta(0),
                    changed.tzname() or "",
                    bool(changed.dst()),
                )
            )
        moment, before = following, after
    return found


def _year_start(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def _ruled_from(footer: _Footer, found: list[Transition], since: int, until: int) -> int | None:
    """The first year (from ``since``) from which every transition up to ``until`` is the
    footer's rule."""
    if footer.start is None or footer.end is None or footer.dst_offset is None:
        return None
    by_year: dict[int, set[datetime]] = {}
    for change in found:
        by_year.setdefault(change.at.year, set()).add(change.at)
    first: int | None = None
    for year in range(until - 1, since - 1, -1):
        expected = {
            (footer.start.onset(year) - footer.std_offset).replace(tzinfo=UTC),
            (footer.end.onset(year) - footer.dst_offset).replace(tzinfo=UTC),
        }
        if by_year.get(year, set()) != expected:
            break
        first = year
    return first


def _component(
    change: Transition, rrule: vRecur | None = None, onset: datetime | None = None
) -> TimezoneStandard | TimezoneDaylight:
    part: TimezoneStandard | TimezoneDaylight = (
        TimezoneDaylight() if change.dst else TimezoneStandard()
    )
    local = onset or (change.at + change.offset_from).replace(tzinfo=None)
    part.add("dtstart", local)
    if rrule is not None:
        part.add("rrule", rrule)
    part.add("tzoffsetfrom", change.offset_from)
    part.add("tzoffsetto", change.offset_to)
    if change.name:
        part.add("tzname", change.name)
    return part


@functools.lru_cache(maxsize=512)
def vtimezone(tzid: str, first_year: int) -> bytes:
    """The VTIMEZONE of ``tzid`` for events from ``first_year`` on, with no end."""
    zone = zoneinfo.ZoneInfo(tzid)
    footer = _footer(tzid)
    since = first_year - 1
    until = max(datetime.now(UTC).year, first_year) + 3
    begin = _year_start(since)
    history = transitions(zone, begin, _year_start(until))
    component = Timezone()
    component.add("tzid", tzid)
    ruled = _ruled_from(footer, history, since, until) if footer else None
    if footer is not None and ruled is not None:
        assert footer.start is not None and footer.end is not None
        assert footer.dst_offset is not None
        for change in history:
            if change.at < _year_start(ruled):
                component.add_component(_component(change))
        into = Transition(
            (footer.start.onset(ruled) - footer.std_offset).replace(tzinfo=UTC),
            footer.std_offset,
            footer.dst_offset,
            footer.dst_name,
            True,
        )
        back = Transition(
            (footer.end.onset(ruled) - footer.dst_offset).replace(tzinfo=UTC),
            footer.dst_offset,
            footer.std_offset,
            footer.std_name,
            False,
        )
        component.add_component(_component(into, footer.start.rrule(), footer.start.onset(ruled)))
        component.add_component(_component(back, footer.end.rrule(), footer.end.onset(ruled)))
        return bytes(component.to_ical())
    # No rule an RRULE can say (or no daylight time at all): every change, one DTSTART each,
    # far enough ahead for the changes tzdata knows in advance (such as Morocco's).
    ahead = transitions(zone, _year_start(until), _year_start(until + FALLBACK_YEARS))
    changes = history + ahead
    if not changes or changes[0].at > begin:  # the observance already in effect at the start
        local = begin.astimezone(zone)
        offset = local.utcoffset() or timedelta(0)
        standing = Transition(begin, offset, offset, local.tzname() or "", bool(local.dst()))
        component.add_component(_component(standing))
    for change in changes:
        component.add_component(_component(change))
    return bytes(component.to_ical())
