"""Helpers for feed tests: create links, fetch feeds, parse them strictly."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from icalendar import Calendar

from tests.conftest import Api


async def new_link(api: Api, user: str, **filters: Any) -> dict[str, Any]:
    link: dict[str, Any] = await api.post("/api/feeds", {"user": user, **filters})
    return link


def path_of(link: dict[str, Any]) -> str:
    return urlsplit(link["url"]).path


def parse(body: bytes) -> Calendar:
    """Parse like a strict client: CRLF only, lines within 75 octets, no component errors."""
    assert body.endswith(b"\r\n")
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, line
        assert b"\n" not in line and b"\r" not in line
        line.decode("utf-8")
    calendar = Calendar.from_ical(body)
    for component in calendar.walk():
        assert not component.errors, (component.name, component.errors)
    return calendar


def uids(calendar: Calendar) -> set[str]:
    return {str(event["UID"]) for event in calendar.walk("VEVENT")}


async def fetch(api: Api, link: dict[str, Any], **headers: str) -> tuple[int, bytes, Any]:
    response = await api.client.get(path_of(link), headers=headers)
    body = await response.read()
    return response.status, body, response.headers
