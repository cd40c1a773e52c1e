"""The ``feedserver`` command: serve, init, demo and administration subcommands."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from aiohttp import web

from feedserver import config as config_mod
from feedserver import demo, instance_secrets, logs
from feedserver.app import create_app
from feedserver.config import Config, ConfigError
from feedserver.domain import accounts, catalog
from feedserver.errors import FeedserverError
from feedserver.store import BookingQuery, Store

F = TypeVar("F", bound=Callable[..., Any])


def _load(config_path: str | None, overrides: dict[str, Any] | None = None) -> Config:
    try:
        return config_mod.load(config_path, overrides=overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


def with_store(fn: F) -> F:
    """Give a subcommand the configured ``Store``; domain errors become clean CLI errors."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        config = _load(ctx.find_root().params.get("config"))
        store = Store(config.database_path)
        try:
            return fn(store, config, *args, **kwargs)
        except FeedserverError as exc:
            raise click.ClickException(exc.message) from exc
        finally:
            store.close()

    return wrapper  # type: ignore[return-value]


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
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    public_url: str | None,
    data_dir: str | None,
) -> None:
    """Run the HTTP server."""
    config = _load(
        ctx.find_root().params.get("config"),
        {
            "server.host": host,
            "server.port": port,
            "server.public_url": public_url,
            "storage.data_dir": data_dir,
        },
    )
    logs.configure(config.logging.level, config.logging.format)
    app = create_app(config)
    logging.getLogger("feedserver").info(
        "listening", extra={"url": config.public_url, "data_dir": str(config.data_dir)}
    )
    web.run_app(
        app,
        host=config.server.host,
        port=config.server.port,
        access_log=None,
        print=None,
        handle_signals=True,
    )


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the data directory, the database and the secrets; print the admin token once."""
    config = _load(ctx.find_root().params.get("config"))
    config.data_dir.mkdir(parents=True, exist_ok=True)
    Store(config.database_path).close()
    secrets = instance_secrets.load_or_create(config)
    click.echo(f"database: {config.database_path}")
    if "admin_token" in secrets.generated:
        click.echo(
            f"admin token (shown once; kept in {config.data_dir / instance_secrets.SECRETS_FILE}):"
        )
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
    """Load a realistic demo organisation (3 locations, 5 types, staff, customers, bookings)."""
    if store.bookings.list(BookingQuery(limit=1)) and if_empty:
        click.echo("the database already has bookings; demo data not loaded")
        return
    with click.progressbar(length=count, label="creating bookings", file=sys.stderr) as bar:
        summary = demo.load(store, seed=seed, count=count, progress=bar.update)
    credentials = config.data_dir / "demo-accounts.txt"
    demo.write_credentials(credentials, summary.passwords)
    click.echo(
        f"demo organisation loaded: {summary.locations} locations, {summary.types} types, "
        f"{summary.users} users, {summary.bookings} bookings "
        f"({summary.skipped} candidate slots skipped as double bookings)"
    )
    click.echo(f"personal accounts and their passwords: {credentials}")


# -- administration subcommands -------------------------------------------------------------


@main.group()
def locations() -> None:
    """Locations with their short codes."""


@locations.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--address", default="")
@click.option("--timezone", required=True, help="IANA timezone, e.g. Europe/Paris.")
@with_store
def locations_add(
    store: Store, config: Config, code: str, name: str, address: str, timezone: str
) -> None:
    """Add a location."""
    location = catalog.create_location(
        store, {"code": code, "name": name, "address": address, "timezone": timezone}
    )
    click.echo(f"location {location.code} created")


@locations.command("list")
@with_store
def locations_list(store: Store, config: Config) -> None:
    """List locations."""
    for location in store.locations.list():
        click.echo(f"{location.code:12} {location.name} ({location.timezone})")


@main.group()
def types() -> None:
    """Reservation types (services)."""


@types.command("add")
@click.argument("key")
@click.option("--name", required=True)
@click.option("--duration", "duration_minutes", type=int, required=True, help="Minutes.")
@click.option("--buffer-before", "buffer_before_minutes", type=int, default=0)
@click.option("--buffer-after", "buffer_after_minutes", type=int, default=0)
@click.option("--online", is_flag=True, help="An online meeting service.")
@click.option("--color", default="")
@with_store
def types_add(store: Store, config: Config, key: str, **values: Any) -> None:
    """Add a reservation type."""
    rtype = catalog.create_type(store, {"key": key, **values})
    click.echo(f"reservation type {rtype.key} created")


@types.command("list")
@with_store
def types_list(store: Store, config: Config) -> None:
    """List reservation types."""
    for rtype in store.types.list():
        click.echo(f"{rtype.key:20} {rtype.name} ({rtype.duration_minutes} min)")


@main.group()
def users() -> None:
    """User accounts."""


@users.command("add")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "staff", "customer"]), default="customer")
@click.option("--timezone", default="UTC")
@click.option("--location", "primary_location", default=None, help="Primary location code.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted when not given.",
)
@with_store
def users_add(store: Store, config: Config, **values: Any) -> None:
    """Add a user account."""
    user = accounts.create_user(store, {k: v for k, v in values.items() if v is not None})
    click.echo(f"user {user.id} <{user.email}> created")


@users.command("list")
@with_store
def users_list(store: Store, config: Config) -> None:
    """List user accounts."""
    for user in store.users.list():
        click.echo(f"{user.id:5} {user.role.value:9} {user.email} ({user.name})")
