"""Writing bookings into people's own calendar accounts, at scale, over real HTTP on loopback.

1. Stock Radicale and Xandikos as two CalDAV servers (separate processes), ``feedserver
   serve`` (``--database`` for PostgreSQL); ``--accounts`` staff members, each with a
   connected account, half on each server (Radicale: one user each, a calendar made at
   connection; Xandikos: one calendar each), the first resyncs done.
2. A burst: ``--changes`` bookings made through the API (``--parallel`` at a time, spread
   over every staff member), timing each write.
3. Until every event is in place: the queue is empty and every account holds its bookings.
   Meanwhile a probe makes one API write every 50 ms (writes while the writer is busy).
4. Per change, the time from its booking's change to its event written
   (``feedserver_calendar_write_seconds`` at ``/metrics``: p50 and p95 by bucket); per
   account, when its last event was written (no account starved); what the servers hold.

``--rate`` paces the changes (a second's worth at a time) instead of a burst: what a change
waits when the servers keep up. Prints a Markdown table. Usage:
python bench/calendar_accounts.py [--accounts 500] [--changes 5000] [--parallel 16]
                                  [--rate 0] [--database postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.calendar_servers import CalendarServer  # noqa: E402
from tests.process import serve  # noqa: E402

TOKEN = secrets.token_urlsafe(24)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> Any:
    async with http.request(method, path, headers=HEADERS, **kw) as response:
        body = await response.read()
        assert response.status < 300, (method, path, response.status, body[:300])
        return json.loads(body) if body else None


async def _gather(limit: int, jobs: list[Any]) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with semaphore:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))


def _bucket_percentile(text: str, q: float) -> float:
    """The upper bound of the bucket holding the q-quantile of a Prometheus histogram."""
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        if line.startswith("feedserver_calendar_write_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    total = buckets[-1][1]
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return float("inf")


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        radicale = CalendarServer("radicale", root / "radicale").start()
        xandikos = CalendarServer("xandikos", root / "xandikos").start()
        data = root / "data"
        env = {
            "FEEDSERVER_SECURITY_ADMIN_TOKEN": TOKEN,
            "FEEDSERVER_CALENDAR_ACCOUNTS_ALLOW_PRIVATE_NETWORKS": "true",
            "FEEDSERVER_STORAGE_DATA_DIR": str(data),
        }
        if args.database:
            env["FEEDSERVER_DATABASE_URL"] = args.database
        try:
            with serve(data, env, timeout=60) as (base, _process):
                await _bench(args, base, radicale, xandikos)
        finally:
            radicale.stop()
            xandikos.stop()


async def _bench(
    args: argparse.Namespace, base: str, radicale: CalendarServer, xandikos: CalendarServer
) -> None:
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base, connector=connector) as http:
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
        people = [f"s{i}@bench.example" for i in range(args.accounts)]
        await _gather(
            16,
            [
                _call(http, "POST", "/api/users", json={"email": e, "name": e, "role": "staff"})
                for e in people
            ],
        )
        began = time.perf_counter()

        async def connect(i: int) -> None:
            body: dict[str, Any] = {"user": people[i], "name": f"account {i}", "busy": False}
            if i % 2 == 0:
                body |= {"url": radicale.base + "/", "username": f"person{i // 2}"}
                body["password"] = f"pw{i // 2}"
            else:
                calendar = f"/user/calendars/a{i}/"
                status, _, text = await asyncio.to_thread(xandikos.request, "MKCALENDAR", calendar)
                assert status == 201, (status, text[:200])
                body |= {"url": xandikos.base + "/", "username": "user", "password": "x"}
                body["calendar"] = xandikos.base + calendar
            await _call(http, "POST", "/api/calendar-accounts", json=body)

        await _gather(8, [connect(i) for i in range(args.accounts)])
        connected = time.perf_counter() - began
        await _drained(http)

        # The burst.
        writes: list[float] = []
        first = datetime(2031, 3, 3, 8, tzinfo=UTC)

        async def book(n: int) -> None:
            staff = people[n % args.accounts]
            turn = n // args.accounts  # the staff member's nth booking: 16 a day
            at = first + timedelta(minutes=30 * (turn % 16), days=turn // 16)
            body = {"type": "visit", "location": "HQ", "staff": staff, "start": at.isoformat()}
            started = time.perf_counter()
            await _call(http, "POST", "/api/bookings", json=body)
            writes.append((time.perf_counter() - started) * 1000)

        burst_began = time.perf_counter()
        wall_began = datetime.now(UTC)
        if args.rate:  # paced: one change every 1/rate seconds
            pending = []
            for n in range(args.changes):
                pending.append(asyncio.create_task(book(n)))
                await asyncio.sleep(
                    max(0.0, burst_began + (n + 1) / args.rate - time.perf_counter())
                )
            await asyncio.gather(*pending)
        else:
            await _gather(args.parallel, [book(n) for n in range(args.changes)])
        burst_sent = time.perf_counter() - burst_began

        probes: list[float] = []
        probe_booking = await _call(
            http,
            "POST",
            "/api/bookings",
            json={
                "type": "visit",
                "location": "HQ",
                "staff": people[0],
                "start": "2032-01-05T10:00:00Z",
            },
        )
        stop = asyncio.Event()

        async def probe() -> None:
            n = 0
            while not stop.is_set():
                started = time.perf_counter()
                await _call(
                    http, "PATCH", f"/api/bookings/{probe_booking['id']}", json={"title": f"p{n}"}
                )
                probes.append((time.perf_counter() - started) * 1000)
                n += 1
                await asyncio.sleep(0.05)

        prober = asyncio.create_task(probe())
        await _drained(http)
        in_place = time.perf_counter() - burst_began
        stop.set()
        await prober

        listed = (await _call(http, "GET", "/api/calendar-accounts"))["calendar_accounts"]
        # Accounts were connected several at a time: their order is their names'.
        accounts = sorted(listed, key=lambda a: int(a["name"].split()[1]))
        expected = {a["id"]: 0 for a in accounts}
        for n in range(args.changes):
            expected[accounts[n % args.accounts]["id"]] += 1
        expected[accounts[0]["id"]] += 1  # the probe's booking
        short = [a for a in accounts if a["events_written"] < expected[a["id"]]]
        failing = [a for a in accounts if a["status"] != "ok"]
        done_at = [
            (datetime.fromisoformat(a["last_written_at"]) - wall_began).total_seconds()
            for a in accounts
            if a["last_written_at"]
        ]
        async with http.get("/metrics", headers=HEADERS) as response:
            metrics = await response.text()
        p50 = _bucket_percentile(metrics, 0.5)
        p95 = _bucket_percentile(metrics, 0.95)
        sample = [accounts[0], accounts[1]]
        held = []
        for account in sample:
            server = radicale if account["url"].startswith(radicale.base) else xandikos
            path = account["calendar"]["url"].removeprefix(server.base)
            login = (
                {"user": account["username"], "password": f"pw{int(account['username'][6:])}"}
                if server is radicale
                else {"user": "user", "password": "x"}
            )
            found = await asyncio.to_thread(server.events, path, **login)
            held.append(len([n for n in found if n.startswith("feedserver-")]))

    backend = "PostgreSQL" if args.database else "SQLite"
    pace = f"{args.rate:g}/s" if args.rate else "burst"
    what = f"{backend}, {args.accounts} accounts, {args.changes} changes, {pace}"
    print(f"| measure ({what}) | result |")
    print("|---|---|")
    print(f"| accounts connected (discovery, a calendar made or chosen) | {connected:.1f} s |")
    print(
        f"| changes sent through the API | {burst_sent:.1f} s, write "
        f"p50 / p99 {_pct(writes, 0.5):.1f} / {_pct(writes, 0.99):.1f} ms |"
    )
    print(f"| every event in place, from the burst's first write | {in_place:.1f} s |")
    print(
        f"| per change, its booking's change to its event written | p50 ≤ {p50:g} s, "
        f"p95 ≤ {p95:g} s (histogram bucket) |"
    )
    probed = f"{_pct(probes, 0.5):.1f} / {_pct(probes, 0.99):.1f}" if probes else "-"
    print(
        f"| API writes while the writer drains (one every 50 ms) | p50 / p99 {probed} ms "
        f"({len(probes)} writes) |"
    )
    print(
        f"| accounts' last event written, after the burst began | min / median / max "
        f"{min(done_at):.0f} / {_pct(done_at, 0.5):.0f} / {max(done_at):.0f} s |"
    )
    print(f"| accounts short of events / not ok | {len(short)} / {len(failing)} |")
    wanted = [expected[a["id"]] for a in sample]
    print(f"| events held by two accounts' calendars (expected {wanted}) | {held} |")


async def _drained(http: aiohttp.ClientSession) -> None:
    while True:
        health = await _call(http, "GET", "/healthz")
        if health["calendar_writes_waiting"] == 0:
            return
        await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--changes", type=int, default=5000)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument(
        "--rate", type=float, default=0, help="changes a second (default: all at once)"
    )
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: SQLite)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
