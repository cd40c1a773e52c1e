"""tsdav, the CalDAV client of many web calendars, against both kinds of calendar an account has:
its read-only Bookings calendar (served from the store) and a calendar of its own (Radicale's
files). Each run (``tests/js/tsdav_check.mjs``) discovers the account, lists, fetches by time
range, expanded (``C:expand`` in calendar-query and calendar-multiget), by name, syncs, asks
free-busy and writes (or is refused): the same checks, every one passing, on both kinds, with
single and recurring events and their exceptions (EXDATE, a moved occurrence), all-day ones
included.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import Api, book
from tests.test_caldav import CAMILLE, dav_api, dav_config, server  # noqa: F401

SCRIPT = Path(__file__).parent / "js" / "tsdav_check.mjs"
RANGE = {"start": "2027-01-01T00:00:00.000Z", "end": "2027-02-01T00:00:00.000Z"}

SERIES = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//tsdav//EN\r
BEGIN:VTIMEZONE\r
TZID:Europe/Paris\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:series-1@example.org\r
DTSTAMP:20261201T000000Z\r
DTSTART;TZID=Europe/Paris:20270104T140000\r
DTEND;TZID=Europe/Paris:20270104T150000\r
RRULE:FREQ=WEEKLY;COUNT=4\r
EXDATE;TZID=Europe/Paris:20270111T140000\r
SUMMARY:Weekly\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:series-1@example.org\r
DTSTAMP:20261201T000000Z\r
RECURRENCE-ID;TZID=Europe/Paris:20270118T140000\r
DTSTART;TZID=Europe/Paris:20270118T160000\r
DTEND;TZID=Europe/Paris:20270118T170000\r
SUMMARY:Weekly (moved)\r
END:VEVENT\r
END:VCALENDAR\r
"""
SINGLE = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//tsdav//EN\r
BEGIN:VEVENT\r
UID:single-1@example.org\r
DTSTAMP:20261201T000000Z\r
DTSTART:20270110T120000Z\r
DTEND:20270110T130000Z\r
SUMMARY:Once\r
END:VEVENT\r
END:VCALENDAR\r
"""


async def run_tsdav(server: Any, tmp_path: Path, spec: dict[str, Any]) -> str:
    assert shutil.which("node"), "node is needed: apt-get install nodejs"
    file = tmp_path / f"{spec['kind']}.json"
    file.write_text(json.dumps(spec))
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        str(file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    text = output.decode()
    assert process.returncode == 0, text
    return text


def spec(server: Any, kind: str, **more: Any) -> dict[str, Any]:
    return {
        "url": str(server.make_url("/dav/")),
        "username": CAMILLE[0],
        "password": CAMILLE[1],
        "kind": kind,
        "range": RANGE,
        **more,
    }


async def test_tsdav_passes_in_full_on_a_bookings_calendar_with_recurring_bookings(
    server: Any, dav_api: Api, tmp_path: Path
) -> None:
    await book(dav_api, start="2027-01-05T10:00:00+01:00")
    await book(
        dav_api,
        start="2027-01-04T09:00:00+01:00",
        rrule="FREQ=WEEKLY;COUNT=6",
        exdates=["2027-01-11T09:00:00+01:00"],
    )
    await book(dav_api, start="2027-01-07", all_day=True, rrule="FREQ=DAILY;COUNT=3")
    await book(dav_api, start="2027-03-01T10:00:00+01:00")  # outside the range
    expect = {
        "count": 4,
        "inRange": 3,
        "instances": sorted(
            [
                "20270105T090000Z",
                "20270104T080000Z",
                "20270118T080000Z",
                "20270125T080000Z",
                "20270107",
                "20270108",
                "20270109",
            ]
        ),
        "writeProbe": SINGLE,
    }
    output = await run_tsdav(server, tmp_path, spec(server, "bookings", expect=expect))
    assert output.rstrip().endswith("12 passed, 0 failed"), output


async def test_tsdav_passes_in_full_on_a_calendar_of_the_users_own(
    server: Any, dav_api: Api, tmp_path: Path
) -> None:
    objects = [
        {"filename": "series.ics", "ics": SERIES},
        {"filename": "single.ics", "ics": SINGLE},
    ]
    expect = {
        "count": 2,
        "inRange": 2,
        "instances": [
            "20270104T130000Z",
            "20270110T120000Z",
            "20270118T150000Z",
            "20270125T130000Z",
        ],
    }
    output = await run_tsdav(
        server, tmp_path, spec(server, "own", name="Work", objects=objects, expect=expect)
    )
    assert output.rstrip().endswith("17 passed, 0 failed"), output
