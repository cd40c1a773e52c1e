"""A busy day on a small machine: a feed flood and a failed-login flood, and meanwhile the
latency of what people do: API writes, CalDAV requests and web app pages.

1. ``feedserver demo`` (``--bookings``), then ``feedserver serve`` (``--workers`` processes);
   one feed link for each personal account (about 30), a staff member's device password.
2. Probes alone: ``--seconds`` of API writes (PATCH a booking's title), CalDAV (PROPFIND
   depth 1 and a one-month calendar-query REPORT on the staff member's bookings calendar) and
   the web app (the signed-in /links page), one request at a time each, 10 a second.
3. The same probes under ``--clients`` feed clients (wrk, one connection each, polling the
   links at random, 80 % with the ETag they have: a 304) plus ``--attackers`` clients sending
   wrong passwords over HTTP Basic to /api/me and to CalDAV as fast as they are answered.

Prints a Markdown table: p50/p99 (ms) of each probe alone and under flood, the feed
requests/s, and the attackers' answers (429s once throttled). Needs ``wrk``.

The targets: ``--clients 1000 --caldav-clients 16 --caldav-interval 1 --writers 3
--attackers 0`` (16 CalDAV clients syncing once a second each, 3 writers ten times a second): feed
p50 < 100 ms and p99 < 1 s, CalDAV p99 < 500 ms, API write p99 < 300 ms, no errors.

Usage: python bench/flood.py [--clients 1000] [--attackers 32] [--seconds 20] [--workers 1]
                             [--caldav-clients 1] [--caldav-interval 0.1] [--writers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.process import serve  # noqa: E402

TOKEN = secrets.token_urlsafe(24)
WRK_SCRIPT = """
local paths = {}
local etags = {}
for line in io.lines("%(paths)s") do
  local path, etag = line:match("([^ ]+) ([^ ]+)")
  paths[#paths + 1] = path
  etags[#etags + 1] = etag
end
math.randomseed(%(seed)d)
request = function()
  local i = math.random(#paths)
  local headers = {["Accept-Encoding"] = "gzip"}
  if math.random() < 0.8 then headers["If-None-Match"] = etags[i] end
  return wrk.format("GET", paths[i], headers)
end
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Probe:
    """Requests people make, one at a time per kind, at a steady rate."""

    def __init__(self, base: str, staff: tuple[str, str], booking_ids: list[int]) -> None:
        self.base = base
        self.staff = staff
        self.booking_ids = booking_ids
        self.times: dict[str, list[float]] = {}
        self.statuses: Counter[str] = Counter()
        basic = base64.b64encode(f"{staff[0]}:{staff[1]}".encode()).decode()
        self.basic = {"Authorization": f"Basic {basic}"}
        self.admin = {"Authorization": f"Bearer {TOKEN}"}
        self.calendar = f"{base}/dav/{staff[0]}/bookings/"
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.report = (
            '<C:calendar-query xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            '<prop><getetag/></prop><C:filter><C:comp-filter name="VCALENDAR">'
            '<C:comp-filter name="VEVENT"><C:time-range '
            f'start="{start:%Y%m%dT%H%M%SZ}" end="{start + timedelta(days=30):%Y%m%dT%H%M%SZ}"/>'
            "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
        )

    async def _timed(
        self, session: aiohttp.ClientSession, kind: str, method: str, url: str, **kw: Any
    ) -> None:
        started = time.perf_counter()
        async with session.request(method, url, **kw) as response:
            await response.read()
            self.statuses[f"{kind} {response.status}"] += 1
        self.times.setdefault(kind, []).append((time.perf_counter() - started) * 1000)

    async def write(self, session: aiohttp.ClientSession, n: int) -> None:
        booking = self.booking_ids[n % len(self.booking_ids)]
        await self._timed(
            session,
            "API write",
            "PATCH",
            f"{self.base}/api/bookings/{booking}",
            json={"title": f"Probe {n}"},
            headers=self.admin,
        )

    async def caldav(self, session: aiohttp.ClientSession, n: int) -> None:
        if n % 2:
            await self._timed(
                session,
                "CalDAV",
                "PROPFIND",
                self.calendar,
                data=b'<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
                headers={**self.basic, "Depth": "1"},
            )
        else:
            await self._timed(
                session,
                "CalDAV",
                "REPORT",
                self.calendar,
                data=self.report.encode(),
                headers={**self.basic, "Depth": "1", "Content-Type": "application/xml"},
            )

    async def page(self, session: aiohttp.ClientSession, n: int) -> None:
        await self._timed(session, "web page", "GET", f"{self.base}/links")

    async def run(
        self,
        seconds: float,
        cookie: dict[str, str],
        writers: int = 1,
        caldav: int = 1,
        caldav_interval: float = 0.1,
    ) -> None:
        async def every(
            kind_call: Callable[[aiohttp.ClientSession, int], Awaitable[None]],
            session: aiohttp.ClientSession,
            interval: float = 0.1,
        ) -> None:
            n = 0
            deadline = time.monotonic() + seconds
            await asyncio.sleep(random.uniform(0, interval))  # the clients out of step
            while time.monotonic() < deadline:
                tick = time.monotonic()
                await kind_call(session, n)
                n += 1
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))

        timeout = aiohttp.ClientTimeout(total=60)
        async with (
            aiohttp.ClientSession(timeout=timeout) as api,
            aiohttp.ClientSession(timeout=timeout) as dav,
            aiohttp.ClientSession(timeout=timeout, cookies=cookie) as web,
        ):
            await asyncio.gather(
                *(every(self.write, api) for _ in range(writers)),
                *(every(self.caldav, dav, caldav_interval) for _ in range(caldav)),
                every(self.page, web),
            )


async def attack(base: str, login: str, clients: int, seconds: float) -> Counter[str]:
    """Wrong passwords over HTTP Basic, API and CalDAV, as fast as they are answered."""
    answers: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    async def attacker(session: aiohttp.ClientSession, number: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            secret = base64.b64encode(f"{login}:wrong-{number}-{n}".encode()).decode()
            url, method = (
                (f"{base}/api/me", "GET") if n % 2 else (f"{base}/dav/{login}/", "PROPFIND")
            )
            try:
                async with session.request(
                    method, url, headers={"Authorization": f"Basic {secret}", "Depth": "0"}
                ) as response:
                    await response.read()
                    answers[str(response.status)] += 1
            except aiohttp.ClientError:
                answers["error"] += 1
            n += 1

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(attacker(session, i) for i in range(clients)))
    return answers


def _attack_process(base: str, login: str, clients: int, seconds: float, out: Path) -> None:
    answers = asyncio.run(attack(base, login, clients, seconds))
    out.write_text(json.dumps(answers))


def api(base: str, method: str, path: str, body: object = None) -> object:
    import urllib.request

    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def sign_in(base: str, email: str, password: str) -> dict[str, str]:
    async def go() -> dict[str, str]:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.get(f"{base}/") as page:
                html = await page.text()
            csrf = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            async with session.post(
                f"{base}/sign-in",
                data={"csrf": csrf, "email": email, "password": password},
                headers={"Origin": base},
                allow_redirects=False,
            ) as response:
                assert response.status == 303, response.status
            return {c.key: c.value for c in session.cookie_jar}

    return asyncio.run(go())


def setup(base: str, data: Path, work: Path) -> tuple[tuple[str, str], list[int], Path]:
    accounts = [
        line.split()
        for line in (data / "demo-accounts.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    users = api(base, "GET", "/api/users")
    assert isinstance(users, dict)
    staff = next(u["email"] for u in users["users"] if u["role"] == "staff")
    password = next(p for e, p in accounts if e == staff)
    lines = []
    for user in users["users"]:
        link = api(base, "POST", "/api/feeds", {"user": user["id"]})
        assert isinstance(link, dict)
        path = "/feeds/" + link["url"].rsplit("/feeds/", 1)[1]
        import urllib.request

        with urllib.request.urlopen(base + path, timeout=60) as response:
            lines.append(f"{path} {response.headers['ETag']}")
    paths = work / "feeds.txt"
    paths.write_text("\n".join(lines) + "\n")
    found = api(base, "GET", f"/api/bookings?staff={staff}&limit=20")
    assert isinstance(found, dict)
    ids = [b["id"] for b in found["bookings"] if b.get("source", "api") == "api"]
    return (staff, password), ids, paths


def table(alone: Probe, flooded: Probe) -> str:
    rows = [
        "| probe (ms) | alone p50 | alone p99 | flood p50 | flood p99 | requests |",
        "|---|---|---|---|---|---|",
    ]
    for kind in ("API write", "CalDAV", "web page"):
        a, f = alone.times[kind], flooded.times[kind]
        rows.append(
            f"| {kind} | {statistics.median(a):.1f} | {percentile(a, 0.99):.1f} | "
            f"{statistics.median(f):.1f} | {percentile(f, 0.99):.1f} | {len(f)} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--attackers", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--writers", type=int, default=1, help="API writers, 10/s each")
    parser.add_argument("--caldav-clients", type=int, default=1, help="CalDAV clients")
    parser.add_argument(
        "--caldav-interval", type=float, default=0.1, help="seconds between a client's requests"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="flood-"))
    data = work / "data"
    env = {
        "FEEDSERVER_SECURITY_ADMIN_TOKEN": TOKEN,
        "FEEDSERVER_LOGGING_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "feedserver", "demo", "--bookings", str(args.bookings)],
        env={**os.environ, **env, "FEEDSERVER_STORAGE_DATA_DIR": str(data)},
        check=True,
        capture_output=True,
    )
    try:
        workers = ["--workers", str(args.workers)] if args.workers > 1 else []
        with serve(data, env, timeout=120, args=workers) as (base, _process):
            staff, booking_ids, paths = setup(base, data, work)
            cookie = sign_in(base, *staff)
            alone = Probe(base, staff, booking_ids)
            mix = (args.writers, args.caldav_clients, args.caldav_interval)
            asyncio.run(alone.run(args.seconds, cookie, *mix))
            script = work / "feeds.lua"
            script.write_text(WRK_SCRIPT % {"paths": paths, "seed": random.randrange(1 << 30)})
            wrk = subprocess.Popen(
                [
                    "wrk",
                    "-t1",
                    "--latency",
                    f"-c{args.clients}",
                    f"-d{args.seconds + 6}s",
                    "--timeout",
                    "30s",
                    "-s",
                    str(script),
                    base,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            answers = work / "attack.json"
            import multiprocessing

            attackers = multiprocessing.Process(
                target=_attack_process,
                args=(base, staff[0], args.attackers, args.seconds + 4, answers),
            )
            if args.attackers:
                attackers.start()
            else:
                answers.write_text("{}")
            time.sleep(3)  # the floods at full speed first
            flooded = Probe(base, staff, booking_ids)
            asyncio.run(flooded.run(args.seconds, cookie, *mix))
            if args.attackers:
                attackers.join()
            out, _ = wrk.communicate()
        rps = next((line.split()[1] for line in out.splitlines() if "Requests/sec" in line), "?")
        print(
            f"feedserver flood benchmark: {args.workers} worker(s), {args.clients} feed "
            f"clients, {args.caldav_clients} CalDAV clients (one request every "
            f"{args.caldav_interval} s each), {args.writers} API writers (10/s each),"
        )
        print(f"{args.attackers} failed-login clients, {args.seconds} s each phase\n")
        print(table(alone, flooded))
        latency = dict(
            line.split()[:2]
            for line in out.splitlines()
            if line.strip().startswith(("50%", "90%", "99%"))
        )
        errors = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "rrors" in line]
        print(
            f"\nfeed requests/s under flood: {rps}; feed latency p50 {latency.get('50%')}, "
            f"p90 {latency.get('90%')}, p99 {latency.get('99%')}; errors: {errors or 'none'}"
        )
        print(f"failed-login answers: {json.loads(answers.read_text())}")
        bad = {k: v for k, v in flooded.statuses.items() if not k.endswith((" 200", " 207"))}
        if bad:
            print(f"unexpected probe answers: {bad}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
