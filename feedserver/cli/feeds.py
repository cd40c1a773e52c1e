"""``feedserver feeds create|list|revoke|rotate``: subscription links from the shell."""

from __future__ import annotations

from typing import Any

import click

from feedserver import wiring
from feedserver.cli.common import with_store
from feedserver.config import Config
from feedserver.domain import events
from feedserver.domain import feed_links as links
from feedserver.domain.feed_links import FeedUrls
from feedserver.model import FeedLink
from feedserver.store import Store
from feedserver.times import iso_utc


def _urls(config: Config) -> FeedUrls:
    return wiring.build(config).feed_urls


def _show(link: FeedLink, urls: FeedUrls) -> None:
    if link.revoked_at is not None:
        click.echo(f'feed link {link.id} "{link.name}": revoked {iso_utc(link.revoked_at)}')
        return
    click.echo(f'feed link {link.id} "{link.name}" ({link.scope.value})')
    click.echo(f"  url:    {urls.https(link)}")
    click.echo(f"  webcal: {urls.webcal(link)}")


@click.group()
def feeds() -> None:
    """Subscription (.ics) links of personal accounts.

    Writes from here reach a running server within storage.change_poll_ms.
    """


@feeds.command("create")
@click.option("--user", required=True, help="Owner: a user's email or id.")
@click.option("--name", default="Bookings", show_default=True)
@click.option("--scope", type=click.Choice(["own", "all"]), default="own", show_default=True)
@click.option("--type", "types", multiple=True, help="Reservation type key (repeatable).")
@click.option("--location", "locations", multiple=True, help="Location code (repeatable).")
@click.option("--staff", multiple=True, help="Staff member email or id (repeatable).")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(["confirmed", "pending", "cancelled"])
)
@click.option("--include-pending", is_flag=True, help="Add pending bookings as TENTATIVE.")
@click.option("--show-cancelled", is_flag=True, help="Keep cancelled bookings as CANCELLED.")
@click.option("--include-buffers", is_flag=True, help="Events span the buffer times.")
@click.option("--show-attendees", is_flag=True, help="Guest names in the description.")
@with_store
def create(store: Store, config: Config, **values: Any) -> None:
    """Create a feed link and print its URLs."""
    body = {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}
    body = {k: v for k, v in body.items() if v not in ([], None)}
    _show(links.create_link(store, body), _urls(config))


@feeds.command("list")
@click.option("--user", default=None, help="Only this user's links (email or id).")
@with_store
def list_(store: Store, config: Config, user: str | None) -> None:
    """List feed links with their usage."""
    urls = _urls(config)
    for link in links.list_links(store, user):
        seen = iso_utc(link.last_fetched_at) if link.last_fetched_at else "never"
        state = "revoked" if link.revoked_at else urls.https(link)
        click.echo(
            f"{link.id:5} user={link.user_id} {link.name!r} {link.scope.value} "
            f"fetches={link.fetch_count} last={seen} {state}"
        )


@feeds.command("revoke")
@click.argument("link_id", type=int)
@with_store
def revoke(store: Store, config: Config, link_id: int) -> None:
    """Revoke a link: its URL answers 410 Gone from now on."""
    _show(links.revoke_link(store, link_id, origin=events.SYSTEM), _urls(config))


@feeds.command("rotate")
@click.argument("link_id", type=int)
@with_store
def rotate(store: Store, config: Config, link_id: int) -> None:
    """Give a link a new URL; the old one stops working."""
    _show(links.rotate_link(store, link_id), _urls(config))
