"""100,000 bookings on one small machine: import, startup, CalDAV, feeds, memory, disk.

Builds an organisation (2 locations, 2 types, ``--staff`` staff members, one customer
account per staff member), writes a CSV of ``--bookings`` bookings (spread evenly over the
staff members, one year around today, never overlapping), then, as a user would:

1. ``feedserver import bookings FILE`` (a subprocess; rows/s);
2. ``feedserver serve`` until /healthz answers (startup time), and its RSS;
3. for one staff member: CalDAV PROPFIND depth 1 of the bookings calendar, a one-month
   calendar-query REPORT, a sync-collection from scratch and after one change; a template
   edit and the time until CalDAV shows it;
4. that staff member's feed (all their bookings: the server runs with a feed window of 200
   days back): first render after a template edit, re-render after one of its bookings
   changed, a 304; and the same re-render for a feed of two staff members' bookings;
5. RSS after all that, the database and data dir sizes.

Usage: python bench/scale.py [--bookings 100000] [--staff 100] [--keep DIR]
       [--database postgresql://user@host/dbname]
With ``--database`` the store is that PostgreSQL database (created when missing; it must hold
no data: the benchmark's organisation is built in it). The bookings of a staff member are
spread over as many days as they need (12 a day at most). Prints a Markdown table
(docs/benchmarks.md, "Scale").
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feedserver import config as config_mod  # noqa: E402
from feedserver.domain import accounts, catalog, feed_links  # noqa: E402
from feedserver.store import Store  # noqa: E402
from feedserver.store import postgres as pg  # noqa: E402
from feedserver.store.copy import data_rows  # noqa: E402
from tests.process import free_port, wait_until_up  # noqa: E402

PASSWORD = "bench-password"  # noqa: S105 - a throwaway benchmark organisation
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"  # noqa: S105
OWNER = "owner@bench.test"
LOCATIONS = (("PARIS", "Europe/Paris"), ("NYC", "America/New_York"))


def build_org(data_dir: Path, staff: int, database: str | None) -> list[str]:
    """The organisation; returns the staff members' emails."""
    config = config_mod.load(
        None,
        environ={},
        overrides={"storage.data_dir": str(data_dir), "storage.database_url": database},
    )
    if database:
        pg.create_database(database)
    store = Store(config.database_url)
    if data_rows(store.db):
        raise SystemExit(f"{store.location} holds data: give the benchmark an empty database")
    for code, tz in LOCATIONS:
        catalog.create_location(store, {"code": code, "name": code.title(), "timezone": tz})
    catalog.create_type(store, {"key": "cut", "name": "Cut", "duration_minutes": 45})
    catalog.create_type(
        store, {"key": "consult", "name": "Consultation", "duration_minutes": 30, "online": True}
    )
    emails = []
    for index in range(staff):
        email = f"staff{index:03d}@bench.test"
        code = LOCATIONS[index % len(LOCATIONS)][0]
        accounts.create_user(
            store,
            {
                "email": email,
                "name": f"Staff {index:03d}",
                "role": "staff",
                "password": PASSWORD,
                "primary_location": code,
            },
        )
        accounts.create_user(
            store,
            {
                "email": f"customer{index:03d}@bench.test",
                "name": f"Customer {index:03d}",
                "role": "customer",
                "password": PASSWORD,
            },
        )
        emails.append(email)
    accounts.create_user(
        store, {"email": OWNER, "name": "Owner", "role": "admin", "password": PASSWORD}
    )
    feed_links.create_link(store, {"user": emails[0], "name": "Bench", "include_pending": True})
    feed_links.create_link(store, {"user": emails[0], "name": "Online", "types": ["consult"]})
    feed_links.create_link(
        store, {"user": OWNER, "name": "Two", "scope": "all", "staff": emails[:2]}
    )
    store.close()
    return emails


def write_csv(path: Path, emails: list[str], count: int, today: date) -> None:
    """``count`` bookings over the staff members: each works 08:00-20:00, a booking starts
    on a free quarter hour of a day within a year around today."""
    rng = random.Random(11)
    per_staff = -(-count // len(emails))
    days = max(365, -(-per_staff * 5 // 48))  # at most 80 % of a staff member's slots taken
    slots_per_day = 12 * 4 // 4  # 48 quarter hours, bookings take 4 (45 min + margin)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["type", "location", "staff", "start", "end", "attendee_email", "attendee_name"]
        )
        written = 0
        for index, email in enumerate(emails):
            code, tz = LOCATIONS[index % len(LOCATIONS)]
            zone = ZoneInfo(tz)
            chosen = rng.sample(range(days * slots_per_day), min(per_staff, count - written))
            for slot in sorted(chosen):
                day = today - timedelta(days=120) + timedelta(days=slot // slots_per_day)
                start = datetime.combine(day, clock(8), zone) + timedelta(
                    hours=slot % slots_per_day
                )
                kind = "cut" if slot % 3 else "consult"
                length = timedelta(minutes=45 if kind == "cut" else 30)
                writer.writerow(
                    [
                        kind,
                        code,
                        email,
                        start.isoformat(),
                        (start + length).isoformat(),
                        f"customer{index:03d}@bench.test",
                        f"Customer {index:03d}",
                    ]
                )
                written += 1


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, float, dict[str, str]]:
    started = time.perf_counter()
    call = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(call, timeout=120) as response:
            data = response.read()
            status, got = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        data, status, got = error.read(), error.code, dict(error.headers)
    return status, data, (time.perf_counter() - started) * 1000, got


def timed(fn: Callable[[], float], repeats: int = 5) -> float:
    """Median milliseconds of ``fn()`` (which returns its own milliseconds)."""
    return statistics.median(fn() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--staff", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="Build in this directory and keep it.")
    parser.add_argument(
        "--database", help="A PostgreSQL URL (default: SQLite in the work directory)."
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="feedserver-scale-"))
    data = work / "data"
    if data.exists():
        shutil.rmtree(data)
    env = {
        **os.environ,
        "FEEDSERVER_STORAGE_DATA_DIR": str(data),
        "FEEDSERVER_ADMIN_TOKEN": ADMIN_TOKEN,
        "FEEDSERVER_FEEDS_WINDOW_DAYS_PAST": "200",  # the CSV starts 120 days ago
    }
    if args.database:
        env["FEEDSERVER_DATABASE_URL"] = args.database
    rows: list[tuple[str, str]] = []
    emails = build_org(data, args.staff, args.database)
    source = work / "bookings.csv"
    write_csv(source, emails, args.bookings, date.today())
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "feedserver", "import", "bookings", str(source)],
        env=env,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    rows.append(
        (
            "import (CSV, CLI)",
            f"{args.bookings:,} bookings in {seconds:.1f} s ({args.bookings / seconds:,.0f}/s)",
        )
    )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (work / "serve.log").open("wb")
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "feedserver", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"{base}/healthz", 60, server)
        rows.append(("startup to /healthz 200", f"{time.perf_counter() - started:.2f} s"))
        rows.append(("RSS after startup", f"{rss_mb(server.pid):.0f} MB"))
        measure(base, emails[0], rows)
        rows.append(("RSS after the runs", f"{rss_mb(server.pid):.0f} MB"))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    if args.database:
        store = Store(args.database)
        size = store.db.scalar("SELECT pg_database_size(current_database())") / 1e6
        store.close()
        rows.append(("database / data dir", f"{size:.0f} MB / {size_mb(data):.0f} MB"))
    else:
        db = size_mb(data / "feedserver.db") + size_mb(data / "feedserver.db-wal")
        rows.append(("database / data dir", f"{db:.0f} MB / {size_mb(data):.0f} MB"))
    backend = "PostgreSQL" if args.database else "SQLite"
    print(
        f"\n{args.bookings:,} bookings on {backend}, {args.staff} staff members "
        f"({args.bookings // args.staff:,} each), {os.cpu_count()} cores\n"
    )
    print("| measure | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if args.keep is None:
        shutil.rmtree(work)


def measure(base: str, email: str, rows: list[tuple[str, str]]) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    calendar = f"{base}/dav/{email}/bookings/"
    xml = {**auth, "Content-Type": "application/xml", "Depth": "1"}
    propfind = (
        b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop>'
        b"</D:propfind>"
    )
    status, body, first, _ = request(calendar, "PROPFIND", propfind, xml)
    assert status == 207, body[:300]
    items = body.count(b"<href>") - 1
    median = timed(lambda: request(calendar, "PROPFIND", propfind, xml)[2])
    rows.append(
        (f"PROPFIND depth 1 ({items:,} items), first / median", f"{first:.0f} / {median:.0f} ms")
    )
    month = date.today().replace(day=1)
    query = (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
        '</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{month:%Y%m%d}T000000Z" '
        f'end="{(month + timedelta(days=31)).replace(day=1):%Y%m%d}T000000Z"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    ).encode()
    status, body, first, _ = request(calendar, "REPORT", query, xml)
    assert status == 207, body[:300]
    found = body.count(b"BEGIN:VEVENT")
    median = timed(lambda: request(calendar, "REPORT", query, xml)[2])
    rows.append(
        (f"REPORT one month ({found} events), first / median", f"{first:.0f} / {median:.0f} ms")
    )

    def sync(token: str) -> tuple[str, float, int]:
        report = (
            '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
            f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/></D:prop></D:sync-collection>"
        ).encode()
        status, body, ms, _ = request(calendar, "REPORT", report, xml)
        assert status == 207, body[:300]
        text = body.decode()
        new = text.split("sync-token>")[1].split("<")[0]
        return new, ms, text.count("<response>")

    token, ms, count = sync("")
    rows.append((f"sync-collection from scratch ({count:,} items)", f"{ms:.0f} ms"))
    status, body, _, _ = request(f"{base}/api/bookings?staff={email}&limit=1", headers=admin)
    booking = json.loads(body)["bookings"][0]
    patch = b'{"notes": "moved the chair"}'
    status, _, write_ms, _ = request(f"{base}/api/bookings/{booking['id']}", "PATCH", patch, admin)
    assert status == 200
    token, ms, count = sync(token)
    rows.append(
        (
            f"PATCH a booking, then sync-collection ({count} change)",
            f"{write_ms:.0f} ms, then {ms:.0f} ms",
        )
    )
    template = b'{"summary": "[service_name] with [customer_full_name]"}'
    status, _, _, _ = request(f"{base}/api/feed-templates/default", "PUT", template, admin)
    assert status == 200
    item = f"{calendar}{booking['uid']}.ics"
    status, body, ms, _ = request(item, headers=auth)
    assert (status == 200 and b"SUMMARY:Cut with Customer" in body) or b"Consultation with" in body
    rows.append(("template edit, then GET of an item (shows it)", f"{ms:.0f} ms"))

    feed = feed_url(base, email, admin)
    status, body, first, _ = request(feed)
    assert status == 200
    events = body.count(b"BEGIN:VEVENT")
    rows.append(
        (f"feed ({events:,} events) first render after the template edit", f"{first:.0f} ms")
    )
    rows.append(
        (
            "feed re-render after one of its bookings changed, median",
            f"{rerender(base, feed, email, admin):.0f} ms",
        )
    )
    _, _, _, current = request(feed)
    not_modified = timed(lambda: request(feed, headers={"If-None-Match": current["ETag"]})[2])
    rows.append(("feed 304 (If-None-Match), median", f"{not_modified:.1f} ms"))
    online = feed_url(base, email, admin, "Online")
    status, body, _, _ = request(online)
    assert status == 200
    events = body.count(b"BEGIN:VEVENT")
    rows.append(
        (
            f"feed of one staff member's online sessions ({events:,} events): "
            "render after a change, median",
            f"{rerender(base, online, email, admin, 'consult'):.0f} ms",
        )
    )
    two = feed_url(base, OWNER, admin)
    status, body, _, _ = request(two)
    assert status == 200
    events = body.count(b"BEGIN:VEVENT")
    rows.append(
        (
            f"feed of two staff members ({events:,} events): render after a change, median",
            f"{rerender(base, two, email, admin):.0f} ms",
        )
    )


def feed_url(base: str, user: str, admin: dict[str, str], name: str = "") -> str:
    """The URL of the user's feed link called ``name`` (or their first), on this server."""
    status, body, _, _ = request(f"{base}/api/feeds?user={user}", headers=admin)
    assert status == 200, body[:300]
    links = json.loads(body)["feeds"]
    link = next((f for f in links if f["name"] == name), links[0])
    return str(link["url"]).replace(str(link["url"]).split("/feeds/")[0], base)


def rerender(
    base: str, feed: str, staff: str, admin: dict[str, str], kind: str | None = None
) -> float:
    """Median milliseconds of the GET of ``feed`` after a PATCH of one of its bookings (one
    of ``staff``'s, from today on, of type ``kind`` if given); each GET must show the change
    (a new ETag)."""
    today = datetime.now().astimezone().replace(microsecond=0).isoformat()
    query = f"{base}/api/bookings?staff={staff}&start={urllib.parse.quote(today)}&limit=20"
    status, body, _, _ = request(query, headers=admin)
    assert status == 200, body[:300]
    found = json.loads(body)["bookings"]
    booking = next(b["id"] for b in found if kind is None or b["type"] == kind)
    _, _, _, before = request(feed)
    timings = []
    for round_ in range(7):
        patch = json.dumps({"notes": f"round {round_}"}).encode()
        status, _, _, _ = request(f"{base}/api/bookings/{booking}", "PATCH", patch, admin)
        assert status == 200
        status, _, ms, after = request(feed)
        assert status == 200 and after["ETag"] != before["ETag"], "the feed did not change"
        before = after
        timings.append(ms)
    return statistics.median(timings)


if __name__ == "__main__":
    main()
