"""The bridge under a flood: rate limits per sender and per source on every way in (HTTP,
SMTP, CalDAV), refused before anything is stored; large items answered 202 and applied in the
background, in slices that leave the store to everyone else's writes."""

from __future__ import annotations

import asyncio
import math
import smtplib
import time
from typing import Any

import pytest
from aiohttp import web
from caldav.davclient import DAVClient

from feedserver.config import Config, with_changes
from feedserver.throttle import MemoryCounts, RateLimits
from feedserver.web import api_inbound
from feedserver.web.state import INBOX
from tests.conftest import BACKEND, Api, basic_auth, smtp_settings
from tests.process import free_port
from tests.smtp_sink import SmtpServer

# The bridge's server and api fixtures, on this module's bridge_config (with its limits).
from tests.test_bridge import DATA, INVITE, api, inbound, server, settle  # noqa: F401

SENDER_LIMIT = 3
SOURCE_LIMIT = 5


def event(uid: str, organizer: str = "camille@example.org", day: int = 1, hour: int = 9) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\n"
        + event_lines(uid, organizer, day, hour)
        + "END:VCALENDAR\r\n"
    )


def event_lines(uid: str, organizer: str, day: int, hour: int, month: int = 3) -> str:
    stamp = f"2027{month:02d}{day:02d}T{hour:02d}"
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T140112Z\r\n"
        f"DTSTART:{stamp}0000Z\r\nDTEND:{stamp}3000Z\r\nSUMMARY:Visit\r\nLOCATION:ANHQ\r\n"
        f"ORGANIZER;CN=Organizer:mailto:{organizer}\r\nATTENDEE:mailto:{INVITE}\r\n"
        f"ATTENDEE:mailto:guest-{uid}@example.com\r\nEND:VEVENT\r\n"
    )

# Events in a calendar big enough to be applied in slices while other writes go on (fewer on
# PostgreSQL, where each costs more round trips: the same number of slices either way).
BIG = 800 if BACKEND == "sqlite" else 400

def big_calendar(count: int) -> str:
    lines = "".join(
        event_lines(f"big-{n}", "camille@example.org", 1 + n % 28, 6 + n // 28 % 14, 1 + n // 392)
        for n in range(count)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{lines}END:VCALENDAR\r\n"


@pytest.fixture
def bridge_config(config: Config, smtp: SmtpServer) -> Config:
    return with_changes(
        config,
        smtp=smtp_settings(smtp),
        bridge={
            "invite_address": INVITE,
            "default_type": "haircut",
            "smtp_port": free_port(),
            "trusted_senders": ["@example.org"],
            "sender_items_per_hour": SENDER_LIMIT,
            "source_items_per_hour": SOURCE_LIMIT,
        },
        caldav={"failed_login_delay_ms": 50},
    )


def test_rate_limits_spend_from_every_key_or_from_none_and_refill_evenly() -> None:
    now = [0.0]
    limits = RateLimits({"sender": 2, "source": 3, "off": 0}, clock=lambda: now[0])
    assert limits.take([("sender", "a"), ("source", "x")]) is None
    assert limits.take([("sender", "a"), ("source", "x")]) is None
    refused = limits.take([("sender", "a"), ("source", "x")])
    assert refused is not None and refused.key == "sender a"
    assert refused.seconds == 1800  # an hour's 2 items: one more every 30 minutes
    # The refused item spent nothing of the source: b still has one item there.
    assert limits.take([("sender", "b"), ("source", "x")]) is None
    refused = limits.take([("sender", "b"), ("source", "x")])
    assert refused is not None and refused.key == "source x"
    assert "at most 3 an hour" in refused.message
    now[0] = 1800.0
    assert limits.take([("sender", "a")]) is None
    assert limits.take([("sender", "a")]) is not None
    assert all(limits.take([("off", "z")]) is None for _ in range(100))  # 0: no limit
    assert limits.refused == 3


def test_rate_limits_keep_a_bounded_number_of_keys() -> None:
    limits = RateLimits({"source": 1}, max_keys=10)
    for n in range(1000):
        assert limits.take([("source", str(n))]) is None
    assert isinstance(limits.counts, MemoryCounts) and len(limits.counts) == 10


async def test_a_sender_past_its_items_an_hour_is_refused_before_anything_is_stored(
    server: Any, api: Api
) -> None:
    started = time.monotonic()
    for n in range(SENDER_LIMIT):
        assert (await inbound(api, event(f"c{n}", day=n + 1)))["status"] == "processed"
    response = await api.client.post(
        "/api/inbound",
        data=event("c-flood", day=9),
        headers={**api.headers, "Content-Type": "text/calendar"},
    )
    body = await response.json()
    assert response.status == 429, body
    assert body["error"] == "rate_limited"
    assert "sender camille@example.org" in body["message"]
    # The bucket refills while the test runs: the wait is an item's interval less what passed
    # since the first item (a slow machine takes seconds), rounded up.
    passed = time.monotonic() - started
    wait = int(response.headers["Retry-After"])
    assert 3600 // SENDER_LIMIT - math.ceil(passed) - 1 <= wait <= 3600 // SENDER_LIMIT
    inbox = (await api.get("/api/inbox"))["inbox"]
    assert len(inbox) == SENDER_LIMIT  # the refused item was never kept
    # Another organizer is not held back by camille's flood, until the client address (the
    # source) has sent its own limit: the refused item did not count.
    for n in range(SOURCE_LIMIT - SENDER_LIMIT):
        await inbound(api, event(f"m{n}", "maya@example.org", day=n + 1))
    refused = await inbound(api, event("m-more", "maya@example.org", day=20), status=429)
    assert "source 127.0.0.1" in refused["message"]
    metrics = await api.client.get("/metrics", headers=api.headers)
    assert "feedserver_inbound_rate_limited_total 2.0" in await metrics.text()


async def test_an_smtp_sender_past_its_limit_is_told_to_try_again_later(
    server: Any, api: Api, bridge_config: Config
) -> None:
    raw = (DATA / "google_invite_anhq.eml").read_bytes().replace(b"\n", b"\r\n")

    def send(count: int) -> list[int]:
        codes = []
        with smtplib.SMTP("127.0.0.1", bridge_config.bridge.smtp_port) as client:
            for _ in range(count):
                try:
                    client.sendmail("camille@example.org", [INVITE], raw)
                    codes.append(250)
                except smtplib.SMTPDataError as exc:
                    codes.append(exc.smtp_code)
                    assert b"sender camille@example.org" in exc.smtp_error
        return codes

    # 451, not 5xx: the sending server keeps the invitation and tries again later.
    assert await asyncio.to_thread(send, SENDER_LIMIT + 1) == [250] * SENDER_LIMIT + [451]
    await settle(server)
    emails = [i for i in (await api.get("/api/inbox"))["inbox"] if i["source"] == "email"]
    assert len(emails) == SENDER_LIMIT


async def test_caldav_writes_inviting_the_bridge_are_limited_per_account(
    server: Any, api: Api
) -> None:
    client: Any = DAVClient(
        url=str(server.make_url("/dav/")), username="maya@example.org", password="maya-password"
    )
    calendar = await asyncio.to_thread(lambda: client.principal().make_calendar(name="Work"))
    base = str(calendar.url).removeprefix(str(server.make_url("")))
    maya = {"Authorization": basic_auth("maya@example.org", "maya-password")}

    async def put(name: str, text: str) -> Any:
        return await api.client.put(
            f"/{base.lstrip('/')}{name}.ics",
            data=text,
            headers={**maya, "Content-Type": "text/calendar"},
        )

    for n in range(SENDER_LIMIT):
        response = await put(f"e{n}", event(f"e{n}", "maya@example.org", day=n + 1))
        assert response.status == 201, await response.text()
    refused = await put("flood", event("flood", "maya@example.org", day=9))
    assert refused.status == 429
    assert "sender maya@example.org" in await refused.text()
    assert int(refused.headers["Retry-After"]) > 0
    # Her own calendar is not the bridge's business: events not inviting it are never limited.
    private = event("private", "maya@example.org", day=10).replace(f"mailto:{INVITE}", "x@y.z")
    assert (await put("private", private)).status == 201
    await settle(server)
    caldav = [i for i in (await api.get("/api/inbox"))["inbox"] if i["source"] == "caldav"]
    assert len(caldav) == SENDER_LIMIT


async def test_a_large_calendar_is_answered_202_and_applied_while_writes_stay_fast(
    server: Any, api: Api
) -> None:
    count = BIG
    body = big_calendar(count)
    response = await api.client.post(
        "/api/inbound", data=body, headers={**api.headers, "Content-Type": "text/calendar"}
    )
    item = await response.json()
    assert response.status == 202, item
    assert item["status"] == "received" and item["size"] == len(body)
    assert response.headers["Location"] == f"/api/inbox/{item['id']}"
    assert "Preference-Applied" not in response.headers
    # While the inbox applies it, in slices, other writes wait a slice, not the whole item
    # (the first write waited for all 800 events before). Measured against the item's own
    # time, not a clock: this machine may be slow, the ratio stays.
    applying = time.perf_counter()
    slowest = 0.0
    for n in range(200):
        started = time.perf_counter()
        await api.post("/api/locations", {"code": f"X{n}", "name": f"Room {n}", "timezone": "UTC"})
        slowest = max(slowest, time.perf_counter() - started)
        found = await api.get(response.headers["Location"])
        if found["status"] != "received":
            break
        await asyncio.sleep(0.05)
    assert found["status"] == "processed", found
    assert len(found["bookings"]) == count
    took = time.perf_counter() - applying
    assert n > 5, "the item was applied before the writes could overlap it"
    assert slowest < took / 3, (slowest, took)


async def test_a_small_item_behind_a_big_one_is_answered_202_instead_of_waiting(
    server: Any, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_inbound, "INLINE_WAIT_SECONDS", 0.3)
    calendar = {**api.headers, "Content-Type": "text/calendar"}
    big = await api.client.post("/api/inbound", data=big_calendar(BIG), headers=calendar)
    assert big.status == 202
    small = await api.client.post("/api/inbound", data=event("small", day=20), headers=calendar)
    assert small.status == 202, await small.text()
    # Answered while the big one is still being applied: it did not wait for it.
    assert (await api.get(big.headers["Location"]))["status"] == "received"
    # Applied in its turn, after the big one.
    for _ in range(400):
        found = await api.get(small.headers["Location"])
        if found["status"] != "received":
            break
        await asyncio.sleep(0.05)
    assert found["status"] == "processed"
    assert (await api.get(big.headers["Location"]))["status"] == "processed"
    # With the inbox idle again, a small item is applied before the answer, as ever.
    assert (await inbound(api, event("after", day=21)))["status"] == "processed"


async def test_prefer_respond_async_defers_even_a_small_item(server: Any, api: Api) -> None:
    response = await api.client.post(
        "/api/inbound",
        data=event("later"),
        headers={
            **api.headers,
            "Content-Type": "text/calendar",
            "Prefer": "respond-async, wait=10",
        },
    )
    item = await response.json()
    assert response.status == 202, item
    assert response.headers["Preference-Applied"] == "respond-async"
    await server.app[INBOX].drain()
    assert (await api.get(f"/api/inbox/{item['id']}"))["status"] == "processed"


def test_the_inbound_operation_documents_202_and_429(server: Any) -> None:
    from feedserver.web.openapi import document

    app: web.Application = server.app
    operation = document(app, "http://x")["paths"]["/api/inbound"]["post"]
    assert {"200", "202", "429"} <= set(operation["responses"])
    assert "Prefer: respond-async" in operation["description"]


def folded(text: str) -> str:
    """The event as Thunderbird and DAVx5 write it: the invite address on a long ATTENDEE line,
    folded inside the address."""
    line = (
        "ATTENDEE;CN=Bookings;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;"
        f"RSVP=TRUE:mailto:{INVITE}"
    )
    cut = line.index(INVITE) + 10
    return text.replace(f"ATTENDEE:mailto:{INVITE}\r\n", f"{line[:cut]}\r\n {line[cut:]}\r\n")


async def test_folded_caldav_writes_count_against_the_limit_and_are_booked(
    server: Any, api: Api
) -> None:
    """Issue 25, defects 1 and 6: the capture read Radicale's re-folded text as a substring
    and the limit the raw body, so folded invitations were neither limited nor booked."""
    client: Any = DAVClient(
        url=str(server.make_url("/dav/")), username="maya@example.org", password="maya-password"
    )
    calendar = await asyncio.to_thread(lambda: client.principal().make_calendar(name="Work"))
    base = str(calendar.url).removeprefix(str(server.make_url(""))).strip("/")
    maya = {"Authorization": basic_auth("maya@example.org", "maya-password")}
    statuses = []
    for n in range(SENDER_LIMIT + 3):
        body = folded(event(f"f{n}", "maya@example.org", day=n + 1)).replace(
            "METHOD:REQUEST\r\n", ""
        )
        assert "\r\n " in body and f"mailto:{INVITE}" not in body
        response = await api.client.put(
            f"/{base}/f{n}.ics", data=body, headers={**maya, "Content-Type": "text/calendar"}
        )
        statuses.append(response.status)
    assert statuses == [201] * SENDER_LIMIT + [429] * 3
    await settle(server)
    booked = [b for b in (await api.get("/api/bookings"))["bookings"] if b["source"] == "caldav"]
    assert len(booked) == SENDER_LIMIT
