"""POST /api/inbound (calendars and emails by HTTP) and the inbox (/api/inbox)."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from feedserver.errors import AuthenticationRequired, NotFound
from feedserver.inbound.inbox import TooLargeItem
from feedserver.model import InboxFailure, InboxItem
from feedserver.numbers import is_whole
from feedserver.times import iso_utc
from feedserver.web.auth import require_admin
from feedserver.web.errors import error_response
from feedserver.web.requests import page_query
from feedserver.web.state import CONFIG, INBOX, RUNNER

routes = web.RouteTableDef()
# How long a small item's request waits for the items before it (a 2,000-event calendar being
# applied) before it is answered 202 instead.
INLINE_WAIT_SECONDS = 5.0

_KINDS = {
    "text/calendar": "http-calendar",
    "application/ics": "http-calendar",
    "message/rfc822": "http-message",
}


def item_json(item: InboxItem, raw: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": item.id,
        "source": item.source,
        "received_at": iso_utc(item.received_at),
        "size": item.size,
        "principal": item.principal,
        "path": item.path,
        "deleted": item.deleted,
        "status": item.status.value,
        "failure": item.failure.value or None,
        "retryable": item.failure.retryable,
        "reason": item.reason,
        "attempts": item.attempts,
        "bookings": list(item.booking_ids),
    }
    if raw:
        shown["raw"] = item.raw.decode("utf-8", "replace")
    return shown


async def _authorise(request: web.Request) -> None:
    secret = request.app[CONFIG].bridge.webhook_secret
    given = request.headers.get("X-Webhook-Secret")
    if given is not None:
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            raise AuthenticationRequired("wrong webhook secret")
        return
    await require_admin(request)


@routes.post("/api/inbound")
async def inbound(request: web.Request) -> web.Response:
    """Store the body raw in the inbox, then apply it: a small item before answering (200
    with its outcome); a large one, one behind an item that keeps the inbox busy, or any sent
    with ``Prefer: respond-async``, in the background (202 with the item,
    ``Location: /api/inbox/ID``)."""
    await _authorise(request)
    kind = _KINDS.get(request.content_type or "")
    if kind is None:
        return error_response(415, "unsupported_media_type", "send text/calendar or message/rfc822")
    inbox = request.app[INBOX]
    limit = inbox.max_bytes
    body = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        body.extend(chunk)
        if len(body) > limit:
            break
    raw = bytes(body)
    refusal = await inbox.admit(request.remote or "", kind, raw)
    if refusal is not None:
        return error_response(
            429,
            "rate_limited",
            refusal.message,
            headers={"Retry-After": str(refusal.seconds)},
            retry_after=refusal.seconds,
        )
    try:
        item = await inbox.receive(kind, raw)
    except TooLargeItem as exc:
        return error_response(
            413,
            "too_large",
            f"inbound items are limited to {limit} bytes; kept in the inbox as failed",
            inbox_id=exc.item.id,
        )
    asked = "respond-async" in request.headers.get("Prefer", "").lower()
    processed = None
    if not asked and inbox.inline(raw):
        processed = await inbox.process_soon(item.id, INLINE_WAIT_SECONDS)
    if processed is None:
        inbox.wake()
        headers = {"Location": f"/api/inbox/{item.id}"}
        if asked:
            headers["Preference-Applied"] = "respond-async"
        return web.json_response(item_json(item), status=202, headers=headers)
    if processed.failure is InboxFailure.MALFORMED:
        return error_response(422, "malformed", processed.reason, inbox_id=processed.id)
    return web.json_response(item_json(processed), status=200)


@routes.get("/api/inbox")
async def list_inbox(request: web.Request) -> web.Response:
    await require_admin(request)
    status = request.query.get("status") or None
    limit, after = page_query(request)
    found = await request.app[RUNNER].run(lambda s: s.inbox.list(status, limit + 1, after))
    following = str(found[limit - 1].id) if len(found) > limit else None
    return web.json_response({"inbox": [item_json(i) for i in found[:limit]], "next": following})


@routes.get("/api/inbox/{id}")
async def get_inbox_item(request: web.Request) -> web.Response:
    await require_admin(request)
    item_id = _item_id(request)
    item = await request.app[RUNNER].run(lambda s: s.inbox.one(item_id))
    return web.json_response(item_json(item, raw=True))


@routes.post("/api/inbox/{id}/retry")
async def retry_inbox_item(request: web.Request) -> web.Response:
    await require_admin(request)
    item_id = _item_id(request)
    await request.app[RUNNER].run(lambda s: s.inbox.one(item_id))
    return web.json_response(item_json(await request.app[INBOX].process(item_id)))


def _item_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not is_whole(raw):
        raise NotFound(f"no inbox item {raw!r}")
    return int(raw)
