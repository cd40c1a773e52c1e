"""CalDAV against the real server on a real socket, with the real ``caldav`` client package.

The ``caldav`` client is synchronous; it runs in a thread while the event loop serves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import aiohttp
import pytest
from caldav.davclient import DAVClient
from icalendar import Calendar

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from feedserver.web.state import RUNNER
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, book, make_org

T = TypeVar("T")
CAMILLE = ("camille@example.org", "camille-password")
MAYA = ("maya@example.org", "maya-password")


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


@pytest.fixture
def dav_config(config: Config) -> Config:
    return with_changes(config, caldav={"failed_login_delay_ms": 50, "max_body_bytes": 64 * 1024})


@pytest.fixture
async def server(aiohttp_server: Any, dav_config: Config) -> Any:
    return await aiohttp_server(create_app(dav_config))


@pytest.fixture
async def dav_api(aiohttp_client: Any, server: Any) -> Api:
    """The admin API of ``server``, with the small organisation of ``make_org``."""
    api = Api(await aiohttp_client(server), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    return api


def base_url(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


def client(server: Any, login: tuple[str, str], path: str = "/dav/") -> Any:
    return DAVClient(url=base_url(server) + path, username=login[0], password=login[1])


def bookings_uids(principal: Any) -> dict[str, int]:
    calendar = next(c for c in principal.calendars() if c.get_display_name() == "Bookings")
    found = {}
    for event in calendar.events():
        component = Calendar.from_ical(event.data).walk("VEVENT")[0]
        found[str(component["UID"])] = int(component.get("SEQUENCE", 0))
    return found


async def test_principal_is_discovered_from_well_known(server: Any, dav_api: Api) -> None:
    async with aiohttp.ClientSession() as http:
        for method in ("GET", "PROPFIND"):
            async with http.request(
                method, base_url(server) + "/.well-known/caldav", allow_redirects=False
            ) as response:
                assert response.status == 301
                assert response.headers["Location"] == "/dav/"
        async with http.get(base_url(server) + "/davfoo") as response:
            assert response.status == 404
    principal = await in_thread(lambda: client(server, CAMILLE, "/.well-known/caldav").principal())
    assert unquote(urlsplit(str(principal.url)).path) == "/dav/camille@example.org/"


async def test_bookings_calendar_holds_exactly_the_users_bookings(
    server: Any, dav_api: Api
) -> None:
    mine = await book(dav_api)
    pending = await book(dav_api, start="2026-12-02T10:00:00+01:00", status="pending")
    await book(
        dav_api,
        staff="maya@example.org",
        location="NYC1",
        attendees=[{"email": "bob@example.com", "name": "Bob"}],
    )
    principal = await in_thread(lambda: client(server, CAMILLE).principal())
    names = await in_thread(lambda: [c.get_display_name() for c in principal.calendars()])
    assert "Bookings" in names
    assert await in_thread(lambda: bookings_uids(principal)) == {mine["uid"]: 0, pending["uid"]: 0}
    alice = await in_thread(
        lambda: client(server, ("alice@example.com", "alice-password")).principal()
    )
    assert set(await in_thread(lambda: bookings_uids(alice))) == {mine["uid"], pending["uid"]}


async def test_api_changes_appear_change_and_disappear(server: Any, dav_api: Api) -> None:
    principal = await in_thread(lambda: client(server, CAMILLE).principal())
    booking = await book(dav_api)
    assert await in_thread(lambda: bookings_uids(principal)) == {booking["uid"]: 0}
    await dav_api.patch(f"/api/bookings/{booking['id']}", {"start": "2026-12-01T16:00:00+01:00"})
    assert await in_thread(lambda: bookings_uids(principal)) == {booking["uid"]: 1}
    # Moved to Maya: gone from Camille's calendar, in Maya's.
    await dav_api.patch(f"/api/bookings/{booking['id']}", {"staff": "maya@example.org"})
    assert await in_thread(lambda: bookings_uids(principal)) == {}
    maya = await in_thread(lambda: client(server, MAYA).principal())
    assert await in_thread(lambda: bookings_uids(maya)) == {booking["uid"]: 2}
    await dav_api.post(f"/api/bookings/{booking['id']}/cancel", status=200)
    assert await in_thread(lambda: bookings_uids(maya)) == {}
    assert (await dav_api.get("/healthz"))["caldav_lag"] == 0


async def test_a_change_is_in_caldav_when_the_api_call_returns(server: Any, dav_api: Api) -> None:
    principal = await in_thread(lambda: client(server, CAMILLE).principal())
    booking = await book(dav_api)  # no waiting of any kind after it
    assert booking["uid"] in await in_thread(lambda: bookings_uids(principal))


async def test_own_calendars_can_be_created_and_edited(server: Any, dav_api: Api) -> None:
    def scenario() -> None:
        principal = client(server, CAMILLE).principal()
        calendar = principal.make_calendar(name="Personal")
        event = calendar.save_event(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
            "UID:personal-1@test\r\nDTSTAMP:20261101T090000Z\r\n"
            "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nSUMMARY:Dentist\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        event.icalendar_component["SUMMARY"] = "Dentist (moved)"
        event.save()
        again = calendar.event_by_uid("personal-1@test")
        assert "Dentist (moved)" in again.data
        found = calendar.search(start=datetime(2026, 12, 1), end=datetime(2026, 12, 2), event=True)
        assert [str(e.icalendar_component["UID"]) for e in found] == ["personal-1@test"]
        again.delete()
        assert calendar.events() == []

    await in_thread(scenario)


async def _dav(
    server: Any,
    method: str,
    path: str,
    login: tuple[str, str] | None = CAMILLE,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    all_headers = {"Content-Type": "text/calendar", **(headers or {})}
    if login is not None:
        all_headers["Authorization"] = basic_auth(*login)
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, base_url(server) + path, data=body, headers=all_headers) as response,
    ):
        return response.status, await response.text()


EVENT = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    b"UID:sneaky@test\r\nDTSTAMP:20261101T090000Z\r\nDTSTART:20261201T090000Z\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def test_bookings_calendar_is_read_only(server: Any, dav_api: Api) -> None:
    booking = await book(dav_api)
    status, _ = await _dav(
        server, "PUT", "/dav/camille@example.org/bookings/sneaky.ics", body=EVENT
    )
    assert status == 403
    href = f"/dav/camille@example.org/bookings/{booking['uid']}.ics"
    assert (await _dav(server, "GET", href))[0] == 200
    assert (await _dav(server, "DELETE", href))[0] == 403
    assert (await _dav(server, "DELETE", "/dav/camille@example.org/bookings/"))[0] == 403


async def test_another_users_tree_is_invisible(server: Any, dav_api: Api) -> None:
    await book(dav_api, staff="maya@example.org", location="NYC1")
    for method in ("PROPFIND", "GET"):
        status, body = await _dav(
            server, method, "/dav/maya@example.org/bookings/", headers={"Depth": "1"}
        )
        assert status in (403, 404)
        assert "BEGIN:VEVENT" not in body
    status, _ = await _dav(server, "PUT", "/dav/maya@example.org/personal/x.ics", body=EVENT)
    assert status in (403, 404)


async def test_wrong_or_missing_credentials_get_401(server: Any, dav_api: Api) -> None:
    path = "/dav/camille@example.org/"
    assert (await _dav(server, "PROPFIND", path, ("camille@example.org", "wrong")))[0] == 401
    assert (await _dav(server, "PROPFIND", path, ("nobody@example.org", "whatever")))[0] == 401
    assert (await _dav(server, "PROPFIND", path, None))[0] == 401


async def test_app_passwords_work_until_revoked(server: Any, dav_api: Api) -> None:
    auth = {"Authorization": basic_auth(*CAMILLE)}
    created = await dav_api.post("/api/me/app-passwords", {"name": "Phone"}, headers=auth)
    secret = created["password"]
    assert created["login"] == "camille@example.org" and len(secret) >= 24
    listed = await dav_api.get("/api/me/app-passwords", headers=auth)
    assert secret not in str(listed)
    device = ("camille@example.org", secret)
    assert (await _dav(server, "PROPFIND", "/dav/camille@example.org/", device))[0] == 207
    await dav_api.call("DELETE", f"/api/me/app-passwords/{created['id']}", status=204, headers=auth)
    assert (await _dav(server, "PROPFIND", "/dav/camille@example.org/", device))[0] == 401
    stored = await server.app[RUNNER].run(
        lambda s: s.db.rows("SELECT secret_hash FROM app_passwords")
    )
    assert secret not in str(stored)
    refused = await dav_api.post("/api/me/app-passwords", {"name": "x"}, status=403)
    assert refused["error"] == "not_a_personal_account"


async def test_client_cannot_rewrite_hrefs_with_x_script_name(server: Any, dav_api: Api) -> None:
    status, body = await _dav(
        server,
        "PROPFIND",
        "/dav/camille@example.org/",
        headers={"Depth": "1", "X-Script-Name": "/evil", "X-Forwarded-Prefix": "/evil"},
    )
    assert status == 207
    assert "/evil" not in body
    assert "<href>/dav/camille%40example.org/</href>" in body


async def test_oversized_body_gets_413(server: Any, dav_api: Api) -> None:
    huge = EVENT.replace(b"DTSTART", b"DESCRIPTION:" + b"x" * 70_000 + b"\r\nDTSTART")
    status, body = await _dav(server, "PUT", "/dav/camille@example.org/personal/big.ics", body=huge)
    assert status == 413
    assert "too_large" in body


async def test_duplicate_uid_in_a_calendar_is_refused_by_the_uid_index(
    server: Any, dav_api: Api
) -> None:
    await in_thread(lambda: client(server, CAMILLE).principal().make_calendar(name="Work"))
    calendar = "/dav/camille@example.org/"
    work = next(
        c
        for c in await in_thread(lambda: client(server, CAMILLE).principal().calendars())
        if c.get_display_name() == "Work"
    )
    path = unquote(urlsplit(str(work.url)).path)
    assert path.startswith(calendar)
    assert (await _dav(server, "PUT", path + "one.ics", body=EVENT))[0] == 201
    assert (await _dav(server, "PUT", path + "two.ics", body=EVENT))[0] == 409
    assert (await _dav(server, "DELETE", path + "one.ics"))[0] == 200
    assert (await _dav(server, "PUT", path + "two.ics", body=EVENT))[0] == 201


async def test_changes_made_while_the_server_was_down_are_there_at_start(
    aiohttp_server: Any, aiohttp_client: Any, dav_config: Config, tmp_path: Path
) -> None:
    first = await aiohttp_server(create_app(dav_config))
    api = Api(await aiohttp_client(first), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    kept = await book(api)
    dropped = await book(api, start="2026-12-03T10:00:00+01:00")
    await api.client.close()
    await first.close()
    # While the server is down, another process (the CLI) changes the bookings.
    from feedserver.domain import bookings
    from feedserver.domain.commands import BookingDraft
    from feedserver.model import Status
    from feedserver.store import Store

    store = Store(dav_config.database_url)
    bookings.set_status(store, dropped["id"], Status.CANCELLED)
    added = bookings.create_booking(
        store,
        BookingDraft.from_json(
            {
                "type": "haircut",
                "location": "ANHQ",
                "staff": "camille@example.org",
                "start": "2026-12-04T10:00:00+01:00",
            }
        ),
    ).after
    store.close()

    second = await aiohttp_server(create_app(dav_config))
    principal = await in_thread(lambda: client(second, CAMILLE).principal())
    assert set(await in_thread(lambda: bookings_uids(principal))) == {kept["uid"], added.uid}
