"""`feedserver backup` while the server takes writes, then `feedserver restore` into a new
data directory: the restored database is the original as of the backup's data version
(change log and bookings identical up to it), every booking acknowledged before the backup
began is in it, a calendar made over CalDAV is back, and a feed link made before still works."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from tests.process import serve

FIRST = datetime(2031, 1, 1, 6, 0, tzinfo=UTC)
CAMILLE = ("camille.martin@demo.feedserver.test", "")
EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:own-event-1@example.org\r
DTSTAMP:20300101T000000Z\r
DTSTART:20300105T090000Z\r
DTEND:20300105T100000Z\r
SUMMARY:Dentist\r
END:VEVENT\r
END:VCALENDAR\r
"""


def _run(*args: str, cwd: Path, data: Path) -> subprocess.CompletedProcess[str]:
    """``feedserver ARGS`` on the data directory ``data``."""
    return subprocess.run(
        [sys.executable, "-m", "feedserver", *args],
        cwd=cwd,
        env={**os.environ, "FEEDSERVER_STORAGE_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
    )


def _cli(*args: str, cwd: Path, data: Path) -> str:
    done = _run(*args, cwd=cwd, data=data)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


async def test_a_backup_taken_under_load_restores_the_database_as_it_was(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token = _cli("init", cwd=tmp_path, data=data).strip().splitlines()[-1]
    _cli("demo", "--bookings", "30", cwd=tmp_path, data=data)
    password = next(
        line.split()[1]
        for line in (data / "demo-accounts.txt").read_text().splitlines()
        if line.startswith(CAMILLE[0])
    )
    camille = "Basic " + base64.b64encode(f"{CAMILLE[0]}:{password}".encode()).decode()
    admin = {"Authorization": f"Bearer {token}"}
    feed = _cli("feeds", "create", "--user", CAMILLE[0], cwd=tmp_path, data=data)
    feed_path = "/feeds/" + feed.split("/feeds/", 1)[1].split()[0]
    acknowledged: list[int] = []
    with serve(data) as (base, _):
        async with aiohttp.ClientSession(base) as http:
            calendar = f"/dav/{CAMILLE[0]}/own/"
            async with http.request("MKCALENDAR", calendar, headers={"Authorization": camille}):
                pass
            async with http.put(
                calendar + "dentist.ics",
                data=EVENT,
                headers={"Authorization": camille, "Content-Type": "text/calendar"},
            ) as response:
                assert response.status == 201
            async with http.get(feed_path) as response:
                assert response.status == 200
                feed_before = await response.read()

            stop = asyncio.Event()

            async def writer() -> None:
                day = 0
                while not stop.is_set():
                    day += 1
                    body = {
                        "type": "consultation",
                        "location": "LYON",
                        "staff": "lukas.weber@demo.feedserver.test",
                        "start": (FIRST + timedelta(days=day)).isoformat(),
                    }
                    async with http.post("/api/bookings", json=body, headers=admin) as answer:
                        assert answer.status == 201, await answer.text()
                        acknowledged.append((await answer.json())["id"])

            writing = asyncio.create_task(writer())
            await asyncio.sleep(0.3)
            before_backup = list(acknowledged)
            await asyncio.to_thread(_cli, "backup", str(tmp_path), cwd=tmp_path, data=data)
            await asyncio.sleep(0.2)
            stop.set()
            await writing
    assert len(acknowledged) > len(before_backup) > 0  # writes went on during the backup
    archive = next(tmp_path.glob("feedserver-backup-*.tar.gz"))
    assert archive.stat().st_mode & 0o077 == 0

    restored = tmp_path / "restored"
    out = _cli("restore", str(archive), cwd=tmp_path, data=restored)
    assert "restored" in out
    version = _rows(restored / "feedserver.db", "SELECT MAX(version) FROM changes")[0][0]
    changes = "SELECT version, entity, entity_id, action, at FROM changes WHERE version <= {}"
    assert _rows(restored / "feedserver.db", changes.format(version)) == _rows(
        data / "feedserver.db", changes.format(version)
    )
    bookings = "SELECT * FROM bookings WHERE version <= {} ORDER BY id"
    original = _rows(data / "feedserver.db", bookings.format(version))
    assert _rows(restored / "feedserver.db", bookings.format(version)) == original
    ids = {row[0] for row in _rows(restored / "feedserver.db", "SELECT id FROM bookings")}
    assert set(before_backup) <= ids
    assert _rows(restored / "feedserver.db", "PRAGMA integrity_check") == [("ok",)]
    assert json.loads((restored / "secrets.json").read_text()) == json.loads(
        (data / "secrets.json").read_text()
    )
    with serve(restored) as (base, _):
        async with aiohttp.ClientSession(base) as http:
            async with http.get(feed_path) as response:
                assert response.status == 200  # the same signed link, the same secrets
                assert b"BEGIN:VCALENDAR" in await response.read()
            async with http.get(
                f"/dav/{CAMILLE[0]}/own/dentist.ics", headers={"Authorization": camille}
            ) as response:
                assert response.status == 200
                assert "SUMMARY:Dentist" in await response.text()
    assert feed_before.startswith(b"BEGIN:VCALENDAR")

    refused = _run("restore", str(archive), cwd=tmp_path, data=restored)
    assert refused.returncode == 1 and "pass --force" in refused.stderr
    _cli("restore", "--force", str(archive), cwd=tmp_path, data=restored)
    assert list(restored.glob("before-restore-*/feedserver.db"))  # moved aside, not deleted


def test_a_backup_into_a_folder_that_does_not_exist_creates_it(tmp_path: Path) -> None:
    """Issue 25, defect 9: the missing folder was blamed on storage.data_dir."""
    data = tmp_path / "data"
    _cli("init", cwd=tmp_path, data=data)
    target = tmp_path / "srv" / "backups" / "x"
    out = _cli("backup", str(target), cwd=tmp_path, data=data)
    (archive,) = target.glob("feedserver-backup-*.tar.gz")
    assert str(archive) in out
    named = tmp_path / "elsewhere" / "nightly.tar.gz"
    _cli("backup", str(named), cwd=tmp_path, data=data)
    assert named.is_file()


def test_a_backup_that_cannot_be_written_names_the_path_that_failed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _cli("init", cwd=tmp_path, data=data)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = _run("backup", str(blocker / "x"), cwd=tmp_path, data=data)
    assert done.returncode == 1
    assert f"cannot create the backup folder {blocker / 'x'}" in done.stderr
    assert "storage.data_dir" not in done.stderr
