"""The MIME message of an outbox row (iMIP, RFC 6047, for those that carry an invitation).

An attendee's message is ``multipart/mixed``: a ``multipart/alternative`` with the plain text,
the HTML and the ``text/calendar; method=REQUEST`` (or ``CANCEL``) part that Gmail, Outlook and
Apple Mail turn into "add to calendar", plus the same calendar as an ``invite.ics`` attachment
(built by ``feedserver.calendar.itip.invitation``).
"""

from __future__ import annotations

import email.policy
import hashlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from feedserver.model import OutboxMessage
from feedserver.times import utcnow

# Header lines are folded only past 998 octets: Python's folder (3.11) splits a non-ASCII
# subject into encoded words at a space and so loses that space ("2 décembre" read back as
# "2décembre"); one longer encoded word keeps every space, and mail clients read it.
POLICY = email.policy.SMTP.clone(max_line_length=998)


def address(name: str, email: str) -> Address:
    """An address header value: the display name is encoded whole (RFC 2047 inside the
    phrase), so ``Roux, Amélie`` stays one recipient for every parser."""
    return Address(display_name=" ".join(name.split()), addr_spec=email)


def mime_message(message: OutboxMessage, sender: tuple[str, str], domain: str) -> EmailMessage:
    """The email for an outbox row. Its Message-ID comes from the row's idempotency key, so a
    message re-sent after a crash is recognisably the same message."""
    mail = EmailMessage(policy=POLICY)
    mail["Subject"] = message.subject
    mail["From"] = address(*sender)
    mail["To"] = address(message.recipient_name, message.recipient_email)
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
