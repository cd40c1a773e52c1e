"""The one middleware: request id, domain errors as JSON, change delivery after writes, and
one structured log line per request (secret path parts redacted).

One middleware rather than three keeps the per-request cost of a cached feed low; each concern
is a helper of its own.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time

from aiohttp import web

from feedserver.logs import RequestLog, request_id
from feedserver.web.errors import Handler, error_to_response
from feedserver.web.state import WATCHER

# Path segments that are credentials: feed tokens, meeting tokens.
_SECRET_PREFIXES = ("/feeds/", "/meet/")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_READS = frozenset(("GET", "HEAD", "OPTIONS"))
FEED_ROUTE = "feed"  # the route that answers its own errors and logs its own line


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


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.route.name == FEED_ROUTE:
        # The feed endpoint keeps its own request id and log line, and answers its own
        # errors (``feedserver.web.feeds``): the most frequent request takes no detour here.
        return await handler(request)
    rid = request.app[REQUEST_IDS].for_request(request)
    token = request_id.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        try:
            response = await handler(request)
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
            round((time.perf_counter() - started) * 1000, 2),
        )
        request_id.reset(token)
