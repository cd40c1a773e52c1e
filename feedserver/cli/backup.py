"""``feedserver backup`` and ``feedserver restore``: everything a server needs to come back.

A backup is one ``.tar.gz`` holding the database, ``secrets.json`` (without it every feed
link and session would stop working) and ``manifest.json`` (what the archive holds). The
database is the store as it was at one moment while the server goes on serving, the users'
own CalDAV calendars included (they live in the store):

- on SQLite, ``feedserver.db``: SQLite's online backup;
- on PostgreSQL, ``feedserver.pgdump``: ``pg_dump --format=custom`` (restorable by hand with
  ``pg_restore`` too).

A restore checks the archive (manifest, SQLite's integrity check or ``pg_restore --list``)
before it touches anything, and sets what it replaces aside instead of deleting it: the
SQLite file (and an old ``caldav/`` folder) into ``before-restore-<time>/``, a PostgreSQL
schema renamed ``before_restore_<time>``. A SQLite backup restores into PostgreSQL too (the
same copy as ``feedserver migrate-store``, verified table by table).
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

from feedserver import __version__
from feedserver.caldav_bridge import layout
from feedserver.cli.common import data_dir_errors, load_config
from feedserver.config import Config
from feedserver.instance_secrets import SECRETS_FILE
from feedserver.store import BookingQuery, Store
from feedserver.store import postgres as pg
from feedserver.store.copy import CopyError, copy_store, data_rows
from feedserver.store.sqlite import SqliteDatabase

FORMAT = 1
DATABASE = "feedserver.db"
PG_DUMP = "feedserver.pgdump"
CALDAV = "caldav"  # the CalDAV folder of archives made before the calendars were in the store
MANIFEST = "manifest.json"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@click.command("backup")
@click.argument("destination", required=False, type=click.Path(path_type=Path))
def backup(destination: Path | None) -> None:
    """Write a backup archive of the database (CalDAV calendars included) and the instance
    secrets (safe while the server runs). DESTINATION: a directory or a .tar.gz path
    (default: the current directory)."""
    config = load_config(click.get_current_context().find_root().params.get("config"))
    archive = destination or Path.cwd()
    if archive.is_dir() or not archive.name.endswith(".tar.gz"):
        archive = archive / f"feedserver-backup-{_stamp()}.tar.gz"
    if archive.exists():
        raise click.ClickException(f"{archive} exists; choose another name")
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(
            f"cannot create the backup folder {archive.parent}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else "")
        ) from exc
    with (
        data_dir_errors(config),
        _destination_errors(config, archive),
        tempfile.TemporaryDirectory(dir=archive.parent) as work,
    ):
        staging = Path(work)
        store = Store(config.database_url)
        try:
            backend = store.backend
            if isinstance(store.db, SqliteDatabase):
                click.echo("copying the database (SQLite's online backup)", err=True)
                store.db.snapshot(staging / DATABASE)
            elif isinstance(store.db, pg.PostgresDatabase):
                click.echo("copying the database (pg_dump)", err=True)
                # Counted in the very snapshot pg_dump copies: the manifest is the archive.
                with store.db.exported_snapshot() as snapshot:
                    pg.dump(config.database_url, staging / PG_DUMP, snapshot)
                    bookings, version, (calendars, items) = _counts(store)
        finally:
            store.close()
        if backend == "sqlite":
            counted = Store(staging / DATABASE)  # what the archive holds, not the live store
            try:
                bookings, version, (calendars, items) = _counts(counted)
            finally:
                counted.close()
        secrets = config.secrets_path
        if secrets.exists():
            shutil.copy2(secrets, staging / SECRETS_FILE)
        manifest = {
            "format": FORMAT,
            "feedserver": __version__,
            "backend": backend,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_version": version,
            "bookings": bookings,
            "caldav_collections": calendars,
            "caldav_items": items,
            "secrets": secrets.exists(),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        partial = archive.with_name(archive.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            for name in (MANIFEST, DATABASE, PG_DUMP, SECRETS_FILE):
                if (staging / name).exists():
                    tar.add(staging / name, arcname=name)
        partial.chmod(0o600)  # it holds the secrets and password hashes
        partial.rename(archive)
    click.echo(
        f"backup written: {archive} ({bookings} bookings, data version {version}, "
        f"{items} CalDAV items in {calendars} collections, {backend})"
    )


def _counts(store: Store) -> tuple[int, int, tuple[int, int]]:
    return len(store.bookings.ids(BookingQuery())), store.changes.version(), store.dav.totals()


@contextmanager
def _destination_errors(config: Config, archive: Path) -> Iterator[None]:
    """A failure to write the archive names the archive and the path that failed, not the
    data directory (whose own failures ``data_dir_errors`` reports)."""
    try:
        yield
    except OSError as exc:
        failed = Path(os.fsdecode(exc.filename)) if exc.filename else None
        data = config.data_dir.resolve()
        if failed is not None and data not in (failed.resolve(), *failed.resolve().parents):
            raise click.ClickException(
                f"cannot write the backup {archive}: {exc.strerror or exc} ({failed})"
            ) from exc
        raise


def _read(archive: Path, into: Path) -> dict[str, object]:
    """Unpack and check the archive; its manifest."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise click.ClickException(f"{archive} is not a feedserver backup: {exc}") from exc
    try:
        manifest = json.loads((into / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{archive} has no readable {MANIFEST}") from exc
    has_db, has_dump = (into / DATABASE).is_file(), (into / PG_DUMP).is_file()
    if manifest.get("format") != FORMAT or has_db == has_dump:
        raise click.ClickException(f"{archive} is not a feedserver backup of format {FORMAT}")
    if has_dump:
        try:
            pg.check_dump(into / PG_DUMP)
        except Exception as exc:
            raise click.ClickException(f"the database dump in {archive} is damaged: {exc}") from exc
        return dict(manifest)
    store = Store(into / DATABASE)  # also brings an older backup's schema up to date
    try:
        problem = store.integrity()
        if problem == "ok" and layout.needs_migration(into / CALDAV):
            layout.migrate_folder(into / CALDAV, store)  # an archive of the file layout
    finally:
        store.close()
    if problem != "ok":
        raise click.ClickException(f"the database in {archive} is damaged: {problem}")
    return dict(manifest)


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing database (it is set aside, not deleted).",
)
def restore(archive: Path, force: bool) -> None:
    """Restore a backup archive into the configured store and data directory. Stop the
    server first."""
    config = load_config(click.get_current_context().find_root().params.get("config"))
    data = config.data_dir
    data.mkdir(parents=True, exist_ok=True)
    with data_dir_errors(config), tempfile.TemporaryDirectory(dir=data) as work:
        staging = Path(work)
        if config.on_postgresql:
            aside = _restore_postgresql(config, archive, staging, force)
        else:
            aside = _restore_sqlite(config, archive, staging, force)
        manifest = _manifest(staging)
        if (staging / SECRETS_FILE).exists():
            current = config.secrets_path
            if current.exists():
                kept = data / f"before-restore-{_stamp()}"
                kept.mkdir(exist_ok=True)
                shutil.move(current, kept / SECRETS_FILE)
            shutil.move(staging / SECRETS_FILE, current)
    if aside:
        click.echo(f"what was there before is in {aside}")
    click.echo(
        f"restored {archive} ({manifest.get('bookings')} bookings, data version "
        f"{manifest.get('data_version')}, made {manifest.get('created_at')})"
    )


def _manifest(staging: Path) -> dict[str, object]:
    return dict(json.loads((staging / MANIFEST).read_text()))


def _restore_sqlite(config: Config, archive: Path, staging: Path, force: bool) -> str:
    data, database = config.data_dir, config.database_path
    if database.exists() and not force:
        raise click.ClickException(
            f"{database} exists; stop the server and pass --force to replace it (what is "
            "there now is moved aside, not deleted)"
        )
    _read(archive, staging)
    if not (staging / DATABASE).is_file():
        raise click.ClickException(
            f"{archive} is a PostgreSQL backup: restore it into PostgreSQL "
            "(storage.database_url), or with pg_restore by hand"
        )
    aside = data / f"before-restore-{_stamp()}"
    moved = []
    for current in (database, data / CALDAV):
        if current.exists():
            aside.mkdir(exist_ok=True)
            shutil.move(current, aside / current.name)
            moved.append(current.name)
    for suffix in ("-wal", "-shm"):  # a stale write-ahead log must not meet the new file
        stale = database.with_name(database.name + suffix)
        if stale.exists():
            aside.mkdir(exist_ok=True)
            shutil.move(stale, aside / stale.name)
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(staging / DATABASE, database)
    return f"{aside} ({', '.join(moved)})" if moved else ""


def _restore_postgresql(config: Config, archive: Path, staging: Path, force: bool) -> str:
    url = config.database_url
    if pg.create_database(url):
        click.echo("created the PostgreSQL database", err=True)
    store = Store(url, migrate=False)
    try:
        present = bool(store.db.table_names())
        holds = data_rows(store.db) if present else 0
        if holds and not force:
            raise click.ClickException(
                f"the database {store.location} holds data; stop the servers and pass --force "
                "to replace it (its tables are kept in a schema set aside, not deleted)"
            )
        manifest = _read(archive, staging)
        aside = ""
        if present and isinstance(store.db, pg.PostgresDatabase):
            name = f"before_restore_{_stamp().lower()}"
            store.db.set_aside(name)
            if holds:
                aside = name
            else:
                store.db.drop_schema(name)  # feedserver's tables, empty: nothing to keep
    finally:
        store.close()
    if (staging / PG_DUMP).is_file():
        pg.restore_dump(url, staging / PG_DUMP)
    else:
        click.echo(
            f"copying the SQLite backup ({manifest.get('bookings')} bookings) into PostgreSQL",
            err=True,
        )
        source = Store(staging / DATABASE)
        target = Store(url)
        try:
            copy_store(source.db, target.db)
        except CopyError as exc:
            raise click.ClickException(f"the copy did not verify: {exc}") from exc
        finally:
            source.close()
            target.close()
    return f"the schema {aside} of the same database" if aside else ""
