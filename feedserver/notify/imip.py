"""iCalendar invitations by email (iMIP, RFC 6047) and the MIME messages that carry them.

An attendee's message is ``multipart/mixed``: a ``multipart/alternative`` with the plain text,
the HTML and the ``text/calendar; method=REQUEST`` (or ``CANCEL``) part that Gmail, Outlook and
Apple Mail turn into "add to calendar", plus the same calendar as an ``invite.ics`` attachment.
The VEVENT is the feeds' one (same UID and SEQUENCE), with ORGANIZER (the organisation) and
only this attendee (``RSVP=TRUE``), or every attendee when the type lets them see each other.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from icalendar import Calendar, vCalAddress, vText

from feedserver.feeds.render import PRODID, Catalog, Viewer, render_event
from feedserver.model import Attendee, Booking, OutboxMessage
from feedserver.times import utcnow


def invitation(
    method: str,
    booking: Booking,
    catalog: Catalog,
    viewer: Viewer,
    organizer: tuple[str, str],
    attendees: list[Attendee],
    meeting_link: str,
) -> str:
    """The iCalendar object of a REQUEST or CANCEL for ``attendees``."""
    event = render_event(booking, catalog, viewer, meeting_link)
    name, email = organizer
    event.add("organizer", _address(email, name))
    for attendee in attendees:
        address = _address(attendee.email, attendee.name)
        address.params.update(
            {
                "ROLE": "REQ-PARTICIPANT",
                "RSVP": "TRUE",
                "PARTSTAT": "NEEDS-ACTION",
                "CUTYPE": "INDIVIDUAL",
            }
        )
        event.add("attendee", address)
    if method == "CANCEL":
        event["STATUS"] = "CANCELLED"
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical()).decode("utf-8")


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    return address


def mime_message(message: OutboxMessage, sender: tuple[str, str], domain: str) -> EmailMessage:
    """The email for an outbox row. Its Message-ID comes from the row's idempotency key, so a
    message re-sent after a crash is recognisably the same message."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = formataddr(sender)
    mail["To"] = formataddr((message.recipient_name, message.recipient_email))
    mail["Date"] = format_datetime(utcnow())
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:40]
    mail["Message-ID"] = f"<{digest}@{domain}>"
    mail["X-Feedserver-Key"] = message.idempotency_key
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body_text)
    mail.add_alternative(message.body_html, subtype="html")
    if message.ics and message.ics_method:
        mail.add_alternative(message.ics, subtype="calendar", params={"method": message.ics_method})
        mail.make_mixed()
        mail.add_attachment(
            message.ics.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename="invite.ics",
        )
    return mail
