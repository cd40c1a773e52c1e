"""The ``feedserver`` command: serve, init, demo and administration subcommands."""

from __future__ import annotations

import sys

import click

from feedserver import config as config_mod
from feedserver import demo, instance_secrets, logs, wiring
from feedserver.cli import admin, backup, cluster, feeds, imports, reference, serving, stores
from feedserver.cli.common import data_dir_errors, load_config, with_store
from feedserver.config import Config
from feedserver.domain import events
from feedserver.errors import FeedserverError
from feedserver.model import InboxFailure
from feedserver.store import BookingQuery, Store
from feedserver.store import postgres as pg


@click.group()
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    envvar="FEEDSERVER_CONFIG",
    help="TOML configuration file (default: none, built-in defaults).",
)
@click.version_option(package_name="feedserver")
def main(config: str | None) -> None:
    """feedserver: .ics feeds, CalDAV and a calendar bridge for booking systems."""


@main.command()
@click.option("--host", help="Address to listen on (server.host).")
@click.option("--port", type=int, help="Port to listen on (server.port).")
@click.option("--public-url", help="Base of every printed link (server.public_url).")
@click.option("--data-dir", help="Runtime data directory (storage.data_dir).")
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Processes serving the port together over the same store (SQLite in WAL mode or "
    "PostgreSQL), under a parent that restarts one that dies. About one per core.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    public_url: str | None,
    data_dir: str | None,
    workers: int,
) -> None:
    """Run the HTTP server. SIGTERM or SIGINT drains it: /readyz turns 503, the listening
    socket closes, the requests in flight finish, claimed work is handed back."""
    config = load_config(
        ctx.find_root().params.get("config"),
        {
            "server.host": host,
            "server.port": port,
            "server.public_url": public_url,
            "storage.data_dir": data_dir,
        },
    )
    logs.configure(config.logging.level, config.logging.format)
    with data_dir_errors(config):
        try:
            if workers > 1:
                serving.serve_workers(config, workers)
            else:
                serving.serve_one(config)
        except FeedserverError as exc:
            raise click.ClickException(exc.message) from exc


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the data directory, the database (SQLite, or PostgreSQL: the database is
    created when missing) or bring its schema up to date, and the secrets; print the admin
    token once."""
    config = load_config(ctx.find_root().params.get("config"))
    with data_dir_errors(config):
        config.data_dir.mkdir(parents=True, exist_ok=True)
        if config.on_postgresql and pg.create_database(config.database_url):
            click.echo("created the PostgreSQL database")
        store = Store(config.database_url, migrate=False)
        try:
            applied = store.db.migrate()
            location = store.location
        finally:
            store.close()
        secrets = instance_secrets.load_or_create(config)
    click.echo(f"database: {location}")
    if applied:
        click.echo(f"schema migrations applied: {', '.join(map(str, applied))}")
    if "admin_token" in secrets.generated:
        click.echo(f"admin token (shown once; kept in {config.secrets_path}):")
        click.echo(secrets.admin_token)
    else:
        click.echo(
            "already initialised: the admin token is unchanged "
            f"({'configured' if config.security.admin_token else 'in secrets.json'})."
        )


@main.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has bookings.")
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed.")
@click.option(
    "--bookings",
    "count",
    type=int,
    default=300,
    show_default=True,
    help="How many single bookings to create (recurring series come on top).",
)
@with_store
def demo_cmd(store: Store, config: Config, if_empty: bool, seed: int, count: int) -> None:
    """Load a realistic demo organisation (3 locations, 6 types, staff, customers, bookings)."""
    if store.bookings.list(BookingQuery(limit=1)) and if_empty:
        click.echo("the database already has bookings; demo data not loaded")
        return
    with click.progressbar(length=count, label="creating bookings", file=sys.stderr) as bar:
        summary = demo.load(
            store,
            seed=seed,
            count=count,
            progress=bar.update,
            # Online types get their meetings; nobody is notified of demo bookings.
            effects=wiring.build(config, notify=False).effects.by(events.Origin("import")),
        )
    credentials = config.data_dir / "demo-accounts.txt"
    demo.write_credentials(credentials, summary.passwords, summary.roles)
    click.echo(
        f"demo organisation loaded: {summary.locations} locations, {summary.types} types, "
        f"{summary.users} users, {summary.bookings} bookings"
        + (f" ({summary.refused} refused)" if summary.refused else "")
    )
    click.echo(f"personal accounts and their passwords: {credentials}")
    click.echo(f"sign in at {config.public_url}/ with one of them")


@main.command("example-config")
def example_config() -> None:
    """Print a configuration file documenting every option with its default."""
    click.echo(config_mod.example_toml(), nl=False)


main.add_command(admin.admin)
main.add_command(admin.locations)
main.add_command(admin.types)
main.add_command(admin.users)
main.add_command(feeds.feeds)
main.add_command(imports.import_group)
main.add_command(backup.backup)
main.add_command(backup.restore)
main.add_command(reference.docs)
main.add_command(stores.migrate_store)
main.add_command(cluster.cluster_group)


@main.command()
@with_store
def inbound(store: Store, config: Config) -> None:
    """Read one email (an invitation to the invite address) on standard input, as an MTA pipe
    delivers it, store it in the inbox and process it. Exit status 0 once stored (the outcome
    is printed and kept in the inbox), 75 (try again later) if it could not be stored."""
    pipeline = wiring.build(config).pipeline
    if pipeline is None:
        raise click.ClickException("the bridge is off: set [bridge] invite_address")
    raw = sys.stdin.buffer.read()
    limit = config.bridge.max_message_bytes
    try:
        with store.transaction():
            if len(raw) > limit:
                item_id = store.inbox.add(
                    "stdin",
                    raw[:limit],
                    len(raw),
                    failure=InboxFailure.TOO_LARGE,
                    reason=f"too large: {len(raw)} bytes, the limit is {limit}",
                )
            else:
                item_id = store.inbox.add("stdin", raw, len(raw))
    except Exception as exc:
        click.echo(f"could not store the message: {exc}", err=True)
        sys.exit(75)
    item = store.inbox.one(item_id)
    if item.failure is InboxFailure.TOO_LARGE:
        click.echo(f"inbox {item_id}: failed: too large")
        return
    outcome = pipeline.process(store, item)
    click.echo(f"inbox {item_id}: {outcome.status.value}: {outcome.reason}")
