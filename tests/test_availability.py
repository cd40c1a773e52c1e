"""Working hours and free slots: the API, DST weeks, exceptions, bookings with buffers,
any staff at a location, minimum notice."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, basic_auth, book
from tests.test_caldav import _dav, dav_api, dav_config, server  # noqa: F401

CAMILLE = {"Authorization": basic_auth("camille@example.org", "camille-password")}
HOURS = {
    "timezone": "Europe/Paris",
    "weekly": {"mon": [["13:00", "17:00"], ["09:00", "12:00"]], "tue": [["09:00", "12:00"]]},
    "exceptions": [{"date": "2026-12-08", "hours": []}],
}


def starts(found: dict[str, Any]) -> list[str]:
    return [s["start"] for s in found["slots"]]


async def test_working_hours_are_set_read_and_cleared(api: Api, org: dict[str, Any]) -> None:
    saved = await api.call("PUT", "/api/users/camille@example.org/working-hours", HOURS)
    assert saved["weekly"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert await api.get("/api/me/working-hours", headers=CAMILLE) == saved
    for bad, field in (
        ({**HOURS, "weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "weekly.mon"),
        ({**HOURS, "weekly": {"mon": [["9", "12:00"]]}}, "weekly.mon[0]"),
        ({**HOURS, "weekly": {"someday": []}}, "weekly"),
        ({**HOURS, "timezone": "Mars/Olympus"}, "timezone"),
        ({**HOURS, "exceptions": [{"date": "soon", "hours": []}]}, "exceptions[0].date"),
    ):
        refused = await api.call("PUT", "/api/me/working-hours", bad, status=422, headers=CAMILLE)
        assert refused["field"] == field, refused
    await api.call("DELETE", "/api/me/working-hours", status=204, headers=CAMILLE)
    gone = await api.get("/api/me/working-hours", status=404, headers=CAMILLE)
    assert "always available" in gone["message"]


async def test_slots_fit_working_hours_buffers_and_bookings(api: Api, org: dict[str, Any]) -> None:
    await api.call("PUT", "/api/users/camille@example.org/working-hours", HOURS)
    query = (
        "/api/availability?type=haircut&location=ANHQ&staff=camille@example.org"
        "&start=2026-12-07T00:00:00%2B01:00&end=2026-12-09T00:00:00%2B01:00"
    )
    free = starts(await api.get(query))
    # Haircut: 45 minutes and 15 after, so the last start is an hour before the end.
    assert free[0] == "2026-12-07T09:00:00+01:00" and "2026-12-07T11:00:00+01:00" in free
    assert "2026-12-07T11:15:00+01:00" not in free and free[-1] == "2026-12-07T16:00:00+01:00"
    assert len(free) == 9 + 13  # Monday; Tuesday 8 December is an exception: not worked
    await book(api, start="2026-12-07T10:00:00+01:00")  # busy 10:00-11:00 with its buffer
    free = starts(await api.get(query))
    assert "2026-12-07T09:00:00+01:00" in free and "2026-12-07T11:00:00+01:00" in free
    assert not any("T09:15" <= s[10:16] <= "T10:45" for s in free if s.startswith("2026-12-07"))


async def test_slots_across_the_spring_change(api: Api, org: dict[str, Any]) -> None:
    weekend = {
        "timezone": "Europe/Paris",
        "weekly": {"sat": [["09:00", "10:00"]], "sun": [["09:00", "10:00"]]},
    }
    await api.call("PUT", "/api/users/camille@example.org/working-hours", weekend)
    found = await api.get(
        "/api/availability?type=video&location=ANHQ&staff=camille@example.org"
        "&start=2027-03-27T00:00:00Z&end=2027-03-29T00:00:00Z"
    )
    assert starts(found) == [
        "2027-03-27T09:00:00+01:00",
        "2027-03-27T09:15:00+01:00",
        "2027-03-27T09:30:00+01:00",
        "2027-03-28T09:00:00+02:00",
        "2027-03-28T09:15:00+02:00",
        "2027-03-28T09:30:00+02:00",
    ]


async def test_any_staff_at_the_location_and_ones_own_slots(api: Api, org: dict[str, Any]) -> None:
    found = await api.get(
        "/api/availability?type=video&location=NYC1"
        "&start=2026-12-07T09:00:00-05:00&end=2026-12-07T10:00:00-05:00"
    )
    assert {s["staff"]["email"] for s in found["slots"]} == {"maya@example.org"}
    assert starts(found)[0] == "2026-12-07T09:00:00-05:00"  # no hours set: always available
    mine = await api.get(
        "/api/me/availability?type=video&location=ANHQ"
        "&start=2026-12-07T09:00:00%2B01:00&end=2026-12-07T10:00:00%2B01:00",
        headers=CAMILLE,
    )
    assert {s["staff"]["email"] for s in mine["slots"]} == {"camille@example.org"}


async def test_no_slot_in_the_past_and_bad_ranges_are_refused(
    api: Api, org: dict[str, Any]
) -> None:
    found = await api.get(
        "/api/availability?type=video&location=ANHQ&staff=camille@example.org"
        "&start=2020-01-01T00:00:00Z&end=2020-01-02T00:00:00Z"
    )
    assert found == {"slots": []}
    refused = await api.get(
        "/api/availability?type=video&location=ANHQ"
        "&start=2026-01-01T00:00:00Z&end=2027-01-01T00:00:00Z",
        status=422,
    )
    assert refused["field"] == "end"


async def test_a_recurring_booking_takes_each_of_its_occurrences(
    api: Api, org: dict[str, Any]
) -> None:
    await api.call("PUT", "/api/users/camille@example.org/working-hours", HOURS)
    await book(api, start="2026-11-30T14:00:00+01:00", rrule="FREQ=WEEKLY;COUNT=4")
    found = starts(
        await api.get(
            "/api/availability?type=haircut&location=ANHQ&staff=camille@example.org"
            "&start=2026-12-07T00:00:00%2B01:00&end=2026-12-08T00:00:00%2B01:00"
        )
    )
    afternoon = [s[11:16] for s in found if s[11:16] >= "13:00"]
    assert afternoon == ["13:00", "15:00", "15:15", "15:30", "15:45", "16:00"]


async def test_a_busy_link_shows_when_but_not_what_or_who(
    api: Api, client: Any, org: dict[str, Any]
) -> None:
    await book(
        api,
        start="2026-12-07T10:00:00+01:00",
        title="Root canal, Mrs Smith",
        attendees=[{"email": "alice@example.com", "name": "Alice Liddell"}],
    )
    link = await api.post(
        "/api/feeds", {"user": "camille@example.org", "kind": "busy", "show_attendees": True}
    )
    assert link["kind"] == "busy"
    feed = await (await client.get("/feeds/" + link["url"].split("/feeds/", 1)[1])).text()
    assert "SUMMARY:Busy" in feed and "CLASS:PRIVATE" in feed and "TRANSP:OPAQUE" in feed
    for secret in ("Haircut", "Alice", "Root canal", "Annecy", "DESCRIPTION", "LOCATION"):
        assert secret not in feed, secret
    assert "DTSTART;TZID=Europe/Paris:20261207T100000" in feed
    normal = await api.post("/api/feeds", {"user": "camille@example.org"})
    assert normal["kind"] == "events"
    text = await (await client.get("/feeds/" + normal["url"].split("/feeds/", 1)[1])).text()
    assert "Haircut" in text
    refused = await api.post("/api/feeds", {"user": "camille@example.org", "kind": "x"}, status=422)
    assert refused["field"] == "kind"


FREE_BUSY = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav">'
    b'<c:time-range start="20261207T000000Z" end="20261208T000000Z"/>'
    b"</c:free-busy-query>"
)


async def test_the_caldav_free_busy_report_reflects_bookings(server: Any, dav_api: Api) -> None:
    await book(dav_api, start="2026-12-07T10:00:00+01:00")
    status, body = await _dav(
        server,
        "REPORT",
        "/dav/camille@example.org/bookings/",
        body=FREE_BUSY,
        headers={"Depth": "1"},
    )
    assert status == 200, body
    assert "BEGIN:VFREEBUSY" in body
    assert "FREEBUSY" in body and "20261207T090000Z/20261207T094500Z" in body.replace("\r\n ", "")
