"""Inbound email (iMIP, RFC 6047): its calendar parts, its sender, its DKIM signature.

Trust model: the From address must be the event's ORGANIZER, and From can be forged. Run the
listener behind an MTA that checks SPF and DKIM (and rejects what fails), or set
``bridge.require_dkim`` so that feedserver verifies a DKIM signature of the From domain itself.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses

_CALENDAR_TYPES = {"text/calendar", "application/ics", "text/x-vcalendar"}


class MalformedMessage(ValueError):
    pass


def parse_message(raw: bytes) -> EmailMessage:
    if not raw.strip():
        raise MalformedMessage("empty message")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise MalformedMessage("not an email message (no headers)")
    return message


def header_sender(raw: bytes) -> str | None:
    """The From address, read from the headers alone (what a rate limit needs before the
    message is stored)."""
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    return sender(headers) if isinstance(headers, EmailMessage) else None


def sender(message: EmailMessage) -> str | None:
    addresses = getaddresses([str(message.get("From", ""))])
    found = [address.strip().lower() for _, address in addresses if "@" in address]
    return found[0] if len(found) == 1 else None


def calendar_parts(message: EmailMessage) -> list[bytes]:
    """Every calendar in the message (inline ``text/calendar`` parts and ``.ics``
    attachments), each once: Google sends the same invitation inline and as invite.ics."""
    found: list[bytes] = []
    seen: set[str] = set()
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = (part.get_filename() or "").lower()
        if part.get_content_type() not in _CALENDAR_TYPES and not filename.endswith(".ics"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload.strip():
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            data = payload.decode(charset).encode("utf-8")
        except (LookupError, UnicodeDecodeError):
            data = payload
        digest = hashlib.sha256(data.replace(b"\r\n", b"\n").strip()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            found.append(data)
    return found


DnsLookup = Callable[..., bytes]


def dkim_valid(raw: bytes, from_address: str, dnsfunc: DnsLookup | None = None) -> bool:
    """Whether the message carries a valid DKIM signature of the From address's domain."""
    import dkim

    domain = from_address.rpartition("@")[2].lower()
    try:
        ok = dkim.verify(raw, dnsfunc=dnsfunc) if dnsfunc else dkim.verify(raw)
    except dkim.DKIMException:
        return False
    if not ok:
        return False
    message = email.message_from_bytes(raw)
    for header in message.get_all("DKIM-Signature", []):
        tags = dict(part.strip().split("=", 1) for part in str(header).split(";") if "=" in part)
        signer = tags.get("d", "").strip().lower()
        if signer == domain or domain.endswith("." + signer):
            return True
    return False
