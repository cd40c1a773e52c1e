"""CalDAV REPORTs bounded before Radicale expands anything.

Radicale expands recurrences to answer a time-range filter, a ``C:expand`` and a free-busy
query, with no bound in time: dateutil walks a rule from its DTSTART to the end of the range,
so an hourly event asked about 1,000 years ahead is 8.7 million steps (minutes on a Radicale
thread). Before Radicale sees a REPORT, ``ReportPlan.read`` finds the latest moment any of its
ranges reaches. While Radicale answers it, every item the storage hands out for it is charged
(``charge``): the steps its rules take from their DTSTART to that moment, estimated from the
rule alone (frequency, interval, BY parts, COUNT, UNTIL), at no cost. Past the request's budget
(``recurrence.max_report_occurrences``) the item is refused, and the REPORT is answered 403 with
the CalDAV ``max-instances`` precondition (RFC 4791 §9.6) instead of Radicale's 400.

A ``calendar-multiget`` with ``C:expand`` and no filter is given the expand range as its time
range: Radicale 3.9 returns no instance of a non-recurring item in that case (it only places
such items through a time-range filter).
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from feedserver.calendar.rrules import item_steps, utc_stamp

T = TypeVar("T")
CALDAV = "urn:ietf:params:xml:ns:caldav"
_RANGES = (f"{{{CALDAV}}}time-range", f"{{{CALDAV}}}expand")


@dataclass
class ReportPlan:
    """What one REPORT may cost: the latest moment its ranges reach (None: no range, nothing
    is expanded), the range whose instances it writes out one by one (``C:expand`` and
    free-busy; None: none), and its body, rewritten when it needed to be."""

    until: datetime | None
    instances: tuple[datetime, datetime] | None
    body: bytes

    @classmethod
    def read(cls, body: bytes) -> ReportPlan:
        try:
            root = ET.fromstring(body)  # noqa: S314 - bounded body; expat refuses entity bombs
        except ET.ParseError:
            return cls(None, None, body)  # Radicale answers it 400
        until: datetime | None = None
        instances: tuple[datetime, datetime] | None = None
        free_busy = root.tag == f"{{{CALDAV}}}free-busy-query"
        for element in root.iter():
            if element.tag not in _RANGES:  # time-range (filters, free-busy) and expand
                continue
            start, end = utc_stamp(element.get("start", "")), utc_stamp(element.get("end", ""))
            # An open end: a filter stops at the first overlap, so at the start.
            reach = end or start
            if reach is not None and (until is None or reach > until):
                until = reach
            written = element.tag == _RANGES[1] or free_busy
            if written and start is not None and end is not None:
                low, high = instances or (start, end)
                instances = (min(low, start), max(high, end))
        return cls(until, instances, _multiget_with_range(root) or body)


def _multiget_with_range(root: ET.Element) -> bytes | None:
    """A calendar-multiget asking for ``C:expand`` without a filter, given the expand range
    as its time-range filter (see the module's note); None when nothing changes."""
    if root.tag != f"{{{CALDAV}}}calendar-multiget":
        return None
    if root.find(f"{{{CALDAV}}}filter") is not None:
        return None
    expand = root.find(f".//{{{CALDAV}}}expand")
    if expand is None or not expand.get("start") or not expand.get("end"):
        return None
    calendar = ET.SubElement(
        ET.SubElement(root, f"{{{CALDAV}}}filter"), f"{{{CALDAV}}}comp-filter", name="VCALENDAR"
    )
    event = ET.SubElement(calendar, f"{{{CALDAV}}}comp-filter", name="VEVENT")
    start, end = expand.get("start", ""), expand.get("end", "")
    ET.SubElement(event, f"{{{CALDAV}}}time-range", start=start, end=end)
    rewritten: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return rewritten


def fresh_copy(item: T) -> T:
    """A shallow copy of a Radicale item without its parsed component (parsed again on use):
    see ``storage.ReportItem`` for why REPORTs need it."""
    clone = object.__new__(type(item))
    clone.__dict__.update(item.__dict__, _vobject_item=None)
    return clone


@dataclass(frozen=True)
class ReportBudget:
    """How much one REPORT may make Radicale do: recurrence steps walked
    (``recurrence.max_report_occurrences``) and instances written out one by one
    (``recurrence.max_report_instances``: each costs about half a millisecond)."""

    steps: int = 500_000
    instances: int = 2_000


class ReportScope(threading.local):
    """The REPORT a Radicale thread is answering: its plan, its budget and what it spent.
    Set by the server around one request; read by the storage when it hands out items."""

    plan: ReportPlan | None = None
    budget: ReportBudget = ReportBudget()
    steps: int = 0
    instances: int = 0
    refused: str = ""

    def begin(self, plan: ReportPlan | None, budget: ReportBudget) -> None:
        self.plan, self.budget, self.steps, self.instances, self.refused = plan, budget, 0, 0, ""

    def end(self) -> str:
        """What was refused ("" for nothing); the scope is cleared."""
        refused = self.refused
        self.begin(None, self.budget)
        return refused

    def charge(self, href: str, text: str) -> None:
        """Count an item the REPORT will expand; ValueError (Radicale's 400, turned into 403
        by the server) once the REPORT is past its budget."""
        plan = self.plan
        if plan is None or plan.until is None or "RRULE" not in text.upper():
            return
        self.steps += item_steps(text, plan.until)
        if plan.instances is not None:
            self.instances += item_steps(text, plan.instances[1], plan.instances[0])
        if self.steps > self.budget.steps:
            self._refuse(
                f"expanding {href} up to {plan.until:%Y-%m-%d} goes past the "
                f"{self.budget.steps} recurrence steps one REPORT may take"
            )
        if self.instances > self.budget.instances:
            self._refuse(
                f"{href} and the items before it have more than the {self.budget.instances} "
                "instances one REPORT may write out"
            )

    def _refuse(self, reason: str) -> None:
        self.refused = f"{reason}; ask for a shorter time range"
        raise ValueError(self.refused)
