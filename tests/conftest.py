"""Shared fixtures: a configuration on a temporary data directory, the app under
``aiohttp_client``, and a small organisation to book against."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from feedserver import config as config_mod
from feedserver.app import create_app
from feedserver.config import Config
from feedserver.store import Store
from tests.smtp_sink import SmtpServer

ADMIN_TOKEN = "test-admin-token-0123456789"

# The modules of the slow lane (``pytest -m slow``; ``make test-fast`` leaves them out), and
# why each is slow: real processes, browsers, other programs, floods and fuzzers.
SLOW_MODULES = {
    "test_fuzz_api": "schemathesis against a running feedserver process (minutes)",
    "test_abuse": "floods of real connections, latencies measured under load",
    "test_hostile_input": "every route with every hostile value (thousands of requests)",
    "test_browser": "Chromium through Playwright",
    "test_caldav_library": "the caldav library's own functional suite",
    "test_caldav_conformance": "caldav-server-tester",
    "test_third_party_parsers": "Node.js readers, a C reader built with gcc, khal",
    "test_tsdav": "tsdav under Node.js",
    "test_correctness": "vdirsyncer as a separate program",
    "test_backup": "feedserver processes backing up and restoring",
    "test_lifecycle": "feedserver processes stopped and killed",
    "test_e2e_serve": "feedserver processes end to end",
    "test_inbound_limits": "a 2,000-event calendar applied while writes are timed",
    "test_parser_fuzz": "Hypothesis fuzzing of the parsers",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.split(".")[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def basic_auth(email: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return config_mod.load(
        None,
        environ={},
        overrides={
            "storage.data_dir": str(tmp_path / "data"),
            "security.admin_token": ADMIN_TOKEN,
            "security.secret_keys": "test-key-one",
            # Fixed dates in tests stay inside the feed window for years to come.
            "feeds.window_days_past": 4000,
        },
    )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback that keeps what feedserver sends."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "store.db")
    yield opened
    opened.close()


@dataclass
class Api:
    """A client with the admin token and small helpers that assert the expected status."""

    client: TestClient[Any, Any]
    headers: dict[str, str]

    async def call(
        self, method: str, path: str, json: Any = None, status: int = 200, **kwargs: Any
    ) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, json=json, headers=headers, **kwargs)
        body = await response.json() if response.content_type == "application/json" else None
        assert response.status == status, (response.status, body)
        return body

    async def post(self, path: str, json: Any = None, status: int = 201, **kw: Any) -> Any:
        return await self.call("POST", path, json, status, **kw)

    async def get(self, path: str, status: int = 200, **kw: Any) -> Any:
        return await self.call("GET", path, None, status, **kw)

    async def patch(self, path: str, json: Any, status: int = 200, **kw: Any) -> Any:
        return await self.call("PATCH", path, json, status, **kw)


@pytest.fixture
async def client(aiohttp_client: Any, config: Config) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(config))


@pytest.fixture
def api(client: TestClient[Any, Any]) -> Api:
    return Api(client, {"Authorization": f"Bearer {ADMIN_TOKEN}"})


@pytest.fixture
async def org(api: Api) -> dict[str, Any]:
    return await make_org(api)


async def make_org(api: Api) -> dict[str, Any]:
    """Two locations, three types, two staff members, an admin account and two customers."""
    await api.post(
        "/api/locations",
        {
            "code": "anhq",
            "name": "Annecy HQ",
            "address": "12 rue Royale, Annecy",
            "timezone": "Europe/Paris",
        },
    )
    await api.post(
        "/api/locations",
        {
            "code": "NYC1",
            "name": "New York",
            "address": "350 5th Ave",
            "timezone": "America/New_York",
        },
    )
    await api.post(
        "/api/types",
        {"key": "haircut", "name": "Haircut", "duration_minutes": 45, "buffer_after_minutes": 15},
    )
    await api.post(
        "/api/types",
        {
            "key": "coloring",
            "name": "Colouring",
            "duration_minutes": 90,
            "buffer_before_minutes": 15,
            "buffer_after_minutes": 15,
        },
    )
    await api.post(
        "/api/types", {"key": "video", "name": "Video call", "duration_minutes": 30, "online": True}
    )
    users = {}
    for key, email, role, loc in [
        ("camille", "camille@example.org", "staff", "ANHQ"),
        ("maya", "maya@example.org", "staff", "NYC1"),
        ("owner", "owner@example.org", "admin", "ANHQ"),
        ("alice", "alice@example.com", "customer", None),
        ("bob", "bob@example.com", "customer", None),
    ]:
        body = {
            "email": email,
            "name": key.title(),
            "role": role,
            "password": f"{key}-password",
            "primary_location": loc,
        }
        users[key] = await api.post("/api/users", body)
    return users


async def book(api: Api, **overrides: Any) -> dict[str, Any]:
    """A booking through the API: a haircut at ANHQ with Camille for Alice, unless overridden."""
    body = {
        "type": "haircut",
        "location": "ANHQ",
        "staff": "camille@example.org",
        "start": "2026-12-01T10:00:00+01:00",
        "attendees": [{"email": "alice@example.com", "name": "Alice Liddell"}],
    }
    body.update(overrides)
    booking: dict[str, Any] = await api.post("/api/bookings", body)
    return booking


def smtp_settings(smtp: SmtpServer) -> dict[str, Any]:
    """The [smtp] section that sends to the loopback sink."""
    return {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "sender": "bookings@salon.example",
    }
