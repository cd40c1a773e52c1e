"""Users' own CalDAV calendars in the store (both backends), over real HTTP: sync-tokens
(RFC 6578) that report what was written and deleted since, a token of a calendar deleted and
made again refused, a time-range REPORT that reads only what the index puts in range, MOVE,
a whole calendar PUT at once, properties, and the move of an old data dir's folder into the
store (checked, kept aside; a copy that does not check leaves the folder where it was)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from feedserver.caldav_bridge import layout
from feedserver.config import Config
from feedserver.store import Store
from tests.conftest import Api
from tests.test_caldav import CAMILLE, _dav, dav_api, dav_config, server  # noqa: F401

CALENDAR = f"/dav/{CAMILLE[0]}/own/"
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{}</D:sync-token>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
)


def event(uid: str, day: int, summary: str = "Mine") -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T090000Z\r\nDTSTART:202612{day:02d}T090000Z\r\n"
        f"DTEND:202612{day:02d}T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


async def sync(server: Any, token: str) -> tuple[int, str, dict[str, str]]:
    """(status, new token, href -> "200"/"404")."""
    status, text = await _dav(
        server,
        "REPORT",
        CALENDAR,
        body=SYNC.format(token).encode(),
        headers={"Content-Type": "application/xml"},
    )
    new = re.search(r"sync-token>([^<]+)<", text)
    found = {}
    for response in re.findall(r"<response>(.*?)</response>", text, re.S):
        href = re.search(r"<href>([^<]+)</href>", response)
        state = "404" if "404" in response else "200"
        if href:
            found[href.group(1).rsplit("/", 1)[-1]] = state
    return status, new.group(1) if new else "", found


async def test_a_sync_reports_what_was_written_and_deleted_since_its_token(
    server: Any, dav_api: Api
) -> None:
    assert (await _dav(server, "MKCALENDAR", CALENDAR))[0] == 201
    for name in ("a", "b", "c"):
        status, _ = await _dav(server, "PUT", f"{CALENDAR}{name}.ics", body=event(name, 1))
        assert status == 201
    status, token, found = await sync(server, "")
    assert status == 207 and found == {"a.ics": "200", "b.ics": "200", "c.ics": "200"}
    assert token.startswith("urn:x-feedserver:dav:")
    status, again, found = await sync(server, token)
    assert (status, again, found) == (207, token, {})  # nothing changed, the same token
    await _dav(server, "PUT", f"{CALENDAR}b.ics", body=event("b", 2, "Moved"))
    assert (await _dav(server, "DELETE", f"{CALENDAR}c.ics"))[0] == 200
    await _dav(server, "PUT", f"{CALENDAR}d.ics", body=event("d", 3))
    status, newer, found = await sync(server, token)
    assert status == 207 and newer != token
    assert found == {"b.ics": "200", "c.ics": "404", "d.ics": "200"}
    # An item deleted and written again is there, not gone.
    await _dav(server, "DELETE", f"{CALENDAR}d.ics")
    await _dav(server, "PUT", f"{CALENDAR}d.ics", body=event("d", 4))
    _, _, found = await sync(server, newer)
    assert found == {"d.ics": "200"}


async def test_a_token_of_a_calendar_deleted_and_made_again_is_refused(
    server: Any, dav_api: Api
) -> None:
    await _dav(server, "MKCALENDAR", CALENDAR)
    await _dav(server, "PUT", f"{CALENDAR}a.ics", body=event("a", 1))
    _, token, _ = await sync(server, "")
    assert (await _dav(server, "DELETE", CALENDAR))[0] == 200
    await _dav(server, "MKCALENDAR", CALENDAR)
    status, text = await _dav(
        server,
        "REPORT",
        CALENDAR,
        body=SYNC.format(token).encode(),
        headers={"Content-Type": "application/xml"},
    )
    assert status == 403 and "valid-sync-token" in text
    for forged in ("urn:x-feedserver:dav:1:99999999", "http://radicale.org/ns/sync/abc"):
        status, _ = await _dav(
            server,
            "REPORT",
            CALENDAR,
            body=SYNC.format(forged).encode(),
            headers={"Content-Type": "application/xml"},
        )
        assert status == 403


async def test_a_time_range_query_answers_from_the_index(server: Any, dav_api: Api) -> None:
    await _dav(server, "MKCALENDAR", CALENDAR)
    for day in (1, 10, 20):
        await _dav(server, "PUT", f"{CALENDAR}e{day}.ics", body=event(f"e{day}", day))
    query = (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter>'
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        '<C:time-range start="20261209T000000Z" end="20261215T000000Z"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )
    status, text = await _dav(
        server,
        "REPORT",
        CALENDAR,
        body=query.encode(),
        headers={"Content-Type": "application/xml", "Depth": "1"},
    )
    assert status == 207
    assert re.findall(r"/(e\d+\.ics)<", text) == ["e10.ics"]


async def test_move_whole_calendar_put_and_properties(
    server: Any, dav_api: Api, dav_config: Config
) -> None:
    await _dav(server, "MKCALENDAR", CALENDAR)
    await _dav(server, "MKCALENDAR", f"/dav/{CAMILLE[0]}/other/")
    await _dav(server, "PUT", f"{CALENDAR}a.ics", body=event("a", 1))
    status, _ = await _dav(
        server,
        "MOVE",
        f"{CALENDAR}a.ics",
        headers={"Destination": f"/dav/{CAMILLE[0]}/other/moved.ics"},
    )
    assert status == 201
    assert (await _dav(server, "GET", f"{CALENDAR}a.ics"))[0] == 404
    status, text = await _dav(server, "GET", f"/dav/{CAMILLE[0]}/other/moved.ics")
    assert status == 200 and "UID:a" in text
    # A whole calendar in one PUT: the calendar's items become exactly those.
    whole = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        + b"".join(
            event(f"w{day}", day).split(b"PRODID:-//test//EN\r\n")[1].rsplit(b"END:VCALENDAR", 1)[0]
            for day in (2, 3)
        )
        + b"END:VCALENDAR\r\n"
    )
    status, _ = await _dav(server, "PUT", CALENDAR, body=whole)
    assert status in (201, 204)
    store = Store(dav_config.database_url)
    try:
        record = store.dav.collection(f"{CAMILLE[0]}/own")
        assert record is not None and record.props.get("tag") == "VCALENDAR"
        assert sorted(o.uid for o in store.dav.objects(record.id)) == ["w2", "w3"]
    finally:
        store.close()
    props = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        "<D:displayname>Family</D:displayname></D:prop></D:set></D:propertyupdate>"
    )
    status, _ = await _dav(
        server, "PROPPATCH", CALENDAR, body=props.encode(), headers={"Content-Type": "text/xml"}
    )
    assert status == 207
    status, text = await _dav(server, "PROPFIND", CALENDAR, headers={"Depth": "0"})
    assert status == 207 and "Family" in text


def _old_folder(tmp_path: Path) -> Path:
    """A CalDAV folder as Radicale's file storage writes it: a principal, a calendar with
    properties and two items."""
    root = tmp_path / "caldav" / "collection-root" / "alice@example.org"
    calendar = root / "work"
    calendar.mkdir(parents=True)
    (calendar / ".Radicale.props").write_text(
        '{"tag": "VCALENDAR", "D:displayname": "Work", "C:supported-calendar-component-set": '
        '"VEVENT"}'
    )
    for name in ("one", "two"):
        (calendar / f"{name}.ics").write_bytes(event(name, 5))
    return tmp_path / "caldav"


def test_an_old_folder_moves_into_the_store_checked_and_kept_aside(
    tmp_path: Path, database_url: str
) -> None:
    folder = _old_folder(tmp_path)
    store = Store(database_url)
    try:
        moved = layout.migrate_folder(folder, store)
        assert (moved.collections, moved.items) == (2, 2)  # the principal and the calendar
        assert moved.moved_to is not None and (moved.moved_to / "collection-root").is_dir()
        assert not folder.exists()
        calendar = store.dav.collection("alice@example.org/work")
        assert calendar is not None and calendar.props["D:displayname"] == "Work"
        texts = {o.href: o.text for o in store.dav.objects(calendar.id)}
        assert texts.keys() == {"one.ics", "two.ics"} and "UID:one" in texts["one.ics"]
    finally:
        store.close()


def test_a_folder_that_was_copied_before_is_left_where_it_is(
    tmp_path: Path, database_url: str
) -> None:
    folder = _old_folder(tmp_path)
    spare = tmp_path / "spare"
    shutil.copytree(folder, spare)
    store = Store(database_url)
    try:
        layout.migrate_folder(folder, store)
        with pytest.raises(layout.FolderMigrationError, match="already holds"):
            layout.migrate_folder(spare, store)
        assert (spare / "collection-root").is_dir()  # untouched
        assert store.dav.totals() == (2, 2)  # nothing written twice
    finally:
        store.close()


@pytest.mark.slow  # the feedserver CLI as a separate process
def test_a_server_whose_folder_does_not_move_says_why_and_keeps_it(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    folder = _old_folder(data)
    store = Store(database_url)
    try:
        layout.migrate_folder(_old_folder(tmp_path / "earlier"), store)  # copied before
    finally:
        store.close()
    env = {**os.environ, "FEEDSERVER_STORAGE_DATA_DIR": str(data)}
    if "://" in database_url:
        env["FEEDSERVER_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "feedserver", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "was not moved into the store" in done.stderr and "already holds" in done.stderr
    assert "Traceback" not in done.stderr
    assert (folder / "collection-root" / "alice@example.org" / "work" / "one.ics").is_file()
