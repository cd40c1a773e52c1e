"""CalDAV REPORTs are bounded before Radicale expands anything (issue 25, defect 5): a time
range, an expand or a free-busy query that would walk a recurrence past the REPORT budget is
answered 403 with ``max-instances`` at once, on users' own calendars and on Bookings calendars,
while everyone else's requests go on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from feedserver.caldav_bridge.reports import ReportPlan
from feedserver.calendar.rrules import item_steps, steps
from tests.conftest import Api, book
from tests.test_caldav import CAMILLE, MAYA, _dav, dav_api, dav_config, server  # noqa: F401

HOURLY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:{uid}\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261201T090000Z\r\n"
    "DTEND:20261201T091500Z\r\nRRULE:FREQ=HOURLY\r\nSUMMARY:Every hour\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def query(start: str, end: str, expand: bool = False) -> bytes:
    data = (
        f'<C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data>'
        if expand
        else "<C:calendar-data/>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop><D:getetag/>{data}</D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{start}" end="{end}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    ).encode()


def free_busy(start: str, end: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f'<C:time-range start="{start}" end="{end}"/></C:free-busy-query>'
    ).encode()


REPORT = {"Content-Type": "application/xml", "Depth": "1"}


async def report(server: Any, path: str, body: bytes) -> tuple[int, str]:
    """A REPORT of Camille's on ``path``."""
    return await _dav(server, "REPORT", path, CAMILLE, body, REPORT)


def test_the_estimate_reads_the_rule_alone() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    year = datetime(2027, 12, 1, tzinfo=UTC)
    assert steps("FREQ=HOURLY", start, year) == 8761
    assert steps("FREQ=HOURLY;COUNT=10", start, datetime(3026, 1, 1, tzinfo=UTC)) < 10_000
    assert steps("FREQ=HOURLY;UNTIL=20261202T000000Z", start, year) == 25
    assert steps("FREQ=WEEKLY;BYDAY=MO,WE,FR", start, year) == 53 * 3
    assert steps("FREQ=YEARLY;BYDAY=MO", start, year) == 2 * 53
    assert steps("FREQ=DAILY;INTERVAL=2", start, year) == 183
    assert item_steps(HOURLY.format(uid="x"), datetime(3026, 1, 1, tzinfo=UTC)) > 8_000_000
    assert item_steps("BEGIN:VEVENT\r\nDTSTART:20261201T090000Z\r\nEND:VEVENT", year) == 0


def test_the_plan_finds_the_latest_reach_and_gives_multiget_expand_its_range() -> None:
    assert ReportPlan.read(query("20261201T000000Z", "30261201T000000Z")).until == datetime(
        3026, 12, 1, tzinfo=UTC
    )
    open_end = query("20261201T000000Z", "").replace(b' end=""', b"")
    assert ReportPlan.read(open_end).until == datetime(2026, 12, 1, tzinfo=UTC)
    assert ReportPlan.read(b"<D:sync-collection xmlns:D='DAV:'/>").until is None
    multiget = (
        b'<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        b'<D:prop><C:calendar-data><C:expand start="20270101T000000Z" end="20270201T000000Z"/>'
        b"</C:calendar-data></D:prop><D:href>/dav/a/b/c.ics</D:href></C:calendar-multiget>"
    )
    plan = ReportPlan.read(multiget)
    assert b'time-range start="20270101T000000Z" end="20270201T000000Z"' in plan.body
    assert plan.instances == (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    assert ReportPlan.read(query("20270101T000000Z", "20270201T000000Z")).instances is None
    assert ReportPlan.read(b"<not xml").body == b"<not xml"


async def test_a_report_a_thousand_years_ahead_is_refused_at_once(
    server: Any, dav_api: Api
) -> None:
    """Two accounts PUT hourly events and ask about 1,000 years ahead, twice each, at once:
    each REPORT answers 403 max-instances in well under a second, and a third account's
    PROPFIND of its Bookings calendar is answered meanwhile."""
    for login in (CAMILLE, MAYA):
        path = f"/dav/{login[0]}/own/"
        assert (await _dav(server, "MKCALENDAR", path, login))[0] == 201
        body = HOURLY.format(uid=f"hourly-{login[0]}").encode()
        assert (await _dav(server, "PUT", path + "hourly.ics", login, body))[0] == 201
    far = query("30261201T000000Z", "30261208T000000Z")
    far_expanded = query("30261201T000000Z", "30261208T000000Z", expand=True)
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(
            _dav(server, "REPORT", f"/dav/{login[0]}/own/", login, body, REPORT)
            for login in (CAMILLE, MAYA)
            for body in (far, far_expanded)
        ),
        _dav(
            server,
            "PROPFIND",
            "/dav/alice@example.com/bookings/",
            ("alice@example.com", "alice-password"),
            headers={"Depth": "1"},
        ),
    )
    elapsed = time.perf_counter() - started
    *refused, propfind = answers
    assert propfind[0] == 207
    for status, text in refused:
        assert status == 403, text
        assert "max-instances" in text and "one REPORT may take" in text
    assert elapsed < 5, elapsed
    # A free-busy question as far ahead is refused the same way.
    status, text = await report(
        server, f"/dav/{CAMILLE[0]}/own/", free_busy("30261201T000000Z", "30261208T000000Z")
    )
    assert status == 403 and "max-instances" in text
    # A week is answered, expanded: one instance an hour (01:00 on the 10th to 23:00 on the
    # 16th; the range's edges fall between instances).
    status, text = await report(
        server,
        f"/dav/{CAMILLE[0]}/own/",
        query("20261210T003000Z", "20261216T233000Z", expand=True),
    )
    assert status == 207, text
    assert text.count("BEGIN:VEVENT") == 6 * 24 + 23
    # A year of it, expanded, is 8,760 instances to write out one by one (Radicale took 4 s
    # before refusing it with its own 400): refused at once.
    started = time.perf_counter()
    status, text = await report(
        server,
        f"/dav/{CAMILLE[0]}/own/",
        query("20270101T000000Z", "20280101T000000Z", expand=True),
    )
    assert status == 403 and "instances one REPORT may write out" in text, text
    assert time.perf_counter() - started < 1


async def test_a_bookings_calendar_report_past_the_budget_is_refused(
    server: Any, dav_api: Api
) -> None:
    await book(dav_api, start="2027-01-04T09:00:00+01:00", rrule="FREQ=DAILY")
    path = f"/dav/{CAMILLE[0]}/bookings/"
    status, text = await report(
        server, path, query("90000101T000000Z", "90000201T000000Z", expand=True)
    )
    assert status == 403 and "max-instances" in text, text
    status, text = await report(
        server, path, query("20270101T000000Z", "20270111T000000Z", expand=True)
    )
    assert status == 207 and text.count("BEGIN:VEVENT") == 7, text


def test_a_rule_that_never_occurs_is_told_apart_from_a_rare_one() -> None:
    from feedserver.calendar.rrules import barren

    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert barren("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", start)
    assert barren("FREQ=HOURLY;COUNT=5;BYMONTH=2;BYMONTHDAY=30", start)
    assert barren("FREQ=YEARLY;BYMONTH=4,6,9,11;BYMONTHDAY=31", start)
    assert not barren("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", start)  # leap days
    assert not barren("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", start)  # every 28 years
    assert not barren("FREQ=MONTHLY;BYDAY=-1SU", start)
    assert not barren("FREQ=WEEKLY;BYDAY=MO,WE", start)


async def test_a_put_whose_rule_never_occurs_is_refused_at_once(server: Any, dav_api: Api) -> None:
    """dateutil walks such a rule to the year 9999 looking for an occurrence (3 s for a daily
    rule, 5 s hourly), on every read of the item by Radicale."""
    path = f"/dav/{CAMILLE[0]}/own/"
    assert (await _dav(server, "MKCALENDAR", path))[0] == 201
    body = HOURLY.format(uid="never").replace(
        "RRULE:FREQ=HOURLY", "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"
    )
    started = time.perf_counter()
    status, text = await _dav(server, "PUT", path + "never.ics", body=body.encode())
    assert status == 403 and "max-instances" in text and "no occurrence" in text, text
    assert time.perf_counter() - started < 2
    response = await dav_api.client.post(
        "/api/bookings",
        json={
            "type": "haircut",
            "location": "ANHQ",
            "staff": "camille@example.org",
            "start": "2027-01-04T09:00:00+01:00",
            "rrule": "FREQ=DAILY;COUNT=3;BYMONTH=2;BYMONTHDAY=30",
        },
        headers=dav_api.headers,
    )
    assert response.status == 422
    assert (await response.json())["field"] == "rrule"
