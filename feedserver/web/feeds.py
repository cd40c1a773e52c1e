"""GET/HEAD /feeds/{token}.ics: the subscription feed itself, and /robots.txt.

Always 200 text/calendar whatever the Accept header (Google sends none). Strong ETags (one per
content coding), a true Last-Modified, If-None-Match before If-Modified-Since, gzip on request.

This is the request feedserver answers most, so it takes the shortest path aiohttp allows: the
application has no middleware, this route is matched without a regular expression
(``FeedResource``) and is the one that does not run in the generic request context
(``web.context``); it does only what a feed needs: a request id and one log line (the token
redacted); the error mapping runs only for errors. An unchanged feed costs a dict lookup
(``FeedService.cached``) and precomputed headers.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

from aiohttp import hdrs, web
from aiohttp.web_urldispatcher import DynamicResource

from feedserver.errors import NotFound
from feedserver.feeds.service import FeedService, RenderedFeed
from feedserver.logs import request_id
from feedserver.web.context import REQUEST_IDS, REQUEST_LOG
from feedserver.web.errors import error_to_response
from feedserver.web.state import CONFIG, FEEDS, METRICS, WATCHER

LOGGED_PATH = "/feeds/[redacted]"
ROUTE = "/feeds/{token}.ics"
FEED_ROUTE = "feed"  # the route that answers its own errors and logs its own line
_GZIP: dict[str, bool] = {}  # Accept-Encoding values seen, parsed once

routes = web.RouteTableDef()

ROBOTS = "User-agent: *\nAllow: /feeds/\nDisallow: /api/\nDisallow: /dav/\nDisallow: /meet/\n"


def wants_gzip(header: str) -> bool:
    """``accepts_gzip``, remembered per header value (clients send few distinct ones)."""
    found = _GZIP.get(header)
    if found is None:
        found = accepts_gzip(header)
        if len(_GZIP) < 256:
            _GZIP[header] = found
    return found


def accepts_gzip(header: str) -> bool:
    """Whether Accept-Encoding names gzip with a non-zero quality."""
    if "gzip" not in header:
        return False
    for part in header.split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if coding.lower() not in ("gzip", "x-gzip"):
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        return quality > 0
    return False


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): either coding's ETag of this content matches."""
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/").strip('"')
        if tag in (etag, f"{etag}-gz"):
            return True
    return False


def _not_modified(request: web.Request, feed: RenderedFeed) -> bool:
    if_none_match = request.headers.get(hdrs.IF_NONE_MATCH)
    if if_none_match is not None:
        return if_none_match in feed.etag_values or etag_matches(if_none_match, feed.etag)
    since = request.headers.get(hdrs.IF_MODIFIED_SINCE)
    if since:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if moment.tzinfo is None:
            return False
        return feed.last_modified <= moment
    return False


def _headers(request: web.Request, feed: RenderedFeed, gz: bool) -> dict[str, str]:
    """The response headers of a rendering, computed once per rendering and coding."""
    kind = "gzip" if gz else "identity"
    found = feed.http_headers.get(kind)
    if found is None:
        found = {
            "ETag": f'"{feed.etag}-gz"' if gz else f'"{feed.etag}"',
            "Last-Modified": feed.last_modified_http,
            "Cache-Control": f"private, max-age={request.app[CONFIG].feeds.max_age_seconds}",
            "Vary": "Accept-Encoding",
        }
        feed.http_headers[kind] = found
    return found


class FeedResource(DynamicResource):
    """``/feeds/{token}.ics``, matched with two string tests instead of a regular expression
    (a third of the routing time of a feed request). A token of other characters than the
    signer's (``[A-Za-z0-9_.-]``) is matched too and answered 404 by the token check."""

    def __init__(self) -> None:
        super().__init__(r"/feeds/{token:[A-Za-z0-9_.-]+}.ics", name=FEED_ROUTE)

    def _match(self, path: str) -> dict[str, str] | None:
        if len(path) > 11 and path.startswith("/feeds/") and path.endswith(".ics"):
            return {"token": path[7:-4]}
        return None


def add_feed_route(router: web.UrlDispatcher) -> None:
    """The feed route (GET and HEAD), on a ``FeedResource``."""
    resource = FeedResource()
    router.register_resource(resource)
    resource.add_route("HEAD", serve_feed)
    resource.add_route("GET", serve_feed)


async def _caught_up(app: web.Application, service: FeedService, token: str) -> RenderedFeed | None:
    """After ``cached`` found no link for ``token``: a genuine token of a link this process
    does not know yet (made or rotated by another process a moment ago) is looked for in
    the change log once before it is refused."""
    if not service.signed(token):
        raise NotFound("no such feed")
    await app[WATCHER].poke()
    return service.cached(token)


async def serve_feed(request: web.Request) -> web.StreamResponse:
    started = time.time()
    app = request.app
    rid = app[REQUEST_IDS].for_request(request)
    service = app[FEEDS]
    metrics = app[METRICS]
    status = 500
    try:
        if not service.gate.admit():
            await service.gate.wait()
        token = request.match_info["token"]
        if app[WATCHER].behind:  # another node changed something: know what first
            await app[WATCHER].settle()
        try:
            try:
                feed = service.cached(token)  # no await on the hot path
            except NotFound:
                feed = await _caught_up(app, service, token)
            metrics.feeds["hit" if feed is not None else "rendered"] += 1
            if feed is None:  # the slow path: what it logs carries the request id
                context = request_id.set(rid)
                try:
                    feed = await service.feed(token)
                finally:
                    request_id.reset(context)
        except Exception as exc:  # 404, 410, or a 500 that is logged: the one error mapping
            context = request_id.set(rid)
            try:
                error = error_to_response(request, exc)
            finally:
                request_id.reset(context)
            status = error.status
            return error
        headers = request.headers
        service.record_fetch(feed.link_id, headers.get(hdrs.USER_AGENT, ""), started)
        gz = wants_gzip(headers.get(hdrs.ACCEPT_ENCODING, ""))
        if _not_modified(request, feed):
            metrics.feeds["not_modified"] += 1
            status = 304
            return web.Response(status=304, headers=_headers(request, feed, gz))
        body = (feed.gzipped or await service.gzipped(feed)) if gz else feed.body
        response = web.Response(body=body, headers=_headers(request, feed, gz))
        response.headers["Content-Type"] = "text/calendar; charset=utf-8"
        response.headers["Content-Disposition"] = feed.content_disposition
        if gz:
            response.headers["Content-Encoding"] = "gzip"
        status = 200
        return response
    finally:
        app[REQUEST_LOG].line(rid, request.method, LOGGED_PATH, status, started)
        metrics.request(request.method, ROUTE, status, time.time() - started)


@routes.get("/robots.txt")
async def robots(request: web.Request) -> web.Response:
    return web.Response(text=ROBOTS, content_type="text/plain")
