"""End to end: `feedserver init`, `demo` and `serve` as real processes, HTTP on a real socket."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import aiohttp

from feedserver.store import BookingQuery, Store
from tests.feedhelp import parse
from tests.process import serve


def _store(database_url: str) -> dict[str, str]:
    """The environment that points a process at the test's store (PostgreSQL); on SQLite
    the store is the data dir's file, the default."""
    return {"FEEDSERVER_DATABASE_URL": database_url} if "://" in database_url else {}


def _cli(*args: str, cwd: Path, database_url: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "feedserver", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **_store(database_url)},
    ).stdout


async def test_init_demo_serve_and_book_over_http(tmp_path: Path, database_url: str) -> None:
    out = _cli("init", cwd=tmp_path, database_url=database_url)
    token = out.strip().splitlines()[-1]
    assert json.loads((tmp_path / "data" / "secrets.json").read_text())["admin_token"] == token
    assert "already initialised" in _cli("init", cwd=tmp_path, database_url=database_url)
    assert "bookings" in _cli("demo", "--bookings", "60", cwd=tmp_path, database_url=database_url)
    assert "already has bookings" in _cli(
        "demo", "--if-empty", cwd=tmp_path, database_url=database_url
    )

    with serve(tmp_path / "data", _store(database_url)) as (base, process):
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(base, headers=headers) as http:
            async with http.get("/api/locations") as response:
                assert response.status == 200
                codes = [x["code"] for x in (await response.json())["locations"]]
                assert codes == ["ANHQ", "LYON", "NYC1"]
            async with http.get("/api/bookings?location=ANHQ&status=pending") as response:
                found = (await response.json())["bookings"]
                assert found and all(b["status"] == "pending" for b in found)
            async with http.get("/api/types") as response:
                types = {t["key"]: t for t in (await response.json())["types"]}
                assert types["video-coaching"]["online"] is True
            async with http.get("/api/users?role=staff") as response:
                staff = (await response.json())["users"][0]
            body = {
                "type": "haircut",
                "location": "anhq",
                "staff": staff["email"],
                "start": "2030-01-07T06:00:00+01:00",
            }
            async with http.post("/api/bookings", json=body) as response:
                assert response.status == 201, await response.text()
                booking = await response.json()
            async with http.post("/api/bookings", json=body) as response:
                assert response.status == 409
            async with http.get(f"/api/bookings/{booking['id']}") as response:
                assert (await response.json())["uid"] == booking["uid"]
    assert process.returncode is not None
    log = next(tmp_path.glob("serve-*.log")).read_text()
    assert "method=POST path=/api/bookings status=201" in log
    assert token not in log


def _shown_in_feeds(database_url: str) -> int:
    """Bookings a feed of everything shows: pending or confirmed, in the default window."""
    store = Store(database_url)
    try:
        midnight = datetime.combine(datetime.now(UTC).date(), time(0), UTC)
        query = BookingQuery(statuses=["confirmed", "pending"], start=midnight - timedelta(30))
        return len(store.bookings.ids(query))
    finally:
        store.close()


async def test_feed_subscription_over_a_real_socket(tmp_path: Path, database_url: str) -> None:
    """A link made with the CLI works against the running server, answers 304 to a
    revalidation, and a CLI revoke reaches the server through the change log."""
    token = _cli("init", cwd=tmp_path, database_url=database_url).strip().splitlines()[-1]
    _cli("demo", "--bookings", "40", cwd=tmp_path, database_url=database_url)
    env = {"FEEDSERVER_STORAGE_CHANGE_POLL_MS": "50", **_store(database_url)}
    with serve(tmp_path / "data", env=env) as (base, _):
        out = _cli(
            "feeds",
            "create",
            "--user",
            "owner@demo.feedserver.test",
            "--scope",
            "all",
            "--include-pending",
            cwd=tmp_path,
            database_url=database_url,
        )
        path = "/feeds/" + out.split("/feeds/", 1)[1].split()[0]
        async with aiohttp.ClientSession(base) as http:
            async with http.get(
                path,
                headers={"User-Agent": "Google-Calendar-Importer"},
                skip_auto_headers=["Accept"],
            ) as response:
                assert response.status == 200
                assert response.headers["Content-Encoding"] == "gzip"
                body = await response.read()
                etag = response.headers["ETag"]
            calendar = parse(body)
            assert len(calendar.walk("VEVENT")) == _shown_in_feeds(database_url) >= 35
            async with http.get(path, headers={"If-None-Match": etag}) as response:
                assert response.status == 304
            link_id = out.split()[2]
            _cli("feeds", "revoke", link_id, cwd=tmp_path, database_url=database_url)
            for _ in range(100):
                async with http.get(path) as response:
                    if response.status == 410:
                        break
                await asyncio.sleep(0.05)
            assert response.status == 410
        async with (
            aiohttp.ClientSession(base, headers={"Authorization": f"Bearer {token}"}) as http,
            http.get("/api/feeds") as response,
        ):
            (row,) = (await response.json())["feeds"]
            assert row["revoked"] and row["fetch_count"] >= 2
            assert row["last_user_agent"]
