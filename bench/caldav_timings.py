"""CalDAV timings at N items in one calendar: PROPFIND depth 1 and a one-month calendar-query
REPORT on a user's published ``bookings`` calendar, and a PUT into a user calendar that holds
N events, against feedserver (indexed UID check) and stock Radicale (a scan per PUT)."""

from __future__ import annotations

import base64
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.feeds import build, stock_radicale
from tests.process import serve

LOGIN = ("staff0@bench.test", "bench-password")
PROPFIND = b'<propfind xmlns="DAV:"><prop><getetag/><resourcetype/></prop></propfind>'


def _auth(login: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(":".join(login).encode()).decode()}


def request(
    url: str,
    method: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    login: tuple[str, str] = LOGIN,
) -> tuple[int, bytes, float]:
    req = urllib.request.Request(
        url,
        data=body or None,
        method=method,
        headers={**_auth(login), **(headers or {})},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=600) as response:
            data = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        data, status = exc.read(), exc.code
    return status, data, (time.perf_counter() - started) * 1000


def median_ms(rounds: int, fn: Callable[[int], tuple[int, bytes, float]]) -> float:
    return statistics.median(fn(i)[2] for i in range(rounds))


def _event(uid: str, start: datetime) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}"
        f"\r\nSUMMARY:Event {uid}\r\nEND:VEVENT\r\n"
    )


def calendar_of(n: int) -> bytes:
    begin = datetime(2026, 1, 1, tzinfo=UTC)
    events = "".join(_event(f"ev-{i}@bench", begin + timedelta(hours=i)) for i in range(n))
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{events}END:VCALENDAR\r\n"
    ).encode()


def put_ms(collection: str, rounds: int = 9) -> float:
    def one(i: int) -> tuple[int, bytes, float]:
        body = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
            + _event(f"new-{i}@bench", datetime(2027, 1, 1, i, tzinfo=UTC))
            + "END:VCALENDAR\r\n"
        ).encode()
        result = request(f"{collection}new-{i}.ics", "PUT", body, {"Content-Type": "text/calendar"})
        assert result[0] == 201, result
        return result

    return median_ms(rounds, one)


def _fill(collection: str, n: int) -> None:
    status, body, _ = request(collection, "PUT", calendar_of(n), {"Content-Type": "text/calendar"})
    assert status in (200, 201), (status, body[:300])


def feedserver_timings(n: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix=f"davbench-{n}-"))
    build(work / "data", n, staff_count=1)
    with serve(work / "data", timeout=60) as (base, _):
        bookings = f"{base}/dav/{LOGIN[0]}/bookings/"
        deadline = time.monotonic() + 300
        while (
            request(bookings, "PROPFIND", PROPFIND, {"Depth": "1"})[1].count(b"<response>") < n + 1
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the bookings calendar was never fully published")
            time.sleep(0.5)
        first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        query = (
            '<C:calendar-query xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            '<prop><getetag/></prop><C:filter><C:comp-filter name="VCALENDAR">'
            '<C:comp-filter name="VEVENT"><C:time-range '
            f'start="{first:%Y%m%dT%H%M%SZ}" end="{first + timedelta(days=30):%Y%m%dT%H%M%SZ}"/>'
            "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
        ).encode()
        propfind = median_ms(7, lambda i: request(bookings, "PROPFIND", PROPFIND, {"Depth": "1"}))
        report = median_ms(7, lambda i: request(bookings, "REPORT", query, {"Depth": "1"}))
        work_calendar = f"{base}/dav/{LOGIN[0]}/work/"
        _fill(work_calendar, n)
        return {"propfind": propfind, "report": report, "put": put_ms(work_calendar)}


def radicale_put_ms(n: int) -> float:
    work = Path(tempfile.mkdtemp(prefix=f"radbench-{n}-"))
    with stock_radicale(work) as base:
        collection = f"{base}/{LOGIN[0]}/work/"
        _fill(collection, n)
        return put_ms(collection)
