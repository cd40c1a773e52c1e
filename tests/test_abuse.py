"""Abuse of CalDAV and the bridge, each reproduction of issue 16 as a regression test, on the
real server and a real socket: floods without credentials, recurrence bombs, deleting what
feedserver publishes, private titles, the inbox's limits, forged mail, disk trouble, a long
SMTP outage, header spellings and log hygiene."""

from __future__ import annotations

import asyncio
import base64
import logging
import smtplib
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from feedserver.logs import TextFormatter
from feedserver.throttle import LoginThrottle
from feedserver.times import iso_utc, utcnow
from feedserver.web.state import CALDAV, INBOX, OUTBOX, RUNNER
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, book, make_org
from tests.test_bridge import (  # noqa: F401  (fixtures)
    INVITE,
    api,
    bridge_config,
    bridged,
    inbound,
    server,
    settle,
)
from tests.webhelp import csrf_of

CAMILLE = ("camille@example.org", "camille-password")
ALICE = ("alice@example.com", "alice-password")


def url(server: Any, path: str) -> str:
    return str(server.make_url(path))


def local(server: Any, absolute: str) -> str:
    """A link built on server.public_url, pointed at the test server's own port."""
    return url(server, "/" + absolute.split("/", 3)[3])


def event(uid: str, rrule: str = "", summary: str = "ANHQ", attendee: str = INVITE) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//abuse//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20261101T000000Z",
        "DTSTART:20261201T090000Z",
        "DTEND:20261201T100000Z",
        f"SUMMARY:{summary}",
        "ORGANIZER:mailto:camille@example.org",
        f"ATTENDEE:mailto:{attendee}",
        "ATTENDEE;CN=Alice:mailto:alice@example.com",
    ]
    if rrule:
        lines.append(f"RRULE:{rrule}")
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


async def dav(
    http: aiohttp.ClientSession,
    server: Any,
    method: str,
    path: str,
    login: tuple[str, str] | None = CAMILLE,
    body: str | None = None,
    extra: dict[str, str] | None = None,
    **headers: str,
) -> tuple[int, str, dict[str, str]]:
    sent = {**headers, **(extra or {})}
    if login is not None:
        sent["Authorization"] = basic_auth(*login)
    if body is not None:
        sent.setdefault("Content-Type", "text/calendar; charset=utf-8")
    async with http.request(method, url(server, path), data=body, headers=sent) as response:
        return response.status, await response.text(), dict(response.headers)


async def make_calendar(http: aiohttp.ClientSession, server: Any, name: str = "work") -> str:
    status, _, _ = await dav(http, server, "MKCALENDAR", f"/dav/camille@example.org/{name}/")
    assert status == 201
    return f"/dav/camille@example.org/{name}/"


# -- 1. unauthenticated flood ---------------------------------------------------------------


async def test_signed_in_latency_stays_low_while_128_unauthenticated_requests_fly(
    server: Any, api: Api
) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        status, _, _ = await dav(http, server, "PROPFIND", "/dav/", Depth="0")
        assert status == 207  # signed in once: the login is remembered

        stop = asyncio.Event()
        answers: list[int] = []

        async def attacker() -> None:
            while not stop.is_set():
                code, _, _ = await dav(http, server, "PROPFIND", "/dav/", login=None, Depth="1")
                answers.append(code)

        attackers = [asyncio.create_task(attacker()) for _ in range(128)]
        await asyncio.sleep(0.3)
        latencies = []
        for _ in range(15):
            started = time.perf_counter()
            code, _, _ = await dav(http, server, "PROPFIND", "/dav/camille@example.org/", Depth="1")
            latencies.append(time.perf_counter() - started)
            assert code == 207
        stop.set()
        await asyncio.gather(*attackers)
    assert set(answers) == {401} and len(answers) > 128
    assert max(latencies) < 0.5, latencies  # a flood used to cost seconds


async def test_failed_logins_wait_in_the_event_loop_then_are_throttled(
    aiohttp_server: Any, aiohttp_client: Any, bridge_config: Config
) -> None:
    """A wrong password waits (in the event loop) and answers 401; past the allowed attempts
    the account answers 429 with Retry-After, even to the right password, while a login the
    server already verified keeps working."""
    config = with_changes(
        bridge_config, security={"login_attempts": 3, "login_backoff_seconds": 30}
    )
    server = await aiohttp_server(create_app(config))
    api = Api(await aiohttp_client(server), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    async with aiohttp.ClientSession() as http:
        assert (await dav(http, server, "PROPFIND", "/dav/", ALICE, Depth="0"))[0] == 207
        wrong = ("camille@example.org", "not-her-password")
        started = time.perf_counter()
        codes = [(await dav(http, server, "PROPFIND", "/dav/", wrong, Depth="0"))[0] for _ in "123"]
        assert codes == [401, 401, 401]
        assert time.perf_counter() - started >= 3 * 0.05  # caldav.failed_login_delay_ms
        code, _, headers = await dav(http, server, "PROPFIND", "/dav/", CAMILLE, Depth="0")
        assert code == 429 and int(headers["Retry-After"]) >= 1
        # Alice signed in before the flood from the same address: her login is remembered.
        assert (await dav(http, server, "PROPFIND", "/dav/", ALICE, Depth="0"))[0] == 207


async def test_a_failed_login_flood_on_the_api_leaves_a_signed_in_client_fast(
    server: Any, api: Api
) -> None:
    """32 clients hammer /api/me with wrong passwords (HTTP Basic); a user who signed in
    before keeps answering fast: their login is remembered (no scrypt), the flood is throttled
    (429 with Retry-After) and nothing waits on a worker."""
    camille = {"Authorization": basic_auth("camille@example.org", "camille-password")}
    me = url(server, "/api/me")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async with http.get(me, headers=camille) as response:
            assert response.status == 200
        stop = asyncio.Event()
        answers: list[tuple[int, str]] = []

        async def attacker(n: int) -> None:
            wrong = {"Authorization": basic_auth(f"maya{n % 3}@example.org", f"guess-{n}")}
            while not stop.is_set():
                async with http.get(me, headers=wrong) as response:
                    answers.append((response.status, response.headers.get("Retry-After", "")))

        attackers = [asyncio.create_task(attacker(n)) for n in range(32)]
        await asyncio.sleep(0.5)
        latencies = []
        for _ in range(20):
            started = time.perf_counter()
            async with http.get(me, headers=camille) as response:
                assert response.status == 200
            latencies.append(time.perf_counter() - started)
        stop.set()
        await asyncio.gather(*attackers)
    codes = {code for code, _ in answers}
    assert codes <= {401, 429} and 429 in codes, codes
    assert all(int(after) >= 1 for code, after in answers if code == 429)
    # Scrypt runs for the first wave (32 in flight at once) and a few more; the rest of the
    # flood is answered 429 without hashing.
    failed = sum(1 for code, _ in answers if code == 401)
    assert failed <= 48, (failed, len(answers))
    assert statistics.quantiles(latencies, n=20)[-1] < 0.3, latencies


async def test_a_web_sign_in_flood_leaves_a_person_signing_in_fast(server: Any, api: Api) -> None:
    """32 clients post wrong passwords to the sign-in page; once throttled they are answered
    429 only after the tarpit (no thread held), so the flood cannot keep the event loop busy,
    and a person who signed in before keeps her pages fast."""
    page = url(server, "/")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as person:
        async with person.get(page) as response:
            csrf = csrf_of(await response.text())
        async with person.post(
            url(server, "/sign-in"),
            data={"csrf": csrf, "email": "camille@example.org", "password": "camille-password"},
            headers={"Origin": url(server, "").rstrip("/")},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
        stop = asyncio.Event()
        answers: list[int] = []

        async def attacker(n: int) -> None:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.get(page) as response:
                    token = csrf_of(await response.text())
                while not stop.is_set():
                    async with http.post(
                        url(server, "/sign-in"),
                        data={"csrf": token, "email": f"maya{n}@example.org", "password": "x"},
                        headers={"Origin": url(server, "").rstrip("/")},
                        allow_redirects=False,
                    ) as response:
                        answers.append(response.status)

        attackers = [asyncio.create_task(attacker(n)) for n in range(32)]
        await asyncio.sleep(1.0)
        latencies = []
        for _ in range(20):
            started = time.perf_counter()
            async with person.get(url(server, "/links")) as response:
                assert response.status == 200
            latencies.append(time.perf_counter() - started)
        stop.set()
        await asyncio.gather(*attackers)
    assert set(answers) <= {401, 429} and 429 in answers
    # Throttled answers wait for the tarpit: the flood cannot spin the loop.
    assert len(answers) < 32 * 12, len(answers)
    assert statistics.quantiles(latencies, n=20)[-1] < 0.3, latencies


async def test_options_and_missing_credentials_never_reach_radicale(server: Any, api: Api) -> None:
    radicale = server.app[CALDAV]
    calls = 0
    original = radicale._call

    def counting(environ: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(environ)

    radicale._call = counting
    async with aiohttp.ClientSession() as http:
        status, _, headers = await dav(http, server, "OPTIONS", "/dav/", login=None)
        assert status == 200 and "calendar-access" in headers["DAV"]
        status, _, headers = await dav(http, server, "PROPFIND", "/dav/", login=None)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert calls == 0


async def test_one_account_cannot_take_every_caldav_thread(server: Any, api: Api) -> None:
    """Camille's requests are slowed down inside Radicale; at most
    caldav.max_requests_per_user of them run there at once, and Maya is served meanwhile."""
    radicale = server.app[CALDAV]
    original = radicale._call
    inside = {"camille": 0, "most": 0}

    def slow_for_camille(environ: Any, *rest: Any) -> Any:
        who = base64.b64decode(environ["HTTP_AUTHORIZATION"].split()[1]).decode()
        if not who.startswith("camille@"):
            return original(environ, *rest)
        inside["camille"] += 1
        inside["most"] = max(inside["most"], inside["camille"])
        try:
            time.sleep(0.6)  # longer than Maya may wait: she must not queue behind these
            return original(environ, *rest)
        finally:
            inside["camille"] -= 1

    radicale._call = slow_for_camille
    maya = ("maya@example.org", "maya-password")
    async with aiohttp.ClientSession() as http:

        async def camille() -> int:
            return (await dav(http, server, "PROPFIND", "/dav/", Depth="0"))[0]

        flood = [asyncio.create_task(camille()) for _ in range(8)]
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        assert (await dav(http, server, "PROPFIND", "/dav/", maya, Depth="0"))[0] == 207
        maya_seconds = time.perf_counter() - started
        assert set(await asyncio.gather(*flood)) == {207}
    assert inside["most"] == 2  # caldav.max_requests_per_user
    assert maya_seconds < 0.45


# -- 2 and 3. recurrence bombs --------------------------------------------------------------

BOMBS = [
    "FREQ=SECONDLY",
    "FREQ=MINUTELY;COUNT=10",
    "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;"
    "BYMINUTE=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,"
    "30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59;"
    "BYSECOND=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19",
    "FREQ=DAILY;COUNT=10000000",
]


@pytest.mark.parametrize("rrule", BOMBS)
async def test_caldav_put_of_a_recurrence_bomb_is_refused_with_max_instances(
    server: Any, api: Api, rrule: str
) -> None:
    async with aiohttp.ClientSession() as http:
        calendar = await make_calendar(http, server)
        status, body, _ = await dav(
            http, server, "PUT", calendar + "bomb.ics", body=event("bomb", rrule, attendee="x@y.z")
        )
        assert status == 403 and "max-instances" in body
        status, _, _ = await dav(http, server, "GET", calendar + "bomb.ics")
        assert status == 404


async def test_the_storage_refuses_a_bomb_that_reaches_it_another_way(
    server: Any, api: Api
) -> None:
    from radicale.item import Item

    storage = server.app[CALDAV].storage
    async with aiohttp.ClientSession() as http:
        path = (await make_calendar(http, server)).removeprefix("/dav")

    def upload() -> None:
        with storage.acquire_lock("w", "test"):
            collection = next(iter(storage.discover(path)))
            item = Item(collection_path=collection.path, text=event("b", "FREQ=SECONDLY"))
            item.prepare()
            collection.upload("b.ics", item)

    with pytest.raises(ValueError, match="FREQ=SECONDLY"):
        await asyncio.to_thread(upload)


async def test_a_recurrence_bomb_keeps_the_server_responsive(server: Any, api: Api) -> None:
    """The API, the bridge and CalDAV refuse each bomb at once, and other requests keep
    their pace while the bombs arrive."""
    bomb = BOMBS[2]
    started = time.perf_counter()
    refused = await api.post(
        "/api/bookings",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": "camille@example.org",
            "start": "2026-12-01T10:00:00+01:00",
            "rrule": bomb,
        },
        status=422,
    )
    assert refused["field"] == "rrule" and "occurrences a day" in refused["message"]
    result = await inbound(api, event("bridge-bomb", bomb))
    assert result["status"] == "rejected" and "occurrences a day" in result["reason"]
    result = await inbound(api, event("bridge-count", "FREQ=DAILY;COUNT=10000000"))
    assert result["status"] == "rejected" and "COUNT=10000000" in result["reason"]
    assert time.perf_counter() - started < 2

    async def bombs() -> None:
        for index in range(20):
            await inbound(api, event(f"b{index}", BOMBS[index % len(BOMBS)]))

    async def timed_reads() -> list[float]:
        found = []
        for _ in range(20):
            begun = time.perf_counter()
            await api.get("/api/bookings")
            found.append(time.perf_counter() - begun)
        return found

    _, latencies = await asyncio.gather(bombs(), timed_reads())
    assert statistics.median(latencies) < 0.1 and max(latencies) < 1.0, latencies
    assert await bridged(api) == []


async def test_an_accepted_series_is_expanded_within_the_budget(server: Any, api: Api) -> None:
    """An hourly-dense but accepted series (24 a day) made endless: its overlap check is
    bounded by recurrence.max_occurrences and answers at once."""
    started = time.perf_counter()
    hours = ",".join(str(h) for h in range(24))
    found = await api.post(
        "/api/bookings",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": "camille@example.org",
            "start": "2026-12-01T00:00:00+01:00",
            "end": "2026-12-01T00:10:00+01:00",
            "rrule": f"FREQ=DAILY;BYHOUR={hours}",
        },
        status=422,
    )
    assert found["error"] == "recurrence_too_large"
    assert time.perf_counter() - started < 1.5


# -- 4. what feedserver publishes cannot be deleted, moved or overwritten --------------------


async def test_the_principal_and_the_bookings_calendar_cannot_be_removed(
    server: Any, api: Api
) -> None:
    await book(api)
    await settle(server)
    me = "/dav/camille@example.org/"
    async with aiohttp.ClientSession() as http:
        work = await make_calendar(http, server)
        destination = url(server, me + "bookings/")
        attempts = [
            ("DELETE", me, {}),
            ("DELETE", me + "bookings/", {}),
            ("MOVE", me + "bookings/", {"Destination": url(server, me + "renamed/")}),
            ("MOVE", me, {"Destination": url(server, "/dav/elsewhere/")}),
            ("MOVE", work, {"Destination": destination, "Overwrite": "T"}),
            ("PUT", me, {}),
            ("PUT", me + "bookings/", {}),
            ("PROPPATCH", me + "bookings/", {}),
            ("DELETE", me + "bookings/x.ics", {}),
            ("DELETE", "/dav/", {}),
        ]
        for method, path, headers in attempts:
            body = event("over") if method in ("PUT", "PROPPATCH") else None
            status, text, _ = await dav(http, server, method, path, body=body, extra=headers)
            assert status == 403, (method, path, status, text)
        status, text, _ = await dav(http, server, "PROPFIND", me + "bookings/", Depth="1")
        assert status == 207 and text.count("<D:response>") + text.count("<response>") >= 2
        # What the guard allows still works: deleting a calendar of one's own.
        assert (await dav(http, server, "DELETE", work))[0] in (200, 204)


# -- 5. titles are private to staff ---------------------------------------------------------


async def test_a_bridged_summary_is_not_shown_to_attendees(
    server: Any, api: Api, smtp: Any
) -> None:
    secret = "Hugo Bernard (Hugo: knee injury)"
    result = await inbound(api, event("private-title", summary=f"ANHQ {secret}"))
    assert result["status"] == "processed"
    await settle(server)
    mails = smtp.sink.to("alice@example.com")
    assert mails and all(secret not in readable(m) for m in mails)
    customer_feed = await api.post("/api/feeds", {"user": "alice@example.com"})
    staff_feed = await api.post("/api/feeds", {"user": "camille@example.org"})
    async with aiohttp.ClientSession() as http:
        async with http.get(local(server, customer_feed["url"])) as response:
            assert secret not in await response.text()
        async with http.get(local(server, staff_feed["url"])) as response:
            assert secret in (await response.text()).replace("\r\n ", "")
    # A type that says attendees may see titles shows it to them.
    await api.patch("/api/types/haircut", {"title_visible": True})
    assert (await api.get("/api/types/haircut"))["title_visible"] is True
    changed = (
        event("private-title", summary=f"ANHQ {secret}")
        .replace("DTSTAMP:20261101T000000Z", "DTSTAMP:20261102T000000Z\r\nSEQUENCE:1")
        .replace("DTSTART:20261201T090000Z", "DTSTART:20261201T093000Z")
    )
    assert (await inbound(api, changed))["status"] == "processed"
    await settle(server)
    later = smtp.sink.to("alice@example.com")[len(mails) :]
    assert later and any(secret in readable(m) for m in later)


def readable(message: Any) -> str:
    """Every text part of a message (the invitation included), decoded and unfolded."""
    parts = [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(str(part) for part in parts).replace("\r\n ", "").replace("\n ", "")


# -- 6. the inbox keeps only what concerns the bridge, within limits ------------------------


async def test_caldav_writes_reach_the_inbox_only_when_they_concern_the_bridge(
    server: Any, api: Api
) -> None:
    async with aiohttp.ClientSession() as http:
        calendar = await make_calendar(http, server)
        plain = event("dentist", attendee="someone@example.net")
        assert (await dav(http, server, "PUT", calendar + "dentist.ics", body=plain))[0] == 201
        big = event("big", summary="ANHQ " + "x" * 250_000)
        assert (await dav(http, server, "PUT", calendar + "big.ics", body=big))[0] == 201
    await settle(server)
    items = (await api.get("/api/inbox"))["inbox"]
    assert [i["path"] for i in items] == ["camille@example.org/work/big.ics"]
    assert items[0]["failure"] == "too_large" and items[0]["retryable"] is False
    raw = (await api.get(f"/api/inbox/{items[0]['id']}"))["raw"]
    assert len(raw) <= 200_000  # bridge.max_message_bytes of the test configuration


async def test_a_users_inbox_quota_and_the_retention_period(
    aiohttp_server: Any, aiohttp_client: Any, bridge_config: Config
) -> None:
    config = with_changes(bridge_config, bridge={"inbox_quota_mb_per_user": 0, "smtp_port": 0})
    server = await aiohttp_server(create_app(config))
    api = Api(await aiohttp_client(server), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    async with aiohttp.ClientSession() as http:
        calendar = await make_calendar(http, server)
        assert (await dav(http, server, "PUT", calendar + "a.ics", body=event("a")))[0] == 201
    await settle(server)
    (item,) = (await api.get("/api/inbox"))["inbox"]
    assert item["failure"] == "over_quota" and item["size"] > 0
    assert (await api.get(f"/api/inbox/{item['id']}"))["raw"] == ""

    def age(store: Any) -> None:
        store.db.execute(
            "UPDATE inbox SET received_at = ?", (iso_utc(utcnow() - timedelta(days=31)),)
        )

    await server.app[RUNNER].run(age)
    assert await server.app[INBOX].prune() == 1
    assert (await api.get("/api/inbox"))["inbox"] == []


# -- 7 and 8. forged mail, temporary failures -------------------------------------------------


async def test_a_trusted_sender_by_address_needs_no_dkim(
    aiohttp_client: Any, bridge_config: Config
) -> None:
    config = with_changes(
        bridge_config, bridge={"trusted_senders": ["camille@example.org"], "smtp_port": 0}
    )
    api = Api(await aiohttp_client(create_app(config)), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    raw = (Path(__file__).parent / "data" / "google_invite_anhq.eml").read_bytes()
    assert (await inbound(api, raw, "message/rfc822"))["status"] == "processed"
    forged = raw.replace(b"From: Camille <camille@example.org>", b"From: M <maya@example.org>")
    result = await inbound(api, forged, "message/rfc822")
    assert result["status"] == "rejected" and "DKIM" in result["reason"]


async def test_smtp_answers_451_when_the_message_cannot_be_stored(
    server: Any, api: Api, bridge_config: Config
) -> None:
    raw = (Path(__file__).parent / "data" / "google_invite_anhq.eml").read_bytes()
    raw = raw.replace(b"\n", b"\r\n")
    runner = server.app[RUNNER]
    # Writes refused, like a full disk (SQLite) or a server gone read-only (PostgreSQL).
    postgresql = bridge_config.on_postgresql
    read_only, writable = (
        (
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        )
        if postgresql
        else ("PRAGMA query_only = ON", "PRAGMA query_only = OFF")
    )
    await runner.run(lambda s: s.db.execute(read_only))

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", bridge_config.bridge.smtp_port) as client:
            client.sendmail("camille@example.org", [INVITE], raw)

    with pytest.raises(smtplib.SMTPDataError) as refused:
        await asyncio.to_thread(send)
    assert refused.value.smtp_code == 451
    await runner.run(lambda s: s.db.execute(writable))
    await asyncio.to_thread(send)  # the sending server's retry goes through


# -- 9. notifications after a long outage -------------------------------------------------------


async def test_failed_notifications_are_retried_in_bulk_and_reported(
    server: Any, api: Api, smtp: Any
) -> None:
    smtp.sink.answer = "451 4.3.0 try later"
    await book(api)
    for _ in range(100):  # the worker's first attempt fails and plans a retry
        queued = (await api.get("/api/notifications"))["notifications"]
        if queued and all(m["attempts"] >= 1 and m["status"] == "pending" for m in queued):
            break
        await asyncio.sleep(0.05)
    runner = server.app[RUNNER]
    # The outage has lasted longer than smtp.retry_hours since these were queued.
    long_ago, now = iso_utc(utcnow() - timedelta(hours=80)), iso_utc(utcnow())
    await runner.run(
        lambda s: s.db.execute(
            "UPDATE outbox SET created_at = ?, retry_since = ?, next_attempt_at = ?",
            (long_ago, long_ago, now),
        )
    )
    await server.app[OUTBOX].deliver_due()
    failed = (await api.get("/api/notifications?status=failed"))["notifications"]
    assert failed
    health = await api.get("/healthz")
    assert health["outbox_failed"] == len(failed) and "retry" in health["warnings"][0]
    smtp.sink.answer = "250 OK"
    retried = await api.post("/api/notifications/retry", status=200)
    assert retried["retried"] == len(failed)
    await server.app[OUTBOX].deliver_due()
    sent = (await api.get("/api/notifications?status=sent"))["notifications"]
    assert len(sent) == len(failed) and len(smtp.sink.received) == len(failed)
    assert (await api.get("/healthz"))["outbox_failed"] == 0


# -- 10 and 11. headers and logs ---------------------------------------------------------------


async def test_no_header_spelling_rewrites_the_hrefs(server: Any, api: Api) -> None:
    async with aiohttp.ClientSession() as http:
        for name in ("X-Script-Name", "X_Script_Name", "x_script_name", "X-Forwarded-Prefix"):
            status, body, _ = await dav(
                http, server, "PROPFIND", "/dav/camille@example.org/", extra={name: "/evil"}
            )
            assert status == 207 and "/evil" not in body and "/dav/camille" in body, name


def test_control_characters_never_reach_the_log_raw() -> None:
    formatter = TextFormatter()
    record = logging.makeLogRecord(
        {"name": "feedserver.http", "levelname": "INFO", "msg": "request", "args": ()}
    )
    record.__dict__["fields"] = {"path": "/api/\x1b[31mred\x00", "status": 404}
    line = formatter.format(record)
    assert "\x1b" not in line and "\x00" not in line and "\\u001b" in line
    other = logging.makeLogRecord(
        {"name": "x", "levelname": "WARNING", "msg": "bad \x1b[2J path", "args": (), "p": "\x00"}
    )
    line = formatter.format(other)
    assert "\x1b" not in line and "\x00" not in line


async def test_a_bad_tzid_is_a_final_clear_failure_without_traceback(
    server: Any, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    ics = event("bad-tz").replace("DTSTART:20261201T090000Z", "DTSTART;TZID=Europe:20261201T090000")
    result = await inbound(api, ics, status=422)
    assert "TZID" in result["message"]
    (item,) = (await api.get("/api/inbox?status=failed"))["inbox"]
    assert item["failure"] == "malformed" and item["retryable"] is False
    assert not [r for r in caplog.records if r.exc_info]
    # The same name as a booking's timezone is a clear 422, not a 500.
    refused = await api.post(
        "/api/bookings",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": 1,
            "start": "2026-12-01T10:00:00+01:00",
            "timezone": "Europe",
        },
        status=422,
    )
    assert refused["field"] == "timezone"


def test_an_unusable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (["init"], ["serve", "--port", "0"]):
        extra = ["--data-dir", str(blocker / "data")] if command[0] == "serve" else []
        result = subprocess.run(
            [sys.executable, "-m", "feedserver", *command, *extra],
            capture_output=True,
            text=True,
            timeout=60,
            env={"FEEDSERVER_STORAGE_DATA_DIR": str(blocker / "data"), "PATH": ""},
        )
        assert result.returncode == 1, result
        assert "cannot use the data directory" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_verified_pair_waits_only_for_its_own_failures() -> None:
    now = [0.0]
    throttle = LoginThrottle(3, 30, 900, clock=lambda: now[0])
    throttle.sign_in_succeeded("192.0.2.1", "alice@example.com")
    for n in range(20):  # others behind the same address, and guesses at Alice from elsewhere
        throttle.sign_in_failed("192.0.2.1", f"guess{n}@example.com")
        throttle.sign_in_failed("198.51.100.9", "Alice@example.com")
    now[0] += 100
    assert throttle.sign_in_wait("192.0.2.1", "alice@example.com") == 0
    assert throttle.sign_in_wait("192.0.2.1", "bob@example.com") > 0  # the address is throttled
    assert throttle.sign_in_wait("198.51.100.9", "alice@example.com") > 0  # so is the account
    for _ in range(3):  # wrong passwords on Alice's own pair do count
        throttle.sign_in_failed("192.0.2.1", "alice@example.com")
    assert throttle.sign_in_wait("192.0.2.1", "alice@example.com") > 0
    now[0] += throttle.quiet + 1  # trust lasts as long as failures are remembered
    assert throttle.sign_in_wait("192.0.2.1", "alice@example.com") == 0
    throttle.sign_in_failed("192.0.2.1", "guess@example.com")
    assert throttle.sign_in_wait("192.0.2.1", "alice@example.com") == 0


async def test_a_flood_from_a_shared_address_never_locks_out_a_verified_person(
    aiohttp_server: Any, aiohttp_client: Any, bridge_config: Config
) -> None:
    """Issue 25, defect 7: once the login cache (60 s) forgot Alice, her right password got
    429 for 849 s while others failed from the same NAT address."""
    config = with_changes(
        bridge_config,
        security={"login_attempts": 3, "login_backoff_seconds": 30},
        caldav={"login_cache_seconds": 0, "failed_login_delay_ms": 1},
    )
    server = await aiohttp_server(create_app(config))
    api = Api(await aiohttp_client(server), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    async with aiohttp.ClientSession() as http:
        assert (await dav(http, server, "PROPFIND", "/dav/", ALICE, Depth="0"))[0] == 207
        for n in range(12):
            wrong = (f"someone{n % 4}@example.org", "guess")
            await dav(http, server, "PROPFIND", "/dav/", wrong, Depth="0")
        code, _, _ = await dav(http, server, "PROPFIND", "/dav/", ("bob@example.com", "x"))
        assert code == 429  # the address is throttled for everyone it has not verified
        assert (await dav(http, server, "PROPFIND", "/dav/", ALICE, Depth="0"))[0] == 207
        alice_api = {"Authorization": basic_auth(*ALICE)}
        async with http.get(url(server, "/api/me"), headers=alice_api) as response:
            assert response.status == 200
