"""GET /metrics: Prometheus metrics, for an admin (the admin token as a bearer token, as
Prometheus' ``authorization`` setting sends it)."""

from __future__ import annotations

from aiohttp import web

from feedserver.metrics import CONTENT_TYPE, Snapshot
from feedserver.model import InboxStatus
from feedserver.store import Store
from feedserver.web.auth import require_admin
from feedserver.web.pages.base import WEBKIT
from feedserver.web.state import FEEDS, METRICS, RUNNER, SERVICES

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    await require_admin(request)

    def read(
        store: Store,
    ) -> tuple[dict[str, int], int, int, dict[str, int], tuple[int, int, int]]:
        return (
            store.outbox.counts(),
            store.inbox.count(InboxStatus.FAILED),
            store.inbox.count(InboxStatus.RECEIVED),
            store.webhooks.counts(),
            store.calendar_accounts.health(),
        )

    outbox, inbox_failed, inbox_waiting, deliveries, accounts = await request.app[RUNNER].run(
        read
    )
    feeds = request.app[FEEDS]
    api, web_sign_in = request.app[SERVICES].throttle, request.app[WEBKIT].throttle
    snapshot = Snapshot(
        outbox=outbox,
        webhook_deliveries=deliveries,
        inbox_failed=inbox_failed,
        inbox_waiting=inbox_waiting,
        feed_cache_entries=len(feeds.cache),
        feed_cache_bytes=feeds.cache.bytes,
        login_failures={"http_basic": api.failures, "web": web_sign_in.failures},
        login_refused={"http_basic": api.refused, "web": web_sign_in.refused},
        inbound_refused=request.app[SERVICES].inbound_limits.refused,
        calendar_accounts=accounts,
    )
    body = request.app[METRICS].exposition(snapshot)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
