"""Webhooks and the change feed, end to end: a real server on a real socket, a real receiver on
another (``tests/receiver.py``) verifying every delivery with the ``standardwebhooks``
package, bookings made every way there is in (API, import, the web form, an emailed
invitation over SMTP, a CalDAV PUT), and the change feed read beside it."""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any, cast

import pytest
from caldav.davclient import DAVClient

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from feedserver.times import utcnow
from feedserver.web.state import INBOX, OUTBOX, RUNNER, WEBHOOKS
from tests.conftest import ADMIN_TOKEN, BACKEND, Api, make_org, smtp_settings
from tests.process import free_port
from tests.receiver import Receiver
from tests.smtp_sink import SmtpServer
from tests.test_bridge import DATA, INVITE
from tests.webhelp import Pages

ANHQ = {
    "type": "haircut",
    "location": "ANHQ",
    "staff": "camille@example.org",
    "attendees": [{"email": "alice@example.com", "name": "Alice"}],
}


@pytest.fixture
def hook_config(config: Config, smtp: SmtpServer) -> Config:
    return with_changes(
        config,
        smtp=smtp_settings(smtp),
        bridge={
            "invite_address": INVITE,
            "default_type": "haircut",
            "smtp_port": free_port(),
            "trusted_senders": ["@example.org"],
        },
        webhooks={"allow_private_networks": True, "retry_schedule_seconds": [0.2] * 3},
    )


@pytest.fixture
async def server(aiohttp_server: Any, hook_config: Config) -> Any:
    return await aiohttp_server(create_app(hook_config))


@pytest.fixture
async def api(aiohttp_client: Any, server: Any) -> Api:
    api = Api(await aiohttp_client(server), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    return api


@pytest.fixture
async def receiver() -> Any:
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


async def hook(api: Api, receiver: Receiver, **body: Any) -> dict[str, Any]:
    made: dict[str, Any] = await api.post("/api/webhooks", {"url": receiver.url, **body})
    receiver.secrets.append(made["secret"])
    return made


async def settle(server: Any) -> None:
    await server.app[INBOX].drain()
    await server.app[OUTBOX].deliver_due()
    await server.app[WEBHOOKS].deliver_due()


def booking_of(body: dict[str, Any]) -> int:
    return int(body["data"]["booking"]["id"])


async def test_every_way_in_makes_its_event_with_its_origin(
    server: Any, api: Api, receiver: Receiver, smtp: SmtpServer, hook_config: Config
) -> None:
    await hook(api, receiver, events=["booking.created"])
    # The API.
    made = await api.post("/api/bookings", {**ANHQ, "start": "2027-01-04T10:00:00+01:00"})
    # An import.
    csv = (
        "type,location,staff,start,end,attendee_email\n"
        "haircut,ANHQ,camille@example.org,2027-01-05T10:00:00+01:00,"
        "2027-01-05T10:45:00+01:00,bob@example.com\n"
    )
    report = await api.call(
        "POST",
        "/api/bookings/import",
        data=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert report["imported"] == 1, report
    # The web app's form.
    pages = Pages(api.client)
    await pages.sign_in("owner@example.org", "owner-password")
    await pages.get("/admin/bookings/new")
    camille = (await api.get("/api/users?role=staff"))["users"][0]
    await pages.post(
        "/admin/bookings/new",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": str(camille["id"]),
            "start": "2027-01-06T09:30",
            "attendees": "alice@example.com",
        },
    )
    # An invitation emailed to the bridge (as Google Calendar sends one).
    raw = (DATA / "google_invite_anhq.eml").read_bytes().replace(b"\n", b"\r\n")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", hook_config.bridge.smtp_port) as client:
            client.sendmail("camille@example.org", [INVITE], raw)

    await asyncio.to_thread(send)
    # An event written to a CalDAV calendar, inviting the bridge (as Apple Calendar does).
    ics = (DATA / "apple_calendar_event.ics").read_text()

    def put() -> None:
        client = DAVClient(
            url=str(server.make_url("/dav/")),
            username="maya@example.org",
            password="maya-password",
        )
        cast(Any, client).principal().make_calendar(name="Work").save_event(ics)

    await asyncio.to_thread(put)
    for _ in range(100):
        await settle(server)
        if len(receiver.accepted()) >= 5:
            break
        await asyncio.sleep(0.1)
    found = await receiver.wait_for(5)
    assert receiver.refused == []
    origins = {d.body["origin"]["kind"]: d.body for d in found}
    assert sorted(origins) == ["api", "bridge", "calendar", "import", "web"]
    assert origins["api"]["origin"] == {"kind": "api"}
    assert origins["import"]["origin"] == {"kind": "import"}
    assert origins["web"]["origin"]["user"] > 0
    inbox = (await api.get("/api/inbox"))["inbox"]
    for kind, source in (("bridge", "email"), ("calendar", "caldav")):
        item = origins[kind]["origin"]["inbox_item"]
        assert next(i for i in inbox if i["id"] == item)["source"] == source
        assert origins[kind]["data"]["booking"]["source"] == source
    first = next(d for d in found if d.body["data"]["booking"]["id"] == made["id"])
    # The payload carries the booking as GET /api/bookings/{id} shows it.
    assert first.body["data"]["booking"] == await api.get(f"/api/bookings/{made['id']}")
    assert first.body["type"] == "booking.created" and first.message_id == first.body["id"]
    assert {d.body["type"] for d in found} == {"booking.created"}  # it asked for no other


async def test_a_booking_s_changes_say_what_changed(
    server: Any, api: Api, receiver: Receiver
) -> None:
    await hook(api, receiver)
    made = await api.post("/api/bookings", {**ANHQ, "start": "2027-01-04T10:00:00+01:00"})
    booking = f"/api/bookings/{made['id']}"
    await api.patch(booking, {"start": "2027-01-04T11:00:00+01:00"})
    await api.patch(booking, {"attendees": ANHQ["attendees"]})  # the same: no event
    await api.patch(booking, {"staff": "maya@example.org", "title": "Cut"})
    await api.post(f"{booking}/cancel", status=200)
    found = [d.body for d in await receiver.wait_for(4)]
    assert [b["type"] for b in found] == [
        "booking.created",
        "booking.updated",
        "booking.updated",
        "booking.cancelled",
    ]
    moved, restaffed = found[1]["data"], found[2]["data"]
    assert moved["changes"] == ["time"]
    assert moved["previous"]["start"] == "2027-01-04T10:00:00+01:00"
    assert moved["booking"]["start"] == "2027-01-04T11:00:00+01:00"
    assert restaffed["changes"] == ["staff", "details"]
    assert found[3]["data"]["booking"]["status"] == "cancelled"
    ids = [int(b["id"].removeprefix("evt_")) for b in found]
    assert ids == sorted(ids)


async def test_replies_refusals_failures_and_revocations_are_events(
    server: Any, api: Api, receiver: Receiver
) -> None:
    await hook(api, receiver)
    made = await api.post("/api/bookings", {**ANHQ, "start": "2027-02-01T10:00:00+01:00"})
    await settle(server)
    uid = made["uid"]
    reply = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//macOS 14//EN\r\n"
        "METHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261201T100000Z\r\nSEQUENCE:0\r\n"
        "DTSTART:20270201T090000Z\r\n"
        "ORGANIZER:mailto:camille@example.org\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED;CN=Alice:mailto:alice@example.com\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    for body in (reply, "BEGIN:VCALENDAR\r\nthis is not a calendar"):
        await api.client.post(
            "/api/inbound",
            data=body.encode(),
            headers={**api.headers, "Content-Type": "text/calendar"},
        )
    link = await api.post("/api/feeds", {"user": "camille@example.org", "name": "Work"})
    await api.call("DELETE", f"/api/feeds/{link['id']}", status=204)
    await settle(server)
    found = {d.body["type"]: d.body for d in await receiver.wait_for(4)}
    replied = found["attendee.replied"]["data"]
    assert replied["attendee"] == {
        "email": "alice@example.com",
        "name": "Alice",
        "partstat": "accepted",
    }
    assert replied["booking"]["attendees"][0]["partstat"] == "accepted"
    assert found["attendee.replied"]["origin"]["kind"] == "bridge"
    rejected = found["inbox.rejected"]["data"]["inbox_item"]
    assert rejected["status"] == "failed" and rejected["failure"] == "malformed"
    assert "malformed" in rejected["reason"]
    assert found["feed_link.revoked"]["data"]["feed_link"]["id"] == link["id"]


async def test_an_email_given_up_and_an_unreadable_calendar_are_events(
    aiohttp_server: Any, aiohttp_client: Any, config: Config, receiver: Receiver
) -> None:
    closed = free_port()  # nothing listens: the email fails, and fails for good at once
    app = create_app(
        with_changes(
            config,
            smtp={"host": "127.0.0.1", "port": closed, "max_attempts": 1},
            webhooks={"allow_private_networks": True},
            availability={"allow_private_networks": True},
        )
    )
    server = await aiohttp_server(app)
    api = Api(await aiohttp_client(server), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    users = await make_org(api)
    await hook(api, receiver, events=["notification.failed", "busy_calendar.failed"])
    await api.post("/api/bookings", {**ANHQ, "start": "2027-02-01T10:00:00+01:00"})
    await server.app[OUTBOX].deliver_due()
    camille = users["camille"]["id"]
    calendar = await api.post(
        f"/api/users/{camille}/busy-calendars",
        {"name": "Own", "url": f"http://127.0.0.1:{closed}/busy.ics"},
    )
    await api.post(f"/api/users/{camille}/busy-calendars/{calendar['id']}/refresh", status=200)
    await server.app[WEBHOOKS].deliver_due()
    found = {d.body["type"]: d.body for d in await receiver.wait_for(2)}
    failed = found["notification.failed"]["data"]["notification"]
    assert failed["recipient"] and failed["attempts"] == 1 and failed["error"]
    assert found["notification.failed"]["origin"] == {"kind": "system"}
    unreadable = found["busy_calendar.failed"]["data"]["busy_calendar"]
    assert unreadable["id"] == calendar["id"] and unreadable["user"] == camille


async def test_retries_follow_the_answers_and_each_event_is_delivered_once(
    server: Any, api: Api, receiver: Receiver
) -> None:
    receiver.answers = [500, (429, {"Retry-After": "1"}), 503]
    made = await hook(api, receiver)
    booking = await api.post("/api/bookings", {**ANHQ, "start": "2027-03-01T10:00:00+01:00"})
    started = time.monotonic()
    await api.patch(f"/api/bookings/{booking['id']}", {"title": "Later"})
    found = await receiver.wait_for(2)
    assert time.monotonic() - started >= 1  # the Retry-After was waited for
    assert [d.body["type"] for d in found] == ["booking.created", "booking.updated"]
    assert len(receiver.received) == 5 and len(set(receiver.accepted_ids())) == 2
    deliveries = (await api.get(f"/api/webhooks/{made['id']}/deliveries"))["deliveries"]
    first = deliveries[-1]
    assert first["status"] == "delivered" and first["attempts"] == 4
    assert [a["status"] for a in first["history"]] == [500, 429, 503, 200]
    assert first["history"][0]["error"] == "HTTP 500 Internal Server Error"
    assert all(a["duration_ms"] >= 0 for a in first["history"])
    metrics = await api.client.get("/metrics", headers=api.headers)
    assert 'feedserver_webhook_deliveries{status="delivered"} 2.0' in await metrics.text()


async def test_a_delivery_fails_after_the_schedule_and_can_be_sent_again(
    server: Any, api: Api, receiver: Receiver
) -> None:
    receiver.answer = lambda body: 500
    made = await hook(api, receiver)
    await api.post("/api/bookings", {**ANHQ, "start": "2027-03-01T10:00:00+01:00"})
    path = f"/api/webhooks/{made['id']}/deliveries"
    for _ in range(100):
        found = (await api.get(f"{path}?status=failed"))["deliveries"]
        if found:
            break
        await asyncio.sleep(0.1)
    (failed,) = found
    assert failed["attempts"] == 4 and failed["last_status"] == 500  # 3 waits: 4 attempts
    receiver.answer = None
    again = await api.post(f"{path}/{failed['id']}/redeliver", status=202)
    assert again["status"] == "pending"
    await receiver.wait_for(1)
    assert (await api.get(f"{path}/{failed['id']}"))["status"] == "delivered"


async def test_410_disables_the_endpoint_and_its_deliveries_wait(
    server: Any, api: Api, receiver: Receiver
) -> None:
    receiver.answers = [410]
    made = await hook(api, receiver)
    await api.post("/api/bookings", {**ANHQ, "start": "2027-03-01T10:00:00+01:00"})
    for _ in range(100):
        webhook = await api.get(f"/api/webhooks/{made['id']}")
        if not webhook["enabled"]:
            break
        await asyncio.sleep(0.05)
    assert not webhook["enabled"] and "410" in webhook["disabled_reason"]
    await api.post("/api/bookings", {**ANHQ, "start": "2027-03-02T10:00:00+01:00"})
    await server.app[WEBHOOKS].deliver_due()
    assert receiver.accepted() == []
    await api.patch(f"/api/webhooks/{made['id']}", {"enabled": True})
    found = await receiver.wait_for(2)
    assert [d.body["data"]["booking"]["start"][:10] for d in found] == [
        "2027-03-01",
        "2027-03-02",
    ]


async def test_the_secret_is_shown_once_and_a_rotation_signs_with_both(
    server: Any, api: Api, receiver: Receiver
) -> None:
    made = await hook(api, receiver)
    assert made["secret"].startswith("whsec_")
    listed = (await api.get("/api/webhooks"))["webhooks"]
    assert "secret" not in listed[0] and "secret" not in await api.get(
        f"/api/webhooks/{made['id']}"
    )
    rotated = await api.post(f"/api/webhooks/{made['id']}/rotate-secret", status=200)
    assert rotated["secret"] != made["secret"] and rotated["rotating_until"]
    tested = await api.post(f"/api/webhooks/{made['id']}/test", status=200)
    assert tested["status"] == "delivered", tested
    (delivery,) = receiver.accepted()
    assert delivery.body["type"] == "webhook.test"
    # The old secret and the new one each verify the same delivery on their own.
    receiver.secrets = [rotated["secret"]]
    await api.post(f"/api/webhooks/{made['id']}/test", status=200)
    receiver.secrets = [made["secret"]]
    await api.post(f"/api/webhooks/{made['id']}/test", status=200)
    assert len(receiver.accepted()) == 3 and receiver.refused == []


async def test_webhook_urls_are_checked(api: Api, server: Any) -> None:
    for url, field in [
        ("ftp://example.org/hook", "url"),
        ("https://user:pw@example.org/hook", "url"),
        ("https://example.org/hook#part", "url"),
        ("https://exa\\tmple.org/hook", "url"),
        ("https://example.org/a b", "url"),
        ("http://\udcff.example/", None),
        ("x" * 3000, "url"),
    ]:
        response = await api.client.post(
            "/api/webhooks",
            data=f'{{"url": "{url}"}}'.encode("utf-8", "surrogatepass"),
            headers={**api.headers, "Content-Type": "application/json"},
        )
        body = await response.json()
        assert response.status in (400, 422), (url, response.status, body)
        if field:
            assert body.get("field") == field, body
    bad = await api.post(
        "/api/webhooks", {"url": "https://example.org/", "events": ["nope"]}, status=422
    )
    assert bad["field"] == "events[0]"


async def test_private_addresses_are_refused_unless_allowed(
    aiohttp_client: Any, config: Config
) -> None:
    client = await aiohttp_client(create_app(config))  # the default [webhooks]
    api = Api(client, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://169.254.169.254/"):
        refused = await api.post("/api/webhooks", {"url": url}, status=422)
        assert "private" in refused["message"] and refused["field"] == "url"


async def test_the_change_feed_replays_what_the_webhooks_sent(
    server: Any, api: Api, receiver: Receiver
) -> None:
    await hook(api, receiver)
    for day in range(1, 6):
        made = await api.post(
            "/api/bookings", {**ANHQ, "start": f"2027-04-{day:02d}T10:00:00+02:00"}
        )
        await api.post(f"/api/bookings/{made['id']}/cancel", status=200)
    sent = [d.body for d in await receiver.wait_for(10)]
    pulled: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await api.get(f"/api/changes?limit=3{'&after=' + cursor if cursor else ''}")
        pulled += page["changes"]
        cursor = page["next"]
        if not page["more"]:
            break
    assert pulled == sorted(sent, key=lambda b: int(b["id"][4:]))
    assert (await api.get(f"/api/changes?after={cursor}"))["changes"] == []
    cancelled = await api.get("/api/changes?types=booking.cancelled")
    assert [c["type"] for c in cancelled["changes"]] == ["booking.cancelled"] * 5
    for query, field in [
        ("after=evt_x", "after"),
        ("after=-1", "after"),
        ("after=" + "9" * 40, "after"),
        ("limit=0", "limit"),
        ("limit=99999999999", "limit"),
        ("types=booking.eaten", "types"),
    ]:
        refused = await api.get(f"/api/changes?{query}", status=422)
        assert refused["field"] == field, (query, refused)
    # Events past the retention are gone: a cursor before them is told so (410).
    await server.app[WEBHOOKS].deliver_due()  # the last answers are recorded
    await server.app[RUNNER].run(lambda s: s.events.purge(utcnow() + timedelta(minutes=1)))
    gone = await api.get("/api/changes?after=evt_2", status=410)
    assert gone["error"] == "cursor_expired"
    assert (await api.get("/api/changes"))["changes"] == []  # no cursor: from the oldest kept


async def test_a_put_by_external_id_twice_changes_nothing_the_second_time(
    server: Any, api: Api, receiver: Receiver, smtp: SmtpServer
) -> None:
    await hook(api, receiver)
    body = {**ANHQ, "start": "2027-05-03T10:00:00+02:00", "title": "Trim"}
    path = "/api/bookings/external/crm-42"
    made = await api.call("PUT", path, body, status=201)
    assert made["external_id"] == "crm-42"
    again = await api.call("PUT", path, body, status=200)
    assert again == made
    await settle(server)
    assert len(smtp.sink.to("alice@example.com")) == 1  # told once
    assert len(await receiver.wait_for(1)) == 1
    # The booking system's own answer from the attendee does not make it a change either.
    await server.app[RUNNER].run(
        lambda s: s.bookings.set_partstat(made["id"], "alice@example.com", "ACCEPTED")
    )
    await api.call("PUT", path, body, status=200)
    body["start"] = "2027-05-03T11:00:00+02:00"
    moved = await api.call("PUT", path, body)
    assert moved["id"] == made["id"] and moved["start"].startswith("2027-05-03T11:00")
    cancelled = await api.call("PUT", path, {**body, "status": "cancelled"})
    assert cancelled["status"] == "cancelled"
    await api.call("PUT", path, {**body, "status": "cancelled"})  # again: nothing new
    await api.call("PUT", path, {**body, "status": "pending"}, status=409)
    found = [d.body["type"] for d in await receiver.wait_for(3)]
    assert found == ["booking.created", "booking.updated", "booking.cancelled"]
    assert (await api.get(path))["id"] == made["id"]
    listed = await api.get("/api/bookings?external_id=crm-42")
    assert [b["id"] for b in listed["bookings"]] == [made["id"]]
    # Unknown, cancelled-first and hostile external ids.
    await api.call(
        "PUT", "/api/bookings/external/new-1", {**body, "status": "cancelled"}, status=422
    )
    await api.get("/api/bookings/external/none-such", status=404)
    for hostile in ("%00", "%EF%BF%BE" * 100, "a%0Ab", "x" * 300):
        await api.call("PUT", f"/api/bookings/external/{hostile}", body, status=422)
    # An external id is unique among bookings.
    other = await api.post("/api/bookings", {**ANHQ, "start": "2027-05-04T10:00:00+02:00"})
    taken = await api.patch(f"/api/bookings/{other['id']}", {"external_id": "crm-42"}, status=409)
    assert taken["field"] == "external_id"


async def test_people_locations_and_types_take_an_external_id(api: Api, server: Any) -> None:
    location = await api.post(
        "/api/locations",
        {"code": "LYN", "name": "Lyon", "timezone": "Europe/Paris", "external_id": "site-7"},
    )
    assert location["external_id"] == "site-7"
    await api.post(
        "/api/locations",
        {"code": "LYX", "name": "Lyon 2", "timezone": "Europe/Paris", "external_id": "site-7"},
        status=409,
    )
    rtype = await api.post(
        "/api/types", {"key": "perm", "name": "Perm", "duration_minutes": 60, "external_id": "7"}
    )
    assert rtype["external_id"] == "7"
    person = await api.post(
        "/api/users", {"email": "zoe@example.com", "name": "Zoe", "external_id": "cust-9"}
    )
    assert person["external_id"] == "cust-9"
    changed = await api.patch(f"/api/users/{person['id']}", {"external_id": None})
    assert changed["external_id"] is None
    await api.patch("/api/locations/LYN", {"external_id": "site-8"})
    assert (await api.get("/api/locations/LYN"))["external_id"] == "site-8"


async def test_a_repeated_idempotency_key_gets_the_first_answer(
    server: Any, api: Api, receiver: Receiver
) -> None:
    await hook(api, receiver)
    body = {**ANHQ, "start": "2027-06-01T10:00:00+02:00"}
    key = {"Idempotency-Key": "a5d6c2e0-retry-after-timeout"}
    first = await api.client.post("/api/bookings", json=body, headers={**api.headers, **key})
    second = await api.client.post("/api/bookings", json=body, headers={**api.headers, **key})
    assert (first.status, second.status) == (201, 201)
    assert await first.json() == await second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    listed = await api.get("/api/bookings")
    assert len(listed["bookings"]) == 1
    # The same key with another body is refused; another caller's same key is theirs.
    other = await api.client.post(
        "/api/bookings",
        json={**body, "start": "2027-06-02T10:00:00+02:00"},
        headers={**api.headers, **key},
    )
    assert other.status == 422 and (await other.json())["error"] == "idempotency_key_reused"
    for bad in ("", "x" * 300, "caf\u00e9"):
        response = await api.client.post(
            "/api/bookings",
            json=body,
            headers={**api.headers, "Idempotency-Key": bad.encode().decode("latin-1")},
        )
        assert response.status == 400, bad
    await receiver.wait_for(1)
    await server.app[WEBHOOKS].deliver_due()
    assert len(receiver.accepted()) == 1  # one booking, one event


@pytest.mark.skipif(BACKEND == "postgresql", reason="delivery logic is the same on both")
async def test_a_burst_of_a_thousand_changes_is_delivered_in_under_ten_seconds(
    server: Any, api: Api, receiver: Receiver
) -> None:
    await hook(api, receiver)
    rows = "".join(
        f"haircut,ANHQ,camille@example.org,2028-01-01T00:00:00Z,2028-01-01T00:01:00Z,"
        f"guest{n}@example.com\n".replace(
            "2028-01-01", f"{2028 + n // 336}-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}"
        )
        for n in range(1000)
    )
    csv = "type,location,staff,start,end,attendee_email\n" + rows
    started = time.monotonic()  # the first chunk's events go out while the next is written
    report = await api.call(
        "POST",
        "/api/bookings/import",
        data=csv.encode(),
        headers={"Content-Type": "text/csv", **api.headers},
    )
    assert report["imported"] == 1000, report
    found = await receiver.wait_for(1000, timeout=10)
    seconds = time.monotonic() - started
    print(f"1000 changes imported and delivered by webhook in {seconds:.2f} s")
    assert len(set(d.message_id for d in found)) == 1000
    per_booking: dict[int, list[int]] = defaultdict(list)
    for d in found:
        per_booking[booking_of(d.body)].append(int(d.message_id[4:]))
    assert all(ids == sorted(ids) for ids in per_booking.values())


async def test_an_admin_manages_webhooks_on_their_page(
    server: Any, api: Api, receiver: Receiver
) -> None:
    pages = Pages(api.client)
    await pages.sign_in("owner@example.org", "owner-password")
    await pages.get("/admin/webhooks")
    _, refused = await pages.post(
        "/admin/webhooks",
        [
            ("url", "ftp://crm.example.org/hooks"),
            ("description", "Kept"),
            ("events", "booking.cancelled"),
        ],
        status=422,
    )
    assert 'value="ftp://crm.example.org/hooks"' in refused and 'value="Kept"' in refused
    assert 'value="booking.cancelled" checked' in refused
    _, html = await pages.post(
        "/admin/webhooks",
        [("url", receiver.url), ("description", "CRM"), ("events", "booking.created")],
        status=201,
    )
    secret = html.split('<code class="secret">')[1].split("<")[0]
    assert secret.startswith("whsec_")
    receiver.secrets.append(secret)
    assert secret not in await pages.get("/admin/webhooks")  # shown once
    (webhook,) = (await api.get("/api/webhooks"))["webhooks"]
    assert webhook["events"] == ["booking.created"] and webhook["description"] == "CRM"
    page = f"/admin/webhooks/{webhook['id']}"
    await pages.get(page)
    _, html = await pages.post(f"{page}/test", status=200)
    assert "Test delivery delivered" in html
    await pages.post(f"{page}/pause")
    assert not (await api.get(f"/api/webhooks/{webhook['id']}"))["enabled"]
    await pages.post(f"{page}/resume")
    html = await pages.get(page)
    assert "webhook.test" in html or "evt_" in html
    (delivery,) = (await api.get(f"/api/webhooks/{webhook['id']}/deliveries"))["deliveries"]
    await pages.post(f"{page}/deliveries/{delivery['id']}/redeliver")
    await receiver.wait_for(2)
    _, html = await pages.post(f"{page}/rotate", [("confirmed", "1")], status=200)
    assert html.count('<code class="secret">') == 1
    _, asked = await pages.post(f"{page}/delete", status=200)  # asks first
    assert "Delete this endpoint" in asked
    await pages.post(f"{page}/delete", [("confirmed", "1")])
    assert (await api.get("/api/webhooks"))["webhooks"] == []
    await pages.get(page, status=404)
    _, refused = await pages.post("/admin/webhooks", [("url", "ftp://x.example/")], status=422)
    assert "http or https" in refused


async def test_an_import_without_webhooks_still_logs_its_events(api: Api, server: Any) -> None:
    csv = "type,location,staff,start,end\n" + "".join(
        f"haircut,ANHQ,camille@example.org,2027-07-{day:02d}T10:00:00+02:00,"
        f"2027-07-{day:02d}T10:45:00+02:00\n"
        for day in range(1, 11)
    )
    await api.call(
        "POST", "/api/bookings/import", data=csv.encode(), headers={"Content-Type": "text/csv"}
    )
    page = await api.get("/api/changes")
    assert [c["type"] for c in page["changes"]] == ["booking.created"] * 10
    assert {c["origin"]["kind"] for c in page["changes"]} == {"import"}
    ids = [int(c["id"][4:]) for c in page["changes"]]
    assert ids == sorted(ids) and len(set(ids)) == 10
    listed = (await api.get("/api/bookings"))["bookings"]
    assert [c["data"]["booking"] for c in page["changes"]] == listed
