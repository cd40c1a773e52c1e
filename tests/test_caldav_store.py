"""The ``bookings`` calendars served straight from the store: RFC 6578 sync deltas, ETags,
time ranges, nothing on disk, and the upgrade of a data dir written by release 0.1.0."""

from __future__ import annotations

import re
import shutil
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import pytest
from icalendar import Calendar

from feedserver.web.state import FEEDS
from tests.conftest import Api, basic_auth, book
from tests.process import serve
from tests.test_caldav import CAMILLE, MAYA, _dav, dav_api, dav_config, server  # noqa: F401

ALICE = ("alice@example.com", "alice-password")
DAV = "{DAV:}"
RELEASE_0_1_0 = Path(__file__).parent / "data" / "release-0.1.0"


def bookings_path(login: tuple[str, str]) -> str:
    return f"/dav/{login[0]}/bookings/"


async def sync(
    server: Any, login: tuple[str, str], token: str = ""
) -> tuple[str, dict[str, tuple[int, str]]]:
    """One sync-collection REPORT: the new token, and href -> (status, etag) of each change."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<D:sync-collection xmlns:D="DAV:">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    ).encode()
    status, text = await _dav(
        server,
        "REPORT",
        bookings_path(login),
        login,
        body,
        {"Content-Type": "application/xml", "Depth": "1"},
    )
    assert status == 207, text
    root = ET.fromstring(text)  # noqa: S314 - our own server's answer
    changes: dict[str, tuple[int, str]] = {}
    for response in root.findall(f"{DAV}response"):
        href = unquote((response.findtext(f"{DAV}href") or "").rsplit("/", 1)[-1])
        code = response.findtext(f"{DAV}status") or response.findtext(f"{DAV}propstat/{DAV}status")
        assert code is not None
        etag = response.findtext(f"{DAV}propstat/{DAV}prop/{DAV}getetag") or ""
        changes[href] = (int(code.split()[1]), etag)
    return root.findtext(f"{DAV}sync-token") or "", changes


def href_of(booking: dict[str, Any]) -> str:
    return f"{booking['uid']}.ics"


async def test_sync_collection_returns_exactly_each_change(server: Any, dav_api: Api) -> None:
    first = await book(dav_api)
    camille_token, everything = await sync(server, CAMILLE)
    assert set(everything) == {href_of(first)}
    maya_token, nothing = await sync(server, MAYA)
    assert nothing == {}

    # Created: in Camille's delta alone, with an ETag; nothing for Maya.
    added = await book(dav_api, start="2026-12-02T10:00:00+01:00")
    camille_token, delta = await sync(server, CAMILLE, camille_token)
    assert list(delta) == [href_of(added)] and delta[href_of(added)][0] == 200
    maya_token, delta = await sync(server, MAYA, maya_token)
    assert delta == {}
    # Nothing changed: an empty delta and the same token.
    same, delta = await sync(server, CAMILLE, camille_token)
    assert delta == {} and same == camille_token

    # Moved to Maya: deleted (404) from Camille's calendar, new in Maya's.
    await dav_api.patch(f"/api/bookings/{added['id']}", {"staff": "maya@example.org"})
    camille_token, delta = await sync(server, CAMILLE, camille_token)
    assert delta == {href_of(added): (404, "")}
    maya_token, delta = await sync(server, MAYA, maya_token)
    assert list(delta) == [href_of(added)] and delta[href_of(added)][0] == 200

    # Cancelled: deleted from Maya's calendar; Camille hears nothing more of it.
    await dav_api.post(f"/api/bookings/{added['id']}/cancel", status=200)
    maya_token, delta = await sync(server, MAYA, maya_token)
    assert delta == {href_of(added): (404, "")}
    camille_token, delta = await sync(server, CAMILLE, camille_token)
    assert delta == {}

    # A feed template edit changes every rendering: every item, with new ETags, at once.
    _, before = await sync(server, CAMILLE)
    await dav_api.call(
        "PUT", "/api/feed-templates/default", {"summary": "Booked: [service_name]"}, 200
    )
    camille_token, delta = await sync(server, CAMILLE, camille_token)
    assert set(delta) == {href_of(first)}
    assert delta[href_of(first)][1] != before[href_of(first)][1]
    status, text = await _dav(server, "GET", bookings_path(CAMILLE) + href_of(first))
    assert status == 200 and "SUMMARY:Booked: Haircut" in text


async def test_an_attendee_removed_sees_the_booking_leave(server: Any, dav_api: Api) -> None:
    booking = await book(dav_api)
    token, everything = await sync(server, ALICE)
    assert set(everything) == {href_of(booking)}
    await dav_api.patch(f"/api/bookings/{booking['id']}", {"attendees": []})
    _, delta = await sync(server, ALICE, token)
    assert delta == {href_of(booking): (404, "")}


async def test_unknown_sync_tokens_are_refused(server: Any, dav_api: Api) -> None:
    for token in ("urn:x-feedserver:sync:999999", "http://radicale.org/ns/sync/abc", "nope"):
        body = (
            '<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:">'
            f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/></D:prop></D:sync-collection>"
        ).encode()
        status, text = await _dav(
            server,
            "REPORT",
            bookings_path(CAMILLE),
            CAMILLE,
            body,
            {"Content-Type": "application/xml"},
        )
        assert status == 403 and "valid-sync-token" in text, (token, status, text)


async def test_etags_and_ctag_follow_versions_and_listing_renders_nothing(
    server: Any, dav_api: Api
) -> None:
    booking = await book(dav_api)
    propfind = (
        b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">'
        b"<D:prop><D:getetag/><CS:getctag/></D:prop></D:propfind>"
    )
    fragments = server.app[FEEDS].fragments
    rendered = len(fragments)

    async def listing() -> str:
        status, text = await _dav(
            server,
            "PROPFIND",
            bookings_path(CAMILLE),
            CAMILLE,
            propfind,
            {"Content-Type": "application/xml", "Depth": "1"},
        )
        assert status == 207
        return text

    one, two = await listing(), await listing()
    assert one == two and f"{booking['uid']}.ics" in unquote(one)
    assert len(fragments) == rendered  # ETags come from versions: nothing was rendered
    status, _ = await _dav(server, "GET", bookings_path(CAMILLE) + href_of(booking))
    assert status == 200 and len(fragments) == rendered + 1
    await dav_api.patch(f"/api/bookings/{booking['id']}", {"notes": "bring the file"})
    three = await listing()
    etags = [re.findall(r"<getetag>([^<]+)</getetag>", t) for t in (two, three)]
    ctags = [re.findall(r"getctag[^>]*>([^<]+)<", t) for t in (two, three)]
    assert etags[0] != etags[1] and ctags[0] != ctags[1]


async def test_a_time_range_query_returns_the_bookings_in_it(server: Any, dav_api: Api) -> None:
    inside = await book(dav_api, start="2026-12-01T10:00:00+01:00")
    await book(dav_api, start="2026-12-20T10:00:00+01:00")
    weekly = await book(dav_api, start="2026-11-03T09:00:00+01:00", rrule="FREQ=WEEKLY;COUNT=10")
    all_day = await book(
        dav_api,
        start="2026-12-01",
        end="2026-12-02",
        all_day=True,
        staff="maya@example.org",
        location="NYC1",
        attendees=[{"email": "camille@example.org", "name": "Camille"}],
    )
    query = (
        b'<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        b'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
        b'</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        b'<C:time-range start="20261130T230000Z" end="20261201T230000Z"/>'
        b"</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )
    status, text = await _dav(
        server,
        "REPORT",
        bookings_path(CAMILLE),
        CAMILLE,
        query,
        {"Content-Type": "application/xml", "Depth": "1"},
    )
    assert status == 207
    uids = set(re.findall(r"UID:(\S+)", text))
    # The weekly series has an occurrence on Tuesday 1 December.
    assert uids == {inside["uid"], weekly["uid"], all_day["uid"]}


async def test_the_bookings_calendar_is_never_written_to_disk(
    server: Any, dav_api: Api, dav_config: Any
) -> None:
    await book(dav_api)
    status, _ = await _dav(server, "PROPFIND", bookings_path(CAMILLE), headers={"Depth": "1"})
    assert status == 207
    # Nothing of CalDAV is on disk at all: every calendar is in the store.
    assert not (dav_config.data_dir / "caldav").exists()


@pytest.mark.slow  # a feedserver process
def test_a_data_dir_of_release_0_1_0_is_upgraded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(RELEASE_0_1_0, data)
    db = sqlite3.connect(data / "feedserver.db")
    principal = "camille.martin@demo.feedserver.test"
    published = {
        row[0]
        for row in db.execute("SELECT href FROM caldav_published WHERE principal = ?", (principal,))
    }
    db.close()
    assert published and (data / "caldav/collection-root" / principal / "bookings").is_dir()
    password = next(
        line.split()[1]
        for line in (data / "demo-accounts.txt").read_text().splitlines()
        if line.startswith(principal)
    )

    def dav(base: str, method: str, path: str, depth: str = "1") -> str:
        request = urllib.request.Request(  # noqa: S310 - http to loopback
            base + path,
            method=method,
            headers={"Authorization": basic_auth(principal, password), "Depth": depth},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return str(response.read().decode())

    with serve(data) as (base, _):
        listed = dav(base, "PROPFIND", f"/dav/{principal}/bookings/")
        found = re.findall(r"<href>([^<]+\.ics)</href>", listed)
        hrefs = {unquote(h.rsplit("/", 1)[-1]) for h in found}
        # The same names as the copies had: clients that knew them see no renames.
        assert hrefs == published
        item = dav(base, "GET", f"/dav/{principal}/bookings/{sorted(hrefs)[0]}", "0")
        assert Calendar.from_ical(item).walk("VEVENT")
        # The user's own calendar and event are untouched.
        own = dav(base, "GET", f"/dav/{principal}/personal/own-event-1.ics", "0")
        assert "Dentist (mine)" in own
    # The files went into the database; the folder is kept aside, never deleted.
    assert not (data / "caldav").exists()
    kept = list(data.glob("caldav.migrated-*"))
    assert len(kept) == 1 and (kept[0] / "collection-root" / principal / "personal").is_dir()
    db = sqlite3.connect(data / "feedserver.db")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert "caldav_published" not in tables and "calendar_departures" in tables
