"""``feedserver cluster``: what the nodes sharing one store agree on, and who holds what."""

from __future__ import annotations

import click

from feedserver import cluster as cluster_mod
from feedserver import instance_secrets
from feedserver.cli.common import with_store
from feedserver.config import Config
from feedserver.store import Store
from feedserver.times import utcnow


@click.group("cluster")
def cluster_group() -> None:
    """The processes and nodes sharing this store."""


@cluster_group.command("adopt-secrets")
@with_store
def adopt_secrets(store: Store, config: Config) -> None:
    """Make this configuration's signing keys the cluster's, replacing every key (a node
    whose keys share none with the cluster's refuses to start; a rotation that keeps one key
    needs no command). Restart every node with the new secrets afterwards."""
    secrets = instance_secrets.load_or_create(config)
    count = cluster_mod.adopt_secrets(store, secrets)
    click.echo(f"the cluster's signing keys are now this configuration's ({count})")


@cluster_group.command("status")
@with_store
def status(store: Store, config: Config) -> None:
    """Which node holds each periodic job now, and whether this configuration's signing
    keys are the cluster's."""
    now = utcnow()
    for name in cluster_mod.LEASES:
        click.echo(f"{name}: {store.leases.holder(name, now) or 'nobody'}")
    secrets = instance_secrets.load_or_create(config)
    click.echo(f"signing keys: {cluster_mod.keys_state(store, secrets)}")
