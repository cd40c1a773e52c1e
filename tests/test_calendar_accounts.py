"""Write-through into people's own calendar accounts, against stock Radicale and Xandikos
running as separate processes on loopback: connecting (a new calendar, or one chosen), a
booking in place within seconds, moved, cancelled and removed, filters, an event the person
made never touched, an edit made there replaced and logged, a resync repairing a deleted
event, busy times read from the same account without feedserver's own events, the server
down then back with nothing lost or written twice, a refused password shown as failing,
disconnecting with or without the events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from feedserver.web.state import BUSY, RUNNER
from tests.calendar_servers import CalendarServer, radicale, xandikos
from tests.conftest import ADMIN_TOKEN, Api, basic_auth, make_org
from tests.webhelp import Pages

CAMILLE = {"Authorization": basic_auth("camille@example.org", "camille-password")}
NOTE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//macOS 15//EN\r\nBEGIN:VEVENT\r\n"
    "UID:dentist-1@icloud\r\nDTSTAMP:20261201T000000Z\r\n"
    "DTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def soon(days: int = 2, hour: int = 10) -> datetime:
    day = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return day + timedelta(days=days)


@pytest.fixture
def radicale_server(tmp_path: Path) -> Iterator[CalendarServer]:
    server = radicale(tmp_path / "radicale")
    yield server
    server.stop()


@pytest.fixture
def xandikos_server(tmp_path: Path) -> Iterator[CalendarServer]:
    server = xandikos(tmp_path / "xandikos")
    yield server
    server.stop()


@pytest.fixture
def writing(config: Config) -> Config:
    return with_changes(
        config,
        calendar_accounts={"allow_private_networks": True, "retry_schedule_seconds": [1, 2]},
        smtp={"sender_name": "Salon Lumière"},
    )


@pytest.fixture
async def lab(aiohttp_client: Any, writing: Config) -> AsyncIterator[Api]:
    client = await aiohttp_client(create_app(writing))
    api = Api(client, {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    yield api


async def until(condition: Any, timeout: float = 10.0) -> float:
    """Seconds until ``condition()`` (sync) is true; fails after ``timeout``."""
    started = time.monotonic()
    while True:
        if await asyncio.to_thread(condition):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError("not within the time allowed")
        await asyncio.sleep(0.1)


async def connect(api: Api, server: CalendarServer, **more: Any) -> dict[str, Any]:
    body = {"name": "My calendar", "url": server.base + "/", "username": "camille"}
    body["password"] = "secret"
    body.update(more)
    account: dict[str, Any] = await api.post("/api/me/calendar-accounts", body, headers=CAMILLE)
    return account


def calendar_path(account: dict[str, Any], server: CalendarServer) -> str:
    return str(account["calendar"]["url"]).removeprefix(server.base)


async def book(api: Api, start: datetime, **more: Any) -> dict[str, Any]:
    body = {
        "type": "haircut",
        "location": "ANHQ",
        "staff": "camille@example.org",
        "start": start.isoformat(),
        "attendees": [{"email": "alice@example.com", "name": "Alice Liddell"}],
        **more,
    }
    made: dict[str, Any] = await api.post("/api/bookings", body)
    return made


@pytest.mark.parametrize("kind", ["radicale", "xandikos"])
async def test_a_booking_appears_moves_and_goes_within_seconds(
    lab: Api, tmp_path: Path, kind: str
) -> None:
    server = (radicale if kind == "radicale" else xandikos)(tmp_path / kind)
    try:
        account = await connect(lab, server)
        assert account["calendar"]["name"] == "Salon Lumière"  # made, named after the org
        assert account["status"] == "ok" and "password" not in str(account)
        path = calendar_path(account, server)
        # An event the person made there is never touched.
        start = soon()
        note = NOTE.format(start=f"{start:%Y%m%dT}070000Z", end=f"{start:%Y%m%dT}080000Z")
        status, _, _ = server.request(
            "PUT", path + "dentist.ics", note.encode(), {"Content-Type": "text/calendar"}
        )
        assert status in (201, 204)

        made = await book(lab, start)
        seconds = await until(lambda: len(server.events(path)) == 2)
        assert seconds < 5
        ours = next(t for n, t in server.events(path).items() if n != "dentist.ics")
        assert b"Haircut" in ours and b"ORGANIZER" not in ours and b"ATTENDEE" not in ours
        assert b"Annecy HQ" in ours

        moved = start + timedelta(hours=3)
        await lab.patch(f"/api/bookings/{made['id']}", {"start": moved.isoformat()})
        local = f"{moved.astimezone(ZoneInfo('Europe/Paris')):%Y%m%dT%H%M}".encode()
        await until(lambda: any(local in t for t in server.events(path).values()))

        await lab.post(f"/api/bookings/{made['id']}/cancel", {}, status=200)
        await until(lambda: list(server.events(path)) == ["dentist.ics"])
        assert (
            server.events(path)["dentist.ics"].replace(b"\r\n", b"\n")
            == note.replace("\r\n", "\n").encode()
            or b"Dentist" in server.events(path)["dentist.ics"]
        )
        found = await lab.get(f"/api/calendar-accounts/{account['id']}")
        assert found["status"] == "ok" and found["bookings_waiting"] == 0
    finally:
        server.stop()


def ours_only(server: CalendarServer, path: str, password: str = "secret") -> dict[str, bytes]:
    found = server.events(path, password=password)
    return {n: t for n, t in found.items() if n.startswith("feedserver-")}


async def test_an_edit_made_there_is_replaced_on_the_next_change_and_logged(
    lab: Api, radicale_server: CalendarServer
) -> None:
    server = radicale_server
    account = await connect(lab, server)
    path = calendar_path(account, server)
    made = await book(lab, soon())
    await until(lambda: len(ours_only(server, path)) == 1)
    name, text = next(iter(ours_only(server, path).items()))
    edited = text.replace(b"SUMMARY:", b"SUMMARY:Moved by me - ")
    status, _, _ = server.request("PUT", path + name, edited, {"Content-Type": "text/calendar"})
    assert status in (201, 204)
    await lab.patch(f"/api/bookings/{made['id']}", {"notes": "bring the photos"})
    await until(lambda: b"Moved by me" not in ours_only(server, path)[name])
    found = await lab.get(f"/api/me/calendar-accounts/{account['id']}", headers=CAMILLE)
    replaced = [e for e in found["log"] if e["kind"] == "edit_replaced"]
    assert replaced and replaced[0]["booking"] == made["id"]
    assert "Moved by me" in replaced[0]["detail"]  # what the person wrote is not lost


async def test_a_resync_repairs_a_deleted_event_and_leaves_the_rest(
    lab: Api, radicale_server: CalendarServer
) -> None:
    server = radicale_server
    account = await connect(lab, server)
    path = calendar_path(account, server)
    for day in (2, 3, 4):
        await book(lab, soon(day))
    await until(lambda: len(ours_only(server, path)) == 3)
    first = sorted(ours_only(server, path))[0]
    assert server.request("DELETE", path + first)[0] in (200, 204)
    before = {n: t for n, t in ours_only(server, path).items()}
    await lab.post(
        f"/api/me/calendar-accounts/{account['id']}/resync", {}, status=202, headers=CAMILLE
    )
    await until(lambda: len(ours_only(server, path)) == 3)
    after = ours_only(server, path)
    assert first in after
    assert all(after[n] == t for n, t in before.items())  # the others were not rewritten


async def test_filters_choose_the_bookings_and_a_change_of_them_resyncs(
    lab: Api, xandikos_server: CalendarServer
) -> None:
    server = xandikos_server
    account = await connect(lab, server, types=["coloring"], kind="events")
    path = calendar_path(account, server)
    await book(lab, soon(2))  # a haircut: not shown
    coloring = await book(lab, soon(3), type="coloring")
    await until(lambda: len(ours_only(server, path)) == 1)
    assert b"Colouring" in next(iter(ours_only(server, path).values()))
    changed = await lab.patch(
        f"/api/me/calendar-accounts/{account['id']}",
        {"types": ["coloring", "haircut"], "include_pending": True},
        headers=CAMILLE,
    )
    assert changed["types"] == ["coloring", "haircut"] and changed["include_pending"]
    await until(lambda: len(ours_only(server, path)) == 2)
    await lab.patch(f"/api/me/calendar-accounts/{account['id']}", {"kind": "busy"}, headers=CAMILLE)
    await until(lambda: all(b"SUMMARY:Busy" in t for t in ours_only(server, path).values()))
    await lab.patch(
        f"/api/me/calendar-accounts/{account['id']}", {"types": ["haircut"]}, headers=CAMILLE
    )
    await until(lambda: len(ours_only(server, path)) == 1)
    assert coloring["id"]


async def test_busy_times_come_from_the_same_account_without_its_own_events(
    lab: Api, radicale_server: CalendarServer
) -> None:
    server = radicale_server
    account = await connect(lab, server)
    path = calendar_path(account, server)
    start = soon(3)
    # The person's own appointment, in another calendar of the same account.
    assert server.request("MKCALENDAR", "/camille/private/")[0] == 201
    note = NOTE.format(start=f"{start:%Y%m%dT}140000Z", end=f"{start:%Y%m%dT}150000Z")
    server.request(
        "PUT", "/camille/private/dentist.ics", note.encode(), {"Content-Type": "text/calendar"}
    )
    await book(lab, start)
    await until(lambda: len(ours_only(server, path)) == 1)
    app = lab.client.app
    calendars = await app[RUNNER].run(lambda s: s.busy_calendars.list())
    (calendar,) = [c for c in calendars if c.account_id == account["id"]]
    outcome = await app[BUSY].refresh(calendar)
    assert outcome.status == "ok", outcome
    busy = await app[RUNNER].run(
        lambda s: s.busy_calendars.busy_between(
            calendar.user_id, start - timedelta(days=1), start + timedelta(days=1)
        )
    )
    assert [b.uid for b in busy] == ["dentist-1@icloud"]  # not the booking written there
    listed = await lab.get("/api/me/busy-calendars", headers=CAMILLE)
    assert [c["kind"] for c in listed["busy_calendars"]] == ["account"]


async def test_a_calendar_of_the_account_can_be_chosen_and_listed(
    lab: Api, radicale_server: CalendarServer
) -> None:
    server = radicale_server
    assert server.request("MKCALENDAR", "/camille/work/")[0] == 201
    account = await connect(lab, server, calendar=server.base + "/camille/work/", busy=False)
    assert account["calendar"]["url"] == server.base + "/camille/work/"
    listed = await lab.get(f"/api/me/calendar-accounts/{account['id']}/calendars", headers=CAMILLE)
    chosen = [c for c in listed["calendars"] if c["written_into"]]
    assert [c["url"] for c in chosen] == [server.base + "/camille/work/"]
    assert (await lab.get("/api/me/busy-calendars", headers=CAMILLE))["busy_calendars"] == []
    await lab.post(
        "/api/me/calendar-accounts",
        {"url": server.base + "/", "username": "camille", "password": "secret", "calendar": "nope"},
        status=422,
        headers=CAMILLE,
    )


async def test_wrong_passwords_private_addresses_and_bad_input_are_refused(
    lab: Api, radicale_server: CalendarServer, aiohttp_client: Any, config: Config
) -> None:
    server = radicale_server
    wrong = await lab.call(
        "POST",
        "/api/me/calendar-accounts",
        {"url": server.base + "/", "username": "camille", "password": "nope"},
        status=422,
        headers=CAMILLE,
    )
    assert wrong["field"] == "password" and "app-specific password" in wrong["message"]
    for body, field in [
        ({"url": "ftp://x/", "username": "a", "password": "b"}, "url"),
        ({"url": "http://127.0.0.1:1/", "username": "a"}, "password"),
        ({"url": "https://x\ud800.example/", "username": "a", "password": "b"}, None),
        ({"url": server.base, "username": "a", "password": "b", "types": ["nope"]}, "types"),
        ({"provider": "outlook"}, "provider"),
        ({"url": "http://[::1", "username": "a", "password": "b"}, "url"),
    ]:
        response = await lab.client.post("/api/me/calendar-accounts", json=body, headers=CAMILLE)
        refused = await response.json()
        assert response.status in (400, 422), refused
        if field:
            assert refused["field"] == field, refused
    # By default the server's own network is out of reach.
    guarded = Api(await aiohttp_client(create_app(config)), lab.headers)
    refused = await guarded.call(
        "POST",
        "/api/calendar-accounts",
        {
            "user": "camille@example.org",
            "url": server.base + "/",
            "username": "camille",
            "password": "secret",
        },
        status=422,
    )
    assert "private" in refused["message"]
    await lab.get("/api/me/calendar-accounts/99", status=404, headers=CAMILLE)
    await lab.get("/api/me/calendar-accounts/nope", status=404, headers=CAMILLE)


async def test_a_revoked_password_shows_the_account_failing_with_the_reason(
    lab: Api, radicale_server: CalendarServer
) -> None:
    server = radicale_server
    account = await connect(lab, server)
    users = server.folder / "users"
    users.write_text(users.read_text().replace("camille:secret", "camille:changed"))
    await book(lab, soon())

    async def failing() -> dict[str, Any]:
        found: dict[str, Any] = await lab.get(f"/api/calendar-accounts/{account['id']}")
        return found

    for _ in range(100):
        found = await failing()
        if found["status"] == "failing":
            break
        await asyncio.sleep(0.1)
    assert found["status"] == "failing" and "401" in found["last_error"]
    assert found["bookings_waiting"] >= 1  # kept until it can be written
    health = await lab.get("/healthz")
    assert any("calendar account" in w for w in health["warnings"])
    fixed = await lab.patch(
        f"/api/me/calendar-accounts/{account['id']}", {"password": "changed"}, headers=CAMILLE
    )
    assert fixed["status"] == "ok"
    path = calendar_path(account, server)
    await until(lambda: len(ours_only(server, path, password="changed")) == 1)


async def test_disconnecting_removes_the_events_written_or_keeps_them(
    lab: Api, radicale_server: CalendarServer
) -> None:
    server = radicale_server
    first = await connect(lab, server)
    path = calendar_path(first, server)
    await book(lab, soon())
    await until(lambda: len(ours_only(server, path)) == 1)
    done = await lab.call("DELETE", f"/api/me/calendar-accounts/{first['id']}", headers=CAMILLE)
    assert done == {"removed_events": 1, "kept_events": 0}
    assert ours_only(server, path) == {}
    second = await connect(lab, server)  # the same calendar, written into again
    assert second["calendar"]["url"] == first["calendar"]["url"]
    await until(lambda: len(ours_only(server, path)) == 1)
    kept = await lab.call(
        "DELETE", f"/api/me/calendar-accounts/{second['id']}?remove_events=false", headers=CAMILLE
    )
    assert kept == {"removed_events": 0, "kept_events": 1}
    assert len(ours_only(server, path)) == 1
    await lab.get("/api/me/calendar-accounts", headers=CAMILLE)


async def test_the_page_connects_an_account_and_keeps_what_was_typed_on_an_error(
    lab: Api, radicale_server: CalendarServer
) -> None:
    server = radicale_server
    pages = Pages(lab.client)
    await pages.sign_in("camille@example.org", "camille-password")
    page = await pages.get("/calendars")
    assert "Connect a calendar account" in page and "iCloud" in page
    form = {
        "preset": "other",
        "url": server.base + "/",
        "username": "camille",
        "password": "wrong",
        "types": "haircut",
        "include_pending": "on",
        "busy": "on",
    }
    _, refused = await pages.post("/calendars", form, status=422)
    assert "app-specific password" in refused and 'aria-invalid="true"' in refused
    assert server.request("MKCALENDAR", "/camille/work/", None, {})[0] == 201
    _, unknown = await pages.post(
        "/calendars", {**form, "password": "secret", "calendar": "Holidays"}, status=422
    )
    assert "its calendars: camille/work" in unknown and 'value="Holidays"' in unknown
    assert f'value="{server.base}/"' in refused and 'value="camille"' in refused
    assert 'value="haircut" checked' in refused and "wrong" not in refused
    location, _ = await pages.post("/calendars", {**form, "password": "secret"})
    assert location.startswith("/calendars")
    page = await pages.get("/calendars")
    assert "Salon Lumière" in page and "working" in page  # a new calendar, named after us
    accounts = (await lab.get("/api/me/calendar-accounts", headers=CAMILLE))["calendar_accounts"]
    (account,) = accounts
    assert account["types"] == ["haircut"] and account["include_pending"]
    await book(lab, soon())
    path = calendar_path(account, server)
    await until(lambda: len(ours_only(server, path)) == 1)
    await pages.post(f"/calendars/{account['id']}/resync", {})
    asked = await pages.post(f"/calendars/{account['id']}/remove", {}, status=200)
    assert "remove the events" in asked[1]
    await pages.post(f"/calendars/{account['id']}/remove", {"confirmed": "1"})
    assert ours_only(server, path) == {}
    assert (await lab.get("/api/me/calendar-accounts", headers=CAMILLE))["calendar_accounts"] == []


async def test_an_account_failing_longer_than_allowed_is_shown_failing(
    aiohttp_client: Any, config: Config, radicale_server: CalendarServer
) -> None:
    quick = with_changes(
        config,
        calendar_accounts={
            "allow_private_networks": True,
            "retry_schedule_seconds": [0.5],
            "failing_after_hours": 0.001,  # 3.6 s instead of a day
        },
    )
    api = Api(await aiohttp_client(create_app(quick)), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    account = await connect(api, radicale_server)
    radicale_server.stop()
    await book(api, soon())
    seen = set()
    for _ in range(150):
        found = await api.get(f"/api/calendar-accounts/{account['id']}")
        seen.add(found["status"])
        if found["status"] == "failing":
            break
        await asyncio.sleep(0.1)
    assert seen >= {"retrying", "failing"}, seen  # retrying first, failing after the limit
    assert "cannot connect" in found["last_error"] and found["failing_since"]


async def test_an_import_is_written_too(lab: Api, radicale_server: CalendarServer) -> None:
    account = await connect(lab, radicale_server)
    path = calendar_path(account, radicale_server)
    start = soon(5)
    rows = [
        "type,location,staff,start,end",
        f"haircut,ANHQ,camille@example.org,{start.isoformat()},"
        f"{(start + timedelta(minutes=45)).isoformat()}",
        f"haircut,ANHQ,maya@example.org,{start.isoformat()},"
        f"{(start + timedelta(minutes=45)).isoformat()}",
    ]
    response = await lab.client.post(
        "/api/bookings/import",
        data="\n".join(rows).encode(),
        headers={**lab.headers, "Content-Type": "text/csv"},
    )
    assert response.status == 200, await response.text()
    seconds = await until(lambda: len(ours_only(radicale_server, path)) == 1)
    assert seconds < 5  # Camille's; Maya's is not hers
