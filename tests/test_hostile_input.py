"""Hostile input on every API route: numbers beyond SQLite's 64-bit range, deeply nested
JSON, NUL bytes, huge strings, unknown time zones, absurd recurrence rules. Every answer
is a 4xx that names the problem; none is a 5xx."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import Api

HUGE = 2**64
# "¹" and "①" are digits to str.isdigit() and not to int(): a 500 once (the stateful fuzz).
SUPERSCRIPTS = ["¹", "²³", "①", "٣"]
PATH_VALUES = [str(HUGE), "99999999999999999999999999", "-1", "0", "%00", "x" * 3000]
PATH_VALUES += SUPERSCRIPTS
FIELDS = [
    "id",
    "staff",
    "type",
    "location",
    "start",
    "end",
    "timezone",
    "rrule",
    "attendees",
    "duration_minutes",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "user",
    "email",
    "name",
    "code",
    "key",
    "status",
    "notes",
    "title",
    "exdates",
    "limit",
    "after",
    "booked",
    "cancelled",
    "days",
    "weekday",
    "minutes",
    "password",
    "role",
    "scope",
    "types",
    "locations",
    "statuses",
    "summary",
    "description",
    "url",
    "calendar",
]
HOSTILE: list[Any] = [
    HUGE,
    -HUGE,
    10**400,
    1e308,
    1.5,
    "\x00",
    "a\x00b",
    "x" * 100_000,
    [HUGE],
    {"a": HUGE},
    "Mars/Olympus",
    "../../etc/passwd",
    "FREQ=SECONDLY;INTERVAL=0",
    "FREQ=YEARLY;BYSETPOS=" + ",".join(str(i) for i in range(1, 400)),
    True,
    None,
    [],
    # Not Unicode: a lone surrogate (valid JSON) was a 500 on 26 route/field pairs (issue 25).
    "a\ud800b",
    "\udfff",
    ["a\ud800"],
    {"\ud800": "x"},
    # Times beyond what converts, and dates outside the window (1970 to 2200).
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "1900-01-01T10:00:00Z",
    "0001-01-01",
    ["0001-01-01T00:00:00+14:00"],
    [{"email": "guest@example.com", "name": "a\x00b"}],
    [{"email": "guest@example.com", "name": "a\ud800b"}],
]
# The raw bytes ED A0 80 (a UTF-8-encoded surrogate), which json.loads accepts.
RAW_SURROGATE = b'{"name": "a\xed\xa0\x80b", "title": "a\xed\xa0\x80b"}'


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


async def _routes(api: Api) -> list[tuple[str, str]]:
    found = []
    for resource in api.client.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or ""
        if not path.startswith("/api/"):
            continue
        for route in resource:
            if route.method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                found.append((route.method, path))
    return sorted(set(found))


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


async def test_no_route_answers_5xx_to_hostile_input(api: Api, org: dict[str, Any]) -> None:
    failures = []
    routes = await _routes(api)
    assert len(routes) > 30
    for method, template in routes:
        paths = {_fill(template, v) for v in PATH_VALUES} | {_fill(template, "1")}
        for path in sorted(paths):
            bodies: list[Any] = [None if method in ("GET", "DELETE") else {}]
            if method in ("POST", "PUT", "PATCH") and path == _fill(template, "1"):
                bodies = [{f: value} for f in FIELDS for value in HOSTILE]
                bodies.append({f: HUGE for f in FIELDS})
                for raw in (
                    _deep(100_000),
                    '{"a":' * 50_000,
                    '{"name": "a\\u0000"}',
                    _deep(900),
                    RAW_SURROGATE,
                ):
                    response = await api.client.request(
                        method,
                        path,
                        data=raw,
                        headers={**api.headers, "Content-Type": "application/json"},
                    )
                    if response.status >= 500:
                        failures.append((method, path, str(raw[:40]), response.status))
            for body in bodies:
                response = await api.client.request(method, path, json=body, headers=api.headers)
                if response.status >= 500:
                    failures.append((method, path, str(body)[:120], response.status))
            numbers = [str(HUGE), *SUPERSCRIPTS]
            queries = [
                f"?{name}={n}" for name in ("limit", "after", "offset", "staff") for n in numbers
            ]
            for query in queries:
                response = await api.client.request("GET", path + query, headers=api.headers)
                if response.status >= 500:
                    failures.append(("GET", path + query, "", response.status))
    by_route: dict[tuple[str, str], str] = {}
    for method, path, body, status in failures:
        by_route.setdefault((method, path.split("?")[0][:60]), f"{status} {body}")
    assert not by_route, "\n".join(f"{m} {p}: {b}" for (m, p), b in sorted(by_route.items()))


def _field(body: Any) -> str | None:
    return body.get("field") if isinstance(body, dict) else None


async def _refused(api: Api, method: str, path: str, body: Any) -> Any:
    response = await api.client.request(method, path, json=body, headers=api.headers)
    assert 400 <= response.status < 500, (response.status, await response.text())
    return await response.json()


async def test_each_hostile_value_gets_a_4xx_naming_its_field(
    api: Api, org: dict[str, Any]
) -> None:
    booking = await api.post(
        "/api/bookings",
        {
            "type": "haircut",
            "location": "ANHQ",
            "staff": "camille@example.org",
            "start": "2030-03-04T10:00:00+01:00",
        },
    )
    path = f"/api/bookings/{booking['id']}"
    body = await api.get(f"/api/bookings/{HUGE}", status=404)
    assert body["error"] == "not_found"
    body = await _refused(api, "PATCH", path, {"staff": HUGE})
    assert _field(body) == "staff"
    body = await _refused(api, "PATCH", path, {"timezone": "Mars/Olympus"})
    assert _field(body) == "timezone"
    body = await _refused(api, "PATCH", path, {"timezone": "../../etc/passwd"})
    assert _field(body) == "timezone"
    body = await _refused(api, "PATCH", path, {"notes": "a\x00b"})
    assert _field(body) == "notes" and "control character" in body["message"]
    body = await _refused(api, "PATCH", path, {"notes": "x" * 100_000})
    assert _field(body) == "notes"
    body = await _refused(api, "PATCH", path, {"rrule": "FREQ=SECONDLY;INTERVAL=0"})
    assert _field(body) == "rrule"
    body = await _refused(
        api, "POST", "/api/types", {"key": "t", "name": "T", "duration_minutes": HUGE}
    )
    assert _field(body) == "duration_minutes"
    response = await api.client.patch(
        path, data=_deep(100_000), headers={**api.headers, "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "nested too deeply" in (await response.json())["message"]
    assert (await api.get(path))["notes"] == ""  # nothing hostile was stored


BOOKING = {
    "type": "haircut",
    "location": "ANHQ",
    "staff": "camille@example.org",
    "start": "2030-03-04T10:00:00+01:00",
}


async def test_text_that_is_not_unicode_is_refused_naming_the_field(
    api: Api, org: dict[str, Any]
) -> None:
    """Issue 25, defect 4: lone surrogates were stored until SQLite's encoder raised (500),
    and a NUL in a nested field was accepted and then mailed."""
    for field in ("title", "notes"):
        body = await _refused(api, "POST", "/api/bookings", {**BOOKING, field: "a\ud800b"})
        assert (_field(body), body["error"]) == (field, "invalid")
        assert "lone surrogate" in body["message"]
    body = await _refused(
        api, "POST", "/api/locations", {"code": "X1", "name": "a\ud800", "timezone": "UTC"}
    )
    assert _field(body) == "name"
    body = await _refused(
        api, "POST", "/api/feeds", {"user": "alice@example.com", "types": ["a\ud800"]}
    )
    assert _field(body) == "types[0]"
    for name in ("a\x00b", "a\ud800b", "a\x1bb"):
        attendees = [{"email": "guest@example.com", "name": name}]
        body = await _refused(api, "POST", "/api/bookings", {**BOOKING, "attendees": attendees})
        assert _field(body) == "attendees[0].name", body
    response = await api.client.post(
        "/api/bookings",
        data=RAW_SURROGATE,
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert response.status == 422
    assert (await response.json())["field"] in ("name", "title")
    assert (await api.get("/api/bookings"))["bookings"] == []


async def test_times_out_of_range_are_field_errors(api: Api, org: dict[str, Any]) -> None:
    """Issue 25, defect 4: year 1 at +14:00 and year 9999 overflowed (500); 1900 was kept and
    headed every list."""
    for start in (
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:00:00-14:00",
        "9999-06-01T10:00:00Z",
        "1900-01-01T10:00:00Z",
        "1969-12-31T23:59:59Z",
        "2201-01-01T00:00:00Z",
    ):
        body = await _refused(api, "POST", "/api/bookings", {**BOOKING, "start": start})
        assert _field(body) == "start", body
        assert "1970-01-01 to 2200-12-31" in body["message"]
    weekly = {**BOOKING, "rrule": "FREQ=WEEKLY;COUNT=3"}
    booking = await api.post("/api/bookings", weekly)
    path = f"/api/bookings/{booking['id']}"
    for exdate in ("0001-01-01T00:00:00+14:00", "0001-01-01"):
        body = await _refused(api, "PATCH", path, {"exdates": [exdate]})
        assert _field(body) == "exdates[0]", body
        body = await _refused(api, "POST", "/api/bookings", {**weekly, "exdates": [exdate]})
        assert _field(body) == "exdates[0]", body
    body = await _refused(api, "PATCH", path, {"start": "0001-01-01T00:00:00+14:00"})
    assert _field(body) == "start"
    edge = await api.post("/api/bookings", {**BOOKING, "start": "2200-12-31T10:00:00Z"})
    assert edge["start"].startswith("2200-12-31")


async def test_an_invitation_at_an_absurd_date_is_failed_not_a_500(
    api: Api, org: dict[str, Any]
) -> None:
    for start in ("00010101T000000", "99991231T230000", "19000101T100000"):
        ics = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:absurd-{start}\r\nDTSTAMP:00010101T000000Z\r\n"
            f"DTSTART;TZID=Pacific/Kiritimati:{start}\r\nDURATION:PT1H\r\nSUMMARY:ANHQ\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        response = await api.client.post(
            "/api/bookings/import",
            data=ics,
            headers={**api.headers, "Content-Type": "text/calendar"},
        )
        assert response.status < 500, await response.text()
        assert "1970-01-01 to 2200-12-31" in await response.text()
