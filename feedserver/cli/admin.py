"""Administration subcommands: the first admin account, locations, reservation types, users."""

from __future__ import annotations

from typing import Any

import click

from feedserver.cli.common import with_store
from feedserver.config import Config
from feedserver.domain import accounts, app_passwords, catalog
from feedserver.store import Store
from feedserver.times import iso_utc


@click.group()
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


@click.group()
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


@click.group()
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


@users.group("app-password")
def app_password() -> None:
    """Per-device passwords for CalDAV clients (DAVx5, Thunderbird, Apple Calendar)."""


@app_password.command("create")
@click.argument("user")
@click.option("--name", required=True, help="The device, e.g. 'Phone'.")
@with_store
def app_password_create(store: Store, config: Config, user: str, name: str) -> None:
    """Create one for USER (email or id); the password is shown once."""
    owner = accounts.find_user(store, user)
    created, secret = app_passwords.create(store, owner, {"name": name})
    click.echo(f"app password {created.id} for {owner.email} ({created.name}):")
    click.echo(secret)


@app_password.command("list")
@click.argument("user")
@with_store
def app_password_list(store: Store, config: Config, user: str) -> None:
    """List USER's app passwords (never the passwords themselves)."""
    owner = accounts.find_user(store, user)
    for found in store.app_passwords.list(owner.id):
        state = "revoked" if found.revoked_at else "active"
        used = iso_utc(found.last_used_at) if found.last_used_at else "never used"
        click.echo(f"{found.id:5} {found.name!r} {state}, {used}")


@app_password.command("revoke")
@click.argument("user")
@click.argument("app_password_id", type=int)
@with_store
def app_password_revoke(store: Store, config: Config, user: str, app_password_id: int) -> None:
    """Revoke one of USER's app passwords."""
    owner = accounts.find_user(store, user)
    app_passwords.revoke(store, owner, app_password_id)
    click.echo(f"app password {app_password_id} revoked")


@click.group()
def admin() -> None:
    """The first admin's personal account (the admin token is not an account)."""


@admin.command("create-account")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--timezone", default="UTC")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted when not given.",
)
@with_store
def admin_create_account(store: Store, config: Config, **values: Any) -> None:
    """Create a personal account with the admin role, to sign in to the web app."""
    user = accounts.create_user(store, {**values, "role": "admin"})
    click.echo(f"admin {user.id} <{user.email}> created: sign in at {config.public_url}/")
