"""The invitation corpus: events as real clients write them, through every way into the bridge.

``tests/data/invitations/`` holds one invitation per client, byte for byte as that client
writes it (CRLF or LF only, its folding, quoting, parameters and X- properties; see
``SHAPES`` for where each shape comes from). Each is sent three ways (a CalDAV PUT into the
organizer's own calendar, an email to the SMTP listener, ``POST /api/inbound``) and must be
booked, then moved an hour later by the organizer's update, then cancelled (CalDAV: the event
deleted; email and HTTP: METHOD:CANCEL), with the guests told each time.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import quopri
import re
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import pytest

from feedserver.calendar import itip
from feedserver.calendar.addresses import attendee_addresses, invites
from feedserver.config import Config
from tests.conftest import Api, basic_auth
from tests.smtp_sink import SmtpServer
from tests.test_bridge import (  # noqa: F401  (fixtures)
    INVITE,
    api,
    bridge_config,
    bridged,
    davclient,
    methods_to,
    server,
    settle,
)

CORPUS = Path(__file__).parent / "data" / "invitations"
WAYS = ("caldav", "smtp", "http")


@dataclass(frozen=True)
class Shape:
    file: str
    source: str  # where the shape was read
    organizer: str
    location: str
    start: str  # the booking's start, as the API answers it
    guests: tuple[str, ...]


SHAPES = [
    Shape(
        "apple_macos.ics",
        "Calendar on macOS 15 writing over CalDAV: an 88-octet ATTENDEE folded inside the "
        "address, quoted non-ASCII CN with EMAIL=, VALARM with X-WR-ALARMUID, X-APPLE-*",
        "camille@example.org",
        "ANHQ",
        "2027-01-12T10:00:00+01:00",
        ("zoe@example.com",),
    ),
    Shape(
        "apple_ios.ics",
        "iOS 18 Calendar on an iCloud-style account: attendees and organizer as urn:uuid with "
        "an upper-case EMAIL= parameter, X-APPLE-STRUCTURED-LOCATION with quoted parameters",
        "maya@example.org",
        "NYC1",
        "2027-01-15T14:00:00-05:00",
        ("bob@example.com",),
    ),
    Shape(
        "thunderbird.ics",
        "Thunderbird (Mozilla Calendar V1.1) iTIP REQUEST: VTIMEZONE first, CN quoted with a "
        "comma, ORGANIZER with RSVP/PARTSTAT, X-MOZ-*, CATEGORIES naming the type",
        "camille@example.org",
        "ANHQ",
        "2027-01-19T14:15:00+01:00",
        ("jean.dupont@example.net",),
    ),
    Shape(
        "davx5_android.ics",
        "DAVx5 (ical4j 3) syncing an Android calendar app: VTIMEZONE after the VEVENT, unquoted "
        "non-ASCII CN, X-MOZ-LASTACK",
        "camille@example.org",
        "ANHQ",
        "2027-01-26T09:00:00+01:00",
        ("ana.perez@example.net",),
    ),
    Shape(
        "evolution.ics",
        "Evolution (libical): LF-only lines, /freeassociation.sourceforge.net/ TZIDs, DTSTART "
        "folded before its value, upper-case MAILTO: with a mixed-case address, a ROOM",
        "camille@example.org",
        "ANHQ",
        "2027-02-02T16:30:00+01:00",
        ("lukas@example.net",),
    ),
    Shape(
        "google_imip.eml",
        "Google Calendar iMIP: multipart/mixed with the calendar inline (7bit) and again as a "
        "base64 invite.ics, X-NUM-GUESTS, Meet boilerplate in DESCRIPTION",
        "camille@example.org",
        "ANHQ",
        "2027-02-09T10:00:00+01:00",
        ("alice@example.com",),
    ),
    Shape(
        "outlook_exchange.eml",
        "Outlook / Exchange iMIP: base64 text/calendar in multipart/alternative, the Windows "
        "TZID 'W. Europe Standard Time', MAILTO: with mixed case, GlobalObjectId UID folded, "
        "quoted CN with a comma and non-ASCII, X-MICROSOFT-CDO-*, X-ALT-DESC, a RESOURCE",
        "camille@example.org",
        "ANHQ",
        "2027-02-16T14:30:00+01:00",
        ("siri.odegard@example.no",),
    ),
    Shape(
        "teams.eml",
        'A Teams meeting from Outlook: lines folded with a TAB, a quoted TZID="Romance '
        'Standard Time", the ATTENDEE folded right after its colon, Teams join block',
        "camille@example.org",
        "ANHQ",
        "2027-02-23T11:00:00+01:00",
        ("bob@example.com",),
    ),
    Shape(
        "zoom.ics",
        "Zoom's scheduler invitation: LF-only, a stray TZID property in the VEVENT, the join URL "
        "as LOCATION (the code is in SUMMARY), escaped commas in DESCRIPTION",
        "maya@example.org",
        "NYC1",
        "2027-03-02T16:00:00-05:00",
        ("alice@example.com",),
    ),
]


# -- the corpus as each way carries it ------------------------------------------------------------


def calendar_of(shape: Shape) -> bytes:
    """The calendar of a corpus file: the file itself, or an email's first calendar part."""
    raw = (CORPUS / shape.file).read_bytes()
    if not shape.file.endswith(".eml"):
        return raw
    for part in email.message_from_bytes(raw).walk():
        if part.get_content_type() in ("text/calendar", "application/ics"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError(f"{shape.file} has no calendar part")


def _encoded(data: bytes, encoding: str) -> str:
    if encoding == "base64":
        text = base64.b64encode(data).decode()
        return "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + "\r\n"
    if encoding == "quoted-printable":
        return quopri.encodestring(data).decode()
    return data.decode()


def message_of(shape: Shape, calendar: bytes, method: str) -> bytes:
    """The email that carries ``calendar``: the corpus email with each of its calendar parts
    replaced (kept in their transfer encodings), or for a calendar file the mail a client
    sends with it (Thunderbird's shape: text and a text/calendar part with ``method=``)."""
    if shape.file.endswith(".eml"):
        message: Message = email.message_from_bytes((CORPUS / shape.file).read_bytes())
        for part in message.walk():
            if part.get_content_type() in ("text/calendar", "application/ics"):
                encoding = str(part.get("Content-Transfer-Encoding", "7bit")).lower()
                part.set_payload(_encoded(calendar, encoding))
                if part.get_param("method") is not None:
                    part.set_param("method", method)
        return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    mail = EmailMessage()
    mail["From"] = shape.organizer
    mail["To"] = INVITE
    mail["Subject"] = "Invitation"
    mail["Date"] = "Sat, 05 Dec 2026 09:00:00 +0000"
    mail.set_content("You are invited.")
    mail.add_attachment(
        calendar,
        maintype="text",
        subtype="calendar",
        filename="invite.ics",
        params={"method": method},
    )
    return mail.as_bytes(policy=email.policy.SMTP)


_EVENT = re.compile(r"BEGIN:VEVENT.*?(?=BEGIN:VALARM|END:VEVENT)", re.DOTALL)
_TIME = re.compile(r"(?m)^((?:DTSTART|DTEND)[^:\r\n]*:(?:\r?\n[ \t])?\d{8}T)(\d{2})")


def revised(calendar: bytes, sequence: int, method: str) -> bytes:
    """The organizer's next version, edited in the client's own shape (its line endings and
    folds kept): an hour later, ``SEQUENCE`` and ``DTSTAMP`` moved on; for ``CANCEL``,
    METHOD:CANCEL with STATUS:CANCELLED."""
    text = calendar.decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"

    def edit(match: re.Match[str]) -> str:
        event = match.group()
        if method != "CANCEL":
            event = _TIME.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + 1:02d}", event)
        event = re.sub(r"(?m)^SEQUENCE:\d+", f"SEQUENCE:{sequence}", event)
        if "SEQUENCE:" not in event:
            event += f"SEQUENCE:{sequence}{newline}"
        event = re.sub(
            r"(?m)^DTSTAMP:\d{8}T\d{6}Z", f"DTSTAMP:2026120{sequence + 4}T080000Z", event
        )
        if method == "CANCEL":
            event = re.sub(r"(?m)^STATUS:[A-Z]+\r?\n", "", event)
            event += f"STATUS:CANCELLED{newline}"
        return event

    text = _EVENT.sub(edit, text, count=1)
    if method == "CANCEL":
        text = re.sub(r"(?m)^METHOD:REQUEST", "METHOD:CANCEL", text)
    return text.encode("utf-8")


def stored(calendar: bytes) -> bytes:
    """A calendar as a client stores it over CalDAV: no METHOD (RFC 4791 §4.1)."""
    return re.sub(rb"(?m)^METHOD:[^\r\n]*\r?\n", b"", calendar)


def with_method(calendar: bytes, method: str) -> bytes:
    """An iTIP message: the file's METHOD, or one added after VERSION when it has none."""
    if re.search(rb"(?m)^METHOD:", calendar):
        return calendar
    newline = b"\r\n" if b"\r\n" in calendar else b"\n"
    return re.sub(
        rb"(?m)^VERSION:2\.0\r?\n",
        b"VERSION:2.0" + newline + b"METHOD:" + method.encode() + newline,
        calendar,
        count=1,
    )


# -- the three ways in --------------------------------------------------------------------------


class Way:
    def __init__(self, way: str, shape: Shape, server: Any, api: Api, config: Config) -> None:
        self.way, self.shape, self.server, self.api, self.config = way, shape, server, api, config
        self.href = ""

    async def send(self, calendar: bytes, method: str) -> None:
        if self.way == "caldav":
            await self._caldav(calendar, method)
        elif self.way == "smtp":
            raw = message_of(self.shape, with_method(calendar, method), method)
            await asyncio.to_thread(self._smtp, raw)
        else:
            if self.shape.file.endswith(".eml"):
                body = message_of(self.shape, with_method(calendar, method), method)
                content_type = "message/rfc822"
            else:
                body, content_type = with_method(calendar, method), "text/calendar"
            await self.api.call(
                "POST", "/api/inbound", data=body, headers={"Content-Type": content_type}
            )
        await self._processed()

    async def _caldav(self, calendar: bytes, method: str) -> None:
        login = self.shape.organizer
        auth = {"Authorization": basic_auth(login, login.split("@")[0] + "-password")}
        if not self.href:
            client = davclient(self.server, login, login.split("@")[0] + "-password")
            made = await asyncio.to_thread(lambda: client.principal().make_calendar(name="Work"))
            base = str(made.url).removeprefix(str(self.server.make_url("")))
            self.href = f"/{base.strip('/')}/{self.shape.file.replace('.', '-')}.ics"
        if method == "CANCEL":  # the organizer deletes the event
            response = await self.api.client.delete(self.href, headers=auth)
            assert response.status in (200, 204), await response.text()
            return
        response = await self.api.client.put(
            self.href, data=stored(calendar), headers={**auth, "Content-Type": "text/calendar"}
        )
        assert response.status in (201, 204), await response.text()

    def _smtp(self, raw: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", self.config.bridge.smtp_port) as client:
            client.sendmail(self.shape.organizer, [INVITE], raw)

    async def _processed(self) -> None:
        for _ in range(100):  # SMTP is processed after its 250
            inbox = (await self.api.get("/api/inbox"))["inbox"]
            if inbox and all(i["status"] not in ("pending", "processing") for i in inbox):
                break
            await asyncio.sleep(0.05)
        await settle(self.server)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.file.partition(".")[0])
async def test_each_client_invitation_is_booked_moved_and_cancelled(
    server: Any, api: Api, smtp: SmtpServer, bridge_config: Config, shape: Shape, way: str
) -> None:
    original = calendar_of(shape)
    way_in = Way(way, shape, server, api, bridge_config)
    await way_in.send(original, "REQUEST")
    inbox = (await api.get("/api/inbox"))["inbox"]
    booked = await bridged(api)
    assert len(booked) == 1, inbox
    (booking,) = booked
    assert booking["status"] == "confirmed"
    assert (booking["location"], booking["start"]) == (shape.location, shape.start)
    assert sorted(a["email"] for a in booking["attendees"]) == sorted(shape.guests)
    guest = shape.guests[0]
    assert methods_to(smtp, guest) == [("REQUEST", 0)]

    moved = revised(original, 1, "REQUEST")
    await way_in.send(moved, "REQUEST")
    (booking,) = await bridged(api)
    hour = int(shape.start[11:13]) + 1
    assert booking["start"] == f"{shape.start[:11]}{hour:02d}{shape.start[13:]}"
    assert methods_to(smtp, guest)[-1][0] == "REQUEST"

    await way_in.send(revised(moved, 2, "CANCEL"), "CANCEL")
    (booking,) = await bridged(api)
    assert booking["status"] == "cancelled", [
        (i["status"], i.get("reason")) for i in (await api.get("/api/inbox"))["inbox"]
    ]
    assert methods_to(smtp, guest)[-1][0] == "CANCEL"


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.file.partition(".")[0])
def test_the_rule_and_the_parser_agree_on_every_shape(shape: Shape) -> None:
    """The content-line rule (rate limits, capture, reconciliation) and the parsed events
    (the pipeline) find the invite address in the same objects."""
    calendar = calendar_of(shape)
    text = calendar.decode("utf-8")
    assert invites(text, INVITE)
    assert invites(text, INVITE.upper())
    (event,) = itip.parse(calendar)
    assert any(p.is_(INVITE) for p in event.attendees)
    parsed = {p.email for p in event.attendees} | {p.also for p in event.attendees} - {""}
    assert attendee_addresses(text) >= parsed
    unfolded = re.sub(r"\r?\n[ \t]", "", text)
    assert not invites(re.sub(r"(?i)invite@bookings\.example\.org", "x@y.z", unfolded), INVITE)


def test_the_issue_25_attendee_line_is_found_however_it_is_folded() -> None:
    line = "ATTENDEE;CN=Bookings;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:invite@bookings.example.org"
    assert len(line.encode()) > 75  # folded by any writer
    for cut in range(1, len(line)):
        for fold in ("\r\n ", "\n ", "\r\n\t"):
            text = f"BEGIN:VEVENT\r\n{line[:cut]}{fold}{line[cut:]}\r\nEND:VEVENT\r\n"
            assert invites(text, "Invite@Bookings.Example.org"), (cut, fold)
    assert not invites(line.replace("invite@", "invitee@"), INVITE)
    assert not invites("ATTENDEE;CN=invite@bookings.example.org:mailto:x@y.z", INVITE)
    assert not invites("DESCRIPTION:write to invite@bookings.example.org", INVITE)
