"""/api/bookings: creation, filters, changes, transitions and every kind of bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

Org = dict[str, Any]


def _booking(org: Org, **overrides: Any) -> dict[str, Any]:
    body = {
        "type": "haircut",
        "location": "ANHQ",
        "staff": org["camille"]["email"],
        "start": "2026-12-01T10:00:00+01:00",
        "attendees": [{"email": "alice@example.com", "name": "Alice"}],
    }
    body.update(overrides)
    return body


async def test_create_uses_type_duration_and_location_timezone(api: Api, org: Org) -> None:
    created = await api.post("/api/bookings", _booking(org))
    assert created["uid"].endswith("@feedserver") and created["id"] > 0
    assert created["start"] == "2026-12-01T10:00:00+01:00"
    assert created["end"] == "2026-12-01T10:45:00+01:00"
    assert created["timezone"] == "Europe/Paris"
    assert (created["status"], created["sequence"], created["source"]) == ("confirmed", 0, "api")
    fetched = await api.get(f"/api/bookings/{created['id']}")
    assert fetched == created


async def test_start_in_another_offset_is_stored_as_the_same_instant(api: Api, org: Org) -> None:
    created = await api.post(
        "/api/bookings",
        _booking(
            org,
            start="2026-12-01T09:00:00Z",
            end="2026-12-01T09:30:00Z",
            timezone="America/New_York",
        ),
    )
    assert created["start"] == "2026-12-01T04:00:00-05:00"


async def test_all_day_booking_with_exclusive_end(api: Api, org: Org) -> None:
    created = await api.post("/api/bookings", _booking(org, all_day=True, start="2026-12-24"))
    assert (created["start"], created["end"], created["all_day"]) == (
        "2026-12-24",
        "2026-12-25",
        True,
    )
    bad = await api.post(
        "/api/bookings", _booking(org, all_day=True, start="2026-12-24T10:00"), status=422
    )
    assert bad["field"] == "start"


async def test_group_booking_keeps_every_attendee_once(api: Api, org: Org) -> None:
    created = await api.post(
        "/api/bookings",
        _booking(
            org,
            attendees=[
                {"email": "a@example.com", "name": "A"},
                {"email": "B@example.com", "name": "B"},
                {"email": "a@example.com", "name": "A again"},
            ],
        ),
    )
    assert [a["email"] for a in created["attendees"]] == ["a@example.com", "b@example.com"]


async def test_recurring_booking_with_exception(api: Api, org: Org) -> None:
    created = await api.post(
        "/api/bookings",
        _booking(org, rrule="RRULE:FREQ=WEEKLY;COUNT=4", exdates=["2026-12-08T10:00:00+01:00"]),
    )
    assert created["rrule"] == "FREQ=WEEKLY;COUNT=4"
    assert created["exdates"] == ["2026-12-08T10:00:00+01:00"]
    bad = await api.post(
        "/api/bookings",
        _booking(org, start="2027-01-05T10:00:00+01:00", rrule="FREQ=SECONDLY"),
        status=422,
    )
    assert bad["field"] == "rrule"
    bad = await api.post(
        "/api/bookings",
        _booking(org, start="2027-01-05T10:00:00+01:00", rrule="FREQ=WEEKLY;BYDAY=XX"),
        status=422,
    )
    assert bad["field"] == "rrule"


@pytest.mark.parametrize(
    ("overrides", "status", "error", "field"),
    [
        ({"type": "massage"}, 422, "unknown_reference", "type"),
        ({"location": "ZZZZ"}, 422, "unknown_reference", "location"),
        ({"location": "a"}, 422, "invalid", "location"),
        ({"staff": "nobody@example.org"}, 422, "unknown_reference", "staff"),
        ({"staff": "alice@example.com"}, 422, "invalid", "staff"),
        ({"start": "2026-12-01T10:00:00"}, 422, "invalid", "start"),
        ({"start": "tomorrow"}, 422, "invalid", "start"),
        ({"start": 1700000000}, 422, "invalid", "start"),
        ({"end": "2026-12-01T09:00:00+01:00"}, 422, "invalid", "end"),
        ({"end": "2026-12-01T10:00:00+01:00"}, 422, "invalid", "end"),
        ({"timezone": "Europe/Atlantis"}, 422, "invalid", "timezone"),
        ({"attendees": "alice"}, 422, "invalid", "attendees"),
        ({"attendees": [{"email": "nope"}]}, 422, "invalid", "attendees[0].email"),
        ({"status": "cancelled"}, 422, "invalid", "status"),
        ({"title": ["x"]}, 422, "invalid", "title"),
        ({"colour": "red"}, 422, "invalid", "colour"),
    ],
)
async def test_bad_booking_input_gets_a_precise_error(
    api: Api, org: Org, overrides: dict[str, Any], status: int, error: str, field: str
) -> None:
    body = await api.post("/api/bookings", _booking(org, **overrides), status=status)
    assert (body["error"], body["field"]) == (error, field)
    assert body["message"]


async def test_missing_fields_are_named(api: Api, org: Org) -> None:
    body = await api.post(
        "/api/bookings",
        {"type": "haircut", "location": "ANHQ", "staff": org["camille"]["id"]},
        status=422,
    )
    assert body["field"] == "start"


async def test_malformed_json_and_non_objects(api: Api, org: Org) -> None:
    for raw in (b"{not json", b"", b"[1, 2]", b"\xff\xfe"):
        response = await api.client.post("/api/bookings", data=raw, headers=api.headers)
        assert response.status == 400
        assert (await response.json())["error"] == "malformed"


async def test_oversized_body_gets_413(api: Api, org: Org) -> None:
    response = await api.client.post("/api/bookings", data=b"x" * 1_100_000, headers=api.headers)
    assert response.status == 413
    assert (await response.json())["error"] == "too_large"


async def test_overlapping_confirmed_booking_is_refused(api: Api, org: Org) -> None:
    await api.post("/api/bookings", _booking(org))  # 10:00-10:45 + 15 min buffer after
    clash = await api.post(
        "/api/bookings", _booking(org, start="2026-12-01T10:30:00+01:00"), status=409
    )
    assert clash["error"] == "double_booked"
    # 10:55 falls in the haircut's 15-minute buffer.
    await api.post("/api/bookings", _booking(org, start="2026-12-01T10:55:00+01:00"), status=409)
    # Colouring has 15 minutes before: 11:10 - 15 min = 10:55, inside the buffer too.
    await api.post(
        "/api/bookings",
        _booking(org, type="coloring", start="2026-12-01T11:10:00+01:00"),
        status=409,
    )
    await api.post("/api/bookings", _booking(org, start="2026-12-01T11:00:00+01:00"))
    # Another staff member at the same time is fine; so is a pending booking.
    await api.post("/api/bookings", _booking(org, staff=org["maya"]["id"]))
    await api.post("/api/bookings", _booking(org, status="pending"))


async def test_overlap_with_a_recurring_series(api: Api, org: Org) -> None:
    await api.post("/api/bookings", _booking(org, rrule="FREQ=WEEKLY;COUNT=10"))
    # The fourth week's occurrence: 2026-12-22 10:00.
    await api.post("/api/bookings", _booking(org, start="2026-12-22T10:15:00+01:00"), status=409)
    await api.post("/api/bookings", _booking(org, start="2026-12-23T10:15:00+01:00"))
    # A new series that would hit the existing series in a later week.
    await api.post(
        "/api/bookings",
        _booking(org, start="2026-11-24T10:10:00+01:00", rrule="FREQ=WEEKLY;COUNT=3"),
        status=409,
    )


async def test_confirming_a_pending_booking_checks_overlap(api: Api, org: Org) -> None:
    await api.post("/api/bookings", _booking(org))
    pending = await api.post("/api/bookings", _booking(org, status="pending"))
    body = await api.post(f"/api/bookings/{pending['id']}/confirm", status=409)
    assert body["error"] == "double_booked"


async def test_patch_bumps_sequence_and_keeps_uid(api: Api, org: Org) -> None:
    created = await api.post("/api/bookings", _booking(org))
    moved = await api.patch(
        f"/api/bookings/{created['id']}", {"start": "2026-12-02T14:00:00+01:00", "location": "nyc1"}
    )
    assert moved["uid"] == created["uid"]
    assert moved["sequence"] == 1
    assert moved["start"] == "2026-12-02T14:00:00+01:00"
    assert moved["end"] == "2026-12-02T14:45:00+01:00"  # duration kept
    assert moved["location"] == "NYC1"
    assert moved["updated_at"] > created["updated_at"]
    same = await api.patch(f"/api/bookings/{created['id']}", {"location": "NYC1"})
    assert same["sequence"] == 1  # nothing changed, nothing bumped
    guests = await api.patch(
        f"/api/bookings/{created['id']}",
        {"attendees": [{"email": "bob@example.com", "name": "Bob"}]},
    )
    assert guests["sequence"] == 2
    bad = await api.patch(f"/api/bookings/{created['id']}", {"status": "confirmed"}, status=422)
    assert bad["field"] == "status"
    await api.patch("/api/bookings/99999", {"title": "x"}, status=404)
    await api.patch("/api/bookings/abc", {"title": "x"}, status=404)


async def test_status_transitions(api: Api, org: Org) -> None:
    pending = await api.post("/api/bookings", _booking(org, status="pending"))
    confirmed = await api.post(f"/api/bookings/{pending['id']}/confirm", status=200)
    assert (confirmed["status"], confirmed["sequence"]) == ("confirmed", 1)
    again = await api.post(f"/api/bookings/{pending['id']}/confirm", status=200)
    assert again["sequence"] == 1
    refused = await api.post(f"/api/bookings/{pending['id']}/reject", status=409)
    assert refused["error"] == "conflict"
    cancelled = await api.post(f"/api/bookings/{pending['id']}/cancel", status=200)
    assert (cancelled["status"], cancelled["sequence"]) == ("cancelled", 2)
    await api.post(f"/api/bookings/{pending['id']}/confirm", status=409)
    other = await api.post(
        "/api/bookings", _booking(org, status="pending", start="2026-12-05T10:00:00+01:00")
    )
    rejected = await api.post(f"/api/bookings/{other['id']}/reject", status=200)
    assert rejected["status"] == "rejected"


async def test_list_filters(api: Api, org: Org) -> None:
    a = await api.post("/api/bookings", _booking(org))
    b = await api.post(
        "/api/bookings",
        _booking(org, type="video", staff=org["maya"]["id"], location="NYC1", status="pending"),
    )
    c = await api.post("/api/bookings", _booking(org, start="2027-02-01T10:00:00+01:00"))

    async def ids(query: str) -> list[int]:
        return [x["id"] for x in (await api.get(f"/api/bookings{query}"))["bookings"]]

    assert await ids("") == [a["id"], b["id"], c["id"]]
    assert await ids("?type=video") == [b["id"]]
    assert await ids("?location=anhq") == [a["id"], c["id"]]
    assert await ids("?staff=maya@example.org") == [b["id"]]
    assert await ids(f"?staff={org['camille']['id']}&status=confirmed") == [a["id"], c["id"]]
    assert await ids("?start=2027-01-01T00:00:00Z") == [c["id"]]
    assert await ids("?end=2027-01-01T00:00:00%2B01:00") == [a["id"], b["id"]]
    bad = await api.get("/api/bookings?status=done", status=422)
    assert bad["field"] == "status"
    bad = await api.get("/api/bookings?start=yesterday", status=422)
    assert bad["field"] == "start"
