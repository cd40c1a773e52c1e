"""The application factory: ``create_app(config)`` builds a complete feedserver."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial

from aiohttp import web

from feedserver import __version__, cluster, reactions, wiring
from feedserver.busy.sync import BusySync
from feedserver.caldav_bridge import layout
from feedserver.caldav_bridge.auth import AccountLogins
from feedserver.caldav_bridge.bookings import BookingsCalendars
from feedserver.caldav_bridge.notifier import PushNotifier
from feedserver.caldav_bridge.push import PushKeys
from feedserver.caldav_bridge.server import PREFIX, RadicaleServer, well_known
from feedserver.calendar_accounts.access import Access
from feedserver.calendar_accounts.google import GoogleOAuth
from feedserver.calendar_accounts.service import CalendarAccounts
from feedserver.calendar_accounts.writer import AccountWriter
from feedserver.cluster import Lease, node_of
from feedserver.config import Config, with_changes
from feedserver.feeds.service import FeedService
from feedserver.inbound.capture import CalendarCapture, CaptureRules
from feedserver.inbound.inbox import InboxService
from feedserver.inbound.listener import start_listener
from feedserver.logs import RequestLog
from feedserver.metrics import Metrics
from feedserver.model import InboxStatus
from feedserver.notify.outbox import OutboxWorker
from feedserver.notify.reminders import ReminderWorker
from feedserver.store import Store, StoreRunner, postgres
from feedserver.times import utcnow
from feedserver.watcher import ChangeWatcher
from feedserver.web import (
    api_availability,
    api_bookings,
    api_calendar_accounts,
    api_catalog,
    api_feeds,
    api_inbound,
    api_notifications,
    api_users,
    api_webhooks,
    feeds,
    metrics,
    openapi,
    pages,
)
from feedserver.web.context import (
    REQUEST_IDS,
    REQUEST_LOG,
    RequestIds,
    in_request_context,
    routes,
    unmatched,
)
from feedserver.web.state import (
    ACCOUNTS,
    BUSY,
    CALDAV,
    CAPTURE,
    CONFIG,
    DRAINING,
    EFFECTS,
    FEED_URLS,
    FEEDS,
    INBOX,
    LOGINS,
    MEETINGS,
    METRICS,
    OUTBOX,
    PUSH,
    REMINDERS,
    RUNNER,
    SECRETS,
    SERVICES,
    WATCHER,
    WEBHOOKS,
    WRITER,
    Draining,
)
from feedserver.webhooks.delivery import WebhookWorker

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 3600.0
# Sign-in failures are forgotten after a quiet period of at most a day or so, and a bucket
# refills within an hour: counters older than this make no difference.
LIMITS_KEPT_SECONDS = 2 * 86400.0
IDEMPOTENCY_KEPT = timedelta(hours=24)  # a repeated Idempotency-Key gets the first answer


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    runner = StoreRunner(Store(config.database_url))
    app[RUNNER] = runner
    try:
        await runner.run(partial(cluster.check_secrets, secrets=app[SECRETS]))
    except BaseException:
        runner.close()
        raise
    await runner.run(lambda s: s.refresh_statistics())
    version = await runner.run(lambda s: s.changes.version())
    app[WATCHER] = ChangeWatcher(runner, config.storage.change_poll_ms / 1000, version)
    log.info(
        "store open",
        extra={
            "database": runner.store.location,
            "data_version": version,
            "node": app[SERVICES].node.name,
        },
    )
    yield
    runner.close()


async def _feeds_ctx(app: web.Application) -> AsyncIterator[None]:
    """The feed service, with its usage-flush task."""
    service = FeedService(
        app[RUNNER], app[FEED_URLS].signer, app[CONFIG].feeds, app[MEETINGS], app[METRICS].render
    )
    await service.load()
    app[FEEDS] = service
    flusher = asyncio.create_task(service.flush_usage_forever(), name="feed-usage")
    yield
    await _stop(flusher)
    await service.flush_usage()


async def _bridge_ctx(app: web.Application, reuse_port: bool = False) -> AsyncIterator[None]:
    """The inbox of inbound events and, when configured, the inbound SMTP listener."""
    config = app[CONFIG].bridge
    pipeline = app[SERVICES].pipeline
    assert pipeline is not None
    inbox = InboxService(
        app[RUNNER],
        pipeline,
        config.max_message_bytes,
        app[SERVICES].inbound_limits,
        config.inbox_retention_days,
        inline_max_events=config.inline_max_events,
        inline_max_bytes=config.inline_max_bytes,
        node=app[SERVICES].node,
    )
    app[INBOX] = inbox
    problem = await app[RUNNER].run(pipeline.configuration_problem)
    if problem is not None:
        log.error("bridge configuration: %s", problem)
    await inbox.start()
    listener = None
    if config.smtp_port:
        listener = await start_listener(
            inbox,
            config.invite_address,
            config.smtp_host,
            config.smtp_port,
            config.max_message_bytes,
            replies_to=app[CONFIG].smtp.sender,
            reuse_port=reuse_port,
        )
    yield
    if listener is not None:
        listener.close()
        await listener.wait_closed()
    await inbox.stop()


async def _caldav_ctx(app: web.Application) -> AsyncIterator[None]:
    """Embedded Radicale, with the ``bookings`` calendars read from the store and the capture
    of client writes for the bridge."""
    config = app[CONFIG]
    loop = asyncio.get_running_loop()
    logins = app[LOGINS]
    capture = None
    if INBOX in app:
        rules = CaptureRules(
            config.bridge.invite_address,
            config.bridge.max_message_bytes,
            config.bridge.inbox_quota_mb_per_user * 1024 * 1024,
        )
        capture = CalendarCapture(app[RUNNER], loop, app[INBOX], rules)
    services = app[SERVICES]
    calendars = BookingsCalendars(
        app[RUNNER], app[FEEDS].fragments, app[MEETINGS], config.caldav.bookings_calendar_name
    )
    folder = config.data_dir / "caldav"
    if layout.needs_migration(folder):
        await app[RUNNER].run(partial(layout.migrate_folder, folder))
    keys = None
    if config.push.enabled:
        keys = PushKeys(services.secrets.vapid_private_key, services.secrets.secret_keys[-1])
        contact = config.push.contact or f"mailto:{config.smtp.sender or 'postmaster@localhost'}"
        app[PUSH] = PushNotifier(app[RUNNER], keys, config.push, contact)
        await app[PUSH].start()
    server = RadicaleServer(
        config,
        app[RUNNER],
        logins,
        capture,
        services.budget,
        calendars,
        services.inbound_limits,
        keys,
    )
    app[CALDAV] = server
    app[FEEDS].gate.yield_to(lambda: server.busy)
    reconciler = None
    seconds = config.bridge.reconcile_seconds
    lease = Lease(app[RUNNER], services.node, "caldav-reconcile", seconds)
    if capture is not None:
        reconciler = asyncio.create_task(
            capture.reconcile_forever(server, seconds, lease), name="reconcile"
        )
        app[CAPTURE] = capture
    yield
    if reconciler is not None:
        await _stop(reconciler)
        await lease.release()
    if PUSH in app:
        await app[PUSH].stop()
    server.close()


async def _logins_ctx(app: web.Application) -> AsyncIterator[None]:
    """Password checks for HTTP Basic (API and CalDAV): verified logins remembered a short
    while, scrypt on a small pool of its own."""
    seconds = app[CONFIG].caldav.login_cache_seconds
    logins = AccountLogins(
        app[RUNNER],
        app[SERVICES].throttle,
        seconds,
        tarpit_seconds=app[CONFIG].security.login_tarpit_seconds,
        settle=app[WATCHER].settle,
    )
    app[LOGINS] = logins
    yield
    logins.close()


async def _outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker that delivers the notification outbox over SMTP."""
    worker = OutboxWorker(app[RUNNER], app[CONFIG].smtp, app[SERVICES].node)
    app[OUTBOX] = worker
    await worker.start()
    yield
    await worker.stop()


async def _webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker that delivers events to webhook endpoints."""
    services = app[SERVICES]
    worker = WebhookWorker(app[RUNNER], app[CONFIG].webhooks, services.box, services.node)
    app[WEBHOOKS] = worker
    await worker.start()
    yield
    await worker.stop()


async def _reminders_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker that sends reminders when they fall due (when notifications are on)."""
    services = app[SERVICES]
    notifier = services.notifier
    if notifier is None:
        yield
        return
    worker = ReminderWorker(
        app[RUNNER],
        notifier,
        services.effects.reminder_rules,
        services.budget,
        app[CONFIG].notifications.reminder_poll_seconds,
        services.node,
    )
    app[REMINDERS] = worker
    await worker.start()
    yield
    await worker.stop()


async def _calendar_accounts_ctx(app: web.Application) -> AsyncIterator[None]:
    """People's own calendar accounts: connecting them, and the worker that writes their
    bookings there."""
    services = app[SERVICES]
    config = app[CONFIG]
    google = GoogleOAuth(config.google, config.public_url)
    access = Access(app[RUNNER], services.box, config.calendar_accounts, google)
    app[ACCOUNTS] = CalendarAccounts(app[RUNNER], access, config.smtp.sender_name, google)
    writer = AccountWriter(
        app[RUNNER],
        config.calendar_accounts,
        access,
        services.meetings,
        services.node,
        app[METRICS].calendar_writes,
    )
    app[WRITER] = writer
    await writer.start()
    yield
    await writer.stop()


async def _busy_ctx(app: web.Application) -> AsyncIterator[None]:
    """The reader of staff members' own calendars (busy times), connected accounts too."""
    services = app[SERVICES]
    sync = BusySync(
        app[RUNNER],
        app[CONFIG].availability,
        services.box,
        services.node,
        accounts=app[WRITER].read_busy,
    )
    app[BUSY] = sync
    await sync.start()
    yield
    await sync.stop()


async def _changes_ctx(app: web.Application) -> AsyncIterator[None]:
    """The change watcher, started once every consumer of a change is subscribed (last)."""
    watcher = app[WATCHER]
    reactions.subscribe(
        watcher,
        app[FEEDS],
        app[OUTBOX],
        app[WEBHOOKS],
        app[WRITER],
        app[LOGINS],
        app.get(PUSH),
    )
    await watcher.start()
    listener = None
    config = app[CONFIG]
    if config.on_postgresql:  # other nodes' commits, as they happen
        listener = asyncio.create_task(
            postgres.follow_changes(config.database_url, watcher.nudge), name="listen"
        )
    yield
    if listener is not None:
        await _stop(listener)
    await watcher.stop()


async def _housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    """Hourly, where the lease "housekeeping" is held: forget sign-in failures and rate
    limit buckets past any wait they could still cause, Idempotency-Keys after a day, and
    events past ``webhooks.event_retention_days``."""
    lease = Lease(app[RUNNER], app[SERVICES].node, "housekeeping", HOUSEKEEPING_SECONDS)
    retention = timedelta(days=app[CONFIG].webhooks.event_retention_days)

    def forget(store: Store) -> int:
        now = utcnow()
        return (
            store.limits.purge(int((time.time() - LIMITS_KEPT_SECONDS) * 1000))
            + store.idempotency.purge(now - IDEMPOTENCY_KEPT)
            + store.events.purge(now - retention)
        )

    async def forever() -> None:
        while True:
            try:
                if await lease.held():
                    forgotten = await app[RUNNER].run(forget)
                    if forgotten:
                        log.info(
                            "old counters, idempotency keys and events forgotten",
                            extra={"count": forgotten},
                        )
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(HOUSEKEEPING_SECONDS)

    task = asyncio.create_task(forever(), name="housekeeping")
    yield
    await _stop(task)
    await lease.release()


async def dav(request: web.Request) -> web.Response:
    return await request.app[CALDAV].handle(request)


async def _request_log_ctx(app: web.Application) -> AsyncIterator[None]:
    """The request log's flusher; first in, so the last to stop."""
    flusher = asyncio.create_task(app[REQUEST_LOG].flush_forever(), name="request-log")
    yield
    await _stop(flusher)
    log.info("stopped")


async def _shutting_down(app: web.Application) -> None:
    """Graceful shutdown (SIGTERM, SIGINT), when the listening socket is closed: the requests
    in flight finish before the contexts above stop the background work and the store."""
    app[DRAINING].since = asyncio.get_running_loop().time()
    log.info(
        "shutting down: finishing the requests in flight",
        extra={"timeout_seconds": app[CONFIG].server.shutdown_timeout_seconds},
    )


async def _stop(task: asyncio.Task[None], grace: float = 5.0) -> None:
    """Cancel a background task and wait for it, a while: a task that does not end (a
    library that swallows the cancellation while its server is silent) must not hold up
    the stop of everything else."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.warning("a background task did not stop; left behind", extra={"task": task.get_name()})
    elif not task.cancelled() and task.exception() is not None:
        log.error("a background task failed", exc_info=task.exception())


async def ready(request: web.Request) -> web.Response:
    """Readiness, for a load balancer: 200 when this node should get traffic: the store
    answers, its schema is the one this release knows (every migration applied and none it
    does not know, as during a rolling upgrade with a node of another release), and the node
    is not draining. 503 with the reason otherwise. ``/healthz`` is the liveness check."""
    reasons = []
    if request.app[DRAINING].since is not None:
        reasons.append("draining: the server is stopping")
    try:
        missing, unknown = await request.app[RUNNER].run(lambda s: s.schema_state())
    except Exception as error:
        log.warning("readiness: the store does not answer", extra={"error": str(error)})
        return web.json_response(
            {"status": "not ready", "reasons": [f"the store does not answer: {error}"]},
            status=503,
        )
    if missing:
        reasons.append(f"migrations not applied: {', '.join(map(str, missing))}")
    if unknown:
        reasons.append(
            f"the database has migrations this release does not know: "
            f"{', '.join(map(str, unknown))} (a newer feedserver migrated it)"
        )
    if reasons:
        return web.json_response({"status": "not ready", "reasons": reasons}, status=503)
    return web.json_response({"status": "ready", "version": __version__})


async def health(request: web.Request) -> web.Response:
    """Liveness (the store answers), the data version, and what an operator must look at:
    the outbox backlog, failed notifications and inbox items, failing calendar accounts
    (``warnings``). 503 when the
    store does not answer."""

    pipeline = request.app[SERVICES].pipeline

    def state(
        store: Store,
    ) -> tuple[int, dict[str, int], int, str | None, tuple[int, int, int]]:
        failed_inbox = store.inbox.count(InboxStatus.FAILED)
        return (
            store.changes.version(),
            store.outbox.counts(),
            failed_inbox,
            pipeline.configuration_problem(store) if pipeline is not None else None,
            store.calendar_accounts.health(),
        )

    try:
        version, outbox, inbox_failed, bridge, accounts = await request.app[RUNNER].run(state)
    except Exception as error:
        log.exception("health check: the store does not answer")
        return web.json_response(
            {"status": "error", "store": f"{type(error).__name__}: {error}"}, status=503
        )
    body: dict[str, object] = {
        "status": "ok",
        "store": "ok",
        "version": __version__,
        "data_version": version,
        "outbox_pending": outbox.get("pending", 0) + outbox.get("sending", 0),
        "outbox_failed": outbox.get("failed", 0),
        "inbox_failed": inbox_failed,
        "calendar_accounts": accounts[0],
        "calendar_accounts_failing": accounts[1],
        "calendar_writes_waiting": accounts[2],
    }
    warnings = []
    if accounts[1]:
        warnings.append(
            f"{accounts[1]} connected calendar accounts are failing; GET "
            "/api/calendar-accounts shows why (last_error)"
        )
    if outbox.get("failed"):
        warnings.append(
            f"{outbox['failed']} notifications failed; POST /api/notifications/retry sends "
            "them again"
        )
    if inbox_failed:
        warnings.append(f"{inbox_failed} inbox items failed; see GET /api/inbox?status=failed")
    if bridge is not None:
        warnings.append(bridge)
    body["warnings"] = warnings
    if CALDAV in request.app:
        # The bookings calendars are read from the store: nothing to catch up with. Kept for
        # monitors written when they were published copies.
        body["caldav_lag"] = 0
    return web.json_response(body)


def create_app(config: Config, worker: int | None = None) -> web.Application:
    """The application. ``worker``: its number among the workers of ``serve --workers``
    (its node name gets /wN, and it shares the inbound SMTP port with the others)."""
    if worker is not None:
        config = with_changes(config, cluster={"node_name": node_of(config, worker).name})
    # No middleware: every route but the feed runs in the request context of
    # ``feedserver.web.context`` (``routes``), the feed in its own shorter one.
    app = web.Application(client_max_size=config.server.max_body_bytes)
    services = wiring.build(config)
    app[SERVICES] = services
    app[CONFIG] = config
    app[SECRETS] = services.secrets
    app[FEED_URLS] = services.feed_urls
    app[MEETINGS] = services.meetings
    app[EFFECTS] = services.effects
    app[REQUEST_IDS] = RequestIds()
    app[REQUEST_LOG] = RequestLog()
    app[METRICS] = Metrics()
    app[DRAINING] = Draining()
    app.on_shutdown.append(_shutting_down)
    app.cleanup_ctx.append(_request_log_ctx)
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_logins_ctx)
    app.cleanup_ctx.append(_feeds_ctx)
    app.cleanup_ctx.append(_outbox_ctx)
    app.cleanup_ctx.append(_webhooks_ctx)
    app.cleanup_ctx.append(_reminders_ctx)
    app.cleanup_ctx.append(_calendar_accounts_ctx)
    app.cleanup_ctx.append(_busy_ctx)
    app.cleanup_ctx.append(_housekeeping_ctx)
    if services.pipeline is not None:
        app.cleanup_ctx.append(partial(_bridge_ctx, reuse_port=worker is not None))
        app.router.add_routes(routes(api_inbound.routes))
    if config.caldav.enabled:
        app.cleanup_ctx.append(_caldav_ctx)
        app.router.add_route("*", "/.well-known/caldav", in_request_context(well_known))
        app.router.add_route("*", PREFIX + "{path_info:(?:/.*)?}", in_request_context(dav))
        # Discovery from the bare host (https://host/): PROPFIND on / is answered as the
        # CalDAV root is, with the current-user-principal (the web app has GET /).
        app.router.add_route("PROPFIND", "/", in_request_context(dav))
    app.cleanup_ctx.append(_changes_ctx)
    app.router.add_get("/healthz", in_request_context(health))
    app.router.add_get("/readyz", in_request_context(ready))
    feeds.add_feed_route(app.router)
    for module in (
        api_catalog,
        api_users,
        api_bookings,
        api_feeds,
        api_notifications,
        api_availability,
        api_webhooks,
        api_calendar_accounts,
        openapi,
        metrics,
        feeds,
    ):
        app.router.add_routes(routes(module.routes))
    pages.setup(app, config, services)
    # Last: what no route answers, as JSON, or as a page when a browser asks for one.
    app.router.add_route("*", "/{path:.*}", in_request_context(pages.pages_for_browsers(unmatched)))
    return app
