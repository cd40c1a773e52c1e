"""What every subcommand shares: loading the configuration and opening the store."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import click

from feedserver import config as config_mod
from feedserver.caldav_bridge.layout import FolderMigrationError
from feedserver.config import Config, ConfigError
from feedserver.errors import FeedserverError
from feedserver.store import Store, StoreUnavailable

F = TypeVar("F", bound=Callable[..., Any])


def load_config(config_path: str | None, overrides: dict[str, Any] | None = None) -> Config:
    try:
        return config_mod.load(config_path, overrides=overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


@contextmanager
def data_dir_errors(config: Config) -> Iterator[None]:
    """An unusable data directory (read-only, missing, full) as one clear error, exit 1."""
    try:
        yield
    except FolderMigrationError as exc:
        raise click.ClickException(
            f"the CalDAV folder {config.data_dir / 'caldav'} was not moved into the store: "
            f"{exc}. The folder is left as it was."
        ) from exc
    except StoreUnavailable as exc:
        if config.on_postgresql:
            raise click.ClickException(
                f"{exc}. Check storage.database_url (FEEDSERVER_DATABASE_URL), that the server "
                "runs and that the user may connect to and create tables in that database."
            ) from exc
        raise click.ClickException(
            f"cannot use the data directory {config.data_dir}: {exc}. Check that it exists, "
            "is writable by this user and has free space (storage.data_dir, --data-dir)."
        ) from exc
    except (OSError, sqlite3.Error) as exc:
        raise click.ClickException(
            f"cannot use the data directory {config.data_dir}: {exc}. Check that it exists, "
            "is writable by this user and has free space (storage.data_dir, --data-dir)."
        ) from exc


def with_store(fn: F) -> F:
    """Give a subcommand the configured ``Store``; domain errors become clean CLI errors."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        config = load_config(ctx.find_root().params.get("config"))
        with data_dir_errors(config):
            store = Store(config.database_url)
        try:
            return fn(store, config, *args, **kwargs)
        except FeedserverError as exc:
            raise click.ClickException(exc.message) from exc
        finally:
            store.close()

    return cast(F, wrapper)
