"""Email wording: a subject and a body per audience and kind, with ``[variables]`` (rendered by
``feedserver.calendar.templates``, which also reads ``%variables%``).

Defaults ship in English and French; admins replace them through ``/api/templates``. A template
naming an unknown variable is refused when saved. Times render in the booking's timezone.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from feedserver.calendar import templates
from feedserver.domain.inputs import Body
from feedserver.errors import NotFound
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
    "attendee": (
        "booked",
        "requested",
        "confirmed",
        "changed",
        "cancelled",
        "rejected",
        "reminder",
    ),
    "staff": ("booked", "changed", "cancelled", "rejected", "short_notice", "reminder"),
    "organizer": ("unknown_code",),
    "account": ("invitation", "password_reset"),
}
LANGUAGES = ("en", "fr")

_WHEN = "[booking_when]"
_WHEN_FR = "[booking_when]"
_PLACE = "[location_name] ([location_code]), [location_address]"

DEFAULTS: dict[tuple[str, str, str], tuple[str, str]] = {
    ("account", "invitation", "en"): (
        "[organisation_name] invites you: set your password",
        "Hello [person_name],\n\nAn account was made for you at [organisation_name]: your "
        "bookings in your own calendar, on your phone, and your notifications.\n\nSet your "
        "password here (the link works once, for [link_valid_for]):\n[account_link]\n\n"
        "[organisation_name]",
    ),
    ("account", "invitation", "fr"): (
        "[organisation_name] vous invite : choisissez votre mot de passe",
        "Bonjour [person_name],\n\nUn compte a été créé pour vous chez [organisation_name] : "
        "vos réservations dans votre agenda, sur votre téléphone, et vos notifications.\n\n"
        "Choisissez votre mot de passe ici (le lien fonctionne une fois, pendant "
        "[link_valid_for]) :\n[account_link]\n\n[organisation_name]",
    ),
    ("account", "password_reset", "en"): (
        "Your new password for [organisation_name]",
        "Hello [person_name],\n\nSomeone (you, we hope) asked to set a new password for your "
        "account. Choose it here (the link works once, for [link_valid_for]):\n"
        "[account_link]\n\nIf it was not you, ignore this email: your password is "
        "unchanged.\n\n[organisation_name]",
    ),
    ("account", "password_reset", "fr"): (
        "Votre nouveau mot de passe pour [organisation_name]",
        "Bonjour [person_name],\n\nQuelqu'un (vous, espérons-le) a demandé un nouveau mot de "
        "passe pour votre compte. Choisissez-le ici (le lien fonctionne une fois, pendant "
        "[link_valid_for]) :\n[account_link]\n\nSi ce n'était pas vous, ignorez ce message : "
        "votre mot de passe n'a pas changé.\n\n[organisation_name]",
    ),
    ("attendee", "booked", "en"): (
        "Booked: [service_name] on [booking_start]",
        f"Hello [customer_name],\n\nYour booking is confirmed.\n\n[service_name] with "
        f"[staff_name]\n{_WHEN}\n{_PLACE}\nOnline meeting: [online_meeting_link]\n\n"
        "The invitation is attached: add it to your calendar.\n\n[organisation_name]",
    ),
    ("attendee", "requested", "en"): (
        "Request received: [service_name] on [booking_start]",
        f"Hello [customer_name],\n\nWe received your booking request; we will confirm it "
        f"soon.\n\n[service_name] with [staff_name]\n{_WHEN}\n{_PLACE}\n\n[organisation_name]",
    ),
    ("attendee", "confirmed", "en"): (
        "Confirmed: [service_name] on [booking_start]",
        f"Hello [customer_name],\n\nYour booking request is confirmed.\n\n[service_name] with "
        f"[staff_name]\n{_WHEN}\n{_PLACE}\nOnline meeting: [online_meeting_link]\n\n"
        "The invitation is attached: add it to your calendar.\n\n[organisation_name]",
    ),
    ("attendee", "reminder", "en"): (
        "Reminder: [service_name] on [booking_start]",
        f"Hello [customer_name],\n\nA reminder of your booking:\n\n[service_name] with "
        f"[staff_name]\n{_WHEN}\n{_PLACE}\nOnline meeting: [online_meeting_link]\n\n"
        "[organisation_name]",
    ),
    ("attendee", "changed", "en"): (
        "Changed: [service_name] now on [booking_start]",
        f"Hello [customer_name],\n\nYour booking has changed. It is now:\n\n[service_name] "
        f"with [staff_name]\n{_WHEN}\n{_PLACE}\nOnline meeting: [online_meeting_link]\n\n"
        "The updated invitation is attached.\n\n[organisation_name]",
    ),
    ("attendee", "cancelled", "en"): (
        "Cancelled: [service_name] on [booking_start_date]",
        f"Hello [customer_name],\n\nYour booking has been cancelled:\n\n[service_name] with "
        f"[staff_name]\n{_WHEN}\n{_PLACE}\n\n[organisation_name]",
    ),
    ("attendee", "rejected", "en"): (
        "Not possible: [service_name] on [booking_start_date]",
        f"Hello [customer_name],\n\nWe are sorry: your booking request could not be "
        f"accepted.\n\n[service_name]\n{_WHEN}\n{_PLACE}\n\n[organisation_name]",
    ),
    ("staff", "booked", "en"): (
        "New booking: [service_name], [booking_start]",
        f"New booking: [service_name] ([booking_status]).\nAttendees: [attendees_text]\n\n"
        f"{_WHEN}\n{_PLACE}\n"
        "Meeting room: [online_meeting_provider_link]\nYour calendar feed: [feed_link]",
    ),
    ("staff", "changed", "en"): (
        "Changed: [service_name], now [booking_start]",
        f"This booking was moved or changed: [service_name] ([booking_status])\nAttendees: "
        f"[attendees_text]\n\nNow: {_WHEN}\n{_PLACE}\nMeeting room: "
        "[online_meeting_provider_link]",
    ),
    ("staff", "reminder", "en"): (
        "Reminder: [service_name], [booking_start]",
        f"Coming up: [service_name]\nAttendees: [attendees_text]\n\n{_WHEN}\n{_PLACE}\n"
        "Meeting room: [online_meeting_provider_link]",
    ),
    ("staff", "cancelled", "en"): (
        "Cancelled: [service_name], [booking_start]",
        f"This booking was cancelled: [service_name]\nAttendees: [attendees_text]\n\n{_WHEN}\n"
        f"{_PLACE}",
    ),
    ("staff", "rejected", "en"): (
        "Rejected: [service_name], [booking_start]",
        f"This booking request was rejected: [service_name]\nAttendees: [attendees_text]\n\n"
        f"{_WHEN}\n{_PLACE}",
    ),
    ("staff", "short_notice", "en"): (
        "URGENT – booked at short notice: [service_name], [booking_start]",
        f"Booked just now, starting soon: [service_name]\nAttendees: [attendees_text]\n\n"
        f"{_WHEN}\n{_PLACE}\n"
        "Meeting room: [online_meeting_provider_link]",
    ),
    ("organizer", "unknown_code", "en"): (
        "Not booked: no known location code in \u201c[event_summary]\u201d",
        "Your calendar event \u201c[event_summary]\u201d ([booking_start]) invited us, but it "
        "names no location we know: [unknown_code]\n"
        "No booking was made. Write one of these codes in the event's location and save it "
        "again:\n\n[valid_codes]\n\n[organisation_name]",
    ),
    ("organizer", "unknown_code", "fr"): (
        "Non réservé : aucun code de lieu connu dans \u00ab [event_summary] \u00bb",
        "Votre événement \u00ab [event_summary] \u00bb ([booking_start]) nous invite, mais ne "
        "nomme aucun lieu connu : [unknown_code]\n"
        "Aucune réservation n'a été faite. Indiquez l'un de ces codes dans le lieu de "
        "l'événement puis enregistrez-le :\n\n[valid_codes]\n\n[organisation_name]",
    ),
    ("attendee", "booked", "fr"): (
        "Réservation confirmée : [service_name] le [booking_start]",
        f"Bonjour [customer_name],\n\nVotre réservation est confirmée.\n\n[service_name] "
        f"avec [staff_name]\n{_WHEN_FR}\n{_PLACE}\nRéunion en ligne : [online_meeting_link]\n\n"
        "L'invitation est jointe : ajoutez-la à votre agenda.\n\n[organisation_name]",
    ),
    ("attendee", "requested", "fr"): (
        "Demande reçue : [service_name] le [booking_start]",
        f"Bonjour [customer_name],\n\nNous avons reçu votre demande de réservation ; nous la "
        f"confirmerons bientôt.\n\n[service_name] avec [staff_name]\n{_WHEN_FR}\n{_PLACE}\n\n"
        "[organisation_name]",
    ),
    ("attendee", "confirmed", "fr"): (
        "Confirmée : [service_name] le [booking_start]",
        f"Bonjour [customer_name],\n\nVotre demande de réservation est confirmée.\n\n"
        f"[service_name] avec [staff_name]\n{_WHEN_FR}\n{_PLACE}\nRéunion en ligne : "
        "[online_meeting_link]\n\nL'invitation est jointe : ajoutez-la à votre agenda.\n\n"
        "[organisation_name]",
    ),
    ("attendee", "reminder", "fr"): (
        "Rappel : [service_name] le [booking_start]",
        f"Bonjour [customer_name],\n\nUn rappel de votre réservation :\n\n[service_name] avec "
        f"[staff_name]\n{_WHEN_FR}\n{_PLACE}\nRéunion en ligne : [online_meeting_link]\n\n"
        "[organisation_name]",
    ),
    ("attendee", "changed", "fr"): (
        "Modification : [service_name] désormais le [booking_start]",
        f"Bonjour [customer_name],\n\nVotre réservation a changé. La voici :\n\n"
        f"[service_name] avec [staff_name]\n{_WHEN_FR}\n{_PLACE}\nRéunion en ligne : "
        "[online_meeting_link]\n\nL'invitation mise à jour est jointe.\n\n[organisation_name]",
    ),
    ("attendee", "cancelled", "fr"): (
        "Annulation : [service_name] le [booking_start_date]",
        f"Bonjour [customer_name],\n\nVotre réservation a été annulée :\n\n[service_name] "
        f"avec [staff_name]\n{_WHEN_FR}\n{_PLACE}\n\n[organisation_name]",
    ),
    ("attendee", "rejected", "fr"): (
        "Demande refusée : [service_name] le [booking_start_date]",
        f"Bonjour [customer_name],\n\nNous sommes désolés : votre demande de réservation n'a "
        f"pas pu être acceptée.\n\n[service_name]\n{_WHEN_FR}\n{_PLACE}\n\n[organisation_name]",
    ),
    ("staff", "booked", "fr"): (
        "Nouvelle réservation : [service_name], [booking_start]",
        f"Nouvelle réservation : [service_name] ([booking_status]).\nParticipants : "
        f"[attendees_text]\n\n{_WHEN_FR}\n{_PLACE}\n"
        "Salle de réunion : [online_meeting_provider_link]\nVotre agenda : [feed_link]",
    ),
    ("staff", "changed", "fr"): (
        "Modification : [service_name], désormais [booking_start]",
        f"Cette réservation a été déplacée ou modifiée : [service_name] ([booking_status])\n"
        f"Participants : [attendees_text]\n\nDésormais : {_WHEN_FR}\n{_PLACE}\n"
        "Salle de réunion : [online_meeting_provider_link]",
    ),
    ("staff", "reminder", "fr"): (
        "Rappel : [service_name], [booking_start]",
        f"Bientôt : [service_name]\nParticipants : [attendees_text]\n\n{_WHEN_FR}\n{_PLACE}\n"
        "Salle de réunion : [online_meeting_provider_link]",
    ),
    ("staff", "cancelled", "fr"): (
        "Annulation : [service_name], [booking_start]",
        f"Cette réservation a été annulée : [service_name]\nParticipants : [attendees_text]\n\n"
        f"{_WHEN_FR}\n{_PLACE}",
    ),
    ("staff", "rejected", "fr"): (
        "Refus : [service_name], [booking_start]",
        f"Cette demande a été refusée : [service_name]\nParticipants : [attendees_text]\n\n"
        f"{_WHEN_FR}\n{_PLACE}",
    ),
    ("staff", "short_notice", "fr"): (
        "URGENT – réservation de dernière minute : [service_name], [booking_start]",
        f"Réservé à l'instant, commence bientôt : [service_name]\nParticipants : "
        f"[attendees_text]\n\n{_WHEN_FR}\n{_PLACE}\nSalle de réunion : "
        "[online_meeting_provider_link]",
    ),
}

_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
}


def long_date(moment: datetime | date, language: str) -> str:
    day, month = _DAYS[language][moment.weekday()], _MONTHS[language][moment.month - 1]
    return f"{day} {moment.day} {month} {moment.year}"


_ALL_DAY = {"en": "all day", "fr": "toute la journée"}
_AT = {"en": "at", "fr": "à"}
_TO = {"en": "to", "fr": "au"}
NOBODY = {"en": "no attendee", "fr": "aucun participant"}


def start_words(start: datetime, all_day: bool, language: str) -> str:
    """``Wednesday 20 January 2027 at 10:00``, or ``... (all day)``."""
    if all_day:
        return f"{long_date(start, language)} ({_ALL_DAY[language]})"
    return f"{long_date(start, language)} {_AT[language]} {start:%H:%M}"


def when_words(start: datetime, end: datetime, all_day: bool, timezone: str, language: str) -> str:
    """The date and times with the zone; all-day bookings: the day, or first to last day."""
    if all_day:
        last = (end - timedelta(days=1)).date()
        if last <= start.date():
            return f"{long_date(start, language)}, {_ALL_DAY[language]}"
        span = f"{long_date(start, language)} {_TO[language]} {long_date(last, language)}"
        return f"{span}, {_ALL_DAY[language]}"
    if end.date() != start.date():
        return (
            f"{start_words(start, False, language)} {_TO[language]} "
            f"{start_words(end, False, language)} ({timezone})"
        )
    return f"{long_date(start, language)}, {start:%H:%M}–{end:%H:%M} ({timezone})"


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
    return saved.get(key) or DEFAULTS[key]


def save(store: Store, audience: str, kind: str, language: str, data: object) -> tuple[str, str]:
    _check_key(audience, kind, language)
    body = Body(data, {"subject", "body"})
    subject = validate(body.text("subject", required=True, max_len=300), "subject")
    text = validate(body.text("body", required=True, max_len=20_000), "body")
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
        for (audience, kind, language) in DEFAULTS
    ]


def _check_key(audience: str, kind: str, language: str) -> None:
    if audience not in AUDIENCES or kind not in AUDIENCES[audience] or language not in LANGUAGES:
        raise NotFound(
            f"no template {audience}/{kind}/{language}: audiences and kinds are "
            + "; ".join(f"{a}: {', '.join(k)}" for a, k in AUDIENCES.items())
            + f"; languages: {', '.join(LANGUAGES)}"
        )
