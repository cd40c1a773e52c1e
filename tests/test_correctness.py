"""Regression tests for what third-party clients showed (issue "Correct in every client"):
non-ASCII CalDAV names, discovery from the bare host, address headers, online locations,
error wording. The time-zone defects are in ``test_third_party_parsers.py``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from caldav.davclient import DAVClient
from icalendar import Calendar

from feedserver.app import create_app
from feedserver.notify.mime import address, mime_message
from feedserver.web.state import RUNNER
from tests.conftest import ADMIN_TOKEN, Api, book, make_org
from tests.test_caldav import (  # noqa: F401 - fixtures shared by import
    CAMILLE,
    _dav,
    base_url,
    dav_api,
    dav_config,
    server,
)

EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:{uid}\r\nDTSTAMP:20261101T090000Z\r\nDTSTART:20261201T090000Z\r\n"
    "DTEND:20261201T100000Z\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def test_non_ascii_caldav_names_are_listed_as_they_were_written(
    server: Any, dav_api: Api
) -> None:
    home = "/dav/camille@example.org/"
    calendar = home + quote("café") + "/"
    status, _ = await _dav(server, "MKCALENDAR", calendar)
    assert status == 201
    for name in ("café.ics", "календарь.ics", "日本.ics"):
        status, _ = await _dav(
            server, "PUT", calendar + quote(name), body=EVENT.format(uid=name).encode()
        )
        assert status == 201, name
    status, listing = await _dav(server, "PROPFIND", calendar, headers={"Depth": "1"})
    assert status == 207
    assert "%C3%83" not in listing  # not encoded twice
    for name in ("café.ics", "календарь.ics", "日本.ics"):
        assert quote(name) in listing or name in listing, name
        status, body = await _dav(server, "GET", calendar + quote(name))
        assert status == 200 and f"SUMMARY:{name}" in body
    status, homes = await _dav(server, "PROPFIND", home, headers={"Depth": "1"})
    assert quote("café") in homes or "café" in homes


async def test_python_caldav_discovers_from_the_bare_host(server: Any, dav_api: Api) -> None:
    await book(dav_api)

    def discover() -> list[str]:
        client: Any = DAVClient(
            url=base_url(server) + "/", username=CAMILLE[0], password=CAMILLE[1]
        )
        return [str(c.url) for c in client.principal().calendars()]

    found = await asyncio.to_thread(discover)
    assert any(url.endswith("/dav/camille@example.org/bookings/") for url in found)


async def test_a_name_with_a_comma_stays_one_recipient(
    api: Api, client: Any, org: dict[str, Any]
) -> None:
    await book(api, attendees=[{"email": "amelie@example.com", "name": 'Roux, Amélie "Mimi"'}])
    messages = await client.app[RUNNER].run(lambda s: s.outbox.list())
    message = next(m for m in messages if m.recipient_email == "amelie@example.com")
    raw = mime_message(message, ("Salon, Annecy", "bookings@example.org"), "example.org")
    parsed = BytesParser(policy=policy.strict).parsebytes(raw.as_bytes())
    assert [a.addr_spec for a in parsed["To"].addresses] == ["amelie@example.com"]
    assert parsed["To"].addresses[0].display_name == 'Roux, Amélie "Mimi"'
    assert [a.addr_spec for a in parsed["From"].addresses] == ["bookings@example.org"]
    assert message.ics is not None
    attendee = Calendar.from_ical(message.ics).walk("VEVENT")[0]["ATTENDEE"]
    assert attendee.params["CN"] == "Roux, Amélie Mimi"
    assert "^'" not in message.ics


async def test_an_online_type_shows_the_meeting_link_not_the_street(
    api: Api, client: Any, org: dict[str, Any]
) -> None:
    await book(api, type="video", start="2026-12-05T10:00:00+01:00")
    link = await api.post("/api/feeds", {"user": "owner@example.org", "scope": "all"})
    feed = await (await client.get("/feeds/" + link["url"].split("/feeds/", 1)[1])).text()
    event = Calendar.from_ical(feed).walk("VEVENT")[0]
    assert str(event["LOCATION"]).startswith("https://")
    assert "rue Royale" not in str(event["LOCATION"])
    await api.patch("/api/types/video", {"on_site": True})
    feed = await (await client.get("/feeds/" + link["url"].split("/feeds/", 1)[1])).text()
    where = str(Calendar.from_ical(feed.replace("\r\n ", "")).walk("VEVENT")[0]["LOCATION"])
    assert where.startswith("Annecy HQ, 12 rue Royale") and "https://" in where


async def test_an_overlap_names_the_clashing_occurrence_in_local_time(
    api: Api, org: dict[str, Any]
) -> None:
    await book(api, start="2026-12-01T10:00:00+01:00", rrule="FREQ=WEEKLY;COUNT=10")
    refused = await api.post(
        "/api/bookings",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": "camille@example.org",
            "start": "2026-12-22T10:15:00+01:00",
        },
        status=409,
    )
    assert "2026-12-22 10:00–10:45 (Europe/Paris)" in refused["message"]
    assert "recurring" in refused["message"]


async def test_a_form_body_is_told_to_send_json(client: Any, org: dict[str, Any]) -> None:
    response = await client.post(
        "/api/locations",
        data={"code": "X"},
        headers={"Authorization": "Bearer test-admin-token-0123456789"},
    )
    body = await response.json()
    assert response.status == 400
    assert "send JSON (Content-Type: application/json)" in body["message"]


@pytest.mark.parametrize("name", ["Roux, Amélie", 'Le "Grand" Salon', "Zoë; Ada"])
def test_address_headers_parse_back_strictly(name: str) -> None:
    mail = EmailMessage()
    mail["To"] = address(name, "x@example.com")
    parsed = BytesParser(policy=policy.strict).parsebytes(mail.as_bytes())
    assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [
        (name, "x@example.com")
    ]


async def outbox(client: Any) -> list[Any]:
    return list(await client.app[RUNNER].run(lambda s: s.outbox.list()))


async def test_all_day_bookings_and_no_attendee_are_worded_in_emails(
    api: Api, client: Any, org: dict[str, Any]
) -> None:
    await book(
        api,
        type="coloring",
        start="2027-01-20",
        all_day=True,
        attendees=[{"email": "anna@example.com", "name": "Anna Kowalski"}],
    )
    await book(api, start="2027-01-21T10:00:00+01:00", attendees=[])
    sent = await outbox(client)
    anna = next(m for m in sent if m.recipient_email == "anna@example.com")
    assert anna.subject == "Booked: Colouring on Wednesday, 20 January 2027 (all day)"
    assert "Wednesday, 20 January 2027, all day" in anna.body_text
    assert " at\n" not in anna.subject + "\n" and ", –" not in anna.body_text
    assert "Hello Anna Kowalski," in anna.body_text
    staff = [m for m in sent if m.recipient_email == "camille@example.org"]
    nobody = next(m for m in staff if "21 January" in m.subject)
    assert nobody.subject == "New booking: Haircut, Thursday, 21 January 2027 at 10:00"
    assert "Attendees: no attendee" in nobody.body_text
    assert not nobody.body_text.startswith(" ")


async def test_all_day_emails_in_french(aiohttp_client: Any, config: Any) -> None:
    french = replace(config, notifications=replace(config.notifications, language="fr"))
    client = await aiohttp_client(create_app(french))
    api = Api(client, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    await book(
        api,
        type="coloring",
        start="2027-01-20",
        end="2027-01-23",
        all_day=True,
        attendees=[{"email": "anna@example.com", "name": "Anna"}],
    )
    anna = next(m for m in await outbox(client) if m.recipient_email == "anna@example.com")
    assert anna.subject == (
        "Réservation confirmée : Colouring le mercredi 20 janvier 2027 (toute la journée)"
    )
    assert "mercredi 20 janvier 2027 au vendredi 22 janvier 2027, toute la journée" in (
        anna.body_text
    )


async def test_vdirsyncer_syncs_calendars_with_non_ascii_names(
    server: Any, dav_api: Api, tmp_path: Path
) -> None:
    """vdirsyncer, a client the suite does not otherwise use, both ways, on a calendar and
    items with non-ASCII names."""
    calendar = "/dav/camille@example.org/" + quote("café") + "/"
    assert (await _dav(server, "MKCALENDAR", calendar))[0] == 201
    body = EVENT.format(uid="thé@test").encode()
    assert (await _dav(server, "PUT", calendar + quote("thé.ics"), body=body))[0] == 201
    config = tmp_path / "config"
    config.write_text(
        f"""[general]
status_path = "{tmp_path / "status"}/"

[pair cal]
a = "local"
b = "remote"
collections = ["from b"]

[storage local]
type = "filesystem"
path = "{tmp_path / "local"}/"
fileext = ".ics"

[storage remote]
type = "caldav"
url = "{base_url(server)}/dav/"
username = "{CAMILLE[0]}"
password = "{CAMILLE[1]}"
"""
    )
    command = [str(Path(sys.executable).parent / "vdirsyncer"), "-c", str(config)]

    def run(*args: str) -> str:
        done = subprocess.run(
            [*command, *args], input="y\n" * 10, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    await asyncio.to_thread(run, "discover", "cal")
    await asyncio.to_thread(run, "sync")
    local = tmp_path / "local" / "café"
    assert local.is_dir(), sorted(p.name for p in (tmp_path / "local").iterdir())
    texts = [p.read_text() for p in local.glob("*.ics")]
    assert any("SUMMARY:thé@test" in t for t in texts)
    (local / "новый.ics").write_text(EVENT.format(uid="новый@test"))
    await asyncio.to_thread(run, "sync")
    status, listing = await _dav(server, "PROPFIND", calendar, headers={"Depth": "1"})
    assert status == 207 and "%C3%83" not in listing
    found = await _dav(server, "REPORT", calendar, body=REPORT_ALL, headers={"Depth": "1"})
    assert "SUMMARY:новый@test" in found[1] and "SUMMARY:thé@test" in found[1]


REPORT_ALL = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
    b"<d:prop><c:calendar-data/></d:prop>"
    b'<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"/>'
    b"</c:comp-filter></c:filter></c:calendar-query>"
)
