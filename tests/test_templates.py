"""The one template engine: both spellings, dropped lines, and what an empty value may trim."""

from __future__ import annotations

import pytest

from feedserver.calendar import templates
from feedserver.errors import InvalidInput
from feedserver.notify import messages

VALUES = {
    "service_name": "Haircut",
    "customer_full_name": "",
    "location_name": "Annecy HQ",
    "location_code": "ANHQ",
    "location_address": "",
    "attendees": "",
    "customer_name": "Anna Kowalski",
    "booking_start_time": "",
    "booking_end_time": "",
}


def test_both_spellings_render_the_same_value() -> None:
    assert templates.render("%service_name% / [service_name]", VALUES) == "Haircut / Haircut"


def test_a_line_whose_values_are_all_empty_is_dropped() -> None:
    text = "First\nAttendees: %attendees%\nLast"
    assert templates.render(text, VALUES) == "First\nLast"


def test_an_empty_value_takes_its_separator_along() -> None:
    assert templates.render("%service_name% · %customer_full_name%", VALUES) == "Haircut"
    assert templates.render("%customer_full_name% · %service_name%", VALUES) == "Haircut"
    line = "%location_name% (%location_code%), %location_address%"
    assert templates.render(line, VALUES) == "Annecy HQ (ANHQ)"


def test_an_empty_value_in_brackets_takes_the_brackets_along() -> None:
    values = {**VALUES, "location_code": "", "location_address": "12 rue Royale"}
    line = "%location_name% (%location_code%), %location_address%"
    assert templates.render(line, values) == "Annecy HQ, 12 rue Royale"


def test_punctuation_in_a_value_is_never_trimmed() -> None:
    values = {**VALUES, "service_name": "Atelier chignon (groupe)"}
    assert templates.render("%service_name% · %customer_full_name%", values) == (
        "Atelier chignon (groupe)"
    )


def test_punctuation_the_template_writes_stays() -> None:
    assert templates.render("Hello [customer_name],", VALUES) == "Hello Anna Kowalski,"
    assert templates.render("It is now:\n[service_name]", VALUES) == "It is now:\nHaircut"


def test_empty_times_leave_no_dangling_dashes() -> None:
    values = {
        **VALUES,
        "booking_start_date": "Wednesday 20 January 2027",
        "booking_timezone": "Europe/Paris",
    }
    line = "[booking_start_date], [booking_start_time]–[booking_end_time] ([booking_timezone])"
    assert templates.render(line, values) == "Wednesday 20 January 2027 (Europe/Paris)"


def test_a_name_the_caller_does_not_offer_stays_as_written() -> None:
    assert templates.render("[draft] %service_name%", VALUES) == "[draft] Haircut"


def test_unknown_names_are_refused_when_saved_in_either_spelling() -> None:
    with pytest.raises(InvalidInput) as caught:
        templates.validate_feed_template("%service_name% [colour]", "summary")
    assert "[colour]" in caught.value.message and caught.value.field == "summary"
    with pytest.raises(InvalidInput) as caught:
        messages.validate("Hi %nickname%", "body")
    assert "%nickname%" in caught.value.message


def test_email_variables_render_in_feed_spelling_too() -> None:
    assert messages.render("Hi %customer_name%", {"customer_name": "Léa"}) == "Hi Léa"
