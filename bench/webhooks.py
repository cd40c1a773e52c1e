"""What webhooks cost and how fast they go, over real HTTP on loopback.

1. ``feedserver init`` and ``feedserver serve`` (``--database`` for PostgreSQL), a location, a
   type and a staff member; a receiver in this process that verifies every delivery's
   signature with the ``standardwebhooks`` package, as a booking system would.
2. API writes (POST a booking, then PATCH it), ``--writes`` of each one at a time: with no
   webhook, then with one endpoint hearing every event (what an event and its delivery add
   to a write).
3. Latency: from a PATCH sent to the receiver holding its verified event (p50/p99).
4. A burst: ``--burst`` bookings imported at once (one CSV): from the start of the upload to
   the last event verified at the receiver, and deliveries per second.

Prints a Markdown table. Usage: python bench/webhooks.py [--writes 300] [--burst 5000]
                                                      [--database postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.process import free_port, serve  # noqa: E402

TOKEN = secrets.token_urlsafe(24)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.signer: Webhook | None = None
        self.seen: dict[str, float] = {}  # webhook-id -> when it was verified
        self.by_booking: dict[int, list[float]] = {}
        self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        assert self.signer is not None
        try:
            event = self.signer.verify(body, dict(request.headers))
        except Exception:
            self.refused += 1
            return web.Response(status=401)
        now = time.perf_counter()
        self.seen.setdefault(request.headers["webhook-id"], now)
        booking = event["data"].get("booking", {}).get("id")
        if booking is not None:
            self.by_booking.setdefault(booking, []).append(now)
        return web.Response(text="ok")

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        return runner


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> Any:
    headers = {**HEADERS, **kw.pop("headers", {})}
    async with http.request(method, path, headers=headers, **kw) as response:
        body = await response.read()
        assert response.status < 300, (method, path, response.status, body[:300])
        return json.loads(body) if body else None


async def _book(http: aiohttp.ClientSession, start: str) -> Any:
    """A visit with the staff member at ``start`` (ISO 8601)."""
    body = {"type": "visit", "location": "HQ", "staff": "s@bench.example", "start": start}
    return await _call(http, "POST", "/api/bookings", json=body)


async def _writes(http: aiohttp.ClientSession, count: int, day: int) -> list[float]:
    """Milliseconds of each write: a booking made, then moved."""
    found = []
    start = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=day)
    for n in range(count):
        at = start + timedelta(hours=n % 10, days=n // 10)
        began = time.perf_counter()
        made = await _book(http, at.isoformat())
        found.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        await _call(http, "PATCH", f"/api/bookings/{made['id']}", json={"title": f"n{n}"})
        found.append((time.perf_counter() - began) * 1000)
    return found


async def run(args: argparse.Namespace) -> None:
    receiver = Receiver()
    runner = await receiver.start()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        env = {
            "FEEDSERVER_SECURITY_ADMIN_TOKEN": TOKEN,
            "FEEDSERVER_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
            "FEEDSERVER_STORAGE_DATA_DIR": str(data),
        }
        if args.database:
            env["FEEDSERVER_DATABASE_URL"] = args.database
        with serve(data, env, timeout=60) as (base, _process):
            async with aiohttp.ClientSession(base) as http:
                await _call(
                    http,
                    "POST",
                    "/api/locations",
                    json={"code": "HQ", "name": "HQ", "timezone": "Europe/Paris"},
                )
                await _call(
                    http,
                    "POST",
                    "/api/types",
                    json={"key": "visit", "name": "Visit", "duration_minutes": 30},
                )
                await _call(
                    http,
                    "POST",
                    "/api/users",
                    json={"email": "s@bench.example", "name": "S", "role": "staff"},
                )
                plain = await _writes(http, args.writes, 0)
                made = await _call(
                    http,
                    "POST",
                    "/api/webhooks",
                    json={"url": f"http://127.0.0.1:{receiver.port}/hooks"},
                )
                receiver.signer = Webhook(made["secret"])
                hooked = await _writes(http, args.writes, 400)
                # Latency: a PATCH sent, then its event verified at the receiver.
                await asyncio.sleep(1)
                latencies = []
                booking = await _book(http, "2031-06-01T10:00:00+02:00")
                for n in range(args.writes):
                    before = len(receiver.by_booking.get(booking["id"], []))
                    answered = time.perf_counter()  # the PATCH is sent
                    await _call(
                        http, "PATCH", f"/api/bookings/{booking['id']}", json={"title": f"l{n}"}
                    )

                    while len(receiver.by_booking.get(booking["id"], [])) <= before:
                        await asyncio.sleep(0.0005)
                    latencies.append((receiver.by_booking[booking["id"]][-1] - answered) * 1000)
                # A burst: one import.
                rows = ["type,location,staff,start,end"]
                first = datetime(2032, 1, 1, 6, tzinfo=UTC)
                for n in range(args.burst):
                    at = first + timedelta(minutes=30 * (n % 24), days=n // 24)
                    rows.append(
                        f"visit,HQ,s@bench.example,{at.isoformat()},"
                        f"{(at + timedelta(minutes=30)).isoformat()}"
                    )
                expected = len(receiver.seen) + args.burst
                began = time.perf_counter()
                report = await _call(
                    http,
                    "POST",
                    "/api/bookings/import",
                    data="\n".join(rows).encode(),
                    headers={"Content-Type": "text/csv"},
                )
                imported = time.perf_counter() - began
                assert report["imported"] == args.burst, report
                while len(receiver.seen) < expected:
                    await asyncio.sleep(0.01)
                burst = time.perf_counter() - began
    await runner.cleanup()
    backend = "PostgreSQL" if args.database else "SQLite"
    print(f"| measure ({backend}) | result |")
    print("|---|---|")
    print(
        f"| API write p50 / p99, no webhook | {_pct(plain, 0.5):.1f} / {_pct(plain, 0.99):.1f} ms |"
    )
    print(
        f"| API write p50 / p99, one webhook | {_pct(hooked, 0.5):.1f} / "
        f"{_pct(hooked, 0.99):.1f} ms |"
    )
    print(
        f"| PATCH sent to its event verified at the receiver, p50 / p99 | "
        f"{_pct(latencies, 0.5):.1f} / {_pct(latencies, 0.99):.1f} ms |"
    )
    print(
        f"| {args.burst} bookings imported, then all delivered | {imported:.2f} s import, "
        f"{burst:.2f} s to the last delivery ({args.burst / burst:,.0f}/s) |"
    )
    print(f"| signatures refused by the receiver | {receiver.refused} |")
    print(
        f"\nmean write, no webhook {statistics.mean(plain):.2f} ms; "
        f"one webhook {statistics.mean(hooked):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: SQLite)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
