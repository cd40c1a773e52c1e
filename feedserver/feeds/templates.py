"""SUMMARY and DESCRIPTION templates with ``%shortcodes%``.

Templates are checked when saved (an unknown shortcode is refused then, never at render time).
When rendering, a line whose shortcodes all came out empty is dropped, and separators left
dangling by an empty value are trimmed, so "Attendees: %attendees%" disappears for a feed that
does not show attendees.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from feedserver.errors import InvalidInput
from feedserver.model import FeedTemplate

SHORTCODES: dict[str, str] = {
    "service_name": "name of the reservation type",
    "booking_title": "the booking's own title, if any",
    "location_name": "name of the location",
    "location_code": "short code of the location, e.g. ANHQ",
    "location_address": "address of the location",
    "staff_name": "name of the staff member",
    "customer_full_name": "name of the first attendee the feed may show",
    "customer_email": "email of the first attendee the feed may show",
    "attendees": "names of the attendees the feed may show, comma-separated",
    "booking_status": "confirmed, pending or cancelled",
    "notes": "the booking's notes (never shown to customers)",
    "online_meeting_link": "the online meeting link, when the booking has one",
}
_SHORTCODE = re.compile(r"%([a-z_]+)%")
_DANGLING = " ,;:·\u2013-|/()"  # separators an empty value can leave behind

DEFAULT = FeedTemplate(
    type_key=None,
    summary="%service_name% · %customer_full_name%",
    description=(
        "%booking_title%\n"
        "%service_name% with %staff_name%\n"
        "%location_name% (%location_code%), %location_address%\n"
        "Attendees: %attendees%\n"
        "Online meeting: %online_meeting_link%\n"
        "Status: %booking_status%\n"
        "%notes%"
    ),
)


def validate(text: str, field_name: str) -> str:
    unknown = sorted({m for m in _SHORTCODE.findall(text) if m not in SHORTCODES})
    if unknown:
        known = ", ".join(f"%{k}%" for k in SHORTCODES)
        raise InvalidInput(
            f"unknown shortcode {', '.join(f'%{u}%' for u in unknown)}; known: {known}",
            field=field_name,
        )
    if len(text) > 5000:
        raise InvalidInput("a template has at most 5000 characters", field=field_name)
    return text


def render(text: str, values: Mapping[str, str]) -> str:
    lines = []
    for line in text.splitlines():
        codes = _SHORTCODE.findall(line)
        rendered = _SHORTCODE.sub(lambda m: values.get(m.group(1), ""), line)
        if codes:
            if not any(values.get(code) for code in codes):
                continue
            if not all(values.get(code) for code in codes):
                rendered = rendered.strip(_DANGLING)
        lines.append(rendered.rstrip())
    return "\n".join(lines).strip()


@dataclass(frozen=True)
class TemplateSet:
    """The organisation default and the per-type overrides, as saved."""

    default: FeedTemplate = DEFAULT
    by_type: dict[str, FeedTemplate] = field(default_factory=dict)

    @classmethod
    def from_saved(cls, saved: list[FeedTemplate]) -> TemplateSet:
        default = next((t for t in saved if t.type_key is None), DEFAULT)
        return cls(default, {t.type_key: t for t in saved if t.type_key is not None})

    def for_type(self, type_key: str) -> FeedTemplate:
        return self.by_type.get(type_key, self.default)
