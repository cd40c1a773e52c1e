"""/api/notifications (the outbox), notification settings, email templates, online meetings
(the report, revoking an attendee's link) and /meet/{token}."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from feedserver.domain import meetings as meeting_links
from feedserver.domain import notification_settings as settings
from feedserver.domain.accounts import find_user
from feedserver.domain.views import booking_json
from feedserver.errors import NotFound
from feedserver.model import OutboxMessage
from feedserver.notify import messages as templates
from feedserver.notify import outbox
from feedserver.numbers import is_whole
from feedserver.times import iso_utc, parse_instant
from feedserver.web.auth import require_account, require_admin
from feedserver.web.requests import page_query, read_json
from feedserver.web.state import MEETINGS, RUNNER

routes = web.RouteTableDef()


def _id(request: web.Request, what: str) -> int:
    raw = request.match_info["id"]
    if not is_whole(raw):
        raise NotFound(f"no {what} {raw!r}")
    return int(raw)


def message_json(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind,
        "booking": message.booking_id,
        "recipient": message.recipient_email,
        "subject": message.subject,
        "status": message.status,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "next_attempt_at": (
            iso_utc(message.next_attempt_at) if message.status == "pending" else None
        ),
        "created_at": iso_utc(message.created_at),
        "sent_at": iso_utc(message.sent_at) if message.sent_at else None,
        "has_invitation": message.ics_method,
    }


@routes.get("/api/notifications")
async def list_notifications(request: web.Request) -> web.Response:
    await require_admin(request)
    status = request.query.get("status") or None
    booking = request.query.get("booking")
    booking_id = int(booking) if booking and is_whole(booking) else None
    limit, after = page_query(request)
    found = await request.app[RUNNER].run(
        lambda s: s.outbox.list(status, booking_id, limit + 1, after)
    )
    following = str(found[limit - 1].id) if len(found) > limit else None
    return web.json_response(
        {"notifications": [message_json(m) for m in found[:limit]], "next": following}
    )


@routes.post("/api/notifications/retry")
async def retry_failed_notifications(request: web.Request) -> web.Response:
    """Queue every failed notification again (after a long SMTP outage)."""
    await require_admin(request)
    ids = await request.app[RUNNER].run(outbox.retry_failed)
    return web.json_response({"retried": len(ids), "ids": ids})


@routes.post("/api/notifications/{id}/retry")
async def retry_notification(request: web.Request) -> web.Response:
    await require_admin(request)
    message_id = _id(request, "notification")
    retried = await request.app[RUNNER].run(lambda s: outbox.retry(s, message_id))
    return web.json_response(message_json(retried))


@routes.get("/api/me/notification-settings")
async def my_settings(request: web.Request) -> web.Response:
    user = await require_account(request)
    found = await request.app[RUNNER].run(lambda s: settings.get(s, user))
    return web.json_response(dataclasses.asdict(found))


@routes.patch("/api/me/notification-settings")
async def patch_my_settings(request: web.Request) -> web.Response:
    user = await require_account(request)
    data = await read_json(request)
    found = await request.app[RUNNER].run(lambda s: settings.patch(s, user, data))
    return web.json_response(dataclasses.asdict(found))


@routes.get("/api/users/{id}/notification-settings")
async def user_settings(request: web.Request) -> web.Response:
    await require_admin(request)
    ref = request.match_info["id"]
    found = await request.app[RUNNER].run(lambda s: settings.get(s, find_user(s, ref, "id")))
    return web.json_response(dataclasses.asdict(found))


@routes.patch("/api/users/{id}/notification-settings")
async def patch_user_settings(request: web.Request) -> web.Response:
    await require_admin(request)
    ref = request.match_info["id"]
    data = await read_json(request)
    found = await request.app[RUNNER].run(
        lambda s: settings.patch(s, find_user(s, ref, "id"), data)
    )
    return web.json_response(dataclasses.asdict(found))


@routes.get("/api/templates")
async def list_templates(request: web.Request) -> web.Response:
    await require_admin(request)
    found = await request.app[RUNNER].run(templates.listing)
    return web.json_response(
        {
            "templates": found,
            "variables": {f"[{name}]": help for name, help in templates.VARIABLES.items()},
        }
    )


@routes.put("/api/templates/{audience}/{kind}/{language}")
async def save_template(request: web.Request) -> web.Response:
    await require_admin(request)
    key = (
        request.match_info["audience"],
        request.match_info["kind"],
        request.match_info["language"],
    )
    data = await read_json(request)
    subject, body = await request.app[RUNNER].run(lambda s: templates.save(s, *key, data))
    return web.json_response({"subject": subject, "body": body})


@routes.delete("/api/templates/{audience}/{kind}/{language}")
async def reset_template(request: web.Request) -> web.Response:
    await require_admin(request)
    key = (
        request.match_info["audience"],
        request.match_info["kind"],
        request.match_info["language"],
    )
    await request.app[RUNNER].run(lambda s: templates.reset(s, *key))
    return web.Response(status=204)


@routes.get("/api/reports/online-meetings")
async def online_meetings(request: web.Request) -> web.Response:
    """Bookings with an online meeting that start in [start, end), with their links."""
    await require_admin(request)
    start = parse_instant(request.query.get("start", ""), "start")
    end = parse_instant(request.query.get("end", ""), "end")
    found = await request.app[RUNNER].run(lambda s: meeting_links.in_period(s, start, end))
    service = request.app[MEETINGS]
    rows = [booking_json(booking, meeting, service) for booking, meeting in found]
    return web.json_response({"start": iso_utc(start), "end": iso_utc(end), "meetings": rows})


@routes.delete("/api/meeting-links/{id}")
async def revoke_meeting_link(request: web.Request) -> web.Response:
    """Revoke one attendee's meeting link; the others keep working."""
    await require_admin(request)
    link_id = _id(request, "meeting link")
    await request.app[RUNNER].run(lambda s: meeting_links.revoke_link(s, link_id))
    return web.Response(status=204)


@routes.get("/meet/{token}")
async def follow_meeting_link(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    meetings = request.app[MEETINGS]
    room = await request.app[RUNNER].run(lambda s: meetings.follow(s, token))
    raise web.HTTPFound(room)
