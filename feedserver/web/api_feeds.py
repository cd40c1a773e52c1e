"""Feed links (/api/feeds for admins, /api/me/feeds for the signed-in account) and feed
templates (/api/feed-templates)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from feedserver.calendar import templates
from feedserver.domain import feed_links as links
from feedserver.domain.feed_links import FeedUrls
from feedserver.errors import NotFound
from feedserver.model import FeedLink, FeedTemplate, User
from feedserver.numbers import is_whole
from feedserver.times import iso_utc
from feedserver.web.auth import require_account, require_admin
from feedserver.web.requests import read_json
from feedserver.web.state import FEED_URLS, FEEDS, RUNNER

routes = web.RouteTableDef()


def _maybe(moment: Any) -> str | None:
    return iso_utc(moment) if moment is not None else None


def link_json(link: FeedLink, urls: FeedUrls) -> dict[str, Any]:
    live = link.revoked_at is None
    f = link.filters
    return {
        "id": link.id,
        "user": link.user_id,
        "name": link.name,
        "scope": link.scope.value,
        "types": list(f.types),
        "locations": list(f.locations),
        "staff": list(f.staff),
        "statuses": list(f.statuses),
        "include_pending": f.include_pending,
        "show_cancelled": f.show_cancelled,
        "include_buffers": f.include_buffers,
        "show_attendees": f.show_attendees,
        "kind": "busy" if f.busy_only else "events",
        "url": urls.https(link) if live else None,
        "webcal_url": urls.webcal(link) if live else None,
        "revoked": not live,
        "revoked_at": _maybe(link.revoked_at),
        "created_at": iso_utc(link.created_at),
        "last_fetched_at": _maybe(link.last_fetched_at),
        "fetch_count": link.fetch_count,
        "last_user_agent": link.last_user_agent,
    }


def _link_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not is_whole(raw):
        raise NotFound(f"no feed link {raw!r}")
    return int(raw)


async def _owner(request: web.Request) -> User | None:
    """None for the admin routes (any link), the account for /api/me/feeds (its own links)."""
    if request.path.startswith("/api/me/"):
        return await require_account(request)
    await require_admin(request)
    return None


async def create(request: web.Request) -> web.Response:
    owner = await _owner(request)
    data = await read_json(request)
    link = await request.app[RUNNER].run(lambda s: links.create_link(s, data, owner))
    return web.json_response(link_json(link, request.app[FEED_URLS]), status=201)


async def list_(request: web.Request) -> web.Response:
    owner = await _owner(request)
    user_ref = request.query.get("user")
    await request.app[FEEDS].flush_usage()
    found = await request.app[RUNNER].run(lambda s: links.list_links(s, user_ref, owner))
    urls = request.app[FEED_URLS]
    return web.json_response({"feeds": [link_json(x, urls) for x in found]})


async def get(request: web.Request) -> web.Response:
    owner = await _owner(request)
    link_id = _link_id(request)
    await request.app[FEEDS].flush_usage()
    link = await request.app[RUNNER].run(lambda s: links.get_link(s, link_id, owner))
    return web.json_response(link_json(link, request.app[FEED_URLS]))


async def update(request: web.Request) -> web.Response:
    owner = await _owner(request)
    link_id = _link_id(request)
    data = await read_json(request)
    link = await request.app[RUNNER].run(lambda s: links.update_link(s, link_id, data, owner))
    return web.json_response(link_json(link, request.app[FEED_URLS]))


async def rotate(request: web.Request) -> web.Response:
    owner = await _owner(request)
    link_id = _link_id(request)
    link = await request.app[RUNNER].run(lambda s: links.rotate_link(s, link_id, owner))
    return web.json_response(link_json(link, request.app[FEED_URLS]))


async def revoke(request: web.Request) -> web.Response:
    owner = await _owner(request)
    link_id = _link_id(request)
    await request.app[RUNNER].run(lambda s: links.revoke_link(s, link_id, owner))
    return web.Response(status=204)


for prefix in ("/api/feeds", "/api/me/feeds"):
    routes.post(prefix)(create)
    routes.get(prefix)(list_)
    routes.get(prefix + "/{id}")(get)
    routes.patch(prefix + "/{id}")(update)
    routes.post(prefix + "/{id}/rotate")(rotate)
    routes.delete(prefix + "/{id}")(revoke)


def _template_json(template: FeedTemplate) -> dict[str, str]:
    return {"summary": template.summary, "description": template.description}


@routes.get("/api/feed-templates")
async def list_templates(request: web.Request) -> web.Response:
    await require_admin(request)
    saved = await request.app[RUNNER].run(lambda s: s.feed_templates.list())
    current = templates.TemplateSet.from_saved(saved)
    return web.json_response(
        {
            "default": _template_json(current.default),
            "types": {key: _template_json(t) for key, t in current.by_type.items()},
            "shortcodes": {f"%{k}%": help for k, help in templates.SHORTCODES.items()},
        }
    )


@routes.put("/api/feed-templates/{type}")
async def save_template(request: web.Request) -> web.Response:
    await require_admin(request)
    name = request.match_info["type"]
    type_key = None if name == "default" else name
    data = await read_json(request)
    saved = await request.app[RUNNER].run(lambda s: links.save_template(s, type_key, data))
    return web.json_response(_template_json(saved))


@routes.delete("/api/feed-templates/{type}")
async def delete_template(request: web.Request) -> web.Response:
    await require_admin(request)
    name = request.match_info["type"]
    type_key = None if name == "default" else name  # deleting the default restores the built-in
    await request.app[RUNNER].run(lambda s: links.delete_template(s, type_key))
    return web.Response(status=204)
