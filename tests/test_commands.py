"""Booking commands parsed at the edge: JSON becomes typed values, and errors name the field."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from feedserver.domain.commands import BookingDraft, BookingPatch
from feedserver.errors import InvalidInput, MalformedRequest
from feedserver.model import Attendee, Status


def test_a_json_booking_becomes_typed_values() -> None:
    draft = BookingDraft.from_json(
        {
            "type": " Haircut ",
            "location": "anhq",
            "staff": "Camille@Example.org",
            "start": "2027-03-01T10:00:00+01:00",
            "attendees": ["ALICE@example.com", {"email": "alice@example.com", "name": "Dup"}],
            "rrule": "RRULE:FREQ=WEEKLY;COUNT=3",
            "exdates": ["2027-03-08T10:00:00+01:00"],
            "status": "pending",
        }
    )
    assert (draft.type_key, draft.location_code, draft.staff) == (
        "haircut",
        "ANHQ",
        "camille@example.org",
    )
    assert isinstance(draft.start, datetime) and draft.start.utcoffset() is not None
    assert draft.attendees == (Attendee("alice@example.com", ""),)
    assert draft.rrule == "FREQ=WEEKLY;COUNT=3"
    assert draft.status is Status.PENDING
    assert isinstance(draft.exdates[0], datetime)


def test_all_day_dates_stay_dates() -> None:
    draft = BookingDraft.from_json(
        {"type": "x", "location": "ANHQ", "staff": 3, "all_day": True, "start": "2027-01-20"}
    )
    assert draft.start == date(2027, 1, 20) and draft.all_day and draft.end is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"location": "ANHQ", "staff": 1, "start": "2027-01-20T10:00:00Z"}, "type"),
        ({"type": "x", "location": "A", "staff": 1, "start": "2027-01-20T10:00:00Z"}, "location"),
        ({"type": "x", "location": "ANHQ", "staff": True, "start": "2027-01-20T10:00Z"}, "staff"),
        ({"type": "x", "location": "ANHQ", "staff": 1}, "start"),
        ({"type": "x", "location": "ANHQ", "staff": 1, "start": "2027-01-20T10:00"}, "start"),
        ({"type": "x", "location": "ANHQ", "staff": 1, "start": "2027-01-20T10:00Z", "x": 1}, "x"),
        (
            {
                "type": "x",
                "location": "ANHQ",
                "staff": 1,
                "start": "2027-01-20T10:00Z",
                "status": "cancelled",
            },
            "status",
        ),
        (
            {
                "type": "x",
                "location": "ANHQ",
                "staff": 1,
                "start": "2027-01-20T10:00Z",
                "timezone": "Mars/Base",
            },
            "timezone",
        ),
    ],
)
def test_bad_fields_are_named(body: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        BookingDraft.from_json(body)
    assert caught.value.field == field


def test_a_body_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedRequest):
        BookingDraft.from_json(["not", "an", "object"])


def test_a_patch_keeps_what_it_does_not_name() -> None:
    patch = BookingPatch.from_json({"title": "New title", "rrule": ""})
    assert patch.title == "New title" and patch.rrule == ""
    assert patch.start is None and patch.attendees is None and patch.all_day is None
    with pytest.raises(InvalidInput) as caught:
        BookingPatch.from_json({"status": "confirmed"})
    assert caught.value.field == "status"


def test_a_draft_as_a_patch_keeps_staff_notes_and_status() -> None:
    draft = BookingDraft(
        type_key="haircut",
        location_code="ANHQ",
        staff=7,
        start=date(2027, 1, 20),
        all_day=True,
        notes="private",
    )
    patch = draft.patch()
    assert patch.staff is None and patch.notes is None
    assert (patch.start, patch.all_day, patch.rrule) == (date(2027, 1, 20), True, "")
