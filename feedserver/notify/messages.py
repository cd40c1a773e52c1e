"""Email wording: a subject and a body per audience and kind, with ``[variables]`` (rendered by
``feedserver.calendar.templates``, which also reads ``%variables%``).

Defaults ship in English, French, German and Spanish as message catalogs
(``feedserver/notify/catalogs/<language>.toml``); admins replace them per language through
``/api/templates``. A template naming an unknown variable is refused when saved. Dates and times
are worded with Babel (CLDR) for the reader's language, in the reader's time zone.
"""

from __future__ import annotations

import functools
import html
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path

from babel.dates import format_date, format_time
from babel.units import format_unit

from feedserver.calendar import templates
from feedserver.domain import schemas
from feedserver.domain.inputs import Body
from feedserver.errors import NotFound
from feedserver.model import ATTENDEE_KINDS, MESSAGE_LANGUAGES
from feedserver.store import Store

VARIABLES = {
    "customer_name": "the attendee's name (for staff: the first attendee)",
    "customer_email": "the attendee's email (for staff: the first attendee's)",
    "attendees": "every attendee's name (staff messages; attendees when the type allows)",
    "service_name": "the reservation type",
    "booking_title": "the booking's own title",
    "location_name": "the location's name",
    "location_code": "the location's short code",
    "location_address": "the location's address",
    "staff_name": "the staff member",
    "booking_start_date": "the start date, in words",
    "booking_start_time": "the start time (HH:MM)",
    "booking_end_time": "the end time (HH:MM)",
    "booking_timezone": "the booking's timezone",
    "booking_start": "the start in words: the date and 'at HH:MM', or '(all day)'",
    "booking_when": "date, times and timezone in words; for all-day bookings the day(s)",
    "attendees_text": "every attendee's name, or 'no attendee' (staff messages)",
    "declined_by": "who declined the invitation (staff messages)",
    "busy_reason": "which of the organizer's calendars is busy, and when (bridge messages)",
    "booking_status": "confirmed, pending, cancelled or rejected",
    "online_meeting_link": "the attendee's own meeting link",
    "online_meeting_provider_link": "the meeting room itself (staff)",
    "feed_link": "the staff member's own subscription link, if one exists",
    "organisation_name": "the sender name",
    "event_summary": "the calendar event's title (bridge messages)",
    "unknown_code": "the code-shaped word that matched no location (bridge messages)",
    "valid_codes": "every location code with its name, one a line (bridge messages)",
    "person_name": "the person's name (account messages)",
    "account_link": "the link that sets a password, once (account messages)",
    "link_valid_for": "how long that link works, in words (account messages)",
}

AUDIENCES = {
    "attendee": ATTENDEE_KINDS,  # also what [notifications] attendee_kinds may name
    "staff": (
        "booked",
        "changed",
        "cancelled",
        "rejected",
        "short_notice",
        "reminder",
        "declined",
    ),
    "organizer": ("unknown_code", "busy"),
    "account": ("invitation", "password_reset"),
}
LANGUAGES = MESSAGE_LANGUAGES
CATALOGS = Path(__file__).parent / "catalogs"  # the default wording, one TOML file a language
LOCALES = {"en": "en_GB", "fr": "fr_FR", "de": "de_DE", "es": "es_ES"}  # Babel's date formats


@functools.cache
def _catalog(language: str) -> dict[str, dict[str, dict[str, str]]]:
    with (CATALOGS / f"{language}.toml").open("rb") as handle:
        loaded: dict[str, dict[str, dict[str, str]]] = tomllib.load(handle)
    return loaded


@functools.cache
def defaults() -> dict[tuple[str, str, str], tuple[str, str]]:
    """Every default (audience, kind, language): (subject, body), from the catalogs."""
    found: dict[tuple[str, str, str], tuple[str, str]] = {}
    for language in LANGUAGES:
        for audience, kinds in AUDIENCES.items():
            for kind in kinds:
                entry = _catalog(language)[audience][kind]
                found[(audience, kind, language)] = (entry["subject"], entry["body"])
    return found


def word(name: str, language: str) -> str:
    """A word the date phrases use (``all_day``, ``at``, ``to``, ``nobody``)."""
    return str(_catalog(language)["words"][name])


def validity_words(minutes: int, language: str) -> str:
    """How long a link works, in words ("7 days", "1 Stunde", "90 minutos"; CLDR)."""
    locale = LOCALES.get(language, "en_GB")
    if minutes % 1440 == 0:
        return format_unit(minutes // 1440, "duration-day", locale=locale)
    if minutes % 60 == 0:
        return format_unit(minutes // 60, "duration-hour", locale=locale)
    return format_unit(minutes, "duration-minute", locale=locale)


def long_date(moment: datetime | date, language: str) -> str:
    """The date in words, in the language's own form (Babel's CLDR data)."""
    return format_date(moment, "full", locale=LOCALES[language])


def clock(moment: datetime, language: str) -> str:
    return format_time(moment, "short", locale=LOCALES[language])


def zone_words(moment: datetime, timezone: str) -> str:
    """``Europe/Paris, UTC+01:00``: the zone and the offset in effect at ``moment``."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    return f"{timezone}, UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def start_words(start: datetime, all_day: bool, language: str) -> str:
    """``Wednesday, 20 January 2027 at 10:00``, or ``... (all day)``."""
    if all_day:
        return f"{long_date(start, language)} ({word('all_day', language)})"
    return f"{long_date(start, language)} {word('at', language)} {clock(start, language)}"


def when_words(start: datetime, end: datetime, all_day: bool, timezone: str, language: str) -> str:
    """The date and times with the zone and its offset; all-day bookings: the day, or the
    first to the last day."""
    if all_day:
        last = (end - timedelta(days=1)).date()
        if last <= start.date():
            return f"{long_date(start, language)}, {word('all_day', language)}"
        span = f"{long_date(start, language)} {word('to', language)} {long_date(last, language)}"
        return f"{span}, {word('all_day', language)}"
    if end.date() != start.date():
        return (
            f"{start_words(start, False, language)} {word('to', language)} "
            f"{start_words(end, False, language)} ({zone_words(start, timezone)})"
        )
    return (
        f"{long_date(start, language)}, {clock(start, language)}–{clock(end, language)} "
        f"({zone_words(start, timezone)})"
    )


def validate(text: str, field: str) -> str:
    return templates.validate(text, VARIABLES, field)


def render(text: str, values: Mapping[str, str]) -> str:
    """The text with ``values``; every known variable the caller does not give is empty."""
    return templates.render(text, {**dict.fromkeys(VARIABLES, ""), **values})


def to_html(text: str) -> str:
    """The HTML alternative of a plain-text body: escaped, links clickable, lines kept."""
    escaped = html.escape(text)
    linked = re.sub(r"(https?://[^\s<]+)", r'<a href="\1">\1</a>', escaped)
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in linked.split("\n\n"))
    return f'<!DOCTYPE html><html><body style="font-family:sans-serif">{paragraphs}</body></html>'


def choose(
    saved: Mapping[tuple[str, str, str], tuple[str, str]], audience: str, kind: str, language: str
) -> tuple[str, str]:
    key = (audience, kind, language)
    return saved.get(key) or defaults()[key]


def save(store: Store, audience: str, kind: str, language: str, data: object) -> tuple[str, str]:
    _check_key(audience, kind, language)
    body = Body(data, schemas.EMAIL_TEMPLATE)
    subject = validate(body.text("subject", required=True), "subject")
    text = validate(body.text("body", required=True), "body")
    with store.transaction():
        store.email_templates.save(audience, kind, language, subject, text)
    return subject, text


def reset(store: Store, audience: str, kind: str, language: str) -> None:
    _check_key(audience, kind, language)
    with store.transaction():
        store.email_templates.delete(audience, kind, language)


def listing(store: Store) -> list[dict[str, object]]:
    saved = store.email_templates.all()
    return [
        {
            "audience": audience,
            "kind": kind,
            "language": language,
            "subject": choose(saved, audience, kind, language)[0],
            "body": choose(saved, audience, kind, language)[1],
            "customised": (audience, kind, language) in saved,
        }
        for (audience, kind, language) in defaults()
    ]


def _check_key(audience: str, kind: str, language: str) -> None:
    if audience not in AUDIENCES or kind not in AUDIENCES[audience] or language not in LANGUAGES:
        raise NotFound(
            f"no template {audience}/{kind}/{language}: audiences and kinds are "
            + "; ".join(f"{a}: {', '.join(k)}" for a, k in AUDIENCES.items())
            + f"; languages: {', '.join(LANGUAGES)}"
        )
