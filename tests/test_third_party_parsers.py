"""The same bookings read the same instants in every reader: feeds, CalDAV items and iMIP
invitations parsed by ical.js (as in Thunderbird; strict and lenient, with the file's own
VTIMEZONEs, recurrences expanded), libical, node-ical and recurring-ical-events, compared with
Python's zoneinfo, across DST edges (the repeated autumn hour, the spring gap, the southern
hemisphere), far-future and open-ended series, and zones without a yearly rule."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import recurring_ical_events
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from feedserver.caldav_bridge.bookings import FILTERS
from feedserver.calendar.render import Viewer, render_item
from feedserver.domain.catalog import load_catalog
from feedserver.domain.recurrence import occurrences
from feedserver.model import Booking
from feedserver.store import BookingQuery, Store
from feedserver.web.state import RUNNER
from tests.conftest import Api, book

JS = Path(__file__).parent / "js"
LIBICAL = Path(__file__).parent / "libical"
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2041, 1, 1, tzinfo=UTC))
KHAL_LAST = "2037-12-31"
# The Sundays at 02:30 Paris a week after a skipped 02:30 (the 02:30 series of ``scenarios``).
AFTER_GAP = {"2027-04-04T00:30:00.000Z", "2028-04-02T00:30:00.000Z"}
HOUR = timedelta(hours=1)
Instant = tuple[str, str, str]  # uid, start, end in UTC ISO 8601 (milliseconds, Z)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def node(parser: str, text: str) -> set[Instant]:
    assert shutil.which("node"), "node is needed: apt-get install nodejs"
    assert (JS / "node_modules" / "ical.js").is_dir(), "run: npm ci --prefix tests/js"
    done = subprocess.run(
        ["node", str(JS / "instants.mjs"), parser, iso(WINDOW[0]), iso(WINDOW[1])],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return {(x["uid"], x["start"], x["end"]) for x in json.loads(done.stdout)}


@functools.cache
def libical_program() -> str:
    """tests/libical/instants.c, built once per run against the system's libical."""
    assert shutil.which("gcc") and shutil.which("pkg-config"), "gcc and pkg-config are needed"
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libical"], capture_output=True, text=True
    )
    assert flags.returncode == 0, "libical is needed: apt-get install libical-dev"
    target = Path(tempfile.mkdtemp(prefix="libical-")) / "instants"
    subprocess.run(
        ["gcc", "-O1", "-o", str(target), str(LIBICAL / "instants.c"), *flags.stdout.split()],
        check=True,
        capture_output=True,
    )
    return str(target)


def libical(text: str) -> set[Instant]:
    bounds = [str(int(moment.timestamp())) for moment in WINDOW]
    done = subprocess.run(
        [libical_program(), *bounds], input=text, capture_output=True, text=True, check=True
    )
    found = set()
    for line in done.stdout.splitlines():
        uid, start, end = line.split("\t")
        found.add(
            (
                uid,
                iso(datetime.fromtimestamp(int(start), UTC)),
                iso(datetime.fromtimestamp(int(end), UTC)),
            )
        )
    return found


def khal_reader(text: str) -> set[Instant]:
    """khal's own database (its reader of vdirs synced by vdirsyncer): each UID's VEVENTs
    stored as khal stores one .ics file, its instances read back in UTC."""
    import pytz
    from khal.khalendar.backend import SQLiteDb

    locale: Any = {
        "local_timezone": pytz.UTC,
        "default_timezone": pytz.UTC,
        "timeformat": "%H:%M",
        "dateformat": "%Y-%m-%d",
        "longdateformat": "%Y-%m-%d",
        "datetimeformat": "%Y-%m-%d %H:%M",
        "longdatetimeformat": "%Y-%m-%d %H:%M",
        "weeknumbers": False,
        "firstweekday": 0,
        "unicode_symbols": True,
    }
    database = SQLiteDb(["feed"], ":memory:", locale)
    calendar = Calendar.from_ical(text)
    zones = [c for c in calendar.walk("VTIMEZONE")]
    by_uid: dict[str, list[Any]] = {}
    for event in calendar.walk("VEVENT"):
        by_uid.setdefault(str(event["UID"]), []).append(event)
    for uid, events in by_uid.items():
        item = Calendar()
        for component in (*zones, *events):
            item.add_component(component)
        database.update(item.to_ical().decode(), f"{uid}.ics", calendar="feed")
    found = set()
    for _, href, start, end, *_ in database.get_localized(*WINDOW):
        found.add((href.removesuffix(".ics"), iso(start), iso(end)))
    return found


def read(reader: str, text: str) -> set[Instant]:
    if reader == "python":
        return python_reader(text)
    if reader == "libical":
        return libical(text)
    if reader == "khal":
        return khal_reader(text)
    return node(reader, text)


def python_reader(text: str) -> set[Instant]:
    found = set()
    for event in recurring_ical_events.of(Calendar.from_ical(text)).between(*WINDOW):
        start = event["DTSTART"].dt
        if not isinstance(start, datetime):
            continue
        found.add((str(event["UID"]), iso(start), iso(event["DTEND"].dt)))
    return found


def truth(bookings: list[Booking]) -> tuple[set[Instant], set[Instant]]:
    """Every occurrence, and each booking's first one, from zoneinfo and the booking itself."""
    every, first = set(), set()
    for booking in bookings:
        if booking.all_day:
            continue
        first.add((booking.uid, iso(booking.start), iso(booking.end)))
        for start, end in occurrences(booking, *WINDOW):
            every.add((booking.uid, iso(start), iso(end)))
    return every, first


async def scenarios(api: Api) -> None:
    for code, zone in (
        ("SYD", "Australia/Sydney"),
        ("SCL", "America/Santiago"),
        ("TYO", "Asia/Tokyo"),
    ):
        await api.post(
            "/api/locations", {"code": code, "name": zone, "address": "", "timezone": zone}
        )
    paris = {"location": "ANHQ", "staff": "camille@example.org"}
    await book(api, **paris, start="2027-10-31T01:30:00+02:00", end="2027-10-31T02:30:00+01:00")
    await book(api, **paris, start="2027-03-28T01:30:00+01:00", end="2027-03-28T03:30:00+02:00")
    await book(api, **paris, start="2040-07-10T10:00:00+02:00")
    await book(api, **paris, start="2026-10-20T10:00:00+02:00", rrule="FREQ=WEEKLY;BYDAY=TU")
    await book(api, **paris, type="coloring", start="2026-12-24", all_day=True)
    await book(
        api,
        location="NYC1",
        staff="maya@example.org",
        start="2027-03-01T09:00:00-05:00",
        rrule="FREQ=WEEKLY;COUNT=20",
    )
    staff = {"staff": "maya@example.org"}
    await book(api, **staff, location="SYD", start="2027-04-04T02:30:00+10:00")
    await book(
        api,
        **staff,
        location="SYD",
        start="2027-10-03T01:30:00+10:00",
        end="2027-10-03T03:30:00+11:00",
    )
    await book(api, **staff, location="SCL", start="2027-09-05T10:00:00-03:00")
    # A weekly series at 02:30 on Sundays for two years: the spring changes skip 02:30 and the
    # autumn ones repeat it (2027-03-28, 2027-10-31, 2028-03-26, 2028-10-29).
    await book(
        api,
        **staff,
        location="ANHQ",
        start="2027-01-03T02:30:00+01:00",
        rrule="FREQ=WEEKLY;BYDAY=SU;COUNT=104",
    )
    await book(api, **staff, location="TYO", start="2027-06-01T10:00:00+09:00")


@pytest.fixture
async def texts(api: Api, client: TestClient[Any, Any], org: dict[str, Any]) -> dict[str, Any]:
    await scenarios(api)
    link = await api.post("/api/feeds", {"user": "owner@example.org", "scope": "all"})
    feed = await client.get("/feeds/" + link["url"].split("/feeds/", 1)[1])
    assert feed.status == 200

    def load(store: Store) -> dict[str, Any]:
        bookings = store.bookings.list(BookingQuery())
        catalog = load_catalog(store, [b.staff_id for b in bookings])
        owner = store.users.get_by_email("owner@example.org")
        assert owner is not None
        items = [render_item(b, catalog, Viewer(owner, FILTERS)).decode() for b in bookings]
        invitations = [m.ics for m in store.outbox.list() if m.ics]
        return {"bookings": bookings, "items": items, "invitations": invitations}

    loaded = await client.app[RUNNER].run(load)
    assert loaded["invitations"], "the scenarios' attendees were sent invitations"
    return {"feed": await feed.text(), **loaded}


def in_feed(texts: dict[str, Any]) -> list[Booking]:
    """The bookings inside the feed's window (the 2040 one is only in CalDAV and email)."""
    shown = [b for b in texts["bookings"] if f"UID:{b.uid}" in texts["feed"]]
    assert len(shown) >= 8
    return shown


@pytest.mark.parametrize("reader", ["ical.js", "ical.js-lenient", "python", "libical", "khal"])
async def test_every_reader_gets_the_true_instants_of_the_feed(
    texts: dict[str, Any], reader: str
) -> None:
    every, _ = truth(in_feed(texts))
    found = read(reader, texts["feed"])
    if reader == "khal":  # khal expands endless series up to 2037 only (its documented limit)
        every = {x for x in every if x[1] < KHAL_LAST}
        found = {x for x in found if x[1] < KHAL_LAST}
    if reader == "libical":
        found, every = libical_allowance(found, every)
    assert found == every


def libical_allowance(found: set[Instant], every: set[Instant]) -> tuple[set[Instant], ...]:
    """libical 3.0's iterator moves a skipped 02:30 to 03:30 and carries the hour into the next
    step: the occurrence a week after a skipped one is read an hour late (see
    ``feedserver.calendar.clockshifts``). Exactly those, and nothing else, may differ."""
    late = {(uid, start, end) for uid, start, end in every if start in AFTER_GAP}
    shifted = {
        (uid, iso(datetime.fromisoformat(start) + HOUR), iso(datetime.fromisoformat(end) + HOUR))
        for uid, start, end in late
    }
    assert found - every == shifted and every - found == late, found ^ every
    return found - shifted, every - late


async def test_node_ical_reads_each_first_occurrence_of_the_feed(texts: dict[str, Any]) -> None:
    _, first = truth(in_feed(texts))
    assert node("node-ical", texts["feed"]) == first


async def test_caldav_items_and_invitations_read_the_same_in_ical_js(
    texts: dict[str, Any],
) -> None:
    every, first = truth(texts["bookings"])
    for reader in ("ical.js", "libical"):
        from_items = set().union(*(read(reader, item) for item in texts["items"]))
        expected = every
        if reader == "libical":
            from_items, expected = libical_allowance(from_items, every)
        assert from_items == expected, reader
    for invitation in texts["invitations"]:
        found = node("ical.js", invitation)
        uid = next(iter(found))[0] if found else None
        assert found == {x for x in every if x[0] == uid}
        from_libical, expected = libical_allowance(libical(invitation), found)
        assert from_libical == expected
        assert node("node-ical", invitation) <= first


async def test_the_repeated_autumn_hour_is_written_as_the_true_instant(
    texts: dict[str, Any],
) -> None:
    """01:30+02:00 to 02:30+01:00 on 2027-10-31 in Paris lasts two hours in every reader."""
    assert "DTSTART:20271030T233000Z\nDTEND:20271031T013000Z" in texts["feed"].replace("\r\n", "\n")
    for reader in ("ical.js", "ical.js-lenient", "python", "libical"):
        found = {x for x in read(reader, texts["feed"]) if x[1].startswith("2027-10-30T23:30")}
        assert {(x[1], x[2]) for x in found} == {
            ("2027-10-30T23:30:00.000Z", "2027-10-31T01:30:00.000Z")
        }


async def test_zones_are_written_with_yearly_rules_and_single_valued_rdates(
    texts: dict[str, Any],
) -> None:
    feed = texts["feed"].replace("\r\n ", "")
    zones = Calendar.from_ical(texts["feed"]).walk("VTIMEZONE")
    paris = next(z for z in zones if z["TZID"] == "Europe/Paris")
    rules = [str(part.get("RRULE").to_ical().decode()) for part in paris.subcomponents]
    assert sorted(rules) == [
        "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
        "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
    ]
    for line in feed.splitlines():
        if line.startswith("RDATE"):
            assert "," not in line, line


async def test_a_series_through_skipped_and_repeated_hours_reads_the_same_everywhere(
    texts: dict[str, Any],
) -> None:
    """Issue 25, defect 10: a weekly 02:30 Europe/Paris series; ical.js and khal read the
    spring occurrences (02:30 does not exist) as +02:00 and the autumn ones as the second
    02:30. Each is written again as an override with a UTC start, so every reader finds the
    RFC 5545 instants: 01:30 UTC in spring (02:30 read with the offset before the gap), 00:30
    UTC in autumn (the first 02:30)."""
    series = next(b for b in texts["bookings"] if b.rrule == "FREQ=WEEKLY;BYDAY=SU;COUNT=104")
    expected = {
        "2027-03-28T01:30:00.000Z",
        "2027-10-31T00:30:00.000Z",
        "2028-03-26T01:30:00.000Z",
        "2028-10-29T00:30:00.000Z",
    }
    feed = texts["feed"].replace("\r\n ", "")
    assert feed.count(f"UID:{series.uid}") == 5  # the series and its four overrides
    assert "RECURRENCE-ID;TZID=Europe/Paris:20270328T023000" in feed
    assert "DTSTART:20270328T013000Z" in feed
    every, _ = truth([series])
    assert expected <= {x[1] for x in every}
    item = next(i for i in texts["items"] if f"UID:{series.uid}" in i)
    for reader in ("ical.js", "ical.js-lenient", "python", "libical", "khal"):
        for text in (texts["feed"], item):
            found = {x for x in read(reader, text) if x[0] == series.uid}
            mine = every
            if reader == "libical":
                found, mine = libical_allowance(found, every)
            assert found == mine, (reader, sorted(found ^ mine)[:4])
            assert expected <= {x[1] for x in found}, reader


def test_the_hours_each_zone_skips_or_repeats_are_found_once() -> None:
    from zoneinfo import ZoneInfo

    from feedserver.calendar.clockshifts import changed_hours, shifted_occurrences

    def hours(zone: str) -> list[tuple[str, str]]:
        return [(a.isoformat(), b.isoformat()) for a, b in changed_hours(ZoneInfo(zone), 2027)]

    assert hours("Europe/Paris") == [("02:00:00", "03:00:00")]
    assert hours("America/Nuuk") == [("23:00:00", "23:59:59.999999")]  # changes at midnight
    assert hours("Australia/Lord_Howe") == [("01:30:00", "02:00:00"), ("02:00:00", "02:30:00")]
    assert hours("Asia/Tokyo") == []
    paris = ZoneInfo("Europe/Paris")
    # A 10:00 series never meets a change: nothing is walked, nothing is written again.
    assert shifted_occurrences("FREQ=DAILY", datetime(2027, 1, 1, 10, tzinfo=paris), []) == []
    found = shifted_occurrences(
        "FREQ=DAILY;COUNT=400", datetime(2027, 1, 1, 2, 15, tzinfo=paris), []
    )
    assert [f.isoformat() for f in found] == [
        "2027-03-28T02:15:00+01:00",  # skipped: read with the offset before the gap
        "2027-10-31T02:15:00+02:00",  # repeated: its first pass
    ]
