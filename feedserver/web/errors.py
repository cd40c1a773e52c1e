"""The one place where domain errors become HTTP statuses and JSON error bodies."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from feedserver import errors
from feedserver.store import StoreUnavailable
from feedserver.web.state import CONFIG

log = logging.getLogger(__name__)

STATUS: dict[type[errors.FeedserverError], int] = {
    errors.MalformedRequest: 400,
    errors.AuthenticationRequired: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.AlreadyExists: 409,
    errors.LinkRevoked: 410,
    errors.CursorExpired: 410,
    errors.IdempotencyKeyReused: 422,
    errors.TooLarge: 413,
    errors.TooManyAttempts: 429,
    errors.InvalidInput: 422,
}


def status_of(error: errors.FeedserverError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message, **extra}
    if field:
        body["field"] = field
    return web.json_response(body, status=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_to_response(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The JSON error response for an exception raised by a handler (re-raises what is not an
    error: redirects and other HTTP exceptions below 400)."""
    if isinstance(exc, errors.FeedserverError):
        status = status_of(exc)
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="feedserver", charset="UTF-8"'
        if isinstance(exc, errors.TooManyAttempts):
            headers["Retry-After"] = str(math.ceil(exc.retry_after))
        return error_response(status, exc.code, exc.message, exc.field, headers)
    if isinstance(exc, StoreUnavailable):  # busy or unreachable: another node may answer
        log.warning("store unavailable", extra={"error": str(exc)})
        return error_response(
            503, "unavailable", f"the store is unavailable: {exc}", headers={"Retry-After": "1"}
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        limit = request.app[CONFIG].server.max_body_bytes
        return error_response(413, "too_large", f"the request body is larger than {limit} bytes")
    if isinstance(exc, web.HTTPException):
        if exc.status < 400 or exc.content_type == "application/json":
            raise exc
        kept = {
            k: v
            for k, v in exc.headers.items()
            if k.lower() not in ("content-type", "content-length")
        }
        return error_response(
            exc.status, _HTTP_CODES.get(exc.status, "error"), exc.reason, headers=kept
        )
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal", "internal server error; see the server log")
