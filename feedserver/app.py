"""The application factory: ``create_app(config)`` builds a complete feedserver."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from feedserver import __version__, instance_secrets
from feedserver.config import Config
from feedserver.feeds.links import FeedUrls
from feedserver.feeds.service import FeedService
from feedserver.logs import RequestLog
from feedserver.store import Store, StoreRunner
from feedserver.tokens import LinkSigner
from feedserver.watcher import ChangeWatcher
from feedserver.web import api_bookings, api_catalog, api_feeds, api_users, feeds
from feedserver.web.middleware import REQUEST_IDS, REQUEST_LOG, RequestIds, request_middleware
from feedserver.web.state import CONFIG, FEED_URLS, FEEDS, RUNNER, SECRETS, WATCHER

log = logging.getLogger(__name__)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    runner = StoreRunner(Store(config.database_path))
    app[RUNNER] = runner
    version = await runner.run(lambda s: s.changes.version())
    log.info("store open", extra={"database": str(config.database_path), "data_version": version})
    yield
    runner.close()


async def _feeds_ctx(app: web.Application) -> AsyncIterator[None]:
    """The change watcher and the feed service, with its usage-flush task."""
    config = app[CONFIG]
    watcher = ChangeWatcher(app[RUNNER], config.storage.change_poll_ms / 1000)
    service = FeedService(app[RUNNER], _signer(app, "feed-link"), config.feeds)
    await service.load()
    watcher.subscribe(service.on_changes)
    await watcher.start()
    app[WATCHER] = watcher
    app[FEEDS] = service
    flusher = asyncio.create_task(service.flush_usage_forever(), name="feed-usage")
    yield
    await _stop(flusher)
    await service.flush_usage()
    await watcher.stop()


async def _request_log_ctx(app: web.Application) -> AsyncIterator[None]:
    flusher = asyncio.create_task(app[REQUEST_LOG].flush_forever(), name="request-log")
    yield
    await _stop(flusher)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _signer(app: web.Application, purpose: str) -> LinkSigner:
    return LinkSigner(app[SECRETS].secret_keys, purpose)


async def health(request: web.Request) -> web.Response:
    version = await request.app[RUNNER].run(lambda s: s.changes.version())
    return web.json_response({"status": "ok", "version": __version__, "data_version": version})


def create_app(config: Config) -> web.Application:
    app = web.Application(
        middlewares=[request_middleware],
        client_max_size=config.server.max_body_bytes,
    )
    app[CONFIG] = config
    app[REQUEST_IDS] = RequestIds()
    app[REQUEST_LOG] = RequestLog()
    app[SECRETS] = instance_secrets.load_or_create(config)
    app[FEED_URLS] = FeedUrls(config.public_url, _signer(app, "feed-link"))
    app.cleanup_ctx.append(_request_log_ctx)
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_feeds_ctx)
    app.router.add_get("/healthz", health)
    app.router.add_routes(api_catalog.routes)
    app.router.add_routes(api_users.routes)
    app.router.add_routes(api_bookings.routes)
    app.router.add_routes(api_feeds.routes)
    app.router.add_routes(feeds.routes)
    return app
