"""Each recipient's language and time zone, every booking event, and attendees' answers
(iMIP REPLY) through the real inbound SMTP listener; real SMTP sink."""

from __future__ import annotations

import asyncio
import re
import smtplib
from email.message import EmailMessage
from typing import Any

import pytest

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from feedserver.notify import messages
from feedserver.web.state import OUTBOX
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, book, make_org
from tests.smtp_sink import SmtpServer
from tests.test_bridge import INVITE, api, bridge_config, server, settle  # noqa: F401
from tests.test_notifications import napi, notify_config  # noqa: F401


def text_of(mail: Any) -> str:
    return str(mail.get_body(("plain",)).get_content())


async def delivered(api: Api) -> None:
    await api.client.app[OUTBOX].deliver_due()


async def test_a_new_york_guest_of_a_paris_booking_reads_new_york_time(
    napi: Api,
    smtp: SmtpServer,
) -> None:
    await book(
        napi,
        start="2026-12-01T10:00:00+01:00",
        attendees=[{"email": "nina@example.com", "name": "Nina", "timezone": "America/New_York"}],
    )
    await delivered(napi)
    (mail,) = smtp.sink.to("nina@example.com")
    assert mail["Subject"] == "Booked: Haircut on Tuesday, 1 December 2026 at 04:00"
    assert "04:00–04:45 (America/New_York, UTC−05:00)" in text_of(mail)
    invitation = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    assert "DTSTART;TZID=Europe/Paris:20261201T100000" in invitation.get_content()


async def test_each_reader_gets_their_own_language(
    napi: Api,
    smtp: SmtpServer,
) -> None:
    await napi.patch("/api/users/alice@example.com", {"language": "fr"})
    await napi.patch("/api/users/camille@example.org", {"language": "de"})
    await book(
        napi,
        start="2026-12-02T10:00:00+01:00",
        attendees=[
            {"email": "alice@example.com", "name": "Alice"},
            {"email": "hans@example.com", "name": "Hans", "language": "de"},
            {"email": "lola@example.com", "name": "Lola", "language": "es"},
        ],
    )
    await delivered(napi)
    subjects = {
        a: smtp.sink.to(a)[0]["Subject"]
        for a in (
            "alice@example.com",
            "hans@example.com",
            "lola@example.com",
            "camille@example.org",
        )
    }
    assert subjects["alice@example.com"].startswith(
        "Réservation confirmée : Haircut le mercredi 2 décembre 2026 à 10:00"
    )
    assert subjects["hans@example.com"] == "Gebucht: Haircut am Mittwoch, 2. Dezember 2026 um 10:00"
    assert (
        subjects["lola@example.com"]
        == "Reservado: Haircut el miércoles, 2 de diciembre de 2026 a las 10:00"
    )
    assert subjects["camille@example.org"].startswith("Neue Buchung: Haircut")
    refused = await napi.post(
        "/api/bookings",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": "maya@example.org",
            "start": "2026-12-03T10:00:00+01:00",
            "attendees": [{"email": "x@example.com", "language": "it"}],
        },
        status=422,
    )
    assert refused["field"] == "attendees[0].language"


SAMPLE = {name: f"<{name}>" for name in messages.VARIABLES}


@pytest.mark.parametrize("language", messages.LANGUAGES)
def test_every_default_template_renders_every_kind(language: str) -> None:
    for audience, kinds in messages.AUDIENCES.items():
        for kind in kinds:
            subject, body = messages.defaults()[(audience, kind, language)]
            messages.validate(subject, "subject")
            messages.validate(body, "body")
            for text in (subject, body):
                rendered = messages.render(text, SAMPLE)
                assert not re.search(r"\[[a-z_]+\]", rendered), (audience, kind, rendered)
                assert rendered.strip(), (audience, kind)


async def test_a_request_then_its_confirmation_and_staff_hear_of_a_move(
    napi: Api,
    smtp: SmtpServer,
) -> None:
    made = await book(napi, start="2026-12-04T10:00:00+01:00", status="pending")
    await napi.post(f"/api/bookings/{made['id']}/confirm", status=200)
    await napi.patch(f"/api/bookings/{made['id']}", {"start": "2026-12-04T15:00:00+01:00"})
    await delivered(napi)
    alice = [m["Subject"] for m in smtp.sink.to("alice@example.com")]
    assert alice[0].startswith("Request received: Haircut")
    assert alice[1].startswith("Confirmed: Haircut")
    assert alice[2].startswith("Changed: Haircut now on Friday, 4 December 2026 at 15:00")
    staff = [m["Subject"] for m in smtp.sink.to("camille@example.org")]
    assert any(
        s.startswith("Changed: Haircut, now Friday, 4 December 2026 at 15:00") for s in staff
    )


@pytest.fixture
def reply_config(bridge_config: Config) -> Config:
    return with_changes(
        bridge_config,
        bridge={"trusted_senders": ["@example.org", "@example.com"]},
    )


def reply(uid: str, attendee: str, partstat: str, sender: str = "") -> bytes:
    calendar = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mail//EN\r\nMETHOD:REPLY\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T090000Z\r\nSEQUENCE:0\r\n"
        "DTSTART:20261201T090000Z\r\nORGANIZER:mailto:bookings@salon.example\r\n"
        f"ATTENDEE;PARTSTAT={partstat};CN=Guest:mailto:{attendee}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    mail = EmailMessage()
    mail["From"] = sender or attendee
    mail["To"] = "bookings@salon.example"
    mail["Subject"] = f"{partstat.title()}: Haircut"
    mail.set_content("My answer.")
    mail.add_alternative(calendar, subtype="calendar", params={"method": "REPLY"})
    return mail.as_bytes()


async def test_answers_are_recorded_and_staff_hear_of_a_decline(
    aiohttp_server: Any,
    aiohttp_client: Any,
    reply_config: Config,
    smtp: SmtpServer,
) -> None:
    running = await aiohttp_server(create_app(reply_config))
    api = Api(await aiohttp_client(running), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    made = await book(
        api,
        attendees=[
            {"email": "alice@example.com", "name": "Alice"},
            {"email": "bob@example.com", "name": "Bob"},
        ],
    )

    def send(raw: bytes, sender: str) -> None:
        with smtplib.SMTP("127.0.0.1", reply_config.bridge.smtp_port) as client:
            client.sendmail(sender, ["bookings@salon.example"], raw)

    await asyncio.to_thread(
        send, reply(made["uid"], "alice@example.com", "ACCEPTED"), "alice@example.com"
    )
    await asyncio.to_thread(
        send, reply(made["uid"], "bob@example.com", "DECLINED"), "bob@example.com"
    )
    # A forged answer for Bob from Alice's address changes nothing.
    await asyncio.to_thread(
        send,
        reply(made["uid"], "bob@example.com", "ACCEPTED", "alice@example.com"),
        "alice@example.com",
    )
    for _ in range(100):
        await settle(running)
        answers = {
            a["email"]: a["partstat"]
            for a in (await api.get(f"/api/bookings/{made['id']}"))["attendees"]
        }
        if answers == {"alice@example.com": "accepted", "bob@example.com": "declined"}:
            break
        await asyncio.sleep(0.05)
    assert answers == {"alice@example.com": "accepted", "bob@example.com": "declined"}
    await settle(running)
    declined = [
        m for m in smtp.sink.to("camille@example.org") if m["Subject"].startswith("Declined")
    ]
    assert len(declined) == 1 and "Bob declined this booking" in text_of(declined[0])
    auth = {"Authorization": basic_auth("owner@example.org", "owner-password")}
    assert (await api.get(f"/api/bookings/{made['id']}", headers=auth))["attendees"][1][
        "partstat"
    ] == "declined"
