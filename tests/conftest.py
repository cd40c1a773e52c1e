"""Shared fixtures: a configuration on a temporary data directory, the app under
``aiohttp_client``, and a small organisation to book against.

The store backend is SQLite unless ``FEEDSERVER_TEST_BACKEND=postgresql``: then every test
that opens a store (through ``config``, ``store`` or ``database_url``) gets a database of its
own on a throwaway PostgreSQL cluster (``tests/pg.py``), and only those tests run (the rest
never touch a store, so a second pass would repeat them unchanged). ``make test`` runs both.
"""

from __future__ import annotations

import base64
import os
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
from tests.pg import Cluster
from tests.smtp_sink import SmtpServer

ADMIN_TOKEN = "test-admin-token-0123456789"

# The modules of the slow lane (``pytest -m slow``; ``make test-fast`` leaves them out), and
# why each is slow: real processes, browsers, other programs, floods and fuzzers.
SLOW_MODULES = {
    "test_cluster": "two feedserver nodes behind a real nginx on one PostgreSQL",
    "test_workers": "serve --workers 3 sending 600 messages through a real SMTP sink",
    "test_webhook_outages": "a receiver down for 30 s; a process stopped mid-delivery",
    "test_calendar_account_outages": "a person's CalDAV server down for 60 s",
    "test_calendar_accounts": "stock Radicale and Xandikos as people's own CalDAV servers",
    "test_google_accounts": "an authlib authorization server and a bearer CalDAV endpoint",
    "test_webdav_push": "a push service on loopback decrypting messages, timed to the second",
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
    "test_postgres_ops": "feedserver processes on PostgreSQL: migrate-store, backup, restore",
}

# Fixtures that start another process: the tests using them are in the slow lane too.
PROCESS_FIXTURES = {"stock_radicale"}  # a separate Radicale, someone's own CalDAV server


# Modules that open a store only in passing: what they test is the same on either backend, and
# the PostgreSQL pass leaves them out (each line says what covers the store there instead).
SQLITE_PASS_ONLY = {
    "test_browser": "pages in Chromium; their store calls are test_web_pages' on both passes",
    "test_third_party_parsers": "readers of what feedserver renders: the same bytes either way",
    "test_caldav_library": "the caldav library's suite; caldav-server-tester and tsdav run on both",
    "test_abuse": "latencies under floods; the shared counters run across nodes in test_cluster",
    "test_calendar_account_outages": "a 60 s outage; the queue's store calls are "
    "test_calendar_accounts' on both passes",
    "test_google_accounts": "OAuth against a local authorization server; the accounts' store "
    "calls are test_calendar_accounts' on both passes",
}
BACKEND = os.environ.get("FEEDSERVER_TEST_BACKEND", "sqlite")
# The fixtures through which a test opens a store: on PostgreSQL, only these tests run.
STORE_FIXTURES = {"config", "store", "database_url", "empty_database_url", "pg_cluster"}


def pytest_report_header() -> str:
    return f"store backend: {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.split(".")[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if BACKEND == "postgresql":
        keep = [
            i
            for i in items
            if (
                STORE_FIXTURES & set(getattr(i, "fixturenames", ()))
                or i.get_closest_marker("store") is not None
            )
            and (i.module is None or i.module.__name__.split(".")[-1] not in SQLITE_PASS_ONLY)
        ]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def module_store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """For a fixture wider than one test (a server a module shares, marked ``store``): the
    environment that gives its processes a store of their own (a new PostgreSQL database on
    the PostgreSQL pass; on SQLite, the data dir's file)."""
    if BACKEND != "postgresql":
        return {}
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return {"FEEDSERVER_DATABASE_URL": cluster.database(migrated=False)}


def store_env(config: Config) -> dict[str, str]:
    """What a feedserver process started by a test needs to open the test's store."""
    return {"FEEDSERVER_DATABASE_URL": config.database_url} if config.on_postgresql else {}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where this test's store lives: a SQLite file under ``tmp_path``, or (on the
    PostgreSQL pass) a new database with feedserver's schema."""
    if BACKEND != "postgresql":
        yield str(tmp_path / "data" / "feedserver.db")
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    url = cluster.database()
    yield url
    cluster.release(url)


def basic_auth(email: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """As ``database_url``, without feedserver's schema (for the migrations' own tests)."""
    if BACKEND != "postgresql":
        yield str(tmp_path / "empty" / "feedserver.db")
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    url = cluster.database(migrated=False)
    yield url
    cluster.release(url)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    return config_mod.load(
        None,
        environ={},
        overrides={
            "storage.data_dir": str(tmp_path / "data"),
            "storage.database_url": database_url if BACKEND == "postgresql" else None,
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
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
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
