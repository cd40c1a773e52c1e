"""``feedserver migrate-store``: a whole installation copied into another store, such as a
SQLite file into PostgreSQL, and verified."""

from __future__ import annotations

import sys

import click

from feedserver.caldav_bridge import layout
from feedserver.cli.common import data_dir_errors, load_config
from feedserver.store import DatabaseURL, Store, StoreUnavailable
from feedserver.store import postgres as pg
from feedserver.store.copy import TABLES, CopyError, copy_store


@click.command("migrate-store")
@click.option(
    "--to",
    "target_url",
    required=True,
    help="The store to copy into: postgresql://user:password@host/dbname (created when "
    "missing) or sqlite:///path/file.db. It must hold no data yet.",
)
def migrate_store(target_url: str) -> None:
    """Copy everything of the configured store (bookings, accounts and app passwords, feed
    links with the same tokens, inbox, outbox, CalDAV calendars, change log) into another,
    then check every table's rows and checksum. The source is left as it was; stop the
    server first, then point storage.database_url at the new store."""
    config = load_config(click.get_current_context().find_root().params.get("config"))
    try:
        target = DatabaseURL.parse(target_url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    source_where = DatabaseURL.parse(config.database_url)
    if target == source_where:
        raise click.ClickException("--to names the store the configuration already uses")
    with data_dir_errors(config):
        source = Store(config.database_url)
    try:
        folder = config.data_dir / "caldav"
        if layout.needs_migration(folder):
            moved = layout.migrate_folder(folder, source)
            click.echo(f"CalDAV folder moved into the source store first ({moved.items} items)")
        try:
            if target.backend == "postgresql" and pg.create_database(target.target):
                click.echo(f"created the database {DatabaseURL.parse(target.target).display}")
            copy = Store(target.target)
        except StoreUnavailable as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            click.echo(f"copying {source.location} into {copy.location}", err=True)
            with click.progressbar(length=len(TABLES), label="tables", file=sys.stderr) as bar:
                seen: set[str] = set()

                def progress(table: str, rows: int) -> None:
                    if table not in seen:
                        seen.add(table)
                        bar.update(1)

                copied = copy_store(source.db, copy.db, progress)
        except CopyError as exc:
            raise click.ClickException(f"not copied: {exc}") from exc
        finally:
            copy.close()
    finally:
        source.close()
    for table in copied:
        if table.rows:
            click.echo(f"{table.table:24} {table.rows:>9} rows  sha256 {table.checksum[:16]}")
    total = sum(t.rows for t in copied)
    click.echo(
        f"copied and verified: {total} rows in {len(copied)} tables. Stop the server, set "
        f"storage.database_url (or FEEDSERVER_DATABASE_URL) to {target.display}, start it."
    )
