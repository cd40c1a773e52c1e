"""/api/webhooks: endpoints that hear events (made, listed, changed, tested, given a new secret,
deleted) and their deliveries; /api/changes: the same events for those who pull."""

from __future__ import annotations

from aiohttp import web

from feedserver.domain import events, webhooks
from feedserver.domain.views import delivery_json, webhook_json
from feedserver.errors import NotFound
from feedserver.numbers import is_whole
from feedserver.web.auth import require_admin
from feedserver.web.requests import read_json
from feedserver.web.state import CONFIG, RUNNER, SERVICES, WEBHOOKS

routes = web.RouteTableDef()


def _id(request: web.Request, name: str = "id", what: str = "webhook") -> int:
    raw = request.match_info[name]
    if not is_whole(raw) or len(raw) > 18:
        raise NotFound(f"no {what} {raw!r}")
    return int(raw)


@routes.post("/api/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    data = await read_json(request)
    box = request.app[SERVICES].box
    allow = request.app[CONFIG].webhooks.allow_private_networks
    made = await request.app[RUNNER].run(lambda s: webhooks.create(s, data, box, allow))
    return web.json_response(webhook_json(made.webhook, made.secret), status=201)


@routes.get("/api/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    await require_admin(request)
    found = await request.app[RUNNER].run(lambda s: s.webhooks.list())
    return web.json_response({"webhooks": [webhook_json(w) for w in found]})


@routes.get("/api/webhooks/{id}")
async def get_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    webhook_id = _id(request)
    found = await request.app[RUNNER].run(lambda s: webhooks.get(s, webhook_id))
    return web.json_response(webhook_json(found))


@routes.patch("/api/webhooks/{id}")
async def update_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    webhook_id = _id(request)
    data = await read_json(request)
    allow = request.app[CONFIG].webhooks.allow_private_networks
    changed = await request.app[RUNNER].run(lambda s: webhooks.update(s, webhook_id, data, allow))
    return web.json_response(webhook_json(changed))


@routes.delete("/api/webhooks/{id}")
async def delete_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    webhook_id = _id(request)
    await request.app[RUNNER].run(lambda s: webhooks.delete(s, webhook_id))
    return web.Response(status=204)


@routes.post("/api/webhooks/{id}/rotate-secret")
async def rotate_secret(request: web.Request) -> web.Response:
    await require_admin(request)
    webhook_id = _id(request)
    box = request.app[SERVICES].box
    made = await request.app[RUNNER].run(lambda s: webhooks.rotate_secret(s, webhook_id, box))
    return web.json_response(webhook_json(made.webhook, made.secret))


@routes.post("/api/webhooks/{id}/test")
async def test_webhook(request: web.Request) -> web.Response:
    """Send a ``webhook.test`` event now and answer with how the delivery went."""
    await require_admin(request)
    webhook_id = _id(request)
    delivery_id = await request.app[RUNNER].run(lambda s: webhooks.test(s, webhook_id))
    sent = await request.app[WEBHOOKS].deliver_now(delivery_id)
    if sent is None:  # another process took it first: show it as it stands
        sent = await request.app[RUNNER].run(
            lambda s: webhooks.delivery(s, webhook_id, delivery_id)
        )
    return web.json_response(delivery_json(sent))


@routes.get("/api/webhooks/{id}/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    await require_admin(request)
    webhook_id = _id(request)
    params = dict(request.query)
    found = await request.app[RUNNER].run(lambda s: webhooks.deliveries(s, webhook_id, params))
    return web.json_response(
        {
            "deliveries": [delivery_json(d) for d in found],
            "next": found[-1].id if found else None,
        }
    )


@routes.get("/api/webhooks/{id}/deliveries/{did}")
async def get_delivery(request: web.Request) -> web.Response:
    await require_admin(request)
    webhook_id, delivery_id = _id(request), _id(request, "did", "delivery")
    found = await request.app[RUNNER].run(lambda s: webhooks.delivery(s, webhook_id, delivery_id))
    return web.json_response(delivery_json(found))


@routes.post("/api/webhooks/{id}/deliveries/{did}/redeliver")
async def redeliver(request: web.Request) -> web.Response:
    await require_admin(request)
    webhook_id, delivery_id = _id(request), _id(request, "did", "delivery")
    queued = await request.app[RUNNER].run(lambda s: webhooks.redeliver(s, webhook_id, delivery_id))
    return web.json_response(delivery_json(queued), status=202)


@routes.get("/api/changes")
async def changes(request: web.Request) -> web.Response:
    """The events after ``after`` (a cursor), oldest first, and the cursor to go on from."""
    await require_admin(request)
    query = request.query
    after = events.cursor_value(query.get("after"))
    limit = query.get("limit", "100")
    if not is_whole(limit) or len(limit) > 6:
        limit = "0"  # refused with the range by ``feed``
    types = [t.strip() for t in query.get("types", "").split(",") if t.strip()] or None
    page = await request.app[RUNNER].run(lambda s: events.feed(s, after, int(limit), types))
    return web.json_response(
        {
            "changes": [events.envelope(e) for e in page.events],
            "next": f"evt_{page.cursor}",
            "more": page.more,
        }
    )
