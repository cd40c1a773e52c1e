"""The request context every route but the feed runs in: a request id, domain errors as JSON,
change delivery after writes, and one structured log line per request (secret path parts
redacted).

It is one wrapper applied to each route's handler by the application factory (``routes``),
not an aiohttp middleware: with no middleware at all, aiohttp spends nothing per request on a
middleware chain, and the feed, the request feedserver answers most, keeps its own shorter
context (``feedserver.web.feeds``). Paths and methods no route answers reach ``unmatched``, a
catch-all route in the same context, which answers 404 or 405 (with Allow) as JSON.
"""

from __future__ import annotations

import functools
import itertools
import re
import secrets
import time
from collections.abc import Iterable
from typing import cast

from aiohttp import web

from feedserver.logs import RequestLog, request_id
from feedserver.web import idempotency
from feedserver.web.errors import Handler, error_to_response
from feedserver.web.state import METRICS, WATCHER

# Path segments that are credentials: feed tokens, meeting tokens.
_SECRET_PREFIXES = ("/feeds/", "/meet/")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_READS = frozenset(("GET", "HEAD", "OPTIONS"))


def redact(path: str) -> str:
    """The path with the token segment of ``/feeds/{token}`` and ``/meet/{token}`` hidden."""
    if not path.startswith(_SECRET_PREFIXES):
        return path
    prefix = "/feeds/" if path[1] == "f" else "/meet/"
    end = path.find("/", len(prefix))
    return prefix + "[redacted]" + (path[end:] if end != -1 else "")


class RequestIds:
    """Unique, cheap request ids: a random prefix per process and a counter."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)

    def for_request(self, request: web.Request) -> str:
        incoming = request.headers.get("X-Request-Id", "")
        if incoming and _VALID_ID.match(incoming):
            return incoming
        return f"{self._prefix}{next(self._counter):08x}"


REQUEST_IDS = web.AppKey("request_ids", RequestIds)
REQUEST_LOG = web.AppKey("request_log", RequestLog)


def in_request_context(handler: Handler) -> Handler:
    """``handler`` with the request context."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        return await _in_context(request, handler)

    return wrapped


def routes(definitions: Iterable[web.AbstractRouteDef]) -> list[web.AbstractRouteDef]:
    """Route definitions with their handlers in the request context (the feed route,
    ``web.feeds.add_feed_route``, is not one of them: it keeps its own)."""
    out: list[web.AbstractRouteDef] = []
    for definition in definitions:
        if isinstance(definition, web.RouteDef):
            definition = web.RouteDef(
                definition.method,
                definition.path,
                in_request_context(cast(Handler, definition.handler)),
                definition.kwargs,
            )
        out.append(definition)
    return out


async def unmatched(request: web.Request) -> web.StreamResponse:
    """What no route answers: 405 with the methods the path allows, else 404."""
    own = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not own:
            allowed |= (await resource.resolve(request))[1]
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
    raise web.HTTPNotFound()


async def _in_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.app[REQUEST_IDS].for_request(request)
    token = request_id.set(rid)
    started = time.time()
    status = 500
    try:
        try:
            response = await idempotency.handle(request, handler)
        except Exception as exc:
            response = error_to_response(request, exc)
        status = response.status
        if request.method not in _READS and status < 400:
            # Deliver the write's changes before answering: a revoked link is dead and a
            # changed booking is in its feeds when the API call returns.
            await request.app[WATCHER].poke()
        response.headers["X-Request-Id"] = rid
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[REQUEST_LOG].line(
            rid,
            request.method,
            redact(request.path),
            status,
            started,
        )
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        request.app[METRICS].request(request.method, route, status, time.time() - started)
        request_id.reset(token)
