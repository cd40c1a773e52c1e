"""Feed serving benchmark: feedserver against an in-memory aiohttp handler and Radicale.

For each N it builds a database of N bookings, starts the real server (``feedserver serve``)
and, beside it, a bare aiohttp handler returning the same bytes from memory with the same
ETag logic (``bench/reference_server.py``), and measures on loopback with load from a
separate process (wrk when installed, else an aiohttp client pool):

- cold render after a change: a booking is changed through the API, then the next GET is
  timed (median of several rounds), i.e. invalidation + query + fragment assembly + gzip;
- warm GET requests/s and 304 (If-None-Match) requests/s of both servers, with identical wrk
  settings, at each connection count, repeated (the two servers take turns, so drift in the
  machine's speed hits both alike): the table shows the median ratio and its spread;
- optionally, stock Radicale serving the same bookings as a calendar collection.

With ``--workers 1,2`` it measures instead, on one feed of the first size: feedserver with
each number of workers (``serve --workers``), the bare handler, nginx serving the same bytes
as a static file (its own ETag: the ceiling), and nginx with the reference configuration's
one-second feed cache in front of one feedserver worker (``config/deploy/nginx.conf``): one
table, each server measured in turn in every repetition.

Usage: python bench/feeds.py [--sizes 100,2000,10000] [--duration 4] [--connections 8,32]
                             [--repeats 3] [--radicale] [--caldav-items 2000]
       python bench/feeds.py --workers 1,2 [--sizes 2000] [--connections 64]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedserver import config as config_mod  # noqa: E402
from feedserver import instance_secrets  # noqa: E402
from feedserver.domain import accounts, catalog  # noqa: E402
from feedserver.domain import feed_links as links  # noqa: E402
from feedserver.domain.feed_links import FeedUrls  # noqa: E402
from feedserver.model import Attendee, BookingRecord, Status  # noqa: E402
from feedserver.store import Store  # noqa: E402
from feedserver.tokens import LinkSigner  # noqa: E402
from tests import nginx  # noqa: E402
from tests.process import free_port, serve, spawn, wait_until_up  # noqa: E402

ZONES = ["Europe/Paris", "America/New_York", "Europe/Berlin", "Asia/Tokyo"]


def build(data_dir: Path, n: int, staff_count: int = 20) -> tuple[str, str, int]:
    """Database with N confirmed bookings; returns (admin token, feed path, a booking id)."""
    config = config_mod.load(None, environ={}, overrides={"storage.data_dir": str(data_dir)})
    secrets = instance_secrets.load_or_create(config)
    store = Store(config.database_path)
    for i, zone in enumerate(ZONES):
        catalog.create_location(
            store,
            {
                "code": f"LOC{i}",
                "name": f"Location {i}",
                "address": f"{i} Main Street",
                "timezone": zone,
            },
        )
    catalog.create_type(
        store,
        {"key": "session", "name": "Session", "duration_minutes": 45, "buffer_after_minutes": 15},
    )
    owner = accounts.create_user(
        store,
        {
            "email": "owner@bench.test",
            "name": "Owner",
            "role": "admin",
            "password": "bench-password",
        },
    )
    staff = [
        accounts.create_user(
            store,
            {
                "email": f"staff{i}@bench.test",
                "name": f"Staff {i}",
                "role": "staff",
                "password": "bench-password",
            },
        )
        for i in range(staff_count)
    ]
    type_id = store.types.get("session").id
    locations = store.locations.list()
    start0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=20)
    now = datetime.now(UTC).replace(microsecond=0)
    first_id = 0
    with store.transaction():
        for i in range(n):
            member = staff[i % len(staff)]
            location = locations[i % len(locations)]
            start = start0 + timedelta(hours=(i // len(staff)) * 7 % (24 * 300))
            booking = store.bookings.create(
                BookingRecord(
                    uid=f"bench-{i}@feedserver",
                    type_id=type_id,
                    location_id=location.id,
                    staff_id=member.id,
                    start=start,
                    end=start + timedelta(minutes=45),
                    last_end=start + timedelta(minutes=45),
                    timezone=location.timezone,
                    all_day=False,
                    rrule=None,
                    exdates=(),
                    status=Status.CONFIRMED,
                    title="",
                    notes=f"Benchmark booking {i} — ünïcødé",
                    sequence=0,
                    source="api",
                    created_at=now,
                    updated_at=now,
                ),
                [Attendee(f"guest{i}@example.com", f"Guest {i}")],
                "session",
                location.code,
            )
            first_id = first_id or booking.id
    link = links.create_link(
        store, {"user": owner.email, "scope": "all", "name": "Everything", "show_attendees": True}
    )
    store.close()
    url = FeedUrls("http://x", LinkSigner(secrets.secret_keys, "feed-link")).https(link)
    return secrets.admin_token, url.removeprefix("http://x"), first_id


def wait_for_publisher(base: str, timeout: float = 600) -> None:
    """The first start publishes every booking into CalDAV: measure after it, not during."""
    deadline = time.monotonic() + timeout
    while json.loads(fetch(f"{base}/healthz")[1]).get("caldav_lag", 0) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the CalDAV publisher did not catch up")
        time.sleep(0.5)


def wait_for_status(url: str, timeout: float = 30) -> None:
    """Wait until the server answers at all (any HTTP status)."""
    deadline = time.monotonic() + timeout
    while fetch(url)[0] == 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer")
        time.sleep(0.1)


def load(url: str, headers: dict[str, str], duration: int, connections: int) -> float:
    """Requests per second from a separate process."""
    if shutil.which("wrk"):
        args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "60s", url]
        for name, value in headers.items():
            args[1:1] = ["-H", f"{name}: {value}"]
        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        if "Non-2xx or 3xx" in out or "Socket errors" in out:
            raise RuntimeError(f"errors under load:\n{out}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            url,
            str(duration),
            str(connections),
            json.dumps(headers),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["rps"])


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, b"", dict(exc.headers)
    except OSError:
        return 0, b"", {}


def cold_render_ms(base: str, token: str, path: str, booking_id: int, rounds: int = 7) -> float:
    timings = []
    for i in range(rounds):
        body = json.dumps({"title": f"changed {i}"}).encode()
        request = urllib.request.Request(
            f"{base}/api/bookings/{booking_id}",
            data=body,
            method="PATCH",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=30).read()
        started = time.perf_counter()
        status, _, _ = fetch(base + path)
        timings.append((time.perf_counter() - started) * 1000)
        assert status == 200
    return statistics.median(timings)


def start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, stdout=log.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )


@contextmanager
def stock_radicale(work: Path) -> Iterator[str]:
    """Stock Radicale (any login, each user's own tree) on a free port; yields its base URL."""
    port = free_port()
    process = start(
        [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(work / "radicale"),
            "--auth-type",
            "none",
            "--rights-type",
            "owner_only",
            "--web-type",
            "none",
            "--logging-level",
            "warning",
        ],
        work / "radicale.log",
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_status(f"{base}/.well-known/caldav")
        yield base
    finally:
        process.terminate()
        process.wait()


def radicale_rate(work: Path, body: bytes, duration: int) -> float:
    with stock_radicale(work) as base:
        auth = {"Authorization": "Basic " + base64.b64encode(b"bench:bench").decode()}
        request = urllib.request.Request(
            f"{base}/bench/calendar/",
            data=body,
            method="PUT",
            headers={"Content-Type": "text/calendar; charset=utf-8", **auth},
        )
        urllib.request.urlopen(request, timeout=600).read()
        fetch(f"{base}/bench/calendar/", auth)  # the first GET builds Radicale's item cache
        # Radicale renders the collection for each GET (no 304): a few connections suffice to
        # keep its threads busy, more only time out.
        return load(f"{base}/bench/calendar/", auth, max(duration, 10), 4)


@dataclass
class Rates:
    """Requests/s of feedserver and of the reference, one pair per repetition."""

    ours: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.ours, self.reference, strict=True)]

    def cell(self) -> str:
        ratios = self.ratios()
        return (
            f"{statistics.median(self.ours):.0f} | {statistics.median(self.reference):.0f} "
            f"| {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
        )


@contextmanager
def reference_server(work: Path, body: bytes, path: str) -> Iterator[str]:
    """The bare handler, serving ``body`` at ``path`` (the feed's own path: same requests)."""
    (work / "feed.ics").write_bytes(body)
    port = free_port()
    process = start(
        [
            sys.executable,
            str(ROOT / "bench" / "reference_server.py"),
            str(work / "feed.ics"),
            str(port),
            path,
        ],
        work / "reference.log",
    )
    try:
        url = f"http://127.0.0.1:{port}{path}"
        wait_until_up(url)
        yield url
    finally:
        process.terminate()
        process.wait()


def run(
    n: int, duration: int, connections: list[int], repeats: int, radicale: bool
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"feedbench-{n}-"))
    try:
        token, path, booking_id = build(work / "data", n)
        with serve(work / "data", timeout=120) as (base, _):
            wait_for_publisher(base)
            status, body, headers = fetch(base + path)
            assert status == 200, status
            cold = cold_render_ms(base, token, path, booking_id)
            status, body, headers = fetch(base + path)
            etag = headers["ETag"]
            results: dict[tuple[int, str], Rates] = {}
            with reference_server(work, body, path) as ref:
                ref_etag = fetch(ref)[2]["ETag"]
                for count in connections:
                    get, not_modified = Rates(), Rates()
                    for _ in range(repeats):
                        get.ours.append(load(base + path, {}, duration, count))
                        get.reference.append(load(ref, {}, duration, count))
                        ours_304 = load(base + path, {"If-None-Match": etag}, duration, count)
                        not_modified.ours.append(ours_304)
                        ref_304 = load(ref, {"If-None-Match": ref_etag}, duration, count)
                        not_modified.reference.append(ref_304)
                    results[(count, "GET")] = get
                    results[(count, "304")] = not_modified
        stock = radicale_rate(work, body, duration) if radicale else None
        return {"n": n, "bytes": len(body), "cold_ms": cold, "rates": results, "radicale": stock}
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def serve_workers(data: Path, workers: int) -> Iterator[str]:
    """``feedserver serve --workers N`` on a free port; yields its base URL."""
    port = free_port()
    log = data.parent / f"serve-{workers}.log"
    process = spawn(data, port, log, args=["--workers", str(workers)])
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/readyz", 60, process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def static_site(work: Path, body: bytes, path: str, port: int) -> str:
    """nginx serving ``body`` at ``path`` as a file (``etag on``: 304s by itself)."""
    target = work / "static" / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    target.with_name(target.name + ".gz").write_bytes(gzip.compress(body, 6))
    return (
        f"    server {{ listen 127.0.0.1:{port}; root {work / 'static'}; etag on;\n"
        f"      gzip_static on; location / {{ default_type text/calendar; }} }}"
    )


def workers_table(n: int, duration: int, connections: int, repeats: int, counts: list[int]) -> None:
    """feedserver with 1, 2... workers, the bare handler, nginx static and nginx's cache."""
    work = Path(tempfile.mkdtemp(prefix=f"workersbench-{n}-"))
    try:
        _token, path, _ = build(work / "data", n)
        with serve(work / "data", timeout=120) as (base, _):
            status, body, _headers = fetch(base + path)
            assert status == 200, status
        names = [f"feedserver, {c} worker{'s' if c > 1 else ''}" for c in counts]
        names += ["bare aiohttp handler", "nginx, static file", "nginx cache + 1 worker"]
        kinds = ("GET", "GET gzip", "304")
        rates: dict[str, dict[str, list[float]]] = {x: {k: [] for k in kinds} for x in names}

        def measure(name: str, url: str) -> None:
            etag = fetch(url)[2]["ETag"]
            rates[name]["GET"].append(load(url, {}, duration, connections))
            gz = {"Accept-Encoding": "gzip"}  # what calendar apps send
            rates[name]["GET gzip"].append(load(url, gz, duration, connections))
            rates[name]["304"].append(load(url, {"If-None-Match": etag}, duration, connections))

        for _ in range(repeats):
            for count, name in zip(counts, names, strict=False):
                with serve_workers(work / "data", count) as base:
                    measure(name, base + path)
            with reference_server(work, body, path) as ref:
                measure("bare aiohttp handler", ref)
            port = free_port()
            site = static_site(work, body, path, port)
            with nginx.running(nginx.configuration(work / "static-nginx", site)):
                measure("nginx, static file", f"http://127.0.0.1:{port}{path}")
            with serve_workers(work / "data", 1) as base:
                port = free_port()
                upstream = int(base.rsplit(":", 1)[1])
                site = nginx.reference_site(work / "cache-nginx", [upstream], port)
                with nginx.running(nginx.configuration(work / "cache-nginx", site)):
                    fetch(f"http://127.0.0.1:{port}{path}")  # into the cache
                    measure("nginx cache + 1 worker", f"http://127.0.0.1:{port}{path}")
        one = {k: statistics.median(rates[names[0]][k]) for k in kinds}
        bare = statistics.median(rates["bare aiohttp handler"]["304"])
        static = statistics.median(rates["nginx, static file"]["304"])
        print(
            f"one feed of {n} bookings ({len(body) / 1024:.0f} KiB), {connections} connections, "
            f"wrk -t1, {duration} s per rate, median of {repeats}, {os.cpu_count()} cores"
        )
        print()
        print(
            "| server | GET/s | GET gzip/s | 304/s | vs 1 worker (GET, gzip, 304) "
            "| 304 vs bare | 304 vs nginx static |"
        )
        print("|---|---:|---:|---:|---|---:|---:|")
        for name in names:
            got = {k: statistics.median(rates[name][k]) for k in kinds}
            print(
                f"| {name} | {got['GET']:,.0f} | {got['GET gzip']:,.0f} | {got['304']:,.0f} | "
                + ", ".join(f"{got[k] / one[k]:.2f}×" for k in kinds)
                + f" | {got['304'] / bare:.2f}× | {got['304'] / static:.2f}× |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers", default="", help="e.g. 1,2: the workers table instead (see above)."
    )
    parser.add_argument("--sizes", default="100,2000,10000")
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--connections", default="8,32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--radicale", action="store_true", help="Also measure stock Radicale's collection GET."
    )
    parser.add_argument(
        "--caldav-items",
        type=int,
        default=0,
        help="Items in one calendar for the CalDAV timings (0: skip them).",
    )
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    if args.workers:
        counts = [int(c) for c in args.workers.split(",")]
        size = int(args.sizes.split(",")[0])
        workers_table(size, args.duration, connections[-1], args.repeats, counts)
        return
    tool = "wrk -t1" if shutil.which("wrk") else "aiohttp client pool (bench/load.py)"
    print(
        f"load generator: {tool}, {args.duration} s per rate, {args.repeats} repetitions, "
        f"{os.cpu_count()} cores",
        file=sys.stderr,
    )
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        print(f"N={n}...", file=sys.stderr)
        rows.append(run(n, args.duration, connections, args.repeats, args.radicale))
    print(
        "| N | feed size | first GET after a change | connections | GET/s | bare GET/s "
        "| GET ratio (spread) | 304/s | bare 304/s | 304 ratio (spread) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|---:|---:|---|")
    for r in rows:
        for count in connections:
            print(
                f"| {r['n']} | {r['bytes'] / 1024:.0f} KiB | {r['cold_ms']:.1f} ms | {count} "
                f"| {r['rates'][(count, 'GET')].cell()} | {r['rates'][(count, '304')].cell()} |"
            )
    for r in rows:
        if r["radicale"]:
            warm = statistics.median(r["rates"][(connections[-1], "GET")].ours)
            print(
                f"N={r['n']}: stock Radicale collection GET {r['radicale']:.1f}/s, "
                f"feedserver {warm / r['radicale']:.0f}x faster"
            )
    if args.caldav_items:
        print(f"CalDAV timings at {args.caldav_items} items...", file=sys.stderr)
        caldav_table(args.caldav_items)


def caldav_table(n: int) -> None:
    from bench.caldav_timings import feedserver_timings, radicale_put_ms

    ours = feedserver_timings(n)
    stock = radicale_put_ms(n)
    print()
    print(f"CalDAV, {n} items in one calendar (median of 7-9 requests):")
    print()
    print("| request | feedserver | stock Radicale |")
    print("|---|---:|---:|")
    print(f"| PROPFIND Depth 1 (bookings calendar) | {ours['propfind']:.0f} ms | |")
    print(f"| one-month calendar-query REPORT | {ours['report']:.0f} ms | |")
    print(f"| PUT of a new event | {ours['put']:.1f} ms | {stock:.1f} ms |")


if __name__ == "__main__":
    main()
