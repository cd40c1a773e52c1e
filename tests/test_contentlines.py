"""The content-line writer of feeds and CalDAV items: any text survives escaping and folding
as icalendar reads it back, every physical line stays within 75 octets and is valid UTF-8."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st
from icalendar import Event

from feedserver.calendar.contentlines import ContentLines, escape_text, fold, moment


def _read_back(lines: ContentLines) -> Event:
    event = Event.from_ical(lines.to_bytes())
    assert isinstance(event, Event)
    return event


def _expected(text: str) -> str:
    """What a reader should get: line breaks as LF, control characters but HTAB dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\t\n" or not (ord(c) < 0x20 or ord(c) == 0x7F))


@settings(max_examples=400, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=400))
@example("\\" * 80)
@example("é" * 37 + "\\n" + "," * 80)
@example("a\r\nb\rc\nd\x00e\x1ff\tg")
def test_any_text_round_trips(text: str) -> None:
    lines = ContentLines("VEVENT")
    lines.text("DESCRIPTION", text)
    lines.texts("CATEGORIES", [text, "second, with comma"])
    data = lines.to_bytes()
    for physical in data.split(b"\r\n"):
        assert len(physical) <= 75
        physical.decode()  # a fold never splits a UTF-8 sequence
    event = _read_back(lines)
    assert str(event["DESCRIPTION"]) == _expected(text)
    assert [str(c) for c in event["CATEGORIES"].cats] == [_expected(text), "second, with comma"]


def test_a_fold_keeps_an_escape_together() -> None:
    line = "DESCRIPTION:" + "x" * 62 + "\\n" + "y" * 20
    folded = fold(line).split(b"\r\n")
    assert folded[0].endswith(b"x") and folded[1].startswith(b" \\n")


def test_escape_text() -> None:
    assert escape_text("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"


def test_moments() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert moment(date(2026, 3, 1)) == (";VALUE=DATE", "20260301")
    assert moment(datetime(2026, 3, 1, 9, 5, tzinfo=UTC)) == ("", "20260301T090500Z")
    assert moment(datetime(2026, 3, 1, 9, 5, tzinfo=paris)) == (
        ";TZID=Europe/Paris",
        "20260301T090500",
    )
    assert moment(datetime(2026, 3, 1, 9, 5)) == ("", "20260301T090500")
    lines = ContentLines("VEVENT")
    lines.when("DTSTART", datetime(2026, 3, 1, 9, 5, tzinfo=paris))
    lines.whens("EXDATE", [datetime(2026, 3, 8, 9, 5, tzinfo=paris)] * 2)
    lines.recur("RRULE", "FREQ=WEEKLY;COUNT=4")
    event = _read_back(lines)
    assert event.decoded("DTSTART") == datetime(2026, 3, 1, 9, 5, tzinfo=paris)
    assert event.decoded("RRULE").get("FREQ") == ["WEEKLY"]
