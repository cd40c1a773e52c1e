"""``feedserver backup`` and ``feedserver restore``: everything a server needs to come back.

A backup is one ``.tar.gz``: ``feedserver.db`` (SQLite's online backup, so the database as it
was at one moment while the server goes on serving), ``caldav/`` (the calendars people made
themselves, copied under Radicale's storage lock), ``secrets.json`` (without it every feed
link and session would stop working) and ``manifest.json`` (what the archive holds).

A restore checks the archive (manifest, SQLite's integrity check) before it touches anything,
and moves what the data directory held aside instead of deleting it.
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
from feedserver.caldav_bridge.files import copy_storage
from feedserver.cli.common import data_dir_errors, load_config
from feedserver.config import Config
from feedserver.instance_secrets import SECRETS_FILE
from feedserver.store import BookingQuery, Store

FORMAT = 1
DATABASE = "feedserver.db"
CALDAV = "caldav"
MANIFEST = "manifest.json"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@click.command("backup")
@click.argument("destination", required=False, type=click.Path(path_type=Path))
def backup(destination: Path | None) -> None:
    """Write a backup archive of the database, the CalDAV storage and the instance secrets
    (safe while the server runs). DESTINATION: a directory or a .tar.gz path (default: the
    current directory)."""
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
        store = Store(config.database_path)
        try:
            click.echo("copying the database (online backup)", err=True)
            store.snapshot(staging / DATABASE)
        finally:
            store.close()
        copy = Store(staging / DATABASE)
        try:
            bookings = len(copy.bookings.ids(BookingQuery()))
            version = copy.changes.version()
        finally:
            copy.close()
        click.echo("copying the CalDAV storage", err=True)
        files = copy_storage(config.data_dir / CALDAV, staging / CALDAV)
        secrets = config.data_dir / SECRETS_FILE
        if secrets.exists():
            shutil.copy2(secrets, staging / SECRETS_FILE)
        manifest = {
            "format": FORMAT,
            "feedserver": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_version": version,
            "bookings": bookings,
            "caldav_files": files,
            "secrets": secrets.exists(),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        partial = archive.with_name(archive.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            for name in (MANIFEST, DATABASE, CALDAV, SECRETS_FILE):
                if (staging / name).exists():
                    tar.add(staging / name, arcname=name)
        partial.chmod(0o600)  # it holds the secrets and password hashes
        partial.rename(archive)
    click.echo(
        f"backup written: {archive} ({bookings} bookings, data version {version}, "
        f"{files} CalDAV files)"
    )


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
    if manifest.get("format") != FORMAT or not (into / DATABASE).is_file():
        raise click.ClickException(f"{archive} is not a feedserver backup of format {FORMAT}")
    store = Store(into / DATABASE)  # also brings an older backup's schema up to date
    try:
        problem = store.integrity()
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
    help="Replace an existing database (it is moved aside, not deleted).",
)
def restore(archive: Path, force: bool) -> None:
    """Restore a backup archive into the configured data directory. Stop the server first."""
    config = load_config(click.get_current_context().find_root().params.get("config"))
    data = config.data_dir
    database = config.database_path
    if database.exists() and not force:
        raise click.ClickException(
            f"{database} exists; stop the server and pass --force to replace it (what is "
            "there now is moved aside, not deleted)"
        )
    data.mkdir(parents=True, exist_ok=True)
    with data_dir_errors(config), tempfile.TemporaryDirectory(dir=data) as work:
        staging = Path(work)
        manifest = _read(archive, staging)
        aside = data / f"before-restore-{_stamp()}"
        moved = []
        for current in (database, data / CALDAV, data / SECRETS_FILE):
            if current.exists():
                aside.mkdir(exist_ok=True)
                shutil.move(current, aside / current.name)
                moved.append(current.name)
        for suffix in ("-wal", "-shm"):  # a stale write-ahead log must not meet the new file
            stale = database.with_name(database.name + suffix)
            if stale.exists():
                aside.mkdir(exist_ok=True)
                shutil.move(stale, aside / stale.name)
        shutil.move(staging / DATABASE, database)
        shutil.move(staging / CALDAV, data / CALDAV)
        if (staging / SECRETS_FILE).exists():
            shutil.move(staging / SECRETS_FILE, data / SECRETS_FILE)
    if moved:
        click.echo(f"what was there before ({', '.join(moved)}) is in {aside}")
    click.echo(
        f"restored {archive} ({manifest.get('bookings')} bookings, data version "
        f"{manifest.get('data_version')}, made {manifest.get('created_at')})"
    )
