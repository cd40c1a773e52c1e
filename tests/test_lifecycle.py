"""The server's life as an operator sees it, on real processes: a SIGTERM lets the requests in
flight finish; a kill -9 in the middle of writes or of inbound processing loses nothing that
was acknowledged (a 2xx answer, an SMTP 250)."""

from __future__ import annotations

import asyncio
import signal
import smtplib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from feedserver.store import Store
from tests.process import free_port, serve

TOKEN = "lifecycle-admin-token-0123456789"
INVITE = "invite@bookings.example.org"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def _environment(database_url: str, **extra: str) -> dict[str, str]:
    """The server's environment: the admin token, and the test's store when it is PostgreSQL
    (on SQLite the store is the data dir's file). The node keeps its name across restarts
    (on another port each time here), so it takes its unfinished claims back at once."""
    store = {"FEEDSERVER_DATABASE_URL": database_url} if "://" in database_url else {}
    return {
        "FEEDSERVER_SECURITY_ADMIN_TOKEN": TOKEN,
        "FEEDSERVER_CLUSTER_NODE_NAME": "lifecycle",
        **store,
        **extra,
    }


async def _org(http: aiohttp.ClientSession) -> None:
    """A location, a type and a staff member: enough to book and to bridge."""
    for path, body in [
        ("/api/locations", {"code": "ANHQ", "name": "Annecy HQ", "timezone": "Europe/Paris"}),
        ("/api/types", {"key": "haircut", "name": "Haircut", "duration_minutes": 30}),
        (
            "/api/users",
            {
                "email": "camille@example.org",
                "name": "Camille",
                "role": "staff",
                "primary_location": "ANHQ",
            },
        ),
    ]:
        async with http.post(path, json=body) as response:
            assert response.status == 201, await response.text()


async def _bookings(http: aiohttp.ClientSession) -> list[dict[str, Any]]:
    """Every booking."""
    found: list[dict[str, Any]] = []
    while True:
        async with http.get(f"/api/bookings?limit=5000&offset={len(found)}") as response:
            assert response.status == 200, await response.text()
            page = (await response.json())["bookings"]
        found += page
        if len(page) < 5000:
            return found


async def _booked(http: aiohttp.ClientSession) -> list[str]:
    """The UIDs of every booking."""
    return [b["uid"] for b in await _bookings(http)]


def _integrity(database_url: str) -> str:
    store = Store(database_url)
    try:
        return store.integrity()
    finally:
        store.close()


async def test_sigterm_lets_a_request_in_flight_finish_and_refuses_new_connections(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    rows = 10_000  # about 2 s of work for its handler once the body is in
    first = datetime(2033, 1, 1, tzinfo=UTC)
    csv = "type,location,staff,start,end\n" + "".join(
        f"haircut,ANHQ,camille@example.org,{(first + timedelta(hours=n)).isoformat()},\n"
        for n in range(rows)
    )
    with serve(data, _environment(database_url)) as (base, process):
        port = int(base.rsplit(":", 1)[1])
        async with aiohttp.ClientSession(base, headers=ADMIN) as http:
            await _org(http)
            upload = asyncio.create_task(
                http.post("/api/bookings/import", data=csv, headers={"Content-Type": "text/csv"})
            )
            await asyncio.sleep(0.3)
            assert not upload.done(), await (await upload).text()
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            with pytest.raises(OSError):  # no new connection once shutting down...
                await asyncio.open_connection("127.0.0.1", port)
            assert process.poll() is None  # ...but the process waits for the request in flight
            response = await asyncio.wait_for(upload, 60)
            report = await response.json()
            assert response.status == 200, report
            assert report["imported"] == rows, report
        assert await asyncio.to_thread(process.wait, 15) == 0
    log = next(tmp_path.glob("serve-*.log")).read_text()
    assert "shutting down: finishing the requests in flight" in log
    assert log.index("path=/api/bookings/import status=200") < log.index("stopped")
    assert "Traceback" not in log
    with serve(data, _environment(database_url)) as (base, _process):
        async with aiohttp.ClientSession(base, headers=ADMIN) as http:
            assert len(await _booked(http)) == rows


async def test_kill_9_during_writes_loses_no_acknowledged_booking(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    acknowledged: list[str] = []
    with serve(data, _environment(database_url)) as (base, process):
        async with aiohttp.ClientSession(base, headers=ADMIN) as http:
            await _org(http)

            async def writer(lane: int) -> None:
                for n in range(10_000):
                    day, minute = divmod(n, 24)
                    start = f"2031-{1 + lane:02d}-{1 + day % 28:02d}T{minute:02d}:00:00+00:00"
                    body = {
                        "type": "haircut",
                        "location": "ANHQ",
                        "staff": "camille@example.org",
                        "start": start,
                    }
                    try:
                        async with http.post("/api/bookings", json=body) as response:
                            if response.status != 201:
                                continue
                            acknowledged.append((await response.json())["uid"])
                    except aiohttp.ClientError:
                        return  # the server is gone

            writers = [asyncio.create_task(writer(lane)) for lane in range(8)]
            while len(acknowledged) < 150:
                await asyncio.sleep(0.02)
            process.kill()  # SIGKILL: no shutdown, no flush, in the middle of the writes
            await asyncio.gather(*writers)
    assert process.returncode == -signal.SIGKILL
    assert _integrity(database_url) == "ok"
    with serve(data, _environment(database_url)) as (base, _process):
        async with aiohttp.ClientSession(base, headers=ADMIN) as http:
            stored = set(await _booked(http))
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged bookings lost"


def _calendar(uids: list[str], month: int) -> str:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T140112Z\r\n"
        f"DTSTART:2032{month:02d}{1 + n % 28:02d}T{6 + n // 28:02d}0000Z\r\n"
        f"DTEND:2032{month:02d}{1 + n % 28:02d}T{6 + n // 28:02d}3000Z\r\n"
        "SUMMARY:Class\r\nLOCATION:ANHQ\r\nORGANIZER:mailto:camille@example.org\r\n"
        f"ATTENDEE:mailto:{INVITE}\r\nEND:VEVENT\r\n"
        for n, uid in enumerate(uids)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{events}END:VCALENDAR\r\n"


def _email(uid: str, day: int) -> bytes:
    calendar = _calendar([uid], 12).replace("20321201", f"203212{day:02d}")
    calendar = calendar.replace("VERSION:2.0\r\n", "VERSION:2.0\r\nMETHOD:REQUEST\r\n")
    head = (
        "From: camille@example.org\r\nTo: invite@bookings.example.org\r\n"
        f"Subject: Invitation {uid}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n"
    )
    return (head + calendar).encode()


async def test_kill_9_during_inbound_processing_loses_no_acknowledged_item(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    smtp_port = free_port()
    env = _environment(
        database_url,
        FEEDSERVER_BRIDGE_INVITE_ADDRESS=INVITE,
        FEEDSERVER_BRIDGE_DEFAULT_TYPE="haircut",
        FEEDSERVER_BRIDGE_SMTP_PORT=str(smtp_port),
        FEEDSERVER_BRIDGE_TRUSTED_SENDERS="@example.org",
        FEEDSERVER_BRIDGE_SENDER_ITEMS_PER_HOUR="0",
        FEEDSERVER_BRIDGE_RECONCILE_SECONDS="3600",
    )
    big = [f"big-{n}@example.org" for n in range(400)]
    mailed = [f"mail-{n}@example.org" for n in range(5)]
    items: list[int] = []
    with serve(data, env) as (base, process):
        async with aiohttp.ClientSession(base, headers=ADMIN) as http:
            await _org(http)
            headers = {"Content-Type": "text/calendar"}
            async with http.post("/api/inbound", data=_calendar(big, 3), headers=headers) as r:
                assert r.status == 202, await r.text()  # acknowledged: stored, not yet applied
                items.append((await r.json())["id"])

            def send_all() -> list[int]:
                ids = []
                with smtplib.SMTP("127.0.0.1", smtp_port) as client:
                    client.ehlo()
                    for day, uid in enumerate(mailed, start=1):
                        assert client.mail("camille@example.org")[0] == 250
                        assert client.rcpt(INVITE)[0] == 250
                        code, answer = client.data(_email(uid, day))
                        assert code == 250, answer  # the sending server forgets it now
                        ids.append(int(answer.rsplit(b" ", 1)[1]))
                return ids

            items += await asyncio.to_thread(send_all)
            # Kill it in the middle of the big item: some of its bookings made, not all.
            made: list[dict[str, Any]] = []
            deadline = time.monotonic() + 60
            while not made and time.monotonic() < deadline:
                made = [b for b in await _bookings(http) if b["source"] == "http"]
            async with http.get(f"/api/inbox/{items[0]}") as response:
                state = await response.json()
            process.kill()
            assert 0 < len(made) < len(big), f"not killed in the middle of the big item: {state}"
    assert _integrity(database_url) == "ok"
    with serve(data, env) as (base, _process):
        async with aiohttp.ClientSession(base, headers=ADMIN) as http:
            deadline = time.monotonic() + 120
            states: dict[int, Any] = {}
            while time.monotonic() < deadline:
                for item in items:
                    async with http.get(f"/api/inbox/{item}") as response:
                        states[item] = await response.json()
                if all(s["status"] != "received" for s in states.values()):
                    break
                await asyncio.sleep(0.2)
            bridged = await _bookings(http)
    assert {s["status"] for s in states.values()} == {"processed"}, states
    by_source = {
        source: sorted(b["id"] for b in bridged if b["source"] == source)
        for source in ("http", "email")
    }
    # Each acknowledged event booked once; the resumed item lists the bookings it made before
    # the kill as well as after it.
    assert len(by_source["http"]) == len(big)
    assert states[items[0]]["bookings"] == by_source["http"]
    assert len(by_source["email"]) == len(mailed)
    assert sorted(b for i in items[1:] for b in states[i]["bookings"]) == by_source["email"]
