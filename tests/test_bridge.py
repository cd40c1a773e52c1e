"""The bridge, end to end: events and invitations to invite@ become bookings.

Real server on a real socket, the real ``caldav`` client, real SMTP both ways (the inbound
listener, and an aiosmtpd sink for what feedserver sends). Fixtures in ``tests/data`` are shaped
like invitations from Google Calendar, Outlook/Exchange and Apple Calendar.
"""

from __future__ import annotations

import asyncio
import smtplib
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from caldav.davclient import DAVClient
from icalendar import Calendar

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from feedserver.web.state import INBOX, OUTBOX, RUNNER
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, make_org, smtp_settings, store_env
from tests.feedhelp import fetch, new_link, parse, uids
from tests.process import free_port
from tests.smtp_sink import SmtpServer
from tests.webhelp import Pages

DATA = Path(__file__).parent / "data"
INVITE = "invite@bookings.example.org"
ROMANCE = "Romance Standard Time"


@pytest.fixture
def bridge_config(config: Config, smtp: SmtpServer) -> Config:
    return with_changes(
        config,
        smtp={**smtp_settings(smtp), "sender_name": "Salon"},
        bridge={
            "invite_address": INVITE,
            "default_type": "haircut",
            "smtp_port": free_port(),
            "webhook_secret": "hook-secret",
            "max_message_bytes": 200_000,
            # Mail from the organisation's domain is checked by its MTA (the usual setup).
            "trusted_senders": ["@example.org"],
        },
        caldav={"failed_login_delay_ms": 50},
    )


@pytest.fixture
async def server(aiohttp_server: Any, bridge_config: Config) -> Any:
    return await aiohttp_server(create_app(bridge_config))


@pytest.fixture
async def api(aiohttp_client: Any, server: Any) -> Api:
    api = Api(await aiohttp_client(server), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    return api


async def settle(server: Any) -> None:
    """Process the inbox, send the outbox: everything the pipeline started."""
    await server.app[INBOX].drain()
    await server.app[OUTBOX].deliver_due()


def davclient(server: Any, login: str, password: str) -> Any:
    return DAVClient(url=str(server.make_url("/dav/")), username=login, password=password)


def with_changes_ics(text: str, **replace: str) -> str:
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


async def inbound(
    api: Api, body: bytes | str, content_type: str = "text/calendar", status: int = 200
) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return await api.call(
        "POST", "/api/inbound", status=status, data=data, headers={"Content-Type": content_type}
    )


def methods_to(smtp: SmtpServer, address: str) -> list[tuple[str, int]]:
    found = []
    for message in smtp.sink.to(address):
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                calendar = Calendar.from_ical(part.get_content())
                event = calendar.walk("VEVENT")[0]
                found.append((str(calendar["METHOD"]), int(str(event["SEQUENCE"]))))
    return found


async def bridged(api: Api) -> list[dict[str, Any]]:
    found = (await api.get("/api/bookings"))["bookings"]
    return [b for b in found if b["source"] != "api"]


async def test_caldav_put_inviting_the_address_books_at_the_coded_location(
    server: Any, api: Api, smtp: SmtpServer
) -> None:
    ics = (DATA / "apple_calendar_event.ics").read_text()

    def put() -> None:
        calendar = (
            davclient(server, "maya@example.org", "maya-password")
            .principal()
            .make_calendar(name="Work")
        )
        calendar.save_event(ics)

    await asyncio.to_thread(put)
    await settle(server)
    (booking,) = await bridged(api)
    assert (booking["location"], booking["source"], booking["type"]) == (
        "NYC1",
        "caldav",
        "haircut",
    )
    assert booking["start"] == "2026-12-03T09:00:00-05:00"
    assert booking["timezone"] == "America/New_York"
    assert [a["email"] for a in booking["attendees"]] == ["alice@example.com", "bob@example.com"]
    feed = await new_link(api, "maya@example.org")
    assert booking["uid"] in uids(
        parse((await fetch(api, feed, **{"Accept-Encoding": "identity"}))[1])
    )
    assert methods_to(smtp, "alice@example.com") == [("REQUEST", 0)]
    assert methods_to(smtp, "bob@example.com") == [("REQUEST", 0)]
    # The start-up reconciliation may queue the same write again: applied once, then ignored.
    for _ in range(100):
        inbox = (await api.get("/api/inbox"))["inbox"]
        if any(i["source"] == "caldav" and i["status"] == "processed" for i in inbox):
            break
        await settle(server)
        await asyncio.sleep(0.05)
    assert any(i["source"] == "caldav" and i["status"] == "processed" for i in inbox), inbox
    assert all(i["status"] in ("processed", "ignored") for i in inbox)


async def test_moving_and_uninviting_in_caldav_follow_the_booking(
    server: Any, api: Api, smtp: SmtpServer
) -> None:
    ics = (DATA / "apple_calendar_event.ics").read_text()
    client = davclient(server, "maya@example.org", "maya-password")
    calendar = await asyncio.to_thread(lambda: client.principal().make_calendar(name="Work"))
    event = await asyncio.to_thread(lambda: calendar.save_event(ics))
    await settle(server)
    moved = with_changes_ics(
        ics,
        **{
            "T090000": "T150000",
            "T100000\n": "T160000\n",
            "DTSTAMP:20261120T140112Z": "DTSTAMP:20261121T080000Z",
            "SEQUENCE:0": "SEQUENCE:1",
        },
    )
    event.data = moved
    await asyncio.to_thread(event.save)
    await settle(server)
    (booking,) = await bridged(api)
    assert booking["start"] == "2026-12-03T15:00:00-05:00"
    assert methods_to(smtp, "alice@example.com") == [("REQUEST", 0), ("REQUEST", 1)]
    # Bob leaves the event: he alone gets a cancellation.
    lines = [
        line for line in moved.replace("\n ", "").splitlines() if "bob@example.com" not in line
    ]
    without_bob = with_changes_ics(
        "\n".join(lines) + "\n",
        **{"DTSTAMP:20261121T080000Z": "DTSTAMP:20261121T090000Z", "SEQUENCE:1": "SEQUENCE:2"},
    )
    event.data = without_bob
    await asyncio.to_thread(event.save)
    await settle(server)
    (booking,) = await bridged(api)
    assert [a["email"] for a in booking["attendees"]] == ["alice@example.com"]
    assert methods_to(smtp, "bob@example.com")[-1][0] == "CANCEL"
    assert methods_to(smtp, "alice@example.com")[-1][0] == "REQUEST"
    # Deleting the event cancels the booking; both remaining guests are told.
    await asyncio.to_thread(event.delete)
    await settle(server)
    (booking,) = await bridged(api)
    assert booking["status"] == "cancelled"
    assert methods_to(smtp, "alice@example.com")[-1][0] == "CANCEL"


async def test_email_invitation_through_the_smtp_listener(
    server: Any, api: Api, smtp: SmtpServer, bridge_config: Config
) -> None:
    raw = (DATA / "google_invite_anhq.eml").read_bytes().replace(b"\n", b"\r\n")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", bridge_config.bridge.smtp_port) as client:
            client.sendmail("camille@example.org", [INVITE], raw)
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("camille@example.org", ["someone@example.org"], raw)

    await asyncio.to_thread(send)
    for _ in range(50):  # processing follows the 250 answer
        if await bridged(api):
            break
        await asyncio.sleep(0.05)
    await settle(server)
    (booking,) = await bridged(api)
    assert (booking["location"], booking["source"]) == ("ANHQ", "email")
    assert booking["start"] == "2026-12-01T10:00:00+01:00"
    assert [a["email"] for a in booking["attendees"]] == ["alice@example.com"]
    assert "First visit" in booking["notes"]
    assert methods_to(smtp, "alice@example.com") == [("REQUEST", 0)]
    # The same invitation again (a replay) changes nothing.
    await inbound(api, raw, "message/rfc822")
    await settle(server)
    assert len(await bridged(api)) == 1
    assert len(methods_to(smtp, "alice@example.com")) == 1


async def test_replayed_older_sequence_changes_nothing(
    server: Any, api: Api, smtp: SmtpServer
) -> None:
    ics = (DATA / "outlook_windows_tz.ics").read_text()
    newer = with_changes_ics(
        ics, **{"SEQUENCE:0": "SEQUENCE:2", "T143000": "T160000", "T153000": "T170000"}
    )
    assert (await inbound(api, newer))["status"] == "processed"
    older = await inbound(api, ics)
    assert older["status"] == "ignored" and "older or repeated" in older["reason"]
    (booking,) = await bridged(api)
    assert booking["start"] == "2026-12-08T16:00:00+01:00"


async def test_outlook_windows_timezone_and_rooms(server: Any, api: Api, smtp: SmtpServer) -> None:
    result = await inbound(api, (DATA / "outlook_windows_tz.ics").read_text())
    assert result["status"] == "processed", result
    (booking,) = await bridged(api)
    assert booking["start"] == "2026-12-08T14:30:00+01:00"
    assert booking["timezone"] == "Europe/Paris"
    assert booking["location"] == "ANHQ"  # "(anhq)", case-insensitive, past the Teams block
    assert [a["email"] for a in booking["attendees"]] == ["bob@example.com"]  # no room
    assert booking["source"] == "http"


async def test_cancel_cancels_and_a_late_older_request_cannot_revive(
    server: Any, api: Api, smtp: SmtpServer
) -> None:
    ics = (DATA / "outlook_windows_tz.ics").read_text()
    await inbound(api, ics)
    cancel = with_changes_ics(
        ics,
        **{
            "METHOD:REQUEST": "METHOD:CANCEL",
            "STATUS:CONFIRMED": "STATUS:CANCELLED",
            "SEQUENCE:0": "SEQUENCE:1",
        },
    )
    assert (await inbound(api, cancel))["status"] == "processed"
    await settle(server)
    (booking,) = await bridged(api)
    assert booking["status"] == "cancelled"
    assert [m for m, _ in methods_to(smtp, "bob@example.com")] == ["REQUEST", "CANCEL"]
    late = await inbound(api, ics)
    assert late["status"] == "ignored"
    assert [b["status"] for b in await bridged(api)] == ["cancelled"]


async def test_removing_the_invite_address_cancels(server: Any, api: Api) -> None:
    ics = (DATA / "outlook_windows_tz.ics").read_text()
    await inbound(api, ics)
    lines = [line for line in ics.replace("\n ", "").splitlines() if INVITE not in line]
    update = "\n".join(lines).replace("SEQUENCE:0", "SEQUENCE:1") + "\n"
    result = await inbound(api, update)
    assert result["status"] == "processed" and "removed" in result["reason"]
    assert [b["status"] for b in await bridged(api)] == ["cancelled"]


async def test_unknown_code_sends_the_organizer_the_list_of_codes(
    server: Any, api: Api, smtp: SmtpServer
) -> None:
    ics = (DATA / "outlook_windows_tz.ics").read_text().replace("(anhq)", "(PARIS9)")
    # Camille has ANHQ as primary location, but a code-shaped unknown word is an error.
    result = await inbound(api, ics)
    assert result["status"] == "rejected" and "PARIS9" in result["reason"]
    await settle(server)
    assert await bridged(api) == []
    (mail,) = smtp.sink.to("camille@example.org")
    text = mail.get_body(("plain",)).get_content()
    assert "PARIS9" in text
    assert "ANHQ  Annecy HQ" in text and "NYC1  New York" in text


async def test_no_code_uses_the_organizers_primary_location(server: Any, api: Api) -> None:
    ics = (
        (DATA / "outlook_windows_tz.ics")
        .read_text()
        .replace("Salle Mont-Blanc (anhq)", "Salle Mont-Blanc")
    )
    await api.patch("/api/users/camille@example.org", {"primary_location": "NYC1"})
    assert (await inbound(api, ics))["status"] == "processed"
    (booking,) = await bridged(api)
    assert booking["location"] == "NYC1"


async def test_event_without_the_invite_address_is_ignored(server: Any, api: Api) -> None:
    ics = (DATA / "outlook_windows_tz.ics").read_text()
    lines = [line for line in ics.replace("\n ", "").splitlines() if INVITE not in line]
    result = await inbound(api, "\n".join(lines) + "\n")
    assert result["status"] == "ignored" and INVITE in result["reason"]
    assert await bridged(api) == []


async def test_malformed_and_oversized_bodies_are_kept_and_failed(server: Any, api: Api) -> None:
    bad = await inbound(api, "BEGIN:VCALENDAR\nthis is not\nEND:VCALENDAR\n", status=422)
    assert bad["error"] == "malformed"
    kept = await api.get(f"/api/inbox/{bad['inbox_id']}")
    assert kept["status"] == "failed" and "this is not" in kept["raw"]
    huge = await inbound(api, "BEGIN:VCALENDAR\n" + "X" * 300_000, status=413)
    assert huge["error"] == "too_large"
    kept = await api.get(f"/api/inbox/{huge['inbox_id']}")
    assert kept["status"] == "failed" and kept["size"] > 200_000  # reading stopped there
    await api.call(
        "POST", "/api/inbound", status=415, data=b"x", headers={"Content-Type": "application/json"}
    )
    failed = (await api.get("/api/inbox?status=failed"))["inbox"]
    assert {i["id"] for i in failed} == {bad["inbox_id"], huge["inbox_id"]}


async def test_unknown_organizer_or_forged_sender_is_rejected(server: Any, api: Api) -> None:
    ics = (
        (DATA / "outlook_windows_tz.ics")
        .read_text()
        .replace("mailto:camille@example.org", "mailto:stranger@example.net")
    )
    result = await inbound(api, ics)
    assert result["status"] == "rejected" and "unknown organizer" in result["reason"]
    customer = (
        (DATA / "outlook_windows_tz.ics")
        .read_text()
        .replace("mailto:camille@example.org", "mailto:alice@example.com")
    )
    assert (await inbound(api, customer))["status"] == "rejected"
    forged = (
        (DATA / "google_invite_anhq.eml")
        .read_bytes()
        .replace(b"From: Camille <camille@example.org>", b"From: Mallory <mallory@example.org>")
    )
    result = await inbound(api, forged, "message/rfc822")
    assert result["status"] == "rejected" and "is not the ORGANIZER" in result["reason"]
    assert await bridged(api) == []


async def test_api_changes_to_bridged_bookings_are_refused(server: Any, api: Api) -> None:
    await inbound(api, (DATA / "outlook_windows_tz.ics").read_text())
    (booking,) = await bridged(api)
    refused = await api.patch(f"/api/bookings/{booking['id']}", {"title": "x"}, status=409)
    assert refused["error"] == "managed_by_calendar" and "calendar" in refused["message"]
    await api.post(f"/api/bookings/{booking['id']}/cancel", status=409)


async def test_one_occurrence_of_a_series_changes_alone(server: Any, api: Api) -> None:
    ics = (
        (DATA / "outlook_windows_tz.ics")
        .read_text()
        .replace("STATUS:CONFIRMED", "STATUS:CONFIRMED\nRRULE:FREQ=WEEKLY;COUNT=4")
    )
    await inbound(api, ics)
    moved = with_changes_ics(
        ics,
        **{
            "RRULE:FREQ=WEEKLY;COUNT=4": f"RECURRENCE-ID;TZID={ROMANCE}:20261215T143000",
            f"DTSTART;TZID={ROMANCE}:20261208T143000": f"DTSTART;TZID={ROMANCE}:20261215T090000",
            f"DTEND;TZID={ROMANCE}:20261208T153000": f"DTEND;TZID={ROMANCE}:20261215T100000",
            "DTSTAMP:20261120T101500Z": "DTSTAMP:20261121T101500Z",
        },
    )
    result = await inbound(api, moved)
    assert result["status"] == "processed", result
    series, occurrence = sorted(await bridged(api), key=lambda b: b["id"])
    assert series["rrule"] == "FREQ=WEEKLY;COUNT=4"
    assert series["exdates"] == ["2026-12-15T14:30:00+01:00"]
    assert occurrence["start"] == "2026-12-15T09:00:00+01:00" and occurrence["rrule"] is None


@pytest.mark.slow  # the feedserver CLI as a separate process
async def test_webhook_secret_and_standard_input(
    server: Any, api: Api, bridge_config: Config
) -> None:
    ics = (DATA / "outlook_windows_tz.ics").read_bytes()
    wrong = await api.client.post(
        "/api/inbound",
        data=ics,
        headers={"Content-Type": "text/calendar", "X-Webhook-Secret": "nope"},
    )
    assert wrong.status == 401
    right = await api.client.post(
        "/api/inbound",
        data=ics,
        headers={"Content-Type": "text/calendar", "X-Webhook-Secret": "hook-secret"},
    )
    assert (await right.json())["status"] == "processed"
    # An MTA pipe: `feedserver inbound` reads the message on standard input.
    data_dir = bridge_config.storage.data_dir
    env = {
        "FEEDSERVER_STORAGE_DATA_DIR": data_dir,
        "FEEDSERVER_BRIDGE_INVITE_ADDRESS": INVITE,
        "FEEDSERVER_BRIDGE_DEFAULT_TYPE": "haircut",
        "FEEDSERVER_BRIDGE_TRUSTED_SENDERS": "@example.org",
        "FEEDSERVER_ADMIN_TOKEN": ADMIN_TOKEN,
        "FEEDSERVER_SECURITY_SECRET_KEYS": "test-key-one",
        "PATH": "",
        **store_env(bridge_config),
    }
    result = await asyncio.to_thread(
        lambda: subprocess.run(
            [sys.executable, "-m", "feedserver", "inbound"],
            env=env,
            capture_output=True,
            input=(DATA / "google_invite_anhq.eml").read_bytes(),
            check=True,
        )
    )
    assert b"processed" in result.stdout, result.stdout + result.stderr
    sources = sorted(b["source"] for b in await bridged(api))
    assert sources == ["email", "http"]


async def test_reconciliation_catches_a_missed_write(server: Any, api: Api) -> None:
    from feedserver.web.state import CALDAV, CAPTURE

    capture = server.app[CAPTURE]
    radicale = server.app[CALDAV]
    ics = (DATA / "apple_calendar_event.ics").read_text()
    calendar = await asyncio.to_thread(
        lambda: (
            davclient(server, "maya@example.org", "maya-password")
            .principal()
            .make_calendar(name="Work")
        )
    )
    radicale.storage.capture = None  # as if the process had died before capturing
    try:
        await asyncio.to_thread(lambda: calendar.save_event(ics))
    finally:
        radicale.storage.capture = capture
    await settle(server)
    assert await bridged(api) == []
    assert await capture.reconcile(radicale) == 1
    await settle(server)
    assert [b["location"] for b in await bridged(api)] == ["NYC1"]
    assert await capture.reconcile(radicale) == 0


async def test_floating_and_all_day_events(server: Any, api: Api) -> None:
    base = (DATA / "outlook_windows_tz.ics").read_text()
    await api.patch("/api/users/camille@example.org", {"timezone": "America/New_York"})
    floating = with_changes_ics(
        base,
        **{
            f"DTSTART;TZID={ROMANCE}:20261208T143000": "DTSTART:20261208T143000",
            f"DTEND;TZID={ROMANCE}:20261208T153000": "DTEND:20261208T153000",
        },
    )
    assert (await inbound(api, floating))["status"] == "processed"
    (booking,) = await bridged(api)
    assert booking["start"] == "2026-12-08T14:30:00-05:00"  # the organizer's timezone
    all_day = with_changes_ics(
        base,
        **{
            "040000008200E": "ALLDAY-040000008200E",
            f"DTSTART;TZID={ROMANCE}:20261208T143000": "DTSTART;VALUE=DATE:20261224",
            f"DTEND;TZID={ROMANCE}:20261208T153000": "DTEND;VALUE=DATE:20261226",
        },
    )
    assert (await inbound(api, all_day))["status"] == "processed"
    day = next(b for b in await bridged(api) if b["all_day"])
    assert (day["start"], day["end"]) == ("2026-12-24", "2026-12-26")


async def test_an_item_processed_by_its_request_is_not_processed_again_by_the_drain(
    server: Any, api: Api
) -> None:
    """The race behind a flaky CalDAV test: the inbox task listed an item as waiting, its own
    request processed it meanwhile; the task must not apply it again (it would mark the
    booking's event "an older or repeated version", ignored)."""
    inbox = server.app[INBOX]
    item = await inbox.receive("http-calendar", (DATA / "outlook_windows_tz.ics").read_bytes())
    listed = await server.app[RUNNER].run(lambda s: s.inbox.waiting(5))
    assert item.id in listed
    first = await inbox.process(item.id)
    again = await inbox.process(item.id, only_waiting=True)
    assert first.status.value == again.status.value == "processed"
    assert again.reason == first.reason and again.attempts == first.attempts


async def test_an_unknown_time_zone_is_refused_with_its_name_never_guessed(
    server: Any, api: Api
) -> None:
    base = (DATA / "outlook_windows_tz.ics").read_text()
    for number, tzid in enumerate(("Mars/Olympus", "../../etc/passwd")):
        unknown = with_changes_ics(
            base,
            **{
                "040000008200E": f"TZ{number}-040000008200E",
                f"TZID={ROMANCE}": f'TZID="{tzid}"',
                "BEGIN:VTIMEZONE": "BEGIN:X-UNUSED",
                "END:VTIMEZONE": "END:X-UNUSED",
            },
        )
        result = await inbound(api, unknown)
        assert result["status"] == "rejected", result
        assert f"time zone {tzid!r}" in result["reason"]
        assert "cannot be known" in result["reason"]
    assert await bridged(api) == []
    # An IANA alias and a Windows name without any VTIMEZONE are mapped, not guessed.
    for number, tzid in enumerate(("Europe/Rome", "Europe/Vatican", "W. Europe Standard Time")):
        mapped = with_changes_ics(
            base,
            **{
                "040000008200E": f"MAP{number}-040000008200E",
                f"TZID={ROMANCE}": f'TZID="{tzid}"',
                "BEGIN:VTIMEZONE": "BEGIN:X-UNUSED",
                "END:VTIMEZONE": "END:X-UNUSED",
                "20261208T1": f"2026120{number + 1}T1",
            },
        )
        assert (await inbound(api, mapped))["status"] == "processed"
    starts = sorted(b["start"] for b in await bridged(api))
    assert starts == [f"2026-12-0{n}T14:30:00+01:00" for n in (1, 2, 3)]


async def test_categories_choose_the_reservation_type(server: Any, api: Api) -> None:
    ics = (
        (DATA / "outlook_windows_tz.ics")
        .read_text()
        .replace("STATUS:CONFIRMED", "STATUS:CONFIRMED\nCATEGORIES:Important,video")
    )
    assert (await inbound(api, ics))["status"] == "processed"
    (booking,) = await bridged(api)
    assert booking["type"] == "video"
    assert booking["online_meeting"]["attendee_links"][0]["attendee"] == "bob@example.com"


async def test_forged_from_is_refused_by_default_without_dkim(
    aiohttp_client: Any, bridge_config: Config
) -> None:
    """Out of the box (require_dkim on, no trusted senders) an unsigned message claiming a
    staff member's From books nothing."""
    assert Config().bridge.require_dkim and Config().bridge.trusted_senders == []
    strict = with_changes(bridge_config, bridge={"trusted_senders": [], "smtp_port": 0})
    api = Api(await aiohttp_client(create_app(strict)), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    raw = (DATA / "google_invite_anhq.eml").read_bytes()
    result = await inbound(api, raw, "message/rfc822")
    assert result["status"] == "rejected" and "DKIM" in result["reason"]
    assert await bridged(api) == []


async def test_a_rejection_says_what_really_happened(server: Any, api: Api) -> None:
    ics = (DATA / "outlook_windows_tz.ics").read_text().replace("(anhq)", "(HQ2)")
    result = await inbound(api, ics)  # Camille's primary location is ANHQ
    assert "location code HQ2, which does not exist" in result["reason"]
    assert "primary location ANHQ is used only when the event names no code" in result["reason"]
    assert "no primary location" not in result["reason"]
    await api.patch("/api/users/camille@example.org", {"primary_location": None})
    result = await inbound(api, ics.replace("Salle Mont-Blanc (HQ2)", "Salle Mont-Blanc"))
    assert "names no location code and the organizer has no primary location" in result["reason"]


async def test_a_missing_default_type_is_reported_at_start_up(
    aiohttp_server: Any, bridge_config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    broken = with_changes(bridge_config, bridge={"default_type": "massage"})
    with caplog.at_level("ERROR", logger="feedserver.app"):
        running = await aiohttp_server(create_app(broken))
    assert any(
        "bridge.default_type 'massage' is not a reservation type" in r.getMessage()
        for r in caplog.records
    )
    async with (
        aiohttp.ClientSession() as http,
        http.get(str(running.make_url("/healthz"))) as response,
    ):
        health = await response.json()
    assert any(
        "bridge.default_type 'massage' is not a reservation type" in w for w in health["warnings"]
    )


async def test_the_inbox_pages_with_a_cursor(server: Any, api: Api) -> None:
    for index in range(5):
        await inbound(api, f"not a calendar {index}", status=422)
    first = await api.get("/api/inbox?limit=2")
    second = await api.get(f"/api/inbox?limit=2&after={first['next']}")
    third = await api.get(f"/api/inbox?limit=2&after={second['next']}")
    ids = [i["id"] for page in (first, second, third) for i in page["inbox"]]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True) and third["next"] is None


async def test_an_admin_retries_an_inbox_item_from_the_web_app(
    server: Any, api: Api, aiohttp_client: Any
) -> None:
    pages = Pages(await aiohttp_client(server))
    await pages.sign_in("owner@example.org", "owner-password")
    empty = await pages.get("/admin/inbox")  # says how the bridge works, and its address
    assert f"invites {INVITE} to an event" in empty and "<code>ANHQ</code> Annecy HQ" in empty
    await api.patch("/api/types/haircut", {"key": "cut"})  # the default type is gone
    ics = (DATA / "outlook_windows_tz.ics").read_text()
    result = await inbound(api, ics)
    assert result["status"] == "failed" and "default_type" in result["reason"]
    await api.patch("/api/types/cut", {"key": "haircut"})  # fixed
    html = await pages.get("/admin/inbox")
    item = (await api.get("/api/inbox"))["inbox"][0]
    assert f'action="/admin/inbox/{item["id"]}/retry"' in html
    await pages.post(f"/admin/inbox/{item['id']}/retry", {})
    assert (await api.get(f"/api/inbox/{item['id']}"))["status"] == "processed"


OUTLOOK_UID = str(
    Calendar.from_ical((DATA / "outlook_windows_tz.ics").read_text()).walk("VEVENT")[0]["UID"]
)


def busy_source(uid: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261208T133000Z\r\n"
        "DTEND:20261208T143000Z\r\nSUMMARY:Something\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.mark.parametrize(("uid", "booked"), [(OUTLOOK_UID, True), ("other@g", False)])
async def test_the_bridge_does_not_book_over_the_organizers_busy_time(
    aiohttp_server: Any,
    aiohttp_client: Any,
    bridge_config: Config,
    smtp: SmtpServer,
    uid: str,
    booked: bool,
) -> None:
    """Camille's own calendar is read for busy times. The invitation's own event is in it
    (same UID): not busy with itself; another event at that time: not booked, and she is
    told by email."""
    source = web.Application()

    async def calendar(request: web.Request) -> web.Response:
        return web.Response(text=busy_source(uid), content_type="text/calendar")

    source.router.add_get("/c.ics", calendar)
    calendar_server = await aiohttp_server(source)
    config = with_changes(bridge_config, availability={"allow_private_networks": True})
    running = await aiohttp_server(create_app(config))
    api = Api(await aiohttp_client(running), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    camille = {"Authorization": basic_auth("camille@example.org", "camille-password")}
    added = await api.post(
        "/api/me/busy-calendars",
        {"name": "Outlook", "url": str(calendar_server.make_url("/c.ics"))},
        headers=camille,
    )
    assert added["busy_count"] == 1
    result = await inbound(api, (DATA / "outlook_windows_tz.ics").read_text())
    await settle(running)
    if booked:
        assert result["status"] == "processed", result
        return
    assert result["status"] == "rejected" and "\u201cOutlook\u201d is busy" in result["reason"]
    (mail,) = [m for m in smtp.sink.to("camille@example.org") if "busy" in m["Subject"]]
    assert "no booking was made" in mail.get_body(("plain",)).get_content()
