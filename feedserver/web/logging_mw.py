"""Request ids and one structured log line per request (secret path parts redacted)."""

from __future__ import annotations

import logging
import re
import secrets
import time

from aiohttp import web

from feedserver.logs import request_id
from feedserver.web.errors import Handler

log = logging.getLogger("feedserver.http")

# Path segments that are credentials: feed tokens, meeting tokens.
_SECRET_PATHS = re.compile(r"^/(feeds|meet)/[^/]+")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def redact(path: str) -> str:
    return _SECRET_PATHS.sub(lambda m: f"/{m.group(1)}/[redacted]", path)


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    rid = incoming if _VALID_ID.match(incoming) else secrets.token_hex(8)
    token = request_id.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = rid
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers["X-Request-Id"] = rid
        raise
    finally:
        log.info(
            "request",
            extra={
                "request_id": rid,
                "method": request.method,
                "path": redact(request.path),
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        request_id.reset(token)
