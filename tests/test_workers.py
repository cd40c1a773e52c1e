"""``feedserver serve --workers 3``: three processes on one port over one store (the SQLite file
in WAL mode, or PostgreSQL). 200 notifications and 200 reminders fall due while they run: each
reaches the real SMTP sink exactly once. A feed link made through one worker is served by all
at once. SIGTERM to the parent stops every worker cleanly."""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import ADMIN_TOKEN
from tests.process import free_port, spawn, wait_until_up
from tests.smtp_sink import SmtpServer

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GUESTS = 200


async def _post(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(path, json=body) as response:
        assert response.status == 201, await response.text()
        found: dict[str, Any] = await response.json()
        return found


async def test_three_workers_send_each_notification_and_reminder_once(
    tmp_path: Path, database_url: str
) -> None:
    smtp = SmtpServer()
    smtp.sink.delay = 0.005  # a server that takes its time: the workers' claims interleave
    smtp.start()
    port = free_port()
    env = {
        "FEEDSERVER_SECURITY_ADMIN_TOKEN": ADMIN_TOKEN,
        "FEEDSERVER_SMTP_HOST": "127.0.0.1",
        "FEEDSERVER_SMTP_PORT": str(smtp.port),
        "FEEDSERVER_SMTP_SECURITY": "none",
        "FEEDSERVER_SMTP_SENDER": "bookings@salon.example",
        "FEEDSERVER_NOTIFICATIONS_DEFAULT_REMINDERS": "1 attendees",
        "FEEDSERVER_NOTIFICATIONS_REMINDER_POLL_SECONDS": "1",
    }
    if "://" in database_url:
        env["FEEDSERVER_DATABASE_URL"] = database_url
    log = tmp_path / "serve.log"
    parent = spawn(tmp_path / "data", port, log, env, ["--workers", "3"])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/readyz", 60, parent)
        # Every booking starts 70 s from now: its reminder, a minute before, falls due
        # 10 s from now, while the workers are busy sending the confirmations.
        start = (datetime.now(UTC) + timedelta(seconds=70)).replace(microsecond=0)
        began = time.monotonic()
        async with aiohttp.ClientSession(base, headers=ADMIN) as http:
            await _post(
                http, "/api/locations", {"code": "ANHQ", "name": "HQ", "timezone": "Europe/Paris"}
            )
            await _post(
                http, "/api/types", {"key": "visit", "name": "Visit", "duration_minutes": 30}
            )
            gate = asyncio.Semaphore(16)

            async def book(n: int) -> None:
                async with gate:
                    staff = f"staff-{n}@example.org"
                    await _post(
                        http, "/api/users", {"email": staff, "name": f"Staff {n}", "role": "staff"}
                    )
                    await _post(
                        http,
                        "/api/bookings",
                        {
                            "type": "visit",
                            "location": "ANHQ",
                            "staff": staff,
                            "start": start.isoformat(),
                            "attendees": [{"email": f"guest-{n}@example.com", "name": "Guest"}],
                        },
                    )

            await asyncio.gather(*(book(n) for n in range(GUESTS)))
            booking_seconds = time.monotonic() - began
            assert datetime.now(UTC) < start - timedelta(seconds=60), booking_seconds
            # A link made through one worker is served at once by every worker (the
            # connections land on any of the three).
            for n in range(3):
                link = await _post(http, "/api/feeds", {"user": f"staff-{n}@example.org"})
                path = "/feeds/" + link["url"].split("/feeds/")[1]
                for _ in range(6):
                    async with aiohttp.ClientSession(base) as fresh, fresh.get(path) as got:
                        assert got.status == 200, await got.text()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                async with http.get("/api/notifications?limit=1000") as response:
                    queued = (await response.json())["notifications"]
                reminders = [m for m in queued if m["kind"] == "reminder"]
                if len(reminders) == GUESTS and all(m["status"] == "sent" for m in queued):
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)  # time for a message sent twice to show up
        received = list(smtp.sink.received)
        statuses = collections.Counter((m["kind"], m["status"]) for m in queued)
        assert statuses[("reminder", "sent")] == GUESTS, statuses
        assert all(status == "sent" for _, status in statuses), statuses
        # Each queued message reached the sink once: as many as queued, none twice.
        ids = [str(m["Message-ID"]) for m in received]
        assert len(ids) == len(set(ids)) == len(queued), (len(ids), len(queued))
        per_guest = collections.Counter(str(m["To"]) for m in received if "guest-" in str(m["To"]))
        assert len(per_guest) == GUESTS and set(per_guest.values()) == {2}  # booked, reminded
        # The work was shared: every worker sent some of it.
        senders = collections.Counter(
            line.split("node=")[1].split()[0]
            for line in log.read_text().splitlines()
            if "notification sent" in line
        )
        assert sum(senders.values()) == len(queued) and len(senders) == 3, senders
    finally:
        parent.send_signal(signal.SIGTERM)
        code = parent.wait(60)
        smtp.stop()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert text.count("worker stopped") == 3 and "Traceback" not in text
