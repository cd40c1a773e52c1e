"""Notifications through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from icalendar import Calendar

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from feedserver.web.state import OUTBOX
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, book, make_org, smtp_settings
from tests.feedhelp import fetch, new_link, parse
from tests.smtp_sink import SmtpServer

GROUP = [
    {"email": "alice@example.com", "name": "Alice Liddell"},
    {"email": "bob@example.com", "name": "Bob Builder"},
]


@pytest.fixture
def notify_config(config: Config, smtp: SmtpServer) -> Config:
    return with_changes(
        config,
        smtp={**smtp_settings(smtp), "retry_base_seconds": 600, "sender_name": "Salon Annecy"},
    )


@pytest.fixture
async def napi(aiohttp_client: Any, notify_config: Config) -> Api:
    api = Api(
        await aiohttp_client(create_app(notify_config)), {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    await make_org(api)
    return api


async def deliver(api: Api) -> None:
    """Wait until everything due is delivered (the worker also runs on its own)."""
    await api.client.app[OUTBOX].deliver_due()


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def calendar_part(message: EmailMessage) -> tuple[str, Calendar]:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    part = parts[0]
    calendar = Calendar.from_ical(part.get_content())
    for component in calendar.walk():
        assert not component.errors
    return str(part.get_param("method")), calendar


async def test_booking_sends_invitation_and_staff_notice(napi: Api, smtp: SmtpServer) -> None:
    booking = await book(napi)
    await deliver(napi)
    assert len(smtp.sink.received) == 2
    (mail,) = smtp.sink.to("alice@example.com")
    assert mail.get_content_type() == "multipart/mixed"
    assert mail["Date"] and mail["Message-ID"]
    assert mail["From"] == "Salon Annecy <bookings@salon.example>"
    assert mail["Subject"] == "Booked: Haircut on Tuesday, 1 December 2026 at 10:00"
    text = text_of(mail)
    assert "Hello Alice Liddell" in text and "10:00–10:45 (Europe/Paris, UTC+01:00)" in text
    assert "<html" in mail.get_body(("html",)).get_content()
    assert any(p.get_filename() == "invite.ics" for p in mail.iter_attachments())
    method, calendar = calendar_part(mail)
    assert method == "REQUEST" and str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == booking["uid"] and event["SEQUENCE"] == 0
    assert str(event["ORGANIZER"]) == "mailto:bookings@salon.example"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:alice@example.com"
    assert attendee.params["RSVP"] == "TRUE"
    # The feed carries the same UID and SEQUENCE.
    link = await new_link(napi, "alice@example.com")
    (feed_event,) = parse((await fetch(napi, link, **{"Accept-Encoding": "identity"}))[1]).walk(
        "VEVENT"
    )
    assert (str(feed_event["UID"]), feed_event["SEQUENCE"]) == (booking["uid"], 0)
    (notice,) = smtp.sink.to("camille@example.org")
    assert notice["Subject"].startswith("New booking: Haircut")
    assert "New booking: Haircut (confirmed).\r\nAttendees: Alice Liddell" in text_of(notice)
    assert smtp.sink.to("owner@example.org") == []  # admins opt in


async def test_change_sends_request_with_higher_sequence(napi: Api, smtp: SmtpServer) -> None:
    booking = await book(napi)
    await napi.patch(f"/api/bookings/{booking['id']}", {"start": "2026-12-01T15:00:00+01:00"})
    await deliver(napi)
    _, second = smtp.sink.to("alice@example.com")
    assert second["Subject"].startswith("Changed: Haircut now on Tuesday, 1 December 2026 at 15:00")
    method, calendar = calendar_part(second)
    (event,) = calendar.walk("VEVENT")
    assert method == "REQUEST" and event["SEQUENCE"] == 1
    assert str(event["UID"]) == booking["uid"]


async def test_cancel_sends_method_cancel(napi: Api, smtp: SmtpServer) -> None:
    booking = await book(napi)
    await napi.post(f"/api/bookings/{booking['id']}/cancel", status=200)
    await deliver(napi)
    cancel = smtp.sink.to("alice@example.com")[-1]
    method, calendar = calendar_part(cancel)
    (event,) = calendar.walk("VEVENT")
    assert method == "CANCEL" and str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED" and event["SEQUENCE"] == 1
    assert smtp.sink.to("camille@example.org")[-1]["Subject"].startswith("Cancelled:")


async def test_short_notice_booking_is_urgent_for_staff(napi: Api, smtp: SmtpServer) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    await book(napi, start=soon.isoformat())
    await deliver(napi)
    (notice,) = smtp.sink.to("camille@example.org")
    assert notice["Subject"].startswith("URGENT")


async def test_switching_a_setting_off_stops_that_kind(napi: Api, smtp: SmtpServer) -> None:
    auth = {"Authorization": basic_auth("camille@example.org", "camille-password")}
    assert await napi.get("/api/me/notification-settings", headers=auth) == {
        "booked": True,
        "cancelled": True,
        "rejected": True,
        "short_notice": True,
        "changed": True,
        "reminder": True,
    }
    changed = await napi.patch("/api/me/notification-settings", {"booked": False}, headers=auth)
    assert changed["booked"] is False and changed["cancelled"] is True
    bad = await napi.patch(
        "/api/me/notification-settings", {"booked": "no"}, status=422, headers=auth
    )
    assert bad["field"] == "booked"
    booking = await book(napi)
    await napi.post(f"/api/bookings/{booking['id']}/cancel", status=200)
    await deliver(napi)
    kinds = [m["Subject"].split(":")[0] for m in smtp.sink.to("camille@example.org")]
    assert kinds == ["Cancelled"]
    assert len(smtp.sink.to("alice@example.com")) == 2  # customers still get theirs
    # An admin opts in for someone else.
    owner = await napi.get("/api/users/owner@example.org")
    await napi.patch(f"/api/users/{owner['id']}/notification-settings", {"booked": True})
    await book(napi, start="2026-12-02T10:00:00+01:00")
    await deliver(napi)
    assert len(smtp.sink.to("owner@example.org")) == 1


async def test_smtp_down_then_delivered_exactly_once(napi: Api, smtp: SmtpServer) -> None:
    smtp.stop()
    await book(napi)
    await deliver(napi)
    listed = (await napi.get("/api/notifications"))["notifications"]
    assert {m["status"] for m in listed} == {"pending"}
    assert all(m["attempts"] == 1 and "Error" in m["last_error"] for m in listed)
    assert all(m["next_attempt_at"] > m["created_at"] for m in listed)  # backing off
    smtp.start()
    await deliver(napi)
    assert smtp.sink.received == []  # not due yet
    for message in listed:  # make them due now instead of waiting ten minutes
        await napi.post(f"/api/notifications/{message['id']}/retry", status=200)
    await deliver(napi)
    await deliver(napi)
    assert len(smtp.sink.to("alice@example.com")) == 1
    assert len(smtp.sink.received) == 2
    assert {m["status"] for m in (await napi.get("/api/notifications"))["notifications"]} == {
        "sent"
    }


async def test_4xx_is_retried_and_5xx_fails(napi: Api, smtp: SmtpServer) -> None:
    smtp.sink.answer = "451 4.3.0 try again later"
    await book(napi)
    await deliver(napi)
    listed = (await napi.get("/api/notifications?status=pending"))["notifications"]
    assert len(listed) == 2 and "451" in listed[0]["last_error"]
    smtp.sink.answer = "550 5.1.1 no such user"
    for message in listed:
        await napi.post(f"/api/notifications/{message['id']}/retry", status=200)
    await deliver(napi)
    failed = (await napi.get("/api/notifications?status=failed"))["notifications"]
    assert len(failed) == 2 and "550" in failed[0]["last_error"]
    smtp.sink.answer = "250 OK"
    await napi.post(f"/api/notifications/{failed[0]['id']}/retry", status=200)
    await deliver(napi)
    assert len(smtp.sink.received) == 1
    await napi.post("/api/notifications/999/retry", status=404)


async def test_restart_mid_delivery_sends_nothing_twice(
    aiohttp_client: Any, notify_config: Config, smtp: SmtpServer
) -> None:
    first = Api(
        await aiohttp_client(create_app(notify_config)), {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    await make_org(first)
    smtp.sink.delay = 0.3  # each message takes a while: the stop comes mid-delivery
    for day in range(1, 4):
        await book(first, start=f"2026-12-0{day}T10:00:00+01:00")
    while not smtp.sink.received:
        await asyncio.sleep(0.02)
    await first.client.close()  # graceful stop: the message in flight finishes, the rest wait
    delivered_before = len(smtp.sink.received)
    assert 1 <= delivered_before < 6
    smtp.sink.delay = 0
    second = Api(
        await aiohttp_client(create_app(notify_config)), {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    await second.client.app[OUTBOX].deliver_due()
    await asyncio.sleep(0.2)
    keys = [m["X-Feedserver-Key"] for m in smtp.sink.received]
    assert len(keys) == 6 and len(set(keys)) == 6


async def test_a_stop_cuts_a_hung_conversation_short_and_its_message_is_sent_later(
    aiohttp_client: Any, notify_config: Config, smtp: SmtpServer
) -> None:
    first = Api(
        await aiohttp_client(create_app(notify_config)), {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    await make_org(first)
    smtp.sink.gate.clear()  # the server takes the message and never answers
    await book(first, start="2026-12-01T10:00:00+01:00")
    while not (await first.get("/api/notifications?status=sending"))["notifications"]:
        await asyncio.sleep(0.02)
    started = asyncio.get_running_loop().time()
    await first.client.app[OUTBOX].stop(grace=0.3)
    assert asyncio.get_running_loop().time() - started < 5
    waiting = (await first.get("/api/notifications?status=pending"))["notifications"]
    assert len(waiting) == 2  # the one cut short is back with the other, not stuck 'sending'
    await first.client.close()
    smtp.sink.gate.set()
    second = Api(
        await aiohttp_client(create_app(notify_config)), {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    await second.client.app[OUTBOX].deliver_due()
    sent = (await second.get("/api/notifications?status=sent"))["notifications"]
    assert len(sent) == 2


async def test_group_online_booking_gets_unique_links_to_one_meeting(
    napi: Api, smtp: SmtpServer
) -> None:
    booking = await book(napi, type="video", attendees=GROUP)
    meeting = booking["online_meeting"]
    assert meeting["provider"] == "jitsi"
    assert meeting["provider_link"].startswith("https://meet.jit.si/feedserver-")
    links = {link["attendee"]: link["url"] for link in meeting["attendee_links"]}
    assert set(links) == {"alice@example.com", "bob@example.com"}
    assert links["alice@example.com"] != links["bob@example.com"]
    await deliver(napi)
    for email, other in (("alice@example.com", "Bob"), ("bob@example.com", "Alice")):
        (mail,) = smtp.sink.to(email)
        text = text_of(mail)
        assert links[email] in text
        assert other not in text and other.lower() not in str(mail)
        _, calendar = calendar_part(mail)
        assert links[email] in str(calendar.walk("VEVENT")[0]["LOCATION"])
    (staff_mail,) = smtp.sink.to("camille@example.org")
    assert meeting["provider_link"] in text_of(staff_mail)
    for url in links.values():
        response = await napi.client.get(url.split("8080", 1)[1], allow_redirects=False)
        assert response.status == 302
        assert response.headers["Location"] == meeting["provider_link"]
    refreshed = await napi.get(f"/api/bookings/{booking['id']}")
    assert {link["clicks"] for link in refreshed["online_meeting"]["attendee_links"]} == {1}


async def test_revoked_attendee_link_stops_redirecting(napi: Api) -> None:
    booking = await book(napi, type="video", attendees=GROUP)
    alice, bob = booking["online_meeting"]["attendee_links"]
    await napi.call("DELETE", f"/api/meeting-links/{alice['id']}", status=204)
    gone = await napi.client.get(alice["url"].split("8080", 1)[1], allow_redirects=False)
    assert gone.status == 410
    kept = await napi.client.get(bob["url"].split("8080", 1)[1], allow_redirects=False)
    assert kept.status == 302
    forged = await napi.client.get(
        alice["url"].split("8080", 1)[1][:-3] + "xyz", allow_redirects=False
    )
    assert forged.status == 404
    # Turning the type's online flag off keeps existing meetings.
    await napi.patch("/api/types/video", {"online": False})
    again = await napi.get(f"/api/bookings/{booking['id']}")
    assert again["online_meeting"]["provider_link"] == booking["online_meeting"]["provider_link"]


async def test_meeting_links_in_feeds_and_report(napi: Api) -> None:
    booking = await book(napi, type="video", attendees=GROUP)
    meeting = booking["online_meeting"]
    alice_link = next(
        x["url"] for x in meeting["attendee_links"] if x["attendee"] == "alice@example.com"
    )
    staff_feed = await new_link(napi, "camille@example.org")
    body = (await fetch(napi, staff_feed, **{"Accept-Encoding": "identity"}))[1]
    (event,) = parse(body).walk("VEVENT")
    assert meeting["provider_link"] in str(event["LOCATION"])
    assert meeting["provider_link"] in str(event["DESCRIPTION"])
    alice_feed = await new_link(napi, "alice@example.com")
    (event,) = parse((await fetch(napi, alice_feed, **{"Accept-Encoding": "identity"}))[1]).walk(
        "VEVENT"
    )
    assert alice_link in str(event["DESCRIPTION"])
    assert meeting["provider_link"] not in str(event["DESCRIPTION"])
    report = await napi.get(
        "/api/reports/online-meetings?start=2026-11-01T00:00:00Z&end=2027-01-01T00:00:00Z"
    )
    assert [m["id"] for m in report["meetings"]] == [booking["id"]]
    await napi.get("/api/reports/online-meetings?start=soon", status=422)


async def test_templates_are_validated_and_used(napi: Api, smtp: SmtpServer) -> None:
    refused = await napi.call(
        "PUT",
        "/api/templates/attendee/booked/en",
        {"subject": "Hi [customer_name]", "body": "[unknown_variable]"},
        status=422,
    )
    assert "[unknown_variable]" in refused["message"] and refused["field"] == "body"
    await napi.call(
        "PUT", "/api/templates/nobody/booked/en", {"subject": "x", "body": "y"}, status=404
    )
    await napi.call(
        "PUT",
        "/api/templates/attendee/booked/en",
        {
            "subject": "See you, [customer_name]!",
            "body": "[service_name] at [location_code] on [booking_start_date].",
        },
    )
    await book(napi)
    await deliver(napi)
    (mail,) = smtp.sink.to("alice@example.com")
    assert mail["Subject"] == "See you, Alice Liddell!"
    assert text_of(mail).strip() == ("Haircut at ANHQ on Tuesday, 1 December 2026.")
    listed = await napi.get("/api/templates")
    assert "[online_meeting_link]" in listed["variables"]
    assert any(t["customised"] for t in listed["templates"])
    await napi.call("DELETE", "/api/templates/attendee/booked/en", status=204)


async def test_french_defaults(
    aiohttp_client: Any, notify_config: Config, smtp: SmtpServer
) -> None:
    config = with_changes(notify_config, notifications={"language": "fr"})
    api = Api(await aiohttp_client(create_app(config)), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    await book(api)
    await deliver(api)
    (mail,) = smtp.sink.to("alice@example.com")
    assert mail["Subject"] == ("Réservation confirmée : Haircut le mardi 1 décembre 2026 à 10:00")
