"""Operations on PostgreSQL, as a user runs them: `feedserver init` creating the database,
`migrate-store` copying a SQLite installation into PostgreSQL (everything: bookings, feed
links with the same tokens, app passwords, inbox, CalDAV calendars) and verifying it,
`backup` and `restore` on PostgreSQL, a SQLite backup restored into PostgreSQL, and the clear
errors of a wrong URL or a server that is not there. Real processes on a real cluster; run by
the PostgreSQL pass (``FEEDSERVER_TEST_BACKEND=postgresql``)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from feedserver.store import BookingQuery, Store
from tests.conftest import BACKEND
from tests.pg import Cluster
from tests.process import free_port, serve

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="the PostgreSQL pass runs these (make test does)"
)

CAMILLE = "camille.martin@demo.feedserver.test"
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:own-event-1@example.org\r\nDTSTAMP:20300101T000000Z\r\n"
    "DTSTART:20300105T090000Z\r\nDTEND:20300105T100000Z\r\nSUMMARY:Dentist\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _run(*args: str, data: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FEEDSERVER_DATABASE_URL"}
    env["FEEDSERVER_STORAGE_DATA_DIR"] = str(data)
    if url is not None:
        env["FEEDSERVER_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "feedserver", *args],
        cwd=data.parent,
        env=env,
        capture_output=True,
        text=True,
    )


def _cli(*args: str, data: Path, url: str | None = None) -> str:
    done = _run(*args, data=data, url=url)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _http(
    base: str, path: str, method: str = "GET", body: str | None = None, auth: str = ""
) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        base + path,
        data=body.encode() if body is not None else None,
        method=method,
        headers=(
            {"Authorization": auth, "Content-Type": "text/calendar", "Depth": "1"} if auth else {}
        ),
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _installation(data: Path, url: str | None = None) -> tuple[str, str, str]:
    """init, demo, a feed link, an app password and a calendar of Camille's own with one
    event; (feed path, app password, admin token)."""
    token = _cli("init", data=data, url=url).strip().splitlines()[-1]
    _cli("demo", "--bookings", "40", data=data, url=url)
    feed = _cli("feeds", "create", "--user", CAMILLE, data=data, url=url)
    feed_path = "/feeds/" + feed.split("/feeds/", 1)[1].split()[0]
    secret = _cli("users", "app-password", "create", CAMILLE, "--name", "Phone", data=data, url=url)
    password = secret.strip().splitlines()[-1]
    env = {"FEEDSERVER_DATABASE_URL": url} if url else {}
    with serve(data, env) as (base, _):
        auth = _basic(CAMILLE, password)
        status, _ = _http(base, f"/dav/{CAMILLE}/own/", "MKCALENDAR", auth=auth)
        assert status == 201
        status, _ = _http(base, f"/dav/{CAMILLE}/own/dentist.ics", "PUT", EVENT, auth)
        assert status == 201
    return feed_path, password, token


def _same_installation(data: Path, url: str, feed_path: str, password: str) -> None:
    """The server on ``url`` serves the feed link, the app password and the calendar."""
    with serve(data, {"FEEDSERVER_DATABASE_URL": url}) as (base, _):
        status, body = _http(base, feed_path)
        assert status == 200 and "BEGIN:VEVENT" in body  # the same signed link
        auth = _basic(CAMILLE, password)
        status, body = _http(base, f"/dav/{CAMILLE}/own/dentist.ics", auth=auth)
        assert status == 200 and "SUMMARY:Dentist" in body
        status, body = _http(base, f"/dav/{CAMILLE}/bookings/", "PROPFIND", auth=auth)
        assert status == 207 and ".ics" in body


def _bookings(url: str) -> list[tuple[int, str, int]]:
    store = Store(url)
    try:
        return [(b.id, b.uid, b.sequence) for b in store.bookings.list(BookingQuery())]
    finally:
        store.close()


def test_migrate_store_copies_a_sqlite_installation_and_verifies_it(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    data = tmp_path / "data"
    feed_path, password, _ = _installation(data)
    target = pg_cluster.url(f"moved_{free_port()}")  # a database that does not exist yet
    out = _cli("migrate-store", "--to", target, data=data)
    assert "created the database" in out
    assert "copied and verified" in out
    assert "dav_items" in out and "bookings" in out
    assert _bookings(target) == _bookings(str(data / "feedserver.db"))
    _same_installation(data, target, feed_path, password)
    # The source is untouched, and a second copy into the same database is refused.
    again = _run("migrate-store", "--to", target, data=data)
    assert again.returncode == 1 and "already holds data" in again.stderr


def test_backup_and_restore_on_postgresql(
    tmp_path: Path, database_url: str, pg_cluster: Cluster
) -> None:
    data = tmp_path / "data"
    feed_path, password, _ = _installation(data, database_url)
    out = _cli("backup", str(tmp_path), data=data, url=database_url)
    assert "postgresql" in out
    archive = next(tmp_path.glob("feedserver-backup-*.tar.gz"))
    # Into a database that does not exist yet (restore makes it), on a new data dir (the
    # secrets come from the archive).
    fresh = pg_cluster.url(f"restored_{free_port()}")
    restored = tmp_path / "restored"
    assert "restored" in _cli("restore", str(archive), data=restored, url=fresh)
    assert _bookings(fresh) == _bookings(database_url)
    _same_installation(restored, fresh, feed_path, password)
    # Over a database that holds data: refused without --force, set aside with it.
    refused = _run("restore", str(archive), data=restored, url=fresh)
    assert refused.returncode == 1 and "pass --force" in refused.stderr
    out = _cli("restore", "--force", str(archive), data=restored, url=fresh)
    assert "before_restore_" in out
    assert _bookings(fresh) == _bookings(database_url)


def test_a_sqlite_backup_restores_into_postgresql(tmp_path: Path, pg_cluster: Cluster) -> None:
    data = tmp_path / "data"
    feed_path, password, _ = _installation(data)
    _cli("backup", str(tmp_path), data=data)
    archive = next(tmp_path.glob("feedserver-backup-*.tar.gz"))
    target = pg_cluster.database(migrated=False)
    restored = tmp_path / "restored"
    _cli("restore", str(archive), data=restored, url=target)
    assert _bookings(target) == _bookings(str(data / "feedserver.db"))
    _same_installation(restored, target, feed_path, password)


def test_init_creates_the_database_and_bad_urls_are_clear_errors(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    data = tmp_path / "data"
    url = pg_cluster.url(f"made_by_init_{free_port()}")
    out = _cli("init", data=data, url=url)
    assert "created the PostgreSQL database" in out
    assert "schema migrations applied" in out
    assert "schema migrations applied" not in _cli("init", data=data, url=url)
    down = f"postgresql://nobody@127.0.0.1:{free_port()}/feedserver"
    failed = _run("init", data=data, url=down)
    assert failed.returncode == 1
    assert "cannot connect to PostgreSQL" in failed.stderr and "Traceback" not in failed.stderr
    wrong = _run("init", data=data, url="mysql://root@localhost/feedserver")
    assert wrong.returncode == 1 and "database_url" in wrong.stderr
    assert "Traceback" not in wrong.stderr
