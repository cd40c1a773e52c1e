"""Webhook delivery through what goes wrong: a receiver down for 30 seconds, then failing, then
well; a feedserver process stopped in the middle of its deliveries and started again. Each
event must arrive once, and a booking's events in order."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from feedserver.app import create_app
from feedserver.config import Config, with_changes
from tests.conftest import ADMIN_TOKEN, BACKEND, Api, make_org
from tests.process import free_port, spawn, wait_until_up
from tests.receiver import Receiver

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VISIT = {
    "type": "haircut",
    "location": "ANHQ",
    "staff": "camille@example.org",
    "attendees": [{"email": "alice@example.com"}],
}


def in_order(received: list[Any]) -> dict[int, list[int]]:
    """Event numbers per booking, in the order they were accepted."""
    per_booking: dict[int, list[int]] = defaultdict(list)
    for delivery in received:
        per_booking[delivery.body["data"]["booking"]["id"]].append(
            int(delivery.message_id.removeprefix("evt_"))
        )
    return per_booking


@pytest.mark.skipif(BACKEND == "postgresql", reason="the same delivery code on both stores")
async def test_a_receiver_down_for_30_s_then_failing_gets_each_event_once_in_order(
    aiohttp_server: Any, aiohttp_client: Any, config: Config
) -> None:
    app = create_app(
        with_changes(
            config,
            webhooks={"allow_private_networks": True, "retry_schedule_seconds": [1.0] * 60},
        )
    )
    server = await aiohttp_server(app)
    api = Api(await aiohttp_client(server), ADMIN)
    await make_org(api)
    receiver = Receiver(answers=[500, 500, 500])  # not started: the port refuses
    made = await api.post("/api/webhooks", {"url": receiver.url})
    receiver.secrets.append(made["secret"])
    down_since = time.monotonic()
    first = await api.post("/api/bookings", {**VISIT, "start": "2027-09-01T10:00:00+02:00"})
    second = await api.post("/api/bookings", {**VISIT, "start": "2027-09-02T10:00:00+02:00"})
    await api.patch(f"/api/bookings/{first['id']}", {"title": "Moved in"})
    await api.patch(f"/api/bookings/{second['id']}", {"start": "2027-09-02T11:00:00+02:00"})
    await api.post(f"/api/bookings/{first['id']}/cancel", status=200)
    await asyncio.sleep(30 - (time.monotonic() - down_since))
    path = f"/api/webhooks/{made['id']}/deliveries"
    waiting = (await api.get(path))["deliveries"]
    assert {d["status"] for d in waiting} <= {"pending", "sending"}
    assert max(d["attempts"] for d in waiting) >= 10  # tried all along, and still queued
    assert all("Connect" in d["last_error"] for d in waiting if d["attempts"])
    await receiver.start()
    try:
        found = await receiver.wait_for(5, timeout=30)
    finally:
        await receiver.stop()
    assert [d.status for d in receiver.received[:3]] == [500, 500, 500]
    assert Counter(receiver.accepted_ids()) == Counter({d.message_id: 1 for d in found})
    assert len(found) == 5 and receiver.refused == []
    order = in_order(found)
    assert [len(order[first["id"]]), len(order[second["id"]])] == [3, 2]
    assert all(ids == sorted(ids) for ids in order.values())
    types = [d.body["type"] for d in found if d.body["data"]["booking"]["id"] == first["id"]]
    assert types == ["booking.created", "booking.updated", "booking.cancelled"]


async def test_a_process_stopped_mid_delivery_sends_nothing_twice(
    tmp_path: Path, database_url: str
) -> None:
    receiver = Receiver(delay=0.3)  # slow: the stop comes while deliveries are in flight
    await receiver.start()
    port = free_port()
    env = {
        "FEEDSERVER_SECURITY_ADMIN_TOKEN": ADMIN_TOKEN,
        "FEEDSERVER_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
        "FEEDSERVER_WEBHOOKS_CONCURRENCY": "2",
        "FEEDSERVER_CLUSTER_NODE_NAME": "node-a",
    }
    if "://" in database_url:
        env["FEEDSERVER_DATABASE_URL"] = database_url
    log = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    process = spawn(tmp_path / "data", port, log, env)
    try:
        wait_until_up(f"{base}/readyz", 60, process)
        async with aiohttp.ClientSession(base, headers=ADMIN) as http:
            api = Api(cast(Any, http), ADMIN)  # the same request() as a test client
            await make_org(api)
            made = await api.post("/api/webhooks", {"url": receiver.url})
            receiver.secrets.append(made["secret"])
            for n in range(20):
                await api.post(
                    "/api/bookings", {**VISIT, "start": f"2027-10-{n + 1:02d}T10:00:00+02:00"}
                )
        await receiver.wait_for(4, timeout=30)
        process.send_signal(signal.SIGTERM)  # mid-delivery: 2 in flight, the rest queued
        assert await asyncio.to_thread(process.wait, 30) == 0
        stopped_with = len(receiver.accepted())
        assert stopped_with < 20, "every delivery was sent before the stop: nothing tested"
        process = spawn(tmp_path / "data", port, log, env)
        wait_until_up(f"{base}/readyz", 60, process)
        found = await receiver.wait_for(20, timeout=60)
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
        await receiver.stop()
    assert len(receiver.received) == 20, Counter(d.message_id for d in receiver.received)
    assert len(set(d.message_id for d in found)) == 20
    assert "webhook deliveries interrupted" not in log.read_text()  # a clean stop
