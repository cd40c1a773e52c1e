"""Bulk import: ``feedserver import bookings FILE`` (CSV and iCalendar) and
``POST /api/bookings/import``; bad rows refused with their line and reason, reruns skip what
is in, dry runs write nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from feedserver import config as config_mod
from feedserver.domain import accounts, catalog
from feedserver.store import BookingQuery, Store
from tests.conftest import Api, make_org, store_env

CSV = """\
type,location,staff,start,end,attendee_email,attendee_name,status,title,notes,rrule
haircut,ANHQ,camille@example.org,2026-12-01T10:00:00+01:00,,alice@example.com,Alice,,,,
haircut,ANHQ,camille@example.org,2026-12-01T10:15:00+01:00,,,,,,,
haircut,XXXX,camille@example.org,2026-12-02T10:00:00+01:00,,,,,,,
haircut,ANHQ,camille@example.org,2026-12-03T10:00:00,,,,,,,
haircut,ANHQ,camille@example.org,2026-12-04T10:00:00+01:00,2026-12-04T09:00:00+01:00,,,,,,
haircut,ANHQ,camille@example.org,2026-12-05T10:00:00+01:00,,\
bob@example.com;carol@example.com,Bob;Carol,pending,Colour,Bring photos,
haircut,ANHQ,camille@example.org,2026-12-07T09:00:00+01:00,,,,,,,FREQ=WEEKLY;COUNT=4
haircut,ANHQ,camille@example.org,2026-12-20,2026-12-21,,,,Day off,,
haircut,ANHQ,camille@example.org
"""

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other system//EN\r\n"
    "BEGIN:VEVENT\r\nUID:ext-1@other\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART;TZID=Europe/Paris:20261210T140000\r\nDTEND;TZID=Europe/Paris:20261210T150000\r\n"
    "SUMMARY:Consultation\r\nLOCATION:ANHQ main room\r\n"
    "ATTENDEE;CN=Alice:mailto:alice@example.com\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:ext-2@other\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART:20261211T090000Z\r\nDURATION:PT30M\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:ext-3@other\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART;TZID=Mars/Olympus:20261212T090000\r\nLOCATION:ANHQ\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:ext-4@other\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261226\r\nSUMMARY:ANHQ closed\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def org(data: Path, database_url: str) -> config_mod.Config:
    """The organisation, in the test's store (SQLite under ``data``, or PostgreSQL)."""
    url = database_url if database_url.startswith("postgresql://") else None
    config = config_mod.load(
        None,
        environ={},
        overrides={"storage.data_dir": str(data), "storage.database_url": url},
    )
    store = Store(config.database_url)
    catalog.create_location(
        store, {"code": "ANHQ", "name": "Annecy HQ", "timezone": "Europe/Paris"}
    )
    catalog.create_type(store, {"key": "haircut", "name": "Haircut", "duration_minutes": 45})
    accounts.create_user(
        store, {"email": "camille@example.org", "name": "Camille", "role": "staff"}
    )
    store.close()
    return config


def run_import(config: config_mod.Config, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feedserver", "import", "bookings", *args],
        env={
            "FEEDSERVER_STORAGE_DATA_DIR": str(config.data_dir),
            "PATH": "/usr/bin:/bin",
            **store_env(config),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def bookings_in(config: config_mod.Config) -> list[Any]:
    store = Store(config.database_url)
    try:
        return store.bookings.list(BookingQuery())
    finally:
        store.close()


@pytest.mark.slow  # the feedserver CLI as a separate process
def test_csv_import_refuses_bad_rows_with_line_and_reason(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    config = org(data, database_url)
    source = tmp_path / "bookings.csv"
    source.write_text(CSV)
    report = tmp_path / "report.json"

    dry = run_import(config, str(source), "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert "would import 4" in dry.stdout and bookings_in(config) == []

    done = run_import(config, str(source), "--report", str(report))
    assert done.returncode == 1
    assert "9 rows: imported 4, skipped 0 already in, refused 5" in done.stdout, done.stdout
    assert "bookings.csv:4: unknown location code 'XXXX' (known: ANHQ) [location]" in done.stderr
    refused = {r["line"]: r for r in json.loads(report.read_text())["refused"]}
    # Line 3 overlaps line 2 (same staff member, 10:00 and 10:15): refused as the API would.
    assert set(refused) == {3, 4, 5, 6, 10} and "already has booking" in refused[3]["reason"]
    assert refused[5]["field"] == "start" and refused[6]["field"] == "end"
    assert refused[10]["reason"] == "3 fields, not 11"
    made = {b.start.isoformat(): b for b in bookings_in(config)}
    assert len(made) == 4
    colour = made["2026-12-05T09:00:00+00:00"]
    assert colour.title == "Colour" and colour.status.value == "pending"
    assert [a.email for a in colour.attendees] == ["bob@example.com", "carol@example.com"]
    assert made["2026-12-07T08:00:00+00:00"].rrule == "FREQ=WEEKLY;COUNT=4"
    assert made["2026-12-19T23:00:00+00:00"].all_day

    again = run_import(config, str(source))
    assert "imported 0, skipped 4 already in, refused 5" in again.stdout
    assert len(bookings_in(config)) == 4


@pytest.mark.slow  # the feedserver CLI as a separate process
def test_ics_import_uses_defaults_and_keeps_uids(tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "data"
    config = org(data, database_url)
    source = tmp_path / "export.ics"
    source.write_text(ICS)
    done = run_import(config, str(source), "--type", "haircut", "--staff", "camille@example.org")
    assert done.returncode == 1
    assert "4 rows: imported 2, skipped 0 already in, refused 2" in done.stdout, done.stdout
    assert "export.ics:13: a cancelled event (STATUS:CANCELLED) is not a booking" in done.stderr
    assert "export.ics:20: DTSTART names the time zone 'Mars/Olympus'" in done.stderr
    made = {b.uid: b for b in bookings_in(config)}
    assert set(made) == {"ext-1@other", "ext-4@other"}
    assert made["ext-1@other"].location_code == "ANHQ"  # the code named in LOCATION
    assert made["ext-1@other"].timezone == "Europe/Paris"
    assert [a.email for a in made["ext-1@other"].attendees] == ["alice@example.com"]
    assert made["ext-4@other"].all_day and made["ext-4@other"].title == "ANHQ closed"
    assert (
        "skipped 2 already in"
        in run_import(
            config, str(source), "--type", "haircut", "--staff", "camille@example.org"
        ).stdout
    )


@pytest.mark.slow  # the feedserver CLI as a separate process
def test_an_unreadable_file_is_refused_whole(tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "data"
    config = org(data, database_url)
    source = tmp_path / "bad.csv"
    source.write_text("kind,where\nx,y\n")
    done = run_import(config, str(source))
    assert done.returncode == 1 and "header lacks type, location, staff, start, end" in (
        done.stderr
    )


async def test_the_api_imports_csv(api: Api) -> None:
    await make_org(api)
    body = CSV.replace("2026-12-01T10:15", "2026-12-01T12:15").encode()
    headers = {"Content-Type": "text/csv"}
    dry = await api.call(
        "POST", "/api/bookings/import?dry_run=1", None, 200, data=body, headers=headers
    )
    assert dry["dry_run"] and dry["imported"] == 5
    assert (await api.get("/api/bookings"))["bookings"] == []
    done = await api.call("POST", "/api/bookings/import", None, 200, data=body, headers=headers)
    assert (done["imported"], done["skipped"]) == (5, 0)
    assert {r["line"] for r in done["refused"]} == {4, 5, 6, 10}
    assert len((await api.get("/api/bookings"))["bookings"]) == 5
    again = await api.call("POST", "/api/bookings/import", None, 200, data=body, headers=headers)
    assert (again["imported"], again["skipped"]) == (0, 5)
    bad = await api.call(
        "POST", "/api/bookings/import", None, 422, data=b"a,b\n1,2\n", headers=headers
    )
    assert bad["field"] == "file"
    customer = await api.call(
        "POST",
        "/api/bookings/import",
        None,
        401,
        data=body,
        headers={"Authorization": "", **headers},
    )
    assert customer["error"]


async def test_each_row_is_checked_against_every_row_before_it_and_the_store(api: Api) -> None:
    """A chunk checks single rows from the bookings read once for it and writes them
    together: a series among them, a booking already stored, and rows of the same chunk
    must still refuse whatever overlaps them, as the API would, in file order."""
    await make_org(api)
    stored = await api.post(
        "/api/bookings",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": "camille@example.org",
            "start": "2027-03-01T08:00:00+01:00",
        },
    )
    header = "type,location,staff,start,end,attendee_email,attendee_name,status,title,notes,rrule\n"
    rows = [
        "haircut,ANHQ,camille@example.org,2027-03-01T08:15:00+01:00,,,,,,,",  # 2: the stored one
        "haircut,ANHQ,camille@example.org,2027-03-08T10:00:00+01:00,,,,,,,",  # 3: accepted
        # 4: a series whose second occurrence meets row 3 (not yet written when read)
        "haircut,ANHQ,camille@example.org,2027-03-01T10:00:00+01:00,,,,,,,FREQ=WEEKLY;COUNT=3",
        # 5: a series that meets nothing: accepted
        "haircut,ANHQ,camille@example.org,2027-03-02T10:00:00+01:00,,,,,,,FREQ=WEEKLY;COUNT=3",
        "haircut,ANHQ,camille@example.org,2027-03-16T10:00:00+01:00,,,,,,,",  # 6: row 5's
        "haircut,ANHQ,camille@example.org,2027-03-16T12:00:00+01:00,,,,,,,",  # 7: accepted
        "haircut,ANHQ,camille@example.org,2027-03-16T12:10:00+01:00,,,,,,,",  # 8: row 7
    ]
    body = (header + "\n".join(rows) + "\n").encode()
    done = await api.call(
        "POST", "/api/bookings/import", None, 200, data=body, headers={"Content-Type": "text/csv"}
    )
    refused = {r["line"]: r["reason"] for r in done["refused"]}
    assert set(refused) == {2, 4, 6, 8} and done["imported"] == 3
    assert f"booking {stored['id']}" in refused[2]
    assert all("already has booking" in refused[line] for line in (4, 6, 8))
    assert "recurring" in refused[6]
    listed = (await api.get("/api/bookings?start=2027-03-02T00:00:00Z"))["bookings"]
    starts = sorted(b["start"] for b in listed)
    assert starts == [
        "2027-03-02T10:00:00+01:00",
        "2027-03-08T10:00:00+01:00",
        "2027-03-16T12:00:00+01:00",
    ]


async def test_imported_online_bookings_get_their_room_and_a_link_per_attendee(api: Api) -> None:
    """An import writes a chunk's meetings together: each online booking gets its room,
    each attendee their own link, as a booking made by the API."""
    await make_org(api)
    header = "type,location,staff,start,end,attendee_email,attendee_name,status,title,notes,rrule\n"
    rows = [
        "video,ANHQ,camille@example.org,2027-04-01T10:00:00+02:00,,a@example.com;b@example.com,A;B,,,,",
        "haircut,ANHQ,camille@example.org,2027-04-01T12:00:00+02:00,,c@example.com,C,,,,",
        "video,ANHQ,camille@example.org,2027-04-02T10:00:00+02:00,,d@example.com,D,,,,",
    ]
    done = await api.call(
        "POST",
        "/api/bookings/import",
        None,
        200,
        data=(header + "\n".join(rows) + "\n").encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert done["imported"] == 3, done
    listed = (await api.get("/api/bookings?start=2027-03-31T00:00:00Z"))["bookings"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for booking in listed:
        full = await api.get(f"/api/bookings/{booking['id']}")
        by_type.setdefault(full["type"], []).append(full)
    assert all(b.get("online_meeting") is None for b in by_type["haircut"])
    links = sorted(
        link["attendee"] for b in by_type["video"] for link in b["online_meeting"]["attendee_links"]
    )
    assert links == ["a@example.com", "b@example.com", "d@example.com"]
    assert all(b["online_meeting"]["provider_link"] for b in by_type["video"])
