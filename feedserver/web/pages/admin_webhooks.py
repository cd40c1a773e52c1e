"""The admin's webhooks pages: endpoints added (the secret shown once), paused, resumed,
tested, given a new secret and deleted; each endpoint's deliveries with every attempt, and
a button to send one again."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from feedserver.domain import webhooks
from feedserver.errors import FeedserverError, NotFound
from feedserver.model import EVENT_TYPES, User
from feedserver.numbers import is_whole
from feedserver.store import Store
from feedserver.web.pages.base import (
    Visitor,
    admin_only,
    path_id,
    read_form,
    render,
    see_other,
    unconfirmed,
)
from feedserver.web.state import CONFIG, RUNNER, SERVICES, WEBHOOKS

routes = web.RouteTableDef()


async def _list_page(
    request: web.Request,
    who: Visitor,
    error: str = "",
    status: int = 200,
    secret: tuple[int, str] | None = None,
    sent: dict[str, Any] | None = None,
) -> web.Response:
    def load(store: Store) -> dict[str, Any]:
        return {"webhooks": store.webhooks.list(), "counts": store.webhooks.counts()}

    context = {
        **(await request.app[RUNNER].run(load)),
        "event_types": EVENT_TYPES,
        "error": error,
        "secret": secret,
        "sent": sent or {},
    }
    return render(request, who, "admin/webhooks.html", context, status)


@routes.get("/admin/webhooks")
@admin_only
async def list_page(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _list_page(request, who)


@routes.post("/admin/webhooks")
@admin_only
async def add(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    data = {
        "url": form.get("url", "").strip(),
        "description": form.get("description", "").strip(),
        "events": [e for e in form.getall("events", []) if isinstance(e, str)],
    }
    box = request.app[SERVICES].box
    allow = request.app[CONFIG].webhooks.allow_private_networks
    try:
        made = await request.app[RUNNER].run(lambda s: webhooks.create(s, data, box, allow))
    except FeedserverError as exc:
        return await _list_page(request, who, who._(exc.message), 422, sent=data)
    # Shown on this answer only: it is not stored where a page could show it again.
    return await _list_page(request, who, secret=(made.webhook.id, made.secret), status=201)


def _delivery_id(request: web.Request) -> int:
    raw = request.match_info["did"]
    if not is_whole(raw) or len(raw) > 18:
        raise NotFound(f"no delivery {raw!r}")
    return int(raw)


async def _detail_page(
    request: web.Request,
    who: Visitor,
    webhook_id: int,
    notice: str = "",
    secret: str = "",
) -> web.Response:
    query = {k: v for k, v in request.query.items() if k in ("status", "before")}

    def load(store: Store) -> dict[str, Any]:
        return {
            "webhook": webhooks.get(store, webhook_id),
            "deliveries": webhooks.deliveries(store, webhook_id, {**query, "limit": "50"}),
        }

    context = {
        **(await request.app[RUNNER].run(load)),
        "status": query.get("status", ""),
        "message": notice,
        "secret": secret,
    }
    return render(request, who, "admin/webhook.html", context)


@routes.get("/admin/webhooks/{id}")
@admin_only
async def detail(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    return await _detail_page(request, who, path_id(request, "webhook"))


@routes.post("/admin/webhooks/{id}/{action:test|pause|resume|rotate|delete}")
@admin_only
async def act(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    form = await read_form(request, who)
    webhook_id = path_id(request, "webhook")
    action = request.match_info["action"]
    back = f"/admin/webhooks/{webhook_id}"
    runner = request.app[RUNNER]
    await runner.run(lambda s: webhooks.get(s, webhook_id))  # 404 first
    if action == "delete":
        ask = unconfirmed(
            request, who, form, "Delete this endpoint and its deliveries?", "Delete", back
        )
        if ask is not None:
            return ask
        await runner.run(lambda s: webhooks.delete(s, webhook_id))
        return see_other("/admin/webhooks", "saved")
    if action == "rotate":
        ask = unconfirmed(
            request,
            who,
            form,
            "Make a new secret? The old one keeps signing for 24 hours.",
            "New secret",
            back,
        )
        if ask is not None:
            return ask
        box = request.app[SERVICES].box
        made = await runner.run(lambda s: webhooks.rotate_secret(s, webhook_id, box))
        return await _detail_page(request, who, webhook_id, secret=made.secret)
    if action in ("pause", "resume"):
        change = {"enabled": action == "resume"}
        allow = request.app[CONFIG].webhooks.allow_private_networks
        await runner.run(lambda s: webhooks.update(s, webhook_id, change, allow))
        return see_other(back, "saved")
    delivery_id = await runner.run(lambda s: webhooks.test(s, webhook_id))
    sent = await request.app[WEBHOOKS].deliver_now(delivery_id)
    outcome = sent.status if sent else "pending"
    error = f": {sent.last_error}" if sent and sent.last_error else ""
    return await _detail_page(request, who, webhook_id, f"Test delivery {outcome}{error}")


@routes.post("/admin/webhooks/{id}/deliveries/{did}/redeliver")
@admin_only
async def redeliver(request: web.Request, who: Visitor, user: User) -> web.StreamResponse:
    await read_form(request, who)
    webhook_id, delivery_id = path_id(request, "webhook"), _delivery_id(request)
    await request.app[RUNNER].run(lambda s: webhooks.redeliver(s, webhook_id, delivery_id))
    return see_other(f"/admin/webhooks/{webhook_id}", "saved")
