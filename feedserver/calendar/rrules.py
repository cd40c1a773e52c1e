"""The recurrence budget: what any RRULE must respect before anything expands it.

A rule is refused when it repeats more often than hourly (FREQ=SECONDLY, MINUTELY), when its
BYHOUR, BYMINUTE and BYSECOND lists multiply into more than 24 occurrences a day, or when it
asks for more than ``max_occurrences`` occurrences (COUNT). These checks read the rule only:
they cost nothing whatever the rule. The expansions that follow (``feedserver.domain
.recurrence``) are bounded by the same count and by ``max_seconds``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rrulestr

from feedserver.numbers import is_whole

_UNFOLD = re.compile(r"\r?\n[ \t]")
_RRULE = re.compile(r"^RRULE(?:;[^:\r\n]*)?:(.*)$", re.MULTILINE | re.IGNORECASE)
_TOO_OFTEN = {"SECONDLY": "second", "MINUTELY": "minute"}
_PER_DAY = 24


@dataclass(frozen=True)
class RecurrenceBudget:
    max_occurrences: int = 10_000
    max_seconds: float = 0.2


def _parts(value: str) -> dict[str, str]:
    parts = {}
    for part in value.strip().split(";"):
        name, _, text = part.partition("=")
        parts[name.strip().upper()] = text.strip().upper()
    return parts


def problem(value: str, budget: RecurrenceBudget) -> str | None:
    """Why the RRULE value ``value`` is refused, or None when it is within the budget."""
    parts = _parts(value.removeprefix("RRULE:").removeprefix("rrule:"))
    freq = parts.get("FREQ", "")
    if freq in _TOO_OFTEN:
        return (
            f"FREQ={freq} repeats every {_TOO_OFTEN[freq]}: the most frequent recurrence "
            "accepted is hourly"
        )
    per_day = 24 if freq == "HOURLY" else 1
    for name in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        if parts.get(name):
            per_day *= len([v for v in parts[name].split(",") if v])
    if per_day > _PER_DAY:
        return (
            f"BYHOUR, BYMINUTE and BYSECOND make {per_day} occurrences a day; "
            f"at most {_PER_DAY} are accepted"
        )
    count = parts.get("COUNT", "")
    if is_whole(count) and int(count) > budget.max_occurrences:
        return f"COUNT={count} is more than the {budget.max_occurrences} occurrences accepted"
    return None


def rrules_in(text: str) -> list[str]:
    """Every RRULE value of an iCalendar text (folded lines joined)."""
    return [m.group(1).strip() for m in _RRULE.finditer(_UNFOLD.sub("", text))]


def calendar_problem(text: str, budget: RecurrenceBudget) -> str | None:
    """The first refused RRULE of an iCalendar text, or None: over the budget (``problem``),
    or making no occurrence in its first hundred years (``barren``)."""
    for value in rrules_in(text):
        found = problem(value, budget)
        if found is not None:
            return found
    for start, rules in event_rules(text):
        for value in rules:
            if barren(value, start):
                return (
                    f"RRULE:{value[:120]} makes no occurrence in its first hundred years; "
                    "a rule that repeats must occur"
                )
    return None


# -- what expanding a rule costs --------------------------------------------------------------
#
# Readers of other people's calendars (Radicale answering a REPORT, recurring-ical-events reading
# a busy calendar) walk a rule from its DTSTART to the end of the range they are asked about,
# with no bound of their own. ``steps`` says, from the rule alone and at no cost, about how many
# steps that walk takes, so it can be refused before it starts.

_STAMP = re.compile(r"^(\d{8})(?:T(\d{6}))?Z?$")
_DTSTART = re.compile(r"^DTSTART[^:\r\n]*:\s*(\d{8})(?:T(\d{6}))?", re.IGNORECASE)
_PERIOD = {
    "YEARLY": timedelta(days=365),
    "MONTHLY": timedelta(days=28),
    "WEEKLY": timedelta(days=7),
    "DAILY": timedelta(days=1),
    "HOURLY": timedelta(hours=1),
    "MINUTELY": timedelta(minutes=1),
    "SECONDLY": timedelta(seconds=1),
}
# How many candidates one BY value can stand for, per period, at most (BYDAY=MO in a YEARLY
# rule is every Monday of the year).
_SPREAD = {"YEARLY": 53, "MONTHLY": 5}
# BY parts that can leave a period without an occurrence (COUNT then bounds nothing).
_BARREN_SPAN = timedelta(days=36525)  # a hundred years
_LAST_YEAR = 9999 - 100  # where the day walk starts, at the latest (see ``barren``)
_RESTRICTING = ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYSETPOS")


def utc_stamp(text: str) -> datetime | None:
    """A DATE or DATE-TIME value's digits (``20270101``, ``20270101T090000Z``) as a UTC time,
    or None; a TZID is not looked at (what ``steps`` needs is the order of magnitude)."""
    found = _STAMP.match(text.strip())
    if found is None:
        return None
    day, clock = found.group(1), found.group(2) or "000000"
    try:
        return datetime.strptime(day + clock, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def steps(rule: str, start: datetime, until: datetime) -> int:
    """About how many steps expanding ``rule`` from ``start`` to ``until`` takes: periods
    walked (at its interval), times the candidates its BY parts make in each; COUNT and
    UNTIL end it sooner. An upper estimate, read from the rule alone."""
    parts = _parts(rule)
    period = _PERIOD.get(parts.get("FREQ", ""), timedelta(days=1))
    interval = int(parts["INTERVAL"]) if parts.get("INTERVAL", "").isdigit() else 1
    end = until
    rule_end = utc_stamp(parts.get("UNTIL", ""))
    if rule_end is not None and rule_end < end:
        end = rule_end
    if end <= start:
        return 1
    periods = (end - start) // (period * max(interval, 1)) + 1
    spread = 1
    for name in ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYHOUR", "BYMINUTE"):
        values = [v for v in parts.get(name, "").split(",") if v]
        if values:
            per_value = _SPREAD.get(parts.get("FREQ", ""), 1) if name == "BYDAY" else 1
            spread *= len(values) * per_value
    count = parts.get("COUNT", "")
    if count.isdigit() and not any(parts.get(name) for name in _RESTRICTING):
        # Every period gives an occurrence: dateutil stops after COUNT of them.
        periods = min(periods, int(count))
    return periods * spread


def event_rules(text: str) -> Iterator[tuple[datetime, list[str]]]:
    """(DTSTART, RRULE values) of each event and to-do of a calendar object (1970 when its
    DTSTART cannot be read; the TZID is not looked at); time zone rules are not included."""
    start: datetime | None = None
    rules: list[str] = []
    for line in _UNFOLD.sub("", text).splitlines():
        upper = line.upper()
        if upper.startswith(("BEGIN:VEVENT", "BEGIN:VTODO")):
            start, rules = None, []
        elif upper.startswith(("END:VEVENT", "END:VTODO")):
            yield start or datetime(1970, 1, 1, tzinfo=UTC), rules
            rules = []
        elif upper.startswith("DTSTART") and start is None:
            found = _DTSTART.match(line)
            if found is not None:
                clock = f"T{found.group(2)}" if found.group(2) else ""
                start = utc_stamp(found.group(1) + clock)
        elif upper.startswith("RRULE"):
            rules.append(line.partition(":")[2])


def item_steps(text: str, until: datetime, since: datetime | None = None) -> int:
    """The steps of every rule of the events (and to-dos) of a calendar object, each from its
    own component's DTSTART, or from ``since`` when that is later (then: about how many
    occurrences fall between ``since`` and ``until``)."""
    total = 0
    for start, rules in event_rules(text):
        origin = max(start, since) if since is not None else start
        total += sum(steps(rule, origin, until) for rule in rules)
    return total


def barren(rule: str, start: datetime) -> bool:
    """Whether a rule whose BY parts can reject every day (``FREQ=DAILY;BYMONTH=2;
    BYMONTHDAY=30``) makes no occurrence in its first hundred years. dateutil, and every
    reader built on it (Radicale, recurring-ical-events), walks such a rule to the year 9999
    looking for one: seconds of a thread on every read.

    Only the days are looked at: the rule's day parts (BYDAY without its ordinals, which only
    lets more days through) as a daily rule. The Gregorian calendar repeats every 400 years,
    so that rule starts on the same day some 400-year cycles later, close to the last year
    dateutil walks to: the walk is a few hundred years of days at most (about 0.2 s)."""
    parts = _parts(rule)
    if not any(parts.get(name) for name in _RESTRICTING if name != "BYSETPOS"):
        return False
    day_parts = []
    for name in ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"):
        value = parts.get(name, "")
        if name == "BYDAY":
            value = ",".join(dict.fromkeys(day[-2:] for day in value.split(",") if day))
        if value:
            day_parts.append(f"{name}={value}")
    first = start.replace(tzinfo=None)
    first = first.replace(year=first.year + 400 * ((_LAST_YEAR - first.year) // 400))
    try:
        days = rrulestr("FREQ=DAILY;" + ";".join(day_parts), dtstart=first)
    except (ValueError, TypeError):
        return False  # a rule dateutil cannot read is not walked either
    found = next(iter(days), None)
    return found is None or found > first + _BARREN_SPAN
