"""The recurrence budget: what any RRULE must respect before anything expands it.

A rule is refused when it repeats more often than hourly (FREQ=SECONDLY, MINUTELY), when its
BYHOUR, BYMINUTE and BYSECOND lists multiply into more than 24 occurrences a day, or when it
asks for more than ``max_occurrences`` occurrences (COUNT). These checks read the rule only:
they cost nothing whatever the rule. The expansions that follow (``feedserver.domain
.recurrence``) are bounded by the same count and by ``max_seconds``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    """The first refused RRULE of an iCalendar text, or None."""
    for value in rrules_in(text):
        found = problem(value, budget)
        if found is not None:
            return found
    return None
