"""The two examples run as a booking system would run them: ``examples/webhook_receiver.py``
as its own process receiving a real server's deliveries, ``examples/sync_csv.py`` as a
command mirroring a CSV export into that server, twice."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from tests.conftest import ADMIN_TOKEN, Api, make_org
from tests.process import free_port

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPORT = """id,service,location,staff,start,end,customer_email,customer_name,status
A-1001,haircut,ANHQ,camille@example.org,2027-03-01T10:00:00+01:00,,ada@example.com,Ada,confirmed
A-1002,coloring,ANHQ,camille@example.org,2027-03-02T10:00:00+01:00,,bea@example.com,Béa,pending
A-1003,haircut,NYC1,maya@example.org,2027-03-03T09:00:00-05:00,2027-03-03T10:00:00-05:00,,,confirmed
"""


@pytest.fixture
async def api(aiohttp_server: Any, aiohttp_client: Any, config: Config) -> Api:
    app = create_app(with_changes(config, webhooks={"allow_private_networks": True}))
    api = Api(await aiohttp_client(await aiohttp_server(app)), {})
    api.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    await make_org(api)
    return api


async def run(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return int(process.returncode or 0), out.decode()


async def sync(api: Api, export: Path) -> tuple[int, str]:
    base = str(api.client.make_url("/")).rstrip("/")
    return await run(
        str(EXAMPLES / "sync_csv.py"), "--url", base, "--token", ADMIN_TOKEN, str(export)
    )


@pytest.mark.slow  # the examples as separate processes
async def test_the_sync_script_mirrors_an_export_and_a_second_run_changes_nothing(
    api: Api, tmp_path: Path
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(EXPORT, encoding="utf-8")
    status, out = await sync(api, export)
    assert status == 0, out
    assert "created=3 updated=0 unchanged=0 cancelled=0 refused=0" in out
    events = (await api.get("/api/changes"))["changes"]
    status, out = await sync(api, export)
    assert "created=0 updated=0 unchanged=3 cancelled=0 refused=0" in out, out
    assert (await api.get("/api/changes"))["changes"] == events  # nothing happened
    # The export changes: one booking moves, one is gone, one row is wrong.
    export.write_text(
        EXPORT.replace("2027-03-01T10:00", "2027-03-01T11:00")
        .replace("A-1003", "A-1004")
        .replace("NYC1,maya", "NOPE,maya"),
        encoding="utf-8",
    )
    status, out = await sync(api, export)
    assert status == 1
    assert "created=0 updated=1 unchanged=1 cancelled=1 refused=1" in out, out
    assert "A-1004: 422 unknown location code 'NOPE'" in out
    export.write_text(EXPORT.replace("A-1003", "A-1004"), encoding="utf-8")
    status, out = await sync(api, export)
    assert "created=1 updated=1 unchanged=1 cancelled=0 refused=0" in out, out
    gone = await api.get("/api/bookings/external/A-1003")
    assert gone["status"] == "cancelled"
    kept = await api.get("/api/bookings/external/A-1002")
    assert kept["status"] == "pending" and kept["attendees"][0]["name"] == "Béa"


@pytest.mark.slow  # the examples as separate processes
async def test_the_receiver_verifies_and_mirrors_what_it_is_sent(api: Api, tmp_path: Path) -> None:
    port = free_port()
    mirror = tmp_path / "bookings.json"
    made = await api.post("/api/webhooks", {"url": f"http://127.0.0.1:{port}/hooks"})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "webhook_receiver.py"),
        "--secret",
        made["secret"],
        "--port",
        str(port),
        "--mirror",
        str(mirror),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        while b"Running on" not in await process.stdout.readline():
            pass
        visit = {"type": "haircut", "location": "ANHQ", "staff": "camille@example.org"}
        first = await api.post("/api/bookings", {**visit, "start": "2027-03-01T10:00:00+01:00"})
        await api.patch(f"/api/bookings/{first['id']}", {"title": "Trim"})
        second = await api.post("/api/bookings", {**visit, "start": "2027-03-02T10:00:00+01:00"})
        await api.post(f"/api/bookings/{second['id']}/cancel", status=200)
        for _ in range(200):
            state = json.loads(mirror.read_text()) if mirror.exists() else {"seen": []}
            if len(state["seen"]) == 4:
                break
            await asyncio.sleep(0.05)
        assert state["bookings"][str(first["id"])]["title"] == "Trim"
        assert state["bookings"][str(second["id"])]["status"] == "cancelled"
        # A delivery sent again is applied once; a forged one is refused.
        deliveries = (await api.get(f"/api/webhooks/{made['id']}/deliveries"))["deliveries"]
        await api.post(
            f"/api/webhooks/{made['id']}/deliveries/{deliveries[-1]['id']}/redeliver", status=202
        )
        for _ in range(100):
            found = await api.get(f"/api/webhooks/{made['id']}/deliveries/{deliveries[-1]['id']}")
            if found["status"] == "delivered" and found["attempts"] == 2:
                break
            await asyncio.sleep(0.05)
        assert found["history"][-1]["status"] == 200
        assert len(json.loads(mirror.read_text())["seen"]) == 4
        forged = await api.client.session.post(
            f"http://127.0.0.1:{port}/hooks",
            data=b"{}",
            headers={"webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"},
        )
        assert forged.status == 401
    finally:
        process.terminate()
        await process.wait()
