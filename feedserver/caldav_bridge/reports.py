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
    is expanded), and its body, rewritten when it needed to be."""

    until: datetime | None
    body: bytes

    @classmethod
    def read(cls, body: bytes) -> ReportPlan:
        try:
            root = ET.fromstring(body)  # noqa: S314 - bounded body; expat refuses entity bombs
        except ET.ParseError:
            return cls(None, body)  # Radicale answers it 400
        until: datetime | None = None
        for element in root.iter():
            if element.tag not in _RANGES:  # time-range (filters, free-busy) and expand
                continue
            # An open end: a filter stops at the first overlap, so at the start.
            reach = utc_stamp(element.get("end", "")) or utc_stamp(element.get("start", ""))
            if reach is not None and (until is None or reach > until):
                until = reach
        return cls(until, _multiget_with_range(root) or body)


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


class ReportScope(threading.local):
    """The REPORT a Radicale thread is answering: its reach, its budget and what it spent.
    Set by the server around one request; read by the storage when it hands out items."""

    until: datetime | None = None
    budget: int = 0
    spent: int = 0
    refused: str = ""

    def begin(self, until: datetime | None, budget: int) -> None:
        self.until, self.budget, self.spent, self.refused = until, budget, 0, ""

    def end(self) -> str:
        """What was refused ("" for nothing); the scope is cleared."""
        refused = self.refused
        self.begin(None, 0)
        return refused

    def charge(self, href: str, text: str) -> None:
        """Count an item the REPORT will expand; ValueError (Radicale's 400, turned into 403
        by the server) once the REPORT is past its budget."""
        if self.until is None or "RRULE" not in text.upper():
            return
        self.spent += item_steps(text, self.until)
        if self.spent > self.budget:
            self.refused = (
                f"expanding {href} up to {self.until:%Y-%m-%d} goes past the "
                f"{self.budget} occurrences one REPORT may expand; ask for a shorter time range"
            )
            raise ValueError(self.refused)
