"""The web app: server-rendered pages (Jinja2) for the people who use feedserver, in the same
process and on the same domain layer as the JSON API. No build step and no CDN: templates,
the stylesheet and the one small script ship in this package; every page works without
JavaScript."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from feedserver.config import Config
from feedserver.web.context import routes as in_context
from feedserver.web.pages import (
    account,
    admin,
    admin_bookings,
    admin_webhooks,
    api_docs,
    availability,
    calendars,
    devices,
    links,
    my_bookings,
    schedule,
    settings,
)
from feedserver.web.pages.base import WEBKIT, WebKit, load_static, make_jinja
from feedserver.web.pages.base import pages_for_browsers as pages_for_browsers
from feedserver.wiring import Services

MODULES = (
    account,
    my_bookings,
    links,
    devices,
    availability,
    calendars,
    settings,
    admin_bookings,
    schedule,
    admin_webhooks,
    admin,
    api_docs,
)


def make_kit(config: Config, services: Services) -> WebKit:
    static = load_static()
    return WebKit(
        jinja=make_jinja(static),
        account_mail=services.account_mail,
        throttle=services.web_throttle,
        session_lifetime=timedelta(days=config.web.session_days),
        static=static,
    )


async def static_file(request: web.Request) -> web.Response:
    found = request.app[WEBKIT].static.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    data, content_type, version = found
    cache = (
        "public, max-age=31536000, immutable"
        if request.query.get("v") == version
        else ("public, max-age=300")
    )
    return web.Response(
        body=data,
        headers={
            "Content-Type": content_type,
            "Cache-Control": cache,
            "X-Content-Type-Options": "nosniff",
        },
    )


def setup(app: web.Application, config: Config, services: Services) -> None:
    app[WEBKIT] = make_kit(config, services)
    static = web.RouteTableDef()
    static.get("/static/{name}")(static_file)
    for module in (*MODULES,):
        app.router.add_routes(in_context(module.routes))
    app.router.add_routes(in_context(static))
