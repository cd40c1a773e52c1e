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
]


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
                for raw in (_deep(100_000), '{"a":' * 50_000, '{"name": "a\\u0000"}'):
                    response = await api.client.request(
                        method,
                        path,
                        data=raw,
                        headers={**api.headers, "Content-Type": "application/json"},
                    )
                    if response.status >= 500:
                        failures.append((method, path, raw[:40], response.status))
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
