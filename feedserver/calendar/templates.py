"""The one template engine, for feed event text and email messages alike.

A template names values as ``%name%`` (feed shortcodes) or ``[name]`` (email variables); both
spellings work everywhere. Templates are checked when saved (an unknown name is refused then,
never at render time); when rendering, a name the caller offers no value for stays as written.

Line rules, the same for every channel:
- a line whose names all came out empty is dropped ("Attendees: %attendees%" disappears for
  a feed that shows no attendees);
- an empty value takes with it the separators of the template text next to it (", ", " · ",
  dashes, and an empty pair of brackets around it), so "%service_name% · %customer_full_name%"
  reads "Haircut" when there is no customer. Only template text next to an empty value is ever
  trimmed: punctuation that the template writes elsewhere, or that a value contains, stays.

Also here: the feed's event-text templates (the built-in default and per-type overrides).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from feedserver.errors import InvalidInput
from feedserver.model import FeedTemplate

NAME = re.compile(r"%([a-z_]+)%|\[([a-z_]+)\]")
SEPARATORS = " ,;:·\u2013\u2014-|/"
_PAIRS = {"(": ")", "[": "]", "{": "}"}
MAX_FEED_TEMPLATE = 5000


def names(text: str) -> set[str]:
    """Every name a template uses, whichever spelling."""
    return {m.group(1) or m.group(2) for m in NAME.finditer(text)}


def validate(
    text: str, known: Mapping[str, str], field: str, noun: str = "variable", mark: str = "[{}]"
) -> str:
    """``text`` if it names only ``known`` values; InvalidInput naming the unknown ones."""
    unknown = sorted(
        {m.group(0) for m in NAME.finditer(text) if (m.group(1) or m.group(2)) not in known}
    )
    if unknown:
        listing = ", ".join(mark.format(k) for k in known)
        raise InvalidInput(f"unknown {noun} {', '.join(unknown)}; known: {listing}", field=field)
    return text


@dataclass
class _Part:
    text: str
    kind: str  # "text" (the template's), "value", "empty" (a value that came out empty)


@lru_cache(maxsize=1024)
def _tokens(line: str) -> tuple[tuple[str, str | None], ...]:
    """A template line as (text, name) pieces: literal text has the name None. Pure, so
    memoised: a feed renders the same few template lines for every booking."""
    tokens: list[tuple[str, str | None]] = []
    last = 0
    for match in NAME.finditer(line):
        if match.start() > last:
            tokens.append((line[last : match.start()], None))
        tokens.append((match.group(0), match.group(1) or match.group(2)))
        last = match.end()
    if last < len(line):
        tokens.append((line[last:], None))
    return tuple(tokens)


def _split(line: str, values: Mapping[str, str]) -> list[_Part]:
    parts: list[_Part] = []
    for text, name in _tokens(line):
        if name is None or name not in values:  # not a name rendered here: plain text
            if parts and parts[-1].kind == "text":
                parts[-1].text += text
            else:
                parts.append(_Part(text, "text"))
            continue
        value = values[name]
        parts.append(_Part(value, "value" if value else "empty"))
    return parts


def _has_content(parts: list[_Part]) -> bool:
    return any(p.kind == "value" or p.text.strip(SEPARATORS) for p in parts)


def _drop_empty(parts: list[_Part], index: int) -> None:
    """Remove the separators that the empty value at ``index`` leaves dangling."""
    left = parts[index - 1] if index > 0 and parts[index - 1].kind == "text" else None
    right = parts[index + 1] if index + 1 < len(parts) and parts[index + 1].kind == "text" else None
    if left is not None and right is not None:
        opening = left.text.rstrip(" ")[-1:]
        if opening in _PAIRS and right.text.lstrip(" ").startswith(_PAIRS[opening]):
            left.text = left.text.rstrip(" ")[:-1].rstrip(" ")
            right.text = right.text.lstrip(" ")[1:]
    if _has_content(parts[:index]):
        if left is not None:
            left.text = left.text.rstrip(SEPARATORS)
    elif right is not None:
        right.text = right.text.lstrip(SEPARATORS)


def render(text: str, values: Mapping[str, str]) -> str:
    lines = []
    for line in text.splitlines():
        parts = _split(line, values)
        substituted = [p for p in parts if p.kind != "text"]
        if substituted and all(p.kind == "empty" for p in substituted):
            continue
        for index, part in enumerate(parts):
            if part.kind == "empty":
                _drop_empty(parts, index)
        lines.append("".join(p.text for p in parts).rstrip())
    return "\n".join(lines).strip()


# -- feed event text ----------------------------------------------------------------------------

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


def validate_feed_template(text: str, field_name: str) -> str:
    validate(text, SHORTCODES, field_name, noun="shortcode", mark="%{}%")
    if len(text) > MAX_FEED_TEMPLATE:
        raise InvalidInput(
            f"a template has at most {MAX_FEED_TEMPLATE} characters", field=field_name
        )
    return text


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
