"""A person's CalDAV server down for 60 seconds while their bookings change: the account waits
(shown as retrying, with why), nothing is lost and nothing is written twice when it is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from tests.calendar_servers import CalendarServer, radicale
from tests.conftest import ADMIN_TOKEN, Api, make_org
from tests.test_calendar_accounts import book, calendar_path, connect, ours_only, soon, until

OUTAGE_SECONDS = 60


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CalendarServer]:
    started = radicale(tmp_path / "radicale")
    yield started
    started.stop()


@pytest.fixture
async def lab(aiohttp_client: Any, config: Config) -> AsyncIterator[Api]:
    writing = with_changes(
        config,
        calendar_accounts={"allow_private_networks": True, "retry_schedule_seconds": [1, 2, 4]},
    )
    api = Api(await aiohttp_client(create_app(writing)), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    await make_org(api)
    yield api


async def test_a_server_down_for_a_minute_loses_nothing_and_writes_nothing_twice(
    lab: Api, server: CalendarServer
) -> None:
    account = await connect(lab, server)
    path = calendar_path(account, server)
    first = await book(lab, soon(2))
    await until(lambda: len(ours_only(server, path)) == 1)

    server.stop()
    down = time.monotonic()
    made = [await book(lab, soon(3, hour)) for hour in (9, 10, 11, 12, 13)]
    moved = soon(6, 15)
    await lab.patch(f"/api/bookings/{made[0]['id']}", {"start": moved.isoformat()})
    await lab.patch(f"/api/bookings/{first['id']}", {"notes": "changed while down"})
    await lab.post(f"/api/bookings/{made[1]['id']}/cancel", {}, status=200)
    await asyncio.sleep(3)
    waiting = await lab.get(f"/api/calendar-accounts/{account['id']}")
    assert waiting["status"] == "retrying" and "cannot connect" in waiting["last_error"]
    assert waiting["bookings_waiting"] == 6  # one job a booking, however often it changed

    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down)))
    server.start()
    await until(lambda: len(ours_only(server, path)) == 5, timeout=15)
    found = ours_only(server, path)
    uids = [
        line for text in found.values() for line in text.splitlines() if line.startswith(b"UID:")
    ]
    assert len(uids) == len(set(uids)) == 5  # each booking once
    texts = b"".join(found.values())
    assert f"{moved:%Y%m%d}".encode() in texts
    back = await lab.get(f"/api/calendar-accounts/{account['id']}")
    for _ in range(50):
        if back["bookings_waiting"] == 0:
            break
        await asyncio.sleep(0.1)
        back = await lab.get(f"/api/calendar-accounts/{account['id']}")
    assert back["status"] == "ok" and back["bookings_waiting"] == 0 and back["events_written"] == 5
    log = (await lab.get(f"/api/calendar-accounts/{account['id']}"))["log"]
    assert any(e["kind"] == "error" and "cannot connect" in e["detail"] for e in log)
