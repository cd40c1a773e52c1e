"""The application factory: ``create_app(config)`` builds a complete feedserver."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from feedserver import __version__, instance_secrets
from feedserver.config import Config
from feedserver.store import Store, StoreRunner
from feedserver.web import api_bookings, api_catalog, api_users
from feedserver.web.errors import error_middleware
from feedserver.web.logging_mw import request_log_middleware
from feedserver.web.state import CONFIG, RUNNER, SECRETS

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


async def health(request: web.Request) -> web.Response:
    version = await request.app[RUNNER].run(lambda s: s.changes.version())
    return web.json_response({"status": "ok", "version": __version__, "data_version": version})


def create_app(config: Config) -> web.Application:
    app = web.Application(
        middlewares=[request_log_middleware, error_middleware],
        client_max_size=config.server.max_body_bytes,
    )
    app[CONFIG] = config
    app[SECRETS] = instance_secrets.load_or_create(config)
    app.cleanup_ctx.append(_store_ctx)
    app.router.add_get("/healthz", health)
    app.router.add_routes(api_catalog.routes)
    app.router.add_routes(api_users.routes)
    app.router.add_routes(api_bookings.routes)
    return app
