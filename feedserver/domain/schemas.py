"""The JSON Schemas (draft 2020-12) of every request body. ``Body`` checks a body against its
schema before the domain reads it, and ``GET /api/openapi.json`` publishes the same schemas:
what the document promises is what the server enforces. Types, lengths, ranges, choices and
unknown fields are checked here; meaning (does the time zone exist, is the end after the
start, does the location code exist) is checked by the domain, with the same error shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator

from feedserver.model import (
    EVENT_TYPES,
    MESSAGE_LANGUAGES,
    REMINDER_AUDIENCES,
    NotificationSettings,
    Role,
    Scope,
)

JSON = dict[str, Any]
MAX_ID = 2**63 - 1  # SQLite's integers
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SWITCHES = tuple(f.name for f in dataclasses.fields(NotificationSettings))


@dataclass(frozen=True)
class Schema:
    """A named object schema: its properties, which are required, and a description."""

    name: str
    description: str
    properties: Mapping[str, JSON]
    required: tuple[str, ...] = ()
    extra: JSON = field(default_factory=dict)

    @cached_property
    def json(self) -> JSON:
        document: JSON = {
            "type": "object",
            "description": self.description,
            "properties": dict(self.properties),
            "additionalProperties": False,
            **self.extra,
        }
        if self.required:
            document["required"] = list(self.required)
        return document

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.json)

    @cached_property
    def _fast(self) -> jsonschema_rs.Validator:
        return jsonschema_rs.validator_for(self.json, validate_formats=False)

    def surely_valid(self, data: object) -> bool:
        """Whether ``data`` is valid, by jsonschema-rs (compiled: about fifty times faster
        than ``validator``); False also when it cannot tell, and then ``validator`` decides
        and words the error."""
        try:
            return bool(self._fast.is_valid(data))
        except Exception:  # a value it cannot represent (an integer beyond 64 bits)
            return False

    def partial(self, name: str, description: str, without: tuple[str, ...] = ()) -> Schema:
        """The same fields, none required (a PATCH)."""
        kept = {k: v for k, v in self.properties.items() if k not in without}
        return Schema(name, description, kept)

    def limit(self, name: str, key: str) -> Any:
        """A property's ``maxLength``, ``minimum`` or ``maximum``, if it has one."""
        found: Any = self.properties.get(name, {})
        for option in found.get("anyOf", [found]):
            if key in option:
                return option[key]
        return None


def text(max_len: int, description: str = "", **more: Any) -> JSON:
    """A string; ``null`` reads as absent."""
    return {"type": ["string", "null"], "maxLength": max_len, "description": description, **more}


def choice(values: tuple[str, ...], description: str = "") -> JSON:
    return {"enum": [*values, None], "description": description}


def integer(minimum: int, maximum: int, description: str = "") -> JSON:
    return {
        "type": ["integer", "null"],
        "minimum": minimum,
        "maximum": maximum,
        "description": description,
    }


def flag(description: str = "") -> JSON:
    return {"type": ["boolean", "null"], "description": description}


def texts(max_items: int, item: JSON, description: str = "") -> JSON:
    """One string or a list of them."""
    return {
        "anyOf": [item, {"type": "array", "maxItems": max_items, "items": item}, {"type": "null"}],
        "description": description,
    }


USER_REF: JSON = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        {"type": "string", "maxLength": 254},
    ],
    "description": "a user id, or the user's email address",
}
MOMENT: JSON = {
    "anyOf": [
        {"type": "string", "format": "date", "maxLength": 10},
        {"type": "string", "format": "date-time", "maxLength": 64},
        {"type": "null"},
    ],
    "description": "YYYY-MM-DD (all-day bookings) or an ISO 8601 date-time with an offset",
}
TIMEZONE = text(64, "an IANA time zone name, such as Europe/Helsinki")
LANGUAGE = choice(("", *MESSAGE_LANGUAGES), "the language of emails; '' is the organisation's")
LOCATION_CODE = text(12, "a location's short code: 2 to 12 letters A-Z or digits")
ATTENDEE: JSON = {
    "anyOf": [
        {"type": "string", "maxLength": 254, "description": "an email address"},
        {
            "type": "object",
            "required": ["email"],
            "properties": {
                "email": {"type": "string", "maxLength": 254},
                "name": text(200),
                "language": LANGUAGE,
                "timezone": TIMEZONE,
            },
        },
    ]
}
STATUS = choice(("confirmed", "pending", "cancelled"))
CLOCK = {"type": "string", "maxLength": 5, "description": "HH:MM, or 24:00 for midnight"}
HOURS: JSON = {
    "type": "array",
    "maxItems": 12,
    "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": CLOCK},
    "description": 'the ranges of one day: [["09:00", "12:00"], ["13:00", "17:00"]]',
}

EXTERNAL_ID = text(
    200,
    "your own id of it (a booking system's), unique among its kind; null or '' removes it",
)
BOOKING_FIELDS: dict[str, JSON] = {
    "type": text(64, "the reservation type's key"),
    "location": LOCATION_CODE,
    "staff": {**USER_REF, "description": "the staff member: a user id or email address"},
    "start": MOMENT,
    "end": {**MOMENT, "description": "default: the start plus the type's duration"},
    "all_day": flag("a date-only booking; start and end are dates, end exclusive"),
    "timezone": {**TIMEZONE, "description": "default: the location's time zone"},
    "attendees": {"type": ["array", "null"], "maxItems": 500, "items": ATTENDEE},
    "status": choice(("confirmed", "pending"), "a new booking is confirmed or pending"),
    "title": text(500),
    "notes": text(20_000),
    "rrule": text(1000, "an RFC 5545 RRULE, such as FREQ=WEEKLY;COUNT=10"),
    "exdates": {"type": ["array", "null"], "maxItems": 1000, "items": MOMENT},
    "allow_conflict": flag("book although the staff member's own calendar is busy"),
    "external_id": EXTERNAL_ID,
}
BOOKING = Schema(
    "BookingInput",
    "A new booking.",
    BOOKING_FIELDS,
    required=("type", "location", "staff", "start"),
)
BOOKING_PATCH = BOOKING.partial(
    "BookingPatch", "A change of a booking: only the fields sent change.", without=("status",)
)
BOOKING_REPLACE = Schema(
    "BookingReplace",
    "A booking as the caller's system has it, under the caller's id (the path's): made when "
    "new, else replaced (fields left out take their defaults); sent twice, nothing changes.",
    {
        **{k: v for k, v in BOOKING_FIELDS.items() if k != "external_id"},
        "status": choice(("confirmed", "pending", "cancelled")),
    },
    required=("type", "location", "staff", "start"),
)

LOCATION = Schema(
    "LocationInput",
    "A location, named by its short code in invitations.",
    {
        "code": LOCATION_CODE,
        "name": text(200),
        "address": text(500),
        "timezone": TIMEZONE,
        "external_id": EXTERNAL_ID,
    },
    required=("code", "name", "timezone"),
)
LOCATION_PATCH = LOCATION.partial("LocationPatch", "A change of a location.")

REMINDER: JSON = {
    "type": "object",
    "properties": {
        "before_minutes": {"type": "integer", "description": "1 to 44640 (31 days)"},
        "to": {"type": "array", "minItems": 1, "items": {"enum": list(REMINDER_AUDIENCES)}},
    },
    "additionalProperties": False,
}
TYPE = Schema(
    "ReservationTypeInput",
    "A reservation type (a service).",
    {
        "key": text(63, "lowercase letters, digits, '-' and '_'"),
        "name": text(200),
        "duration_minutes": integer(1, 24 * 60 * 31),
        "buffer_before_minutes": integer(0, 24 * 60),
        "buffer_after_minutes": integer(0, 24 * 60),
        "online": flag("bookings get an online meeting link"),
        "attendees_visible": flag(),
        "title_visible": flag(),
        "on_site": flag(),
        "reminders": {
            "type": ["array", "null"],
            "maxItems": 10,
            "items": REMINDER,
            "description": "null: the organisation's default reminders",
        },
        "color": text(7, "#rrggbb"),
        "language": LANGUAGE,
        "external_id": EXTERNAL_ID,
    },
    required=("key", "name", "duration_minutes"),
)
TYPE_PATCH = TYPE.partial("ReservationTypePatch", "A change of a reservation type.")

USER = Schema(
    "UserInput",
    "A personal account.",
    {
        "email": text(254),
        "name": text(200),
        "role": choice(tuple(r.value for r in Role)),
        "password": text(1024, "at least 8 characters"),
        "timezone": TIMEZONE,
        "primary_location": {**LOCATION_CODE, "description": "a location code, or null"},
        "language": LANGUAGE,
        "external_id": EXTERNAL_ID,
    },
    required=("email", "name"),
)
USER_PATCH = USER.partial("UserPatch", "A change of an account.")

FEED_LINK = Schema(
    "FeedLinkInput",
    "A signed subscription link and what its feed shows. Lists filter; empty shows all.",
    {
        "user": {**USER_REF, "description": "the owner (admins only; /api/me/feeds: you)"},
        "name": text(100),
        "scope": choice(tuple(s.value for s in Scope), "'all' (admins) or 'own' bookings"),
        "types": texts(100, {"type": "string", "maxLength": 64}),
        "locations": texts(100, {"type": "string", "maxLength": 12}),
        "staff": {
            "anyOf": [USER_REF, {"type": "array", "maxItems": 100, "items": USER_REF}],
            "description": "staff members: ids or email addresses",
        },
        "statuses": texts(
            3,
            {"type": "string", "maxLength": 16},
            "confirmed, pending, cancelled (one or more); default: confirmed",
        ),
        "include_pending": flag(),
        "show_cancelled": flag(),
        "include_buffers": flag("buffer times as their own events"),
        "show_attendees": flag(),
        "kind": choice(("events", "busy"), "'busy': free/busy only, without details"),
    },
)
OWN_FEED_LINK = FEED_LINK.partial("OwnFeedLinkInput", FEED_LINK.description, without=("user",))
FEED_LINK_PATCH = FEED_LINK.partial(
    "FeedLinkPatch",
    "A feed link's new name or filters: the fields sent replace the link's; its URL stays.",
    without=("user", "scope"),
)

FEED_TEMPLATE = Schema(
    "FeedTemplateInput",
    "How feed events are worded, with %shortcodes%.",
    {"summary": text(5000), "description": text(5000)},
    required=("summary",),
)
EMAIL_TEMPLATE = Schema(
    "EmailTemplateInput",
    "An email's subject and body, with [variables].",
    {"subject": text(300), "body": text(20_000)},
    required=("subject", "body"),
)
NOTIFICATION_SETTINGS = Schema(
    "NotificationSettingsPatch",
    "Which emails a person gets; the switches sent change.",
    {name: flag() for name in SWITCHES},
)
APP_PASSWORD = Schema(
    "AppPasswordInput",
    "A password for one device (CalDAV).",
    {"name": text(100, "the device, such as 'iPhone'")},
    required=("name",),
)
BUSY_CALENDAR = Schema(
    "BusyCalendarInput",
    "An external calendar read for busy times: an iCalendar URL, or a CalDAV account.",
    {
        "name": text(100),
        "url": text(2000, "an http, https or webcal address of an iCalendar file"),
        "caldav_url": text(2000, "a CalDAV server; all its calendars are read"),
        "username": text(200),
        "password": text(1000, "stored sealed with the instance's key"),
    },
    required=("name",),
)
WORKING_HOURS = Schema(
    "WorkingHoursInput",
    "When a staff member can be booked.",
    {
        "timezone": TIMEZONE,
        "weekly": {
            "type": ["object", "null"],
            "properties": {day: HOURS for day in DAYS},
            "additionalProperties": False,
        },
        "exceptions": {
            "type": ["array", "null"],
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["date", "hours"],
                "properties": {"date": {"type": "string", "format": "date"}, "hours": HOURS},
                "additionalProperties": False,
            },
        },
    },
    required=("timezone",),
)

WEBHOOK = Schema(
    "WebhookInput",
    "An endpoint that hears events, signed as the Standard Webhooks specification says.",
    {
        "url": text(2000, "an http or https address that answers 2xx to a delivery"),
        "description": text(500),
        "events": {
            "type": ["array", "null"],
            "maxItems": len(EVENT_TYPES),
            "items": {"enum": list(EVENT_TYPES)},
            "description": "the event types it hears; empty or absent: every type",
        },
        "enabled": flag("false pauses deliveries (they wait); true resumes them"),
    },
    required=("url",),
)
WEBHOOK_PATCH = WEBHOOK.partial("WebhookPatch", "A change of a webhook endpoint.")

CALENDAR_ACCOUNT = Schema(
    "CalendarAccountInput",
    "A person's own calendar account, written into (and read for busy times): a CalDAV "
    "server with a password (iCloud: an app-specific password), or Google (OAuth 2.0).",
    {
        "user": {**USER_REF, "description": "whose account (admins only; /api/me: you)"},
        "provider": choice(("caldav", "google"), "default caldav"),
        "name": text(100, "what to call it, such as 'iCloud'"),
        "url": text(
            2000,
            "the CalDAV server (https://caldav.icloud.com, https://caldav.fastmail.com, a "
            "Nextcloud's https://host/remote.php/dav), a principal or a calendar; for a bare "
            "host /.well-known/caldav is followed",
        ),
        "username": text(200),
        "password": text(1000, "stored sealed with the instance's key"),
        "calendar": text(
            2000,
            "the calendar to write into: a URL from GET .../calendars, or 'new' (the default) "
            "for a new one named after the organisation",
        ),
        "busy": flag("its calendars are read for busy times too (default true)"),
        "types": texts(100, {"type": "string", "maxLength": 64}),
        "locations": texts(100, {"type": "string", "maxLength": 12}),
        "include_pending": flag(),
        "include_buffers": flag("buffer times as part of the events"),
        "show_attendees": flag("attendees named in the description (never invited)"),
        "kind": choice(("events", "busy"), "'busy': 'Busy' events without details"),
    },
)
CALENDAR_ACCOUNT_PATCH = CALENDAR_ACCOUNT.partial(
    "CalendarAccountPatch", "A change of a connected calendar account.", without=("provider",)
)

ALL = (
    BOOKING,
    BOOKING_PATCH,
    BOOKING_REPLACE,
    WEBHOOK,
    WEBHOOK_PATCH,
    CALENDAR_ACCOUNT,
    CALENDAR_ACCOUNT_PATCH,
    LOCATION,
    LOCATION_PATCH,
    TYPE,
    TYPE_PATCH,
    USER,
    USER_PATCH,
    FEED_LINK,
    OWN_FEED_LINK,
    FEED_LINK_PATCH,
    FEED_TEMPLATE,
    EMAIL_TEMPLATE,
    NOTIFICATION_SETTINGS,
    APP_PASSWORD,
    BUSY_CALENDAR,
    WORKING_HOURS,
)
