"""Staff members' own calendars read for busy times: a real HTTP server serving a changing
.ics and counting conditional requests; transparent, cancelled, declined, all-day and
recurring events with exceptions; a DST week; the SSRF refusal; unreachable and non-calendar
URLs; busy times removed from free slots."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from feedserver.app import create_app
from feedserver.busy.sync import read_caldav
from feedserver.config import Config, with_changes
from feedserver.model import BusyCalendar
from feedserver.web.state import BUSY, RUNNER
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, make_org
from tests.process import free_port
from tests.webhelp import Pages

CAMILLE = {"Authorization": basic_auth("camille@example.org", "camille-password")}

CALENDAR = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
BEGIN:VTIMEZONE\r
TZID:Europe/Paris\r
BEGIN:DAYLIGHT\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:dentist@g\r
DTSTAMP:20261101T000000Z\r
DTSTART;TZID=Europe/Paris:20261207T100000\r
DTEND;TZID=Europe/Paris:20261207T113000\r
SUMMARY:Dentist\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:free@g\r
DTSTAMP:20261101T000000Z\r
DTSTART;TZID=Europe/Paris:20261207T140000\r
DTEND;TZID=Europe/Paris:20261207T150000\r
TRANSP:TRANSPARENT\r
SUMMARY:Reminder to self\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:off@g\r
DTSTAMP:20261101T000000Z\r
DTSTART;TZID=Europe/Paris:20261207T150000\r
DTEND;TZID=Europe/Paris:20261207T160000\r
STATUS:CANCELLED\r
SUMMARY:Cancelled thing\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:declined@g\r
DTSTAMP:20261101T000000Z\r
DTSTART;TZID=Europe/Paris:20261207T160000\r
DTEND;TZID=Europe/Paris:20261207T170000\r
ATTENDEE;PARTSTAT=DECLINED:mailto:camille@example.org\r
SUMMARY:Declined meeting\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:holiday@g\r
DTSTAMP:20261101T000000Z\r
DTSTART;VALUE=DATE:20261208\r
DTEND;VALUE=DATE:20261209\r
SUMMARY:Day off\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:yoga@g\r
DTSTAMP:20261101T000000Z\r
DTSTART;TZID=Europe/Paris:20270315T090000\r
DTEND;TZID=Europe/Paris:20270315T100000\r
RRULE:FREQ=WEEKLY;COUNT=4\r
EXDATE;TZID=Europe/Paris:20270322T090000\r
SUMMARY:Yoga\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:yoga@g\r
RECURRENCE-ID;TZID=Europe/Paris:20270329T090000\r
DTSTAMP:20261101T000000Z\r
DTSTART;TZID=Europe/Paris:20270329T120000\r
DTEND;TZID=Europe/Paris:20270329T130000\r
SUMMARY:Yoga (moved)\r
END:VEVENT\r
END:VCALENDAR\r
"""


class CalendarServer:
    """A real HTTP server with one calendar, answering conditional requests, counting them."""

    def __init__(self) -> None:
        self.body = CALENDAR
        self.version = 1
        self.requests = 0
        self.conditional = 0

    async def calendar(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        etag = f'"v{self.version}"'
        if request.headers.get("If-None-Match"):
            self.conditional += 1
            if request.headers["If-None-Match"] == etag:
                return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=self.body, content_type="text/calendar", headers={"ETag": etag})

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>Sign in</title>", content_type="text/html")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/calendar.ics", self.calendar)
        app.router.add_get("/page", self.page)
        return app


@pytest.fixture
async def source(aiohttp_server: Any) -> tuple[CalendarServer, str]:
    calendar = CalendarServer()
    running = await aiohttp_server(calendar.app())
    return calendar, str(running.make_url(""))


@pytest.fixture
async def lab(aiohttp_client: Any, config: Config) -> Api:
    """The server, allowed to read loopback calendars (the test's own server)."""
    allowed = with_changes(config, availability={"allow_private_networks": True})
    api = Api(await aiohttp_client(create_app(allowed)), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    return api


def busy_count(found: dict[str, Any]) -> int:
    return int(found["busy_count"])


async def test_a_calendar_is_read_and_its_busy_times_leave_the_slots(
    lab: Api, source: tuple[CalendarServer, str]
) -> None:
    _, base = source
    made = await lab.post(
        "/api/me/busy-calendars",
        {"name": "My Google", "url": base + "/calendar.ics"},
        headers=CAMILLE,
    )
    # Dentist, the day off, and three yoga occurrences (one removed, one moved).
    assert (made["last_status"], made["busy_count"], made["last_error"]) == ("ok", 5, None)
    listed = await lab.get("/api/me/busy-calendars", headers=CAMILLE)
    assert [c["name"] for c in listed["busy_calendars"]] == ["My Google"]
    hours = {
        "timezone": "Europe/Paris",
        "weekly": {d: [["09:00", "18:00"]] for d in ("mon", "tue")},
    }
    await lab.call("PUT", "/api/me/working-hours", hours, headers=CAMILLE)
    slots = await lab.get(
        "/api/availability?type=video&location=ANHQ&staff=camille@example.org"
        "&start=2026-12-07T00:00:00%2B01:00&end=2026-12-09T00:00:00%2B01:00"
    )
    starts = {s["start"][:16] for s in slots["slots"]}
    assert "2026-12-07T09:30" in starts and "2026-12-07T10:00" not in starts
    assert "2026-12-07T11:00" not in starts and "2026-12-07T11:30" in starts
    for free in ("14:00", "15:00", "16:00"):  # transparent, cancelled, declined: not busy
        assert f"2026-12-07T{free}" in starts
    assert not any(s.startswith("2026-12-08") for s in starts)  # the all-day event
    # Across the spring change: the series' moved occurrence (12:00, summer time) is busy,
    # its usual 09:00 is free that day.
    after = await lab.get(
        "/api/availability?type=video&location=ANHQ&staff=camille@example.org"
        "&start=2027-03-29T00:00:00%2B02:00&end=2027-03-30T00:00:00%2B02:00"
    )
    later = {s["start"] for s in after["slots"]}
    assert "2027-03-29T09:00:00+02:00" in later and "2027-03-29T12:00:00+02:00" not in later
    assert "2027-03-29T11:45:00+02:00" not in later and "2027-03-29T13:00:00+02:00" in later


async def test_an_unchanged_calendar_costs_one_conditional_request(
    lab: Api, source: tuple[CalendarServer, str]
) -> None:
    server, base = source
    made = await lab.post(
        "/api/me/busy-calendars", {"name": "G", "url": base + "/calendar.ics"}, headers=CAMILLE
    )
    again = await lab.post(
        f"/api/me/busy-calendars/{made['id']}/refresh", headers=CAMILLE, status=200
    )
    assert again["last_status"] == "unchanged" and busy_count(again) == 5
    assert server.conditional == 1
    server.version += 1
    server.body = CALENDAR.replace(
        "DTEND;TZID=Europe/Paris:20261207T113000", "DTEND;TZID=Europe/Paris:20261207T123000"
    ).replace(
        "BEGIN:VEVENT\r\nUID:holiday@g", "BEGIN:VEVENT\r\nUID:holiday@g\r\nTRANSP:TRANSPARENT"
    )
    changed = await lab.post(
        f"/api/me/busy-calendars/{made['id']}/refresh", headers=CAMILLE, status=200
    )
    assert changed["last_status"] == "ok" and busy_count(changed) == 4
    await lab.client.app[BUSY].sync_all()  # the background pass: unchanged again
    assert server.conditional == 3


async def test_bad_sources_keep_the_last_busy_times_and_say_why(
    lab: Api, source: tuple[CalendarServer, str]
) -> None:
    server, base = source
    page = await lab.post(
        "/api/me/busy-calendars", {"name": "Oops", "url": base + "/page"}, headers=CAMILLE
    )
    assert page["last_status"] == "error" and "not an iCalendar file" in page["last_error"]
    closed = await lab.post(
        "/api/me/busy-calendars",
        {"name": "Down", "url": f"http://127.0.0.1:{free_port()}/x.ics"},
        headers=CAMILLE,
    )
    assert closed["last_status"] == "error" and "cannot connect" in closed["last_error"]
    good = await lab.post(
        "/api/me/busy-calendars", {"name": "G", "url": base + "/calendar.ics"}, headers=CAMILLE
    )
    server.version += 1
    server.body = "garbage"
    failed = await lab.post(
        f"/api/me/busy-calendars/{good['id']}/refresh", headers=CAMILLE, status=200
    )
    assert failed["last_status"] == "error" and busy_count(failed) == 5  # the last good ones
    await lab.call("DELETE", f"/api/me/busy-calendars/{good['id']}", status=204, headers=CAMILLE)
    assert len((await lab.get("/api/me/busy-calendars", headers=CAMILLE))["busy_calendars"]) == 2


async def test_private_addresses_are_refused_by_default(
    api: Api, org: dict[str, Any], source: tuple[CalendarServer, str]
) -> None:
    server, base = source
    for url in (
        base + "/calendar.ics",
        "http://localhost/x.ics",
        "http://169.254.169.254/latest/meta-data",
        "webcal://10.0.0.8/cal.ics",
        "http://[::1]/x.ics",
    ):
        refused = await api.post(
            "/api/me/busy-calendars", {"name": "x", "url": url}, status=422, headers=CAMILLE
        )
        assert refused["field"] == "url" and "private" in refused["message"], url
    assert server.requests == 0
    bad = await api.post(
        "/api/me/busy-calendars",
        {"name": "x", "url": "ftp://example.org/x"},
        status=422,
        headers=CAMILLE,
    )
    assert bad["field"] == "url"


async def test_a_booking_over_a_busy_time_is_refused_unless_allowed(
    lab: Api, source: tuple[CalendarServer, str]
) -> None:
    _, base = source
    await lab.post(
        "/api/me/busy-calendars",
        {"name": "My Google", "url": base + "/calendar.ics"},
        headers=CAMILLE,
    )
    body = {
        "type": "haircut",
        "location": "ANHQ",
        "staff": "camille@example.org",
        "start": "2026-12-07T11:00:00+01:00",
        "attendees": [{"email": "alice@example.com"}],
    }
    refused = await lab.post("/api/bookings", body, status=409)
    assert refused["error"] == "staff_busy"
    assert "My Google" in refused["message"] and "Dentist" not in refused["message"]
    made = await lab.post("/api/bookings", {**body, "allow_conflict": True})
    free = await lab.post("/api/bookings", {**body, "start": "2026-12-07T14:00:00+01:00"})
    moved = await lab.patch(
        f"/api/bookings/{free['id']}", {"start": "2026-12-07T10:00:00+01:00"}, status=409
    )
    assert moved["error"] == "staff_busy"
    await lab.patch(f"/api/bookings/{made['id']}", {"title": "no move, no check"})


@pytest.fixture
def stock_radicale(tmp_path: Path) -> Iterator[str]:
    """A real, separate Radicale (any login, each user's own tree): a staff member's own
    CalDAV server, as iCloud or Fastmail would be."""
    port = free_port()
    log = open(tmp_path / "radicale.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(tmp_path / "radicale"),
            "--auth-type",
            "none",
            "--rights-type",
            "owner_only",
            "--web-type",
            "none",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/.well-known/caldav", timeout=1)  # noqa: S310
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait()
        log.close()


def dav_put(base: str, path: str, body: str = "", method: str = "PUT") -> int:
    request = urllib.request.Request(  # noqa: S310
        base + path,
        data=body.encode() or None,
        method=method,
        headers={"Authorization": basic("camille", "x"), "Content-Type": "text/calendar"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        return int(response.status)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_a_caldav_account_is_read_and_its_password_never_shown(
    lab: Api, stock_radicale: str
) -> None:
    base = stock_radicale
    assert dav_put(base, "/camille/work/", method="MKCALENDAR") == 201
    head, dentist = CALENDAR.split("BEGIN:VEVENT")[:2]
    event = f"{head}BEGIN:VEVENT{dentist}END:VCALENDAR\r\n"  # the dentist alone
    assert dav_put(base, "/camille/work/dentist.ics", event) == 201
    made = await lab.post(
        "/api/me/busy-calendars",
        {
            "name": "iCloud",
            "caldav_url": base + "/",
            "username": "camille",
            "password": "s3cret-pass",
        },
        headers=CAMILLE,
    )
    assert (made["kind"], made["last_status"], made["busy_count"]) == ("caldav", "ok", 1), made
    assert "s3cret" not in str(made) and "password" not in made
    stored = await lab.client.app[RUNNER].run(
        lambda s: s.db.rows("SELECT secret FROM busy_calendars")
    )
    assert "s3cret" not in str(stored) and stored[0]["secret"]
    again = await lab.post(
        f"/api/me/busy-calendars/{made['id']}/refresh", headers=CAMILLE, status=200
    )
    assert again["last_status"] == "unchanged"
    slots = await lab.get(
        "/api/availability?type=video&location=ANHQ&staff=camille@example.org"
        "&start=2026-12-07T09:00:00%2B01:00&end=2026-12-07T12:00:00%2B01:00"
    )
    starts = {s["start"][11:16] for s in slots["slots"]}
    assert "09:30" in starts and "10:00" not in starts and "11:30" in starts
    wrong = await lab.post(
        "/api/me/busy-calendars",
        {"name": "Typo", "caldav_url": "http://127.0.0.1:1/", "username": "x", "password": "y"},
        headers=CAMILLE,
    )
    assert wrong["last_status"] == "error" and wrong["last_error"]


async def test_the_availability_page_adds_a_caldav_account(
    lab: Api, stock_radicale: str, aiohttp_client: Any
) -> None:
    pages = Pages(await aiohttp_client(lab.client.server))
    await pages.sign_in("camille@example.org", "camille-password")
    await pages.get("/availability")
    await pages.post(
        "/availability/calendars",
        {
            "name": "Fastmail",
            "url": stock_radicale + "/",
            "username": "camille",
            "password": "Ohm4-quartz",
        },
    )
    (found,) = (await lab.get("/api/me/busy-calendars", headers=CAMILLE))["busy_calendars"]
    assert (found["name"], found["kind"], found["last_status"]) == ("Fastmail", "caldav", "ok")
    assert "Ohm4-quartz" not in await pages.get("/availability")


async def test_the_caldav_client_does_not_follow_a_redirect_to_a_private_address(
    aiohttp_server: Any,
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": "http://169.254.169.254/latest/"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    running = await aiohttp_server(app)
    calendar = BusyCalendar(
        id=1,
        user_id=1,
        name="x",
        url=str(running.make_url("/dav/")),
        etag="",
        last_modified="",
        last_synced_at=None,
        last_status="new",
        last_error="",
        busy_count=0,
        kind="caldav",
        username="u",
    )
    now = datetime.now(UTC)
    with pytest.raises(Exception) as refused:
        await asyncio.to_thread(read_caldav, calendar, "pw", now, now + timedelta(days=1), True)
    assert "169.254.169.254 is a private address" in str(refused.value), repr(refused.value)


async def test_a_caldav_account_larger_than_the_limit_is_refused(
    aiohttp_client: Any, config: Config, stock_radicale: str
) -> None:
    small = with_changes(
        config, availability={"allow_private_networks": True, "max_calendar_bytes": 200}
    )
    api = Api(await aiohttp_client(create_app(small)), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    assert dav_put(stock_radicale, "/camille/work/", method="MKCALENDAR") == 201
    head, dentist = CALENDAR.split("BEGIN:VEVENT")[:2]
    assert (
        dav_put(
            stock_radicale, "/camille/work/a.ics", f"{head}BEGIN:VEVENT{dentist}END:VCALENDAR\r\n"
        )
        == 201
    )
    made = await api.post(
        "/api/me/busy-calendars",
        {"name": "Big", "caldav_url": stock_radicale + "/", "username": "camille", "password": "x"},
        headers=CAMILLE,
    )
    assert made["last_status"] == "error" and "larger than 200 bytes" in made["last_error"]


UNREADABLE_SERIES = {
    # An event repeating every second since 1990: hours of recurring-ical-events.
    "RRULE:FREQ=SECONDLY": "repeat too often to read",
    # BY parts that let no day through: dateutil walks to the year 9999 looking for one.
    "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30": "never occurs",
}


@pytest.mark.parametrize(("rule", "reason"), UNREADABLE_SERIES.items(), ids=["secondly", "never"])
async def test_a_calendar_whose_series_cannot_be_expanded_is_refused_at_once(
    lab: Api, source: tuple[CalendarServer, str], rule: str, reason: str
) -> None:
    """Refused with the reason before anything is expanded (issue 25)."""
    server, base = source
    server.body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:odd\r\n"
        "DTSTAMP:19900101T000000Z\r\nDTSTART:19900101T000000Z\r\nDURATION:PT1S\r\n"
        f"{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    started = time.perf_counter()
    found = await lab.post(
        "/api/me/busy-calendars", {"name": "Odd", "url": base + "/calendar.ics"}, headers=CAMILLE
    )
    assert time.perf_counter() - started < 2
    assert found["last_status"] == "error" and reason in found["last_error"]


async def test_a_calendar_sent_in_many_chunks_is_read_whole(lab: Api, aiohttp_server: Any) -> None:
    """A calendar of a few hundred kilobytes comes in many chunks: every one is read (a read
    of the first chunk alone left an unreadable calendar)."""
    head, _, rest = CALENDAR.partition("BEGIN:VEVENT")
    filler = "".join(
        f"BEGIN:VEVENT\r\nUID:f{n}@g\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART:2026{(n % 12) + 1:02d}{(n % 27) + 1:02d}T060000Z\r\n"
        f"DTEND:2026{(n % 12) + 1:02d}{(n % 27) + 1:02d}T061500Z\r\nSUMMARY:{'x' * 200}\r\n"
        "END:VEVENT\r\n"
        for n in range(1500)
    )
    text = (head + filler + "BEGIN:VEVENT" + rest).encode()
    assert len(text) > 300_000

    async def slowly(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/calendar"})
        await response.prepare(request)
        for at in range(0, len(text), 20_000):
            await response.write(text[at : at + 20_000])
            await asyncio.sleep(0.001)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/big.ics", slowly)
    server = await aiohttp_server(app)
    made = await lab.post(
        "/api/me/busy-calendars",
        {"name": "Big", "url": str(server.make_url("/big.ics"))},
        headers=CAMILLE,
    )
    assert made["last_status"] == "ok", made
    assert made["busy_count"] > 5
